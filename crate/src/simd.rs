//! CPU features and SIMD dispatch, in one place.
//!
//! The numerical kernels (the E-step's log-sum-exp, the MLP's mini-batch products,
//! k-means distances, the feature extractor's frame loop, LPC, zero crossings) are
//! written once as portable Rust that the compiler vectorises. On x86-64 each
//! kernel is compiled a second time with wider instruction sets enabled, and the
//! copy to run is chosen at run time from one cached detection:
//!
//! - [`hardware`] is what the CPU offers, detected once per process;
//! - [`active`] is what the kernels may use: the same, or nothing when the
//!   environment variable [`SCALAR_ENV`] (`SPEAKER_SIMILARITY_SCALAR`) is set to
//!   a true value (`1`, `true`, `yes`, `on`), read once, at the first detection.
//!   That runs every runtime-dispatched kernel on its portable (scalar) twin, as on
//!   a CPU without AVX, e.g. to check that both give the same answers.
//!
//! Every kernel is declared through one macro (`kernel!`), which writes the
//! dispatching function, its portable twin and (in test builds) a checked SIMD
//! twin; each kernel's unit test runs both twins on random inputs and compares
//! them within a stated tolerance.
//!
//! ## Kernels chosen at run time
//!
//! | kernel | module | instruction set | SIMD twin vs portable twin |
//! |---|---|---|---|
//! | `lse_rows` (E-step log-sum-exp, softmax) | `models::fastmath` | AVX2 + FMA | fused multiply-adds: last bits differ |
//! | `speaker_log_densities` (top-C GMM-UBM scoring) | `models::topc` | AVX2 + FMA | fused multiply-adds: last bits differ |
//! | `forward`, `backward_params`, `backward_input`, `adam` (MLP) | `models::mlp::kernels` | AVX2 + FMA | fused multiply-adds: last bits differ |
//! | `sq_dist_block`, `candidates_block` (k-means++) | `models::kmeans` | AVX2 + FMA | bit-identical |
//! | `mel_frames` (window, FFT, power, mel bands) | `features::extractor` | AVX | bit-identical |
//! | `cepstrum` (dB, DCT) | `features::extractor` | AVX | bit-identical |
//! | `lag_group` (autocorrelation) | `features::lpc` | AVX + FMA | fused multiply-adds: last bits differ |
//! | `burg` (Burg's recursion) | `features::lpc` | AVX | bit-identical |
//! | `sign_changes` (zero crossings) | `features::zcr` | AVX2 | identical (integer counts) |
//!
//! ## Paths chosen at compile time
//!
//! These follow the `target_feature` flags the crate is compiled with
//! (`-C target-cpu`, `-C target-feature`), not [`active`], and the environment
//! variable does not switch them:
//!
//! - `features::dot::dot4_f32` (mel filter dot products): SSE intrinsics under
//!   `cfg(all(target_arch = "x86_64", target_feature = "sse"))`, which holds for every
//!   x86-64 build (SSE is part of the baseline); the portable twin is compiled
//!   elsewhere and in tests, where it is compared with the SSE path (bit-identical).
//! - the small helpers in `features::dot` (`dot_f32`, `sum_f64`, `max_f32`, ...) and
//!   every `#[inline(always)]` body are compiled into their callers, so they run with
//!   the caller's instruction set (AVX inside an AVX kernel); their lane layout is
//!   fixed in the source, so the width does not change their results.
//!
//! ## Reproducibility
//!
//! Results are reproducible per CPU family, not across families: a kernel whose
//! SIMD twin uses fused multiply-adds (see the table) rounds once where the
//! portable twin rounds twice, so a CPU with AVX2 and FMA and one without (or a run
//! with `SPEAKER_SIMILARITY_SCALAR=1`) agree to the last few bits, not bit for bit.
//! Rust never fuses or reorders floating-point operations on its own, so the same
//! instruction set always gives the same bits, whatever the thread count.
//!
//! ```
//! use speaker_similarity::simd;
//! let cpu = simd::active();
//! // What the kernels use is never more than the hardware offers.
//! assert!(!cpu.avx2 || simd::hardware().avx2);
//! println!("kernels use {cpu} (scalar forced: {})", simd::scalar_forced());
//! ```

use std::fmt;
use std::sync::OnceLock;

/// The environment variable that forces the portable (scalar) kernels when set to
/// `1`, `true`, `yes` or `on` (any case). Read once, at the first detection.
pub const SCALAR_ENV: &str = "SPEAKER_SIMILARITY_SCALAR";

/// The x86-64 extensions the kernels can use (all `false` on other CPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuFeatures {
    /// 256-bit floating-point vectors (AVX).
    pub avx: bool,
    /// 256-bit integer vectors (AVX2).
    pub avx2: bool,
    /// Fused multiply-add (FMA3).
    pub fma: bool,
}

impl CpuFeatures {
    /// No extension: every kernel on its portable twin.
    pub const SCALAR: CpuFeatures = CpuFeatures {
        avx: false,
        avx2: false,
        fma: false,
    };

