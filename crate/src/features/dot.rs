//! Small numerical kernels written so the compiler vectorises them: dot products
//! with several independent accumulators (a plain `zip().sum()` is one serial
//! dependency chain, because floating-point addition is not reassociated).
//!
//! Their paths are chosen at compile time (see [`crate::simd`]): they are inlined
//! into their callers and run with the callers' instruction set, and [`dot4_f32`]
//! uses SSE intrinsics when `target_feature = "sse"` (every x86-64 build).

/// Lanes of independent partial sums: 8 `f32` = two SSE or one AVX register.
const LANES: usize = 8;

/// `sum(a[i] * b[i])` in `f32` with 8 independent accumulators (pairwise-like
/// rounding, roughly `sqrt(n / 8)` times better than a serial sum). Always
/// inlined so that callers compiled with AVX get 256-bit code; the lane layout
/// fixes the rounding, so SSE and AVX builds give identical results.
#[inline(always)]
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    // Written with whole-array updates: LLVM's SLP vectoriser then emits one
    // 8-lane (or two 4-lane) multiply-add per chunk. (Per-lane indexing plus a
    // pairwise final sum made it fall back to 2-lane pieces.)
    let mut acc = [0.0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        let p: [f32; LANES] = std::array::from_fn(|l| x[l] * y[l]);
        acc = std::array::from_fn(|l| acc[l] + p[l]);
    }
    let mut s = 0.0f32;
    for v in acc {
        s += v;
    }
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `sum(a[i] * b[i])` for short vectors whose length is a multiple of 4 (mel
/// filters): one 4-lane accumulator, so the final horizontal sum is short. SSE
/// intrinsics on x86_64 (the auto-vectoriser split this into 2-lane pieces).
#[inline(always)]
pub(crate) fn dot4_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<4>();
    let (cb, rb) = b[..n].as_chunks::<4>();
    let mut s = dot4_chunks(ca, cb);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
#[inline(always)]
fn dot4_chunks(ca: &[[f32; 4]], cb: &[[f32; 4]]) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE is enabled for this build (checked by the cfg above; it is part
    // of the x86_64 baseline), and these intrinsics read no memory through pointers.
    unsafe {
        let mut acc = _mm_setzero_ps();
        for (x, y) in ca.iter().zip(cb) {
            let xv = _mm_setr_ps(x[0], x[1], x[2], x[3]);
            let yv = _mm_setr_ps(y[0], y[1], y[2], y[3]);
            acc = _mm_add_ps(acc, _mm_mul_ps(xv, yv));
        }
        // (a0 + a2) + (a1 + a3)
        let s2 = _mm_add_ps(acc, _mm_movehl_ps(acc, acc));
        _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps::<1>(s2, s2)))
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
#[inline(always)]
fn dot4_chunks(ca: &[[f32; 4]], cb: &[[f32; 4]]) -> f32 {
    dot4_chunks_portable(ca, cb)
}

/// The portable twin of the SSE `dot4_chunks` (same lanes, same order of sums).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse"))))]
#[inline(always)]
fn dot4_chunks_portable(ca: &[[f32; 4]], cb: &[[f32; 4]]) -> f32 {
    let mut acc = [0.0f32; 4];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3])
}

/// Block length for [`dot_f64_acc`]: partial sums stay short in `f32`.
const BLOCK: usize = 512;

/// `sum(a[i] * b[i])` of long `f32` vectors, accurate to about `f64`: products are
/// summed in `f32` lanes over blocks of 512 and the block sums are added in `f64`.
/// Used by Burg's LPC, whose sums run over a whole clip (10^5 samples).
#[inline(always)]
pub(crate) fn dot_f64_acc(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let mut total = 0.0f64;
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        total += dot_f32(&a[start..end], &b[start..end]) as f64;
        start = end;
    }
    total
}

/// `sum(a[i]^2)` of a long `f32` vector, accumulated like [`dot_f64_acc`].
#[inline(always)]
pub(crate) fn sum_sq_f64_acc(a: &[f32]) -> f64 {
    dot_f64_acc(a, a)
}

