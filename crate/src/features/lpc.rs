//! Linear prediction coefficients by Burg's method, as `librosa.lpc(y, order=p)`.
//!
//! Linear prediction models each sample as a weighted sum of the `p` before it,
//! `y[n] ≈ -(a[1] y[n-1] + ... + a[p] y[n-p])`; the filter `1 / A(z)` with
//! `A(z) = 1 + a[1] z^-1 + ... + a[p] z^-p` is then an all-pole model of the vocal
//! tract, whose resonances (formants) depend on the speaker's anatomy. Burg's
//! method estimates `a` one order at a time: at each order it picks the reflection
//! coefficient that minimises the sum of forward and backward prediction error
//! powers, updates both error sequences, and extends `a` by the Levinson-Durbin
//! recursion (Marple 1980, section III, as librosa's `__lpc` follows it).

use super::check_samples;
use super::dot::{dot_f32, dot_f64_acc, sum_sq_f64_acc};
use super::extractor::{with_thread_extractor, FeatureExtractor};
use crate::error::{Error, Result};

/// LPC coefficients of `y` by Burg's method: `order + 1` values, `a[0] = 1`, as
/// `librosa.lpc(y, order=order)`.
///
/// The prediction errors are kept in `f32` like librosa's `float32` path, but every
/// sum over the signal is accumulated in `f64` blocks, so the result is close to
/// librosa on `float64` input (see the parity tests for the measured errors).
/// `epsilon` in the denominator is `f32::MIN_POSITIVE` (`np.finfo(float32).tiny`).
/// Silence gives `[1, 0, ..., 0]` as librosa does.
///
/// Errors: `order == 0` (librosa's `ParameterError`), empty or non-finite `y`
/// ([`Error::NonFinite`]; librosa raises `ParameterError`), and
/// `y.len() <= order` ([`Error::TooShort`]): librosa does not check this and
/// returns NaN (1 sample) or reads past the error arrays.
///
/// ```
/// use speaker_similarity::features::lpc;
/// # fn main() -> speaker_similarity::Result<()> {
/// // An AR(1) process y[n] = 0.9 y[n-1] + noise gives a ≈ [1, -0.9].
/// let mut y = vec![0.0f32; 4000];
/// let mut state = 1u32;
/// for n in 1..y.len() {
///     state = state.wrapping_mul(1664525).wrapping_add(1013904223);
///     let e = state as f32 / u32::MAX as f32 - 0.5;
///     y[n] = 0.9 * y[n - 1] + e;
/// }
/// let a = lpc(&y, 1)?;
/// assert_eq!(a[0], 1.0);
/// assert!((a[1] + 0.9).abs() < 0.02);
/// # Ok(())
/// # }
/// ```
pub fn lpc(y: &[f32], order: usize) -> Result<Vec<f32>> {
    with_thread_extractor(|ex| ex.lpc(y, order))
}

impl FeatureExtractor {
    /// LPC by Burg's method (see [`lpc`]), reusing this extractor's error buffers.
    pub fn lpc(&mut self, y: &[f32], order: usize) -> Result<Vec<f32>> {
        if order == 0 {
            return Err(Error::param("order", "must be an integer > 0"));
        }
        check_samples(y, "lpc input")?;
        self.lpc_unchecked(y, order)
    }

    /// [`lpc`](Self::lpc) on samples the caller has checked (non-empty, finite).
    pub(crate) fn lpc_unchecked(&mut self, y: &[f32], order: usize) -> Result<Vec<f32>> {
        if order == 0 {
            return Err(Error::param("order", "must be an integer > 0"));
        }
        let n = y.len();
        if n <= order {
            return Err(Error::too_short(
                format!("lpc of order {order}"),
                (order + 1) as f64,
                n as f64,
                "sample",
            ));
        }
        // The autocorrelation form is exact in f64 for everything but nearly
        // perfectly predictable signals (pure tones, constants), where the
        // quadratic forms cancel; those take the direct recursion.
        let fast = if order <= FAST_PATH_MAX_ORDER {
            burg_from_autocorrelation(y, order, &mut self.lpc_f64)
        } else {
            None
        };
        let ar = match fast {
            Some(ar) => ar,
            None => {
                let (fwd, bwd) = &mut self.lpc_buf;
                burg(y, order, fwd, bwd)
            }
        };
        let out: Vec<f32> = ar.iter().map(|&v| v as f32).collect();
        if let Some(index) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "lpc coefficients (ill-conditioned input)".into(),
                index,
                value: out[index],
            });
        }
        Ok(out)
    }
}