    /// Whether every extension of `isa` is present.
    #[inline]
    pub fn has(self, isa: Isa) -> bool {
        match isa {
            Isa::Avx => self.avx,
            Isa::AvxFma => self.avx && self.fma,
            Isa::Avx2 => self.avx2,
            Isa::Avx2Fma => self.avx2 && self.fma,
        }
    }

    /// Ask the CPU (uncached; use [`hardware`]).
    fn detect() -> CpuFeatures {
        #[cfg(target_arch = "x86_64")]
        {
            CpuFeatures {
                avx: std::arch::is_x86_feature_detected!("avx"),
                avx2: std::arch::is_x86_feature_detected!("avx2"),
                fma: std::arch::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            CpuFeatures::SCALAR
        }
    }
}

impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(self.avx, "avx"), (self.avx2, "avx2"), (self.fma, "fma")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|&(_, n)| n)
            .collect();
        if names.is_empty() {
            f.write_str("scalar")
        } else {
            f.write_str(&names.join("+"))
        }
    }
}

/// The instruction set a kernel's SIMD twin is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX.
    Avx,
    /// AVX and FMA.
    AvxFma,
    /// AVX2.
    Avx2,
    /// AVX2 and FMA.
    Avx2Fma,
}

/// The one detection: the hardware, what the kernels use, and whether the scalar
/// paths were forced.
struct Detection {
    hardware: CpuFeatures,
    active: CpuFeatures,
    forced: bool,
}

static DETECTION: OnceLock<Detection> = OnceLock::new();

/// Whether a value of [`SCALAR_ENV`] asks for the scalar paths.
fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[inline]
fn detection() -> &'static Detection {
    DETECTION.get_or_init(|| {
        let hardware = CpuFeatures::detect();
        let forced = std::env::var(SCALAR_ENV).is_ok_and(|v| truthy(&v));
        Detection {
            hardware,
            active: if forced {
                CpuFeatures::SCALAR
            } else {
                hardware
            },
            forced,
        }
    })
}

/// What the CPU offers (detected once per process).
pub fn hardware() -> CpuFeatures {
    detection().hardware
}

/// What the runtime-dispatched kernels use: [`hardware`], or
/// [`CpuFeatures::SCALAR`] when [`SCALAR_ENV`] is set.
#[inline]
pub fn active() -> CpuFeatures {
    detection().active
}

/// Whether [`SCALAR_ENV`] forced the portable kernels.
pub fn scalar_forced() -> bool {
    detection().forced
}

/// `a · b + c`, fused (one rounding, the FMA instruction inside an FMA kernel) when
/// `FMA`, else a multiply then an add. Kernels take `FMA` as a const parameter so
/// one body serves both twins.
pub(crate) trait MulAdd: Copy {
    /// `a · b + c`.
    fn madd<const FMA: bool>(a: Self, b: Self, c: Self) -> Self;
}

impl MulAdd for f32 {
    #[inline(always)]
    fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
        if FMA {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

impl MulAdd for f64 {
    #[inline(always)]
    fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
        if FMA {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

/// Declare a runtime-dispatched kernel:
///
/// ```text
/// kernel! {
///     /// docs of the dispatching function
///     pub(crate) fn name(arg: Type, ...) -> Ret {
///         simd "avx2,fma" name_simd => body_generic::<true>,
///         scalar name_scalar => body_generic::<false>,
///     }
/// }
/// ```
///
/// writes `name` (runs the SIMD body compiled for the instruction set when
/// [`active`] has it, else the scalar twin), `name_scalar` (the portable body,
/// private) and, in test builds, `name_simd` (private; the SIMD body when the
/// hardware has the instruction set, ignoring [`SCALAR_ENV`], else `None`). Both
/// twins are private, so a kernel whose `name_simd` no test calls fails the build
/// (`dead_code` is denied in CI). The bodies should be `#[inline(always)]` so that
/// they are compiled with the instruction set of the wrapper. Instruction sets:
/// `"avx"`, `"avx,fma"`, `"avx2"`, `"avx2,fma"`.
macro_rules! kernel {
    (@isa "avx") => { $crate::simd::Isa::Avx };
    (@isa "avx,fma") => { $crate::simd::Isa::AvxFma };
    (@isa "avx2") => { $crate::simd::Isa::Avx2 };
    (@isa "avx2,fma") => { $crate::simd::Isa::Avx2Fma };
    (@ret) => { () };
    (@ret $ret:ty) => { $ret };
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? {
            simd $isa:tt $simd:ident => $simd_body:expr,
            scalar $scalar:ident => $scalar_body:expr $(,)?
        }
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::simd::active().has($crate::simd::kernel!(@isa $isa)) {
                    #[target_feature(enable = $isa)]
                    #[allow(clippy::too_many_arguments)]
                    fn simd($($arg: $ty),*) $(-> $ret)? {
                        $simd_body($($arg),*)
                    }
                    // SAFETY: the CPU has the instruction set `simd` is compiled
                    // for (checked just above by the cached detection).
                    return unsafe { simd($($arg),*) };
                }
            }
            $scalar($($arg),*)
        }

        #[doc = concat!("The portable twin of [`", stringify!($name), "`].")]
        #[allow(clippy::too_many_arguments)]
        fn $scalar($($arg: $ty),*) $(-> $ret)? {
            $scalar_body($($arg),*)
        }

        #[doc = concat!(
            "The SIMD twin of [`", stringify!($name), "`] (", $isa,
            ") when the hardware has it, whatever `SPEAKER_SIMILARITY_SCALAR` says."
        )]
        #[cfg(test)]
        #[allow(clippy::too_many_arguments, unused_variables)]
        fn $simd($($arg: $ty),*) -> Option<$crate::simd::kernel!(@ret $($ret)?)> {
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::simd::hardware().has($crate::simd::kernel!(@isa $isa)) {
                    #[target_feature(enable = $isa)]
                    #[allow(clippy::too_many_arguments)]
                    fn simd($($arg: $ty),*) $(-> $ret)? {
                        $simd_body($($arg),*)
                    }
                    // SAFETY: the CPU has the instruction set (checked just above).
                    return Some(unsafe { simd($($arg),*) });
                }
            }
            None
        }
    };
}
pub(crate) use kernel;