/// `sum(x)` in `f64` with 8 independent lanes (vectorised; accurate like numpy's
/// pairwise sum).
#[inline(always)]
pub(crate) fn sum_f64(x: &[f32]) -> f64 {
    let (chunks, rest) = x.as_chunks::<LANES>();
    let mut acc = [0.0f64; LANES];
    for c in chunks {
        acc = std::array::from_fn(|l| acc[l] + c[l] as f64);
    }
    let mut s = 0.0f64;
    for v in acc {
        s += v;
    }
    for &v in rest {
        s += v as f64;
    }
    s
}

/// Maximum of non-NaN values (`-inf` for an empty slice), in 8 vectorisable lanes.
#[inline(always)]
pub(crate) fn max_f32(y: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let (chunks, rest) = y.as_chunks::<LANES>();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    acc.iter()
        .chain(rest)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// True when every value is finite. Branch-free over chunks (`x * 0` is `0` for
/// finite `x` and NaN otherwise), so it runs at memory speed.
pub(crate) fn all_finite(y: &[f32]) -> bool {
    let mut acc = [0.0f32; LANES];
    let (chunks, rest) = y.as_chunks::<LANES>();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l] * 0.0;
        }
    }
    acc.iter().all(|&a| a == 0.0) && rest.iter().all(|v| v.is_finite())
}

/// `log10(x)` for positive normal `f32`, vectorisable: `x = m 2^e` with
/// `m` in `[sqrt(1/2), sqrt(2))`, `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, by
/// its series to `s^9` (|s| < 0.172, truncation below 1e-9). Within 2 ulp of the
/// correctly rounded value for the arguments `power_to_db` passes (>= 1e-10).
/// Infinity maps to `log10(2^128)`.
#[inline(always)]
pub(crate) fn log10_fast(x: f32) -> f32 {
    const LN2: f32 = std::f32::consts::LN_2;
    const LOG10_E: f32 = std::f32::consts::LOG10_E;
    let bits = x.to_bits();
    let e0 = ((bits >> 23) & 0xff) as i32 - 127;
    let m0 = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m0 > std::f32::consts::SQRT_2;
    let m = if big { m0 * 0.5 } else { m0 };
    let e = (e0 + i32::from(big)) as f32;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let poly = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    (e * LN2 + 2.0 * s * poly) * LOG10_E
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_log10_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = 1e-10f32;
        while x < 1e12 {
            let got = log10_fast(x) as f64;
            let want = (x as f64).log10();
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
            x *= 1.0007;
        }
        assert!(worst < 4e-7, "{worst:e}");
        assert_eq!(log10_fast(1.0), 0.0);
        assert!((log10_fast(f32::INFINITY) - 38.53184).abs() < 1e-4);
    }

    #[test]
    fn finiteness() {
        assert!(all_finite(&[0.0; 17]));
        for i in 0..17 {
            let mut v = vec![1.0f32; 17];
            v[i] = f32::NAN;
            assert!(!all_finite(&v));
            v[i] = f32::NEG_INFINITY;
            assert!(!all_finite(&v));
        }
    }

    /// The compile-time SSE path of `dot4_f32` against its portable twin on random
    /// vectors: bit-identical (same 4 lanes, same order of the final sums).
    #[test]
    fn dot4_sse_matches_portable_twin() {
        use crate::simd::testing::{rng, uniform_f32};
        let mut rng = rng(19);
        for n in [0usize, 4, 8, 36, 400, 1024] {
            let a = uniform_f32(&mut rng, n, -2.0, 2.0);
            let b = uniform_f32(&mut rng, n, 0.0, 1e3);
            let (ca, _) = a.as_chunks::<4>();
            let (cb, _) = b.as_chunks::<4>();
            let got = dot4_chunks(ca, cb);
            let want = dot4_chunks_portable(ca, cb);
            assert_eq!(got.to_bits(), want.to_bits(), "n={n}: {got} vs {want}");
        }
    }

    #[test]
    fn dot_matches_f64_reference() {
        for n in [0usize, 1, 7, 8, 9, 100, 513, 1500] {
            let a: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let b: Vec<f32> = (0..n)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 3.0)
                .collect();
            let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let scale: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (x as f64 * y as f64).abs())
                .sum();
            let tol = 1e-6 * scale.max(1.0);
            assert!((dot_f32(&a, &b) as f64 - exact).abs() <= tol, "n={n}");
            assert!((dot_f64_acc(&a, &b) - exact).abs() <= tol, "n={n}");
        }
    }
}