/// The fast path gives up (returns `None`) when the prediction error energy of
/// some order falls below this fraction of the signal's: below it the quadratic
/// forms lose more than ~6 of f64's 16 digits to cancellation.
const FAST_PATH_MIN_ERROR: f64 = 1e-6;

/// Orders above this use the direct recursion: the fast path costs `O(order^3)`
/// on top of the pass over the signal.
const FAST_PATH_MAX_ORDER: usize = 64;

/// Burg's method from the autocorrelation (after K. Vos, "A Fast Implementation
/// of Burg's Method", 2013): one pass over the signal for `r(0..=order)` in
/// `f64`, then every order's sums `sum f b`, `sum f^2 + b^2` are quadratic forms in
/// the current coefficients of the windowed covariance
/// `Phi_m[u][v] = sum_{n=m+1}^{N-1} x[n-u] x[n-v]`, which is `r(|u - v|)` minus
/// a few products at the two ends. Mathematically identical to the recursion on
/// the error sequences (librosa's), `O(N p)` multiply-adds in one pass instead
/// of `2p` passes. `None` when the error energy gets too small for it.
fn burg_from_autocorrelation(x: &[f32], order: usize, xd: &mut Vec<f64>) -> Option<Vec<f64>> {
    let n = x.len();
    let eps = f32::MIN_POSITIVE as f64;
    let r = autocorrelation(x, order, xd);
    let xf = |i: usize| x[i] as f64;
    // Phi_m[u][v] for u, v in 0..=m+1.
    let phi = |m: usize, u: usize, v: usize| -> f64 {
        let (u, v) = if u <= v { (u, v) } else { (v, u) };
        let d = v - u;
        let mut s = r[d];
        if m >= v {
            for t in d..=m - u {
                s -= xf(t) * xf(t - d);
            }
        }
        for t in n - u..n {
            s -= xf(t) * xf(t - d);
        }
        s
    };
    let mut a = vec![0.0f64; order + 1];
    a[0] = 1.0;
    let mut den0 = None;
    let mut cf = vec![0.0f64; order + 2];
    let mut cb = vec![0.0f64; order + 2];
    // Phi_m in a fixed-stride matrix: Phi_m[u][v] = Phi_{m-1}[u][v] - x[m-u] x[m-v]
    // (the n = m term leaves the window) for u, v <= m; row/column m + 1 is new.
    let stride = order + 2;
    let mut mat = vec![0.0f64; stride * stride];
    for m in 0..order {
        let w = m + 2;
        if m == 0 {
            for u in 0..2 {
                for v in 0..2 {
                    mat[u * stride + v] = phi(0, u, v);
                }
            }
        } else {
            for u in 0..=m {
                let xu = xf(m - u);
                for v in 0..=m {
                    mat[u * stride + v] -= xu * xf(m - v);
                }
            }
            for u in 0..w {
                let p = phi(m, u, m + 1);
                mat[u * stride + m + 1] = p;
                mat[(m + 1) * stride + u] = p;
            }
        }
        // f_m[n] = sum_u cf[u] x[n-u], b_m[n-1] = sum_v cb[v] x[n-v].
        for u in 0..w {
            cf[u] = if u <= m { a[u] } else { 0.0 };
            cb[u] = if u >= 1 { a[1 + m - u] } else { 0.0 };
        }
        let quad = |p: &[f64], q: &[f64]| -> f64 {
            let mut s = 0.0;
            for u in 0..w {
                let row = &mat[u * stride..u * stride + w];
                s += p[u] * row.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
            }
            s
        };
        let num = quad(&cf[..w], &cb[..w]);
        let den = quad(&cf[..w], &cf[..w]) + quad(&cb[..w], &cb[..w]);
        let d0 = *den0.get_or_insert(den);
        if den < FAST_PATH_MIN_ERROR * d0 {
            return None;
        }
        let k = -2.0 * num / (den + eps);
        let prev = a.clone();
        for j in 1..=m + 1 {
            a[j] = prev[j] + k * prev[m + 1 - j];
        }
    }
    Some(a)
}

/// Lags per pass over the signal: 13 accumulators of 4 lanes (plus two operands)
/// fit the 16 AVX registers, and order 12 (the original's) needs one pass.
const LAG_GROUP: usize = 13;

