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
use super::dot::{dot_f64_acc, sum_sq_f64_acc};
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
    if order == 0 {
        return Err(Error::param("order", "must be an integer > 0"));
    }
    check_samples(y, "lpc input")?;
    let n = y.len();
    if n <= order {
        return Err(Error::TooShort {
            reason: format!("lpc of order {order} needs at least {} samples, got {n}", order + 1),
        });
    }
    let eps = f32::MIN_POSITIVE as f64;
    // Forward error f = F[i..], backward error b = B[..m] at order i, m = n - 1 - i.
    let mut fwd: Vec<f32> = y[1..].to_vec();
    let mut bwd: Vec<f32> = y[..n - 1].to_vec();
    let mut den = sum_sq_f64_acc(&fwd) + sum_sq_f64_acc(&bwd);
    let mut ar = vec![0.0f64; order + 1];
    let mut ar_prev = vec![0.0f64; order + 1];
    ar[0] = 1.0;
    ar_prev[0] = 1.0;
    for i in 0..order {
        let m = n - 1 - i;
        let f = &mut fwd[i..i + m];
        let b = &mut bwd[..m];
        let k = -2.0 * dot_f64_acc(b, f) / (den + eps);
        std::mem::swap(&mut ar, &mut ar_prev);
        for j in 1..=i + 1 {
            ar[j] = ar_prev[j] + k * ar_prev[i + 1 - j];
        }
        update_errors(f, b, k as f32);
        let q = 1.0 - k * k;
        let (b_last, f_first) = (b[m - 1] as f64, f[0] as f64);
        den = q * den - b_last * b_last - f_first * f_first;
    }
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

/// `f <- f + k b`, `b <- b + k f` (both from the old values), vectorisable.
#[inline]
fn update_errors(f: &mut [f32], b: &mut [f32], k: f32) {
    for (fv, bv) in f.iter_mut().zip(b.iter_mut()) {
        let (fo, bo) = (*fv, *bv);
        *fv = fo + k * bo;
        *bv = bo + k * fo;
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

    #[test]
    fn errors() {
        assert!(matches!(lpc(&[0.1; 10], 0), Err(Error::InvalidParameter { .. })));
        assert!(matches!(lpc(&[0.1; 12], 12), Err(Error::TooShort { .. })));
        assert!(lpc(&[0.1; 13], 12).is_ok());
        assert!(matches!(lpc(&[0.1, f32::NAN, 0.2], 1), Err(Error::NonFinite { .. })));
        assert!(lpc(&[], 1).is_err());
    }
}