/// Helpers for the twin tests.
#[cfg(test)]
pub(crate) mod testing {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A seeded generator for a test.
    pub(crate) fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    /// `n` uniform values in `[lo, hi)`.
    pub(crate) fn uniform_f32(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(lo..hi)).collect()
    }

    /// `n` uniform values in `[lo, hi)`.
    pub(crate) fn uniform_f64(rng: &mut StdRng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(lo..hi)).collect()
    }

    /// Assert `|a − b| ≤ tol · scale` elementwise, in `f64` (`tol = 0`:
    /// bit-identical; `f32` widens to `f64` exactly, so its bits are compared too).
    #[track_caller]
    pub(crate) fn assert_close<T: Copy + Into<f64> + std::fmt::Display>(
        a: &[T],
        b: &[T],
        tol: impl Into<f64>,
        scale: impl Into<f64>,
        what: &str,
    ) {
        let (tol, scale) = (tol.into(), scale.into());
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            let (xf, yf): (f64, f64) = (x.into(), y.into());
            if tol == 0.0 {
                assert_eq!(xf.to_bits(), yf.to_bits(), "{what}[{i}]: {x} vs {y}");
            } else {
                assert!((xf - yf).abs() <= tol * scale, "{what}[{i}]: {x} vs {y}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_switch_values() {
        for v in ["1", "true", "TRUE", " yes ", "On"] {
            assert!(truthy(v), "{v}");
        }
        for v in ["", "0", "false", "no", "off", "2"] {
            assert!(!truthy(v), "{v}");
        }
    }

    #[test]
    fn detection_is_cached_and_consistent() {
        let (hw, act) = (hardware(), active());
        assert_eq!(hw, CpuFeatures::detect());
        if scalar_forced() {
            assert_eq!(act, CpuFeatures::SCALAR);
        } else {
            assert_eq!(act, hw);
        }
        assert!(std::ptr::eq(detection(), detection()));
        // The environment is read once: the answer stays whatever it says now.
        assert_eq!(
            scalar_forced(),
            std::env::var(SCALAR_ENV).is_ok_and(|v| truthy(&v))
        );
    }

    #[test]
    fn instruction_sets_need_every_extension() {
        let all = CpuFeatures {
            avx: true,
            avx2: true,
            fma: true,
        };
        for isa in [Isa::Avx, Isa::AvxFma, Isa::Avx2, Isa::Avx2Fma] {
            assert!(all.has(isa));
            assert!(!CpuFeatures::SCALAR.has(isa));
        }
        let avx_only = CpuFeatures {
            avx: true,
            ..CpuFeatures::SCALAR
        };
        assert!(avx_only.has(Isa::Avx) && !avx_only.has(Isa::AvxFma));
        assert_eq!(all.to_string(), "avx+avx2+fma");
        assert_eq!(CpuFeatures::SCALAR.to_string(), "scalar");
    }

    #[test]
    fn madd_fuses_only_when_asked() {
        // (1 + 4ε)² = 1 + 8ε + 16ε²: only the fused result keeps the 16ε² term.
        let a = 1.0 + 4.0 * f64::EPSILON;
        let c = -(a * a);
        assert_eq!(f64::madd::<false>(a, a, c), 0.0);
        assert_ne!(f64::madd::<true>(a, a, c), 0.0);
        let b = 1.0f32 + f32::EPSILON;
        let cb = -(b * b);
        assert_eq!(f32::madd::<false>(b, b, cb), 0.0);
        assert_ne!(f32::madd::<true>(b, b, cb), 0.0);
    }
}