/// `r[d] = sum_{t=d}^{N-1} x[t] x[t-d]` for `d = 0..=max_lag`, in `f64` (products
/// of `f32` are exact in `f64`). `xd` is scratch for the signal in `f64`.
fn autocorrelation(x: &[f32], max_lag: usize, xd: &mut Vec<f64>) -> Vec<f64> {
    let n = x.len();
    let mut r = vec![0.0f64; max_lag + 1];
    xd.clear();
    xd.extend(x.iter().map(|&v| v as f64));
    // Lags go in groups of LAG_GROUP (extra lags of the last group are computed
    // and dropped); the 4-lane part starts where every such lag has a full window.
    let top = (max_lag + 1).next_multiple_of(LAG_GROUP) - 1;
    let body_start = top.min(n);
    let body_end = body_start + (n - body_start) / 4 * 4;
    for g in (0..=max_lag).step_by(LAG_GROUP) {
        if body_end <= body_start {
            break;
        }
        let sums = lag_group(xd, body_start, body_end, g);
        for (j, v) in sums.into_iter().enumerate() {
            if let Some(rd) = r.get_mut(g + j) {
                *rd += v;
            }
        }
    }
    // Scalar parts: t below the 4-lane part, and the tail.
    for t in (0..body_start).chain(body_end.max(body_start)..n) {
        for (d, rd) in r.iter_mut().enumerate().take(t + 1) {
            *rd += xd[t] * xd[t - d];
        }
    }
    r
}

crate::simd::kernel! {
    /// `sum_{t in [start, end)} x[t] x[t - g - j]` for `j = 0..LAG_GROUP` (`end -
    /// start` a multiple of 4, `start >= g + LAG_GROUP - 1`): [`lag_group_fma`] on
    /// CPUs with AVX and FMA, else [`lag_group_body`].
    fn lag_group(xd: &[f64], start: usize, end: usize, g: usize) -> [f64; LAG_GROUP] {
        simd "avx,fma" lag_group_simd => lag_group_fma,
        scalar lag_group_scalar => lag_group_body,
    }
}

/// [`lag_group`], portable: 4-lane accumulators, a multiply then an add.
fn lag_group_body(xd: &[f64], start: usize, end: usize, g: usize) -> [f64; LAG_GROUP] {
    let mut acc = [[0.0f64; 4]; LAG_GROUP];
    let mut t = start;
    while t < end {
        let xt = &xd[t..t + 4];
        for (j, a) in acc.iter_mut().enumerate() {
            let xs = &xd[t - g - j..t - g - j + 4];
            for l in 0..4 {
                a[l] += xt[l] * xs[l];
            }
        }
        t += 4;
    }
    acc.map(|a| (a[0] + a[2]) + (a[1] + a[3]))
}

/// [`lag_group`] with AVX/FMA intrinsics: the accumulators live in registers.
/// Compiled for AVX and FMA itself (intrinsics need it), so only the kernel's
/// AVX + FMA twin calls it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
fn lag_group_fma(xd: &[f64], start: usize, end: usize, g: usize) -> [f64; LAG_GROUP] {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_pd(); LAG_GROUP];
    let mut t = start;
    while t < end {
        let xt = &xd[t..t + 4];
        // x[t - g - j .. + 4] for j < G = LAG_GROUP all lie in
        // x[t - g - (G - 1) .. t - g + 4].
        const G: usize = LAG_GROUP;
        let base = &xd[t - g - (G - 1)..t - g + 4];
        // SAFETY: `xt` holds 4 values and `base` G + 3; every load below reads 4
        // values at offset G - 1 - j <= G - 1 of `base` (at most index G + 2) or at
        // 0 of `xt`.
        unsafe {
            let v = _mm256_loadu_pd(xt.as_ptr());
            for (j, a) in acc.iter_mut().enumerate() {
                let w = _mm256_loadu_pd(base.as_ptr().add(G - 1 - j));
                *a = _mm256_fmadd_pd(v, w, *a);
            }
        }
        t += 4;
    }
    acc.map(|a| {
        let mut lanes = [0.0f64; 4];
        // SAFETY: `lanes` holds 4 f64, the size of one store.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), a) };
        (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
    })
}

crate::simd::kernel! {
    /// Burg's recursion (`y.len() > order` checked by the caller), with 256-bit
    /// vectors when the CPU has AVX (same lanes, so the same result as SSE2).
    fn burg(y: &[f32], order: usize, fwd: &mut Vec<f32>, bwd: &mut Vec<f32>) -> Vec<f64> {
        simd "avx" burg_simd => burg_body,
        scalar burg_scalar => burg_body,
    }
}

/// Marple's Burg recursion as librosa's `__lpc`: at order `i` the forward error is
/// `f = fwd[i..i + m]` and the backward error `b = bwd[..m]`, `m = n - 1 - i`.
#[inline(always)]
fn burg_body(y: &[f32], order: usize, fwd: &mut Vec<f32>, bwd: &mut Vec<f32>) -> Vec<f64> {
    let n = y.len();
    let eps = f32::MIN_POSITIVE as f64;
    // The first update writes every element before anything reads them.
    if fwd.len() < n - 1 {
        fwd.resize(n - 1, 0.0);
        bwd.resize(n - 1, 0.0);
    }
    // DEN = sum(f^2 + b^2) with f = y[1:], b = y[:-1].
    let (y0, yn) = (y[0] as f64, y[n - 1] as f64);
    let mut den = 2.0 * sum_sq_f64_acc(y) - y0 * y0 - yn * yn;
    // sum(b * f) of the current order, carried from the previous update.
    let mut bf = dot_f64_acc(&y[..n - 1], &y[1..]);
    let mut ar = vec![0.0f64; order + 1];
    let mut ar_prev = vec![0.0f64; order + 1];
    ar[0] = 1.0;
    ar_prev[0] = 1.0;
    for i in 0..order {
        let m = n - 1 - i;
        let k = -2.0 * bf / (den + eps);
        std::mem::swap(&mut ar, &mut ar_prev);
        for j in 1..=i + 1 {
            ar[j] = ar_prev[j] + k * ar_prev[i + 1 - j];
        }
        let f = &mut fwd[i..i + m];
        let b = &mut bwd[..m];
        bf = if i == 0 {
            update_from(&y[1..], &y[..n - 1], f, b, k as f32)
        } else {
            update_in_place(f, b, k as f32)
        };
        let q = 1.0 - k * k;
        let (b_last, f_first) = (b[m - 1] as f64, f[0] as f64);
        den = q * den - b_last * b_last - f_first * f_first;
    }
    ar
}

/// Block length of the fused update: both error blocks stay in L1.
const BLOCK: usize = 512;

/// `f <- f + k b`, `b <- b + k f` (old values on the right), returning the next
/// order's `sum_j b[j] f[j + 1]` (f64 over `f32` block sums) from the same pass.
#[inline(always)]
fn update_in_place(f: &mut [f32], b: &mut [f32], k: f32) -> f64 {
    let m = f.len();
    let mut total = 0.0f64;
    let mut s = 0;
    while s < m {
        let e = (s + BLOCK).min(m);
        for (fv, bv) in f[s..e].iter_mut().zip(b[s..e].iter_mut()) {
            let (fo, bo) = (*fv, *bv);
            *fv = fo + k * bo;
            *bv = bo + k * fo;
        }
        total += shifted_dot(f, b, s, e);
        s = e;
    }
    total
}

/// [`update_in_place`] reading the old errors from `f0`, `b0`.
#[inline(always)]
fn update_from(f0: &[f32], b0: &[f32], f: &mut [f32], b: &mut [f32], k: f32) -> f64 {
    let m = f.len();
    let mut total = 0.0f64;
    let mut s = 0;
    while s < m {
        let e = (s + BLOCK).min(m);
        let olds = f0[s..e].iter().zip(&b0[s..e]);
        for ((fv, bv), (&fo, &bo)) in f[s..e].iter_mut().zip(b[s..e].iter_mut()).zip(olds) {
            *fv = fo + k * bo;
            *bv = bo + k * fo;
        }
        total += shifted_dot(f, b, s, e);
        s = e;
    }
    total
}

/// `sum b[j] f[j + 1]` over the pairs whose `j + 1` lies in `[max(s, 1), e)`.
#[inline(always)]
fn shifted_dot(f: &[f32], b: &[f32], s: usize, e: usize) -> f64 {
    let lo = s.max(1);
    if e > lo {
        dot_f32(&b[lo - 1..e - 1], &f[lo..e]) as f64
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_gives_identity_filter() {
        let a = lpc(&[0.0; 1000], 12).unwrap();
        assert_eq!(a, {
            let mut v = vec![0.0; 13];
            v[0] = 1.0;
            v
        });
    }

    fn ar2_signal(n: usize) -> Vec<f32> {
        let mut state = 7u32;
        let mut y = vec![0.0f32; n];
        for i in 2..n {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            let e = state as f32 / u32::MAX as f32 - 0.5;
            y[i] = 1.3 * y[i - 1] - 0.6 * y[i - 2] + e;
        }
        y
    }

    #[test]
    fn autocorrelation_form_equals_the_recursion() {
        for n in [13usize, 14, 20, 21, 100, 1001, 5000] {
            let y = ar2_signal(n);
            let fast =
                burg_from_autocorrelation(&y, 12, &mut Vec::new()).expect("well conditioned");
            let direct = burg(&y, 12, &mut Vec::new(), &mut Vec::new());
            for (a, b) in fast.iter().zip(&direct) {
                assert!((a - b).abs() < 1e-4, "n={n}: {fast:?} vs {direct:?}");
            }
        }
    }

    #[test]
    fn autocorrelation_paths_agree() {
        let y = ar2_signal(1003);
        let exact: Vec<f64> = (0..=17)
            .map(|d| (d..y.len()).map(|t| y[t] as f64 * y[t - d] as f64).sum())
            .collect();
        let fast = autocorrelation(&y, 17, &mut Vec::new());
        let xd: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        for (d, (a, b)) in fast.iter().zip(&exact).enumerate() {
            assert!((a - b).abs() <= 1e-12 * exact[0], "lag {d}");
        }
        let top = 2 * LAG_GROUP - 1;
        let end = top + (y.len() - top) / 4 * 4;
        for g in [0, LAG_GROUP] {
            let portable = lag_group_scalar(&xd, top, end, g);
            if let Some(simd) = lag_group_simd(&xd, top, end, g) {
                for (a, b) in portable.iter().zip(&simd) {
                    assert!((a - b).abs() <= 1e-12 * exact[0]);
                }
            }
            assert!(portable.iter().all(|v| v.is_finite()));
        }
    }

    /// The SIMD twins against the portable ones on random signals: the AVX + FMA
    /// lag sums within 1e-13 of the lag-0 sum (their rounding scale; FMA rounds
    /// once where the portable twin rounds twice), Burg's AVX twin bit-identical
    /// (same lanes, no fused multiply-add).
    #[test]
    fn simd_twins_match_scalar_twins() {
        use crate::simd::testing::{assert_close, rng, uniform_f32};
        let mut rng = rng(7);
        for n in [40usize, 517, 4003, 20011] {
            let y = uniform_f32(&mut rng, n, -1.0, 1.0);
            let xd: Vec<f64> = y.iter().map(|&v| v as f64).collect();
            let r0: f64 = xd.iter().map(|v| v * v).sum();
            let top = 2 * LAG_GROUP - 1;
            let end = top + (n - top) / 4 * 4;
            for g in [0, LAG_GROUP] {
                let portable = lag_group_scalar(&xd, top, end, g);
                let Some(simd) = lag_group_simd(&xd, top, end, g) else {
                    break; // no AVX + FMA here
                };
                assert_close(&simd, &portable, 1e-13, r0, "lag sums");
            }
            for order in [1, 12, 30] {
                let (mut f1, mut b1) = (Vec::new(), Vec::new());
                let a = burg_scalar(&y, order, &mut f1, &mut b1);
                let (mut f2, mut b2) = (Vec::new(), Vec::new());
                if let Some(b) = burg_simd(&y, order, &mut f2, &mut b2) {
                    assert_close(&b, &a, 0.0, 1.0, "Burg coefficients");
                }
            }
        }
    }

    #[test]
    fn pure_tone_takes_the_direct_path() {
        let y: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.2).sin()).collect();
        assert!(burg_from_autocorrelation(&y, 12, &mut Vec::new()).is_none());
        let a = lpc(&y, 12).unwrap();
        assert!(a.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            lpc(&[0.1; 10], 0),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(lpc(&[0.1; 12], 12), Err(Error::TooShort { .. })));
        assert!(lpc(&[0.1; 13], 12).is_ok());
        assert!(matches!(
            lpc(&[0.1, f32::NAN, 0.2], 1),
            Err(Error::NonFinite { .. })
        ));
        assert!(lpc(&[], 1).is_err());
    }
}
