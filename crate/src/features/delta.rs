//! Delta (derivative) features: `librosa.feature.delta(data, width, order)`, which
//! is `scipy.signal.savgol_filter(data, width, polyorder=order, deriv=order,
//! mode='interp', axis=-1)`.
//!
//! A Savitzky-Golay filter fits a polynomial of degree `order` to the `width`
//! frames around each frame by least squares and reports its `order`-th
//! derivative there; for `order = 1` and `width = 9` that is the classic regression
//! delta `sum_{k=-4}^{4} k x[t+k] / 60`. In `interp` mode the first and last
//! `width / 2` frames use the polynomial fitted to the first (last) `width` frames;
//! because the derivative of order `order` of a degree-`order` polynomial is a
//! constant, those edge frames repeat the value of the first (last) full window.

use ndarray::{Array2, AsArray, Ix2};

use crate::error::{Error, Result};

/// Savitzky-Golay coefficients to apply as a dot product
/// (`scipy.signal.savgol_coeffs(width, polyorder, deriv=deriv, use='dot')`, odd
/// `width`, centred, `delta = 1`): `y[t] = sum_j c[j] x[t - width/2 + j]`.
///
/// Errors: even `width` or `width < 3`, `polyorder >= width`.
pub fn savgol_coeffs(width: usize, polyorder: usize, deriv: usize) -> Result<Vec<f64>> {
    if width < 3 || width.is_multiple_of(2) {
        return Err(Error::param("width", "must be an odd integer >= 3"));
    }
    if polyorder >= width {
        return Err(Error::param(
            "polyorder",
            format!("{polyorder} must be less than width = {width}"),
        ));
    }
    if deriv > polyorder {
        return Ok(vec![0.0; width]);
    }
    let half = (width / 2) as f64;
    let p = polyorder + 1;
    let x: Vec<f64> = (0..width).map(|j| j as f64 - half).collect();
    // Minimum-norm least-squares solution of A c = e_deriv * deriv!, where
    // A[i][j] = x_j^i: c = A^T (A A^T)^-1 y. The Gram matrix is small (p x p).
    let pow = |v: f64, e: usize| v.powi(e as i32);
    let mut g = vec![vec![0.0f64; p + 1]; p];
    for (i, row) in g.iter_mut().enumerate() {
        for (l, cell) in row.iter_mut().take(p).enumerate() {
            *cell = x.iter().map(|&v| pow(v, i + l)).sum();
        }
        row[p] = if i == deriv {
            (1..=deriv).map(|k| k as f64).product()
        } else {
            0.0
        };
    }
    let z = solve(g).ok_or_else(|| {
        Error::param(
            "polyorder",
            format!("{polyorder} is too high for width {width}"),
        )
    })?;
    Ok(x.iter()
        .map(|&v| (0..p).map(|i| z[i] * pow(v, i)).sum())
        .collect())
}

/// Gaussian elimination with partial pivoting on an augmented `n x (n+1)` matrix.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = a.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col].clone();
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, &p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= f * p;
            }
        }
    }
    let mut z = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * z[c]).sum();
        z[r] = (a[r][n] - s) / a[r][r];
    }
    Some(z)
}

/// Check `width`/`order` and the frame count as librosa does.
pub(crate) fn check_delta(frames: usize, width: usize, order: usize) -> Result<()> {
    if width < 3 || width.is_multiple_of(2) {
        return Err(Error::param("width", "must be an odd integer >= 3"));
    }
    if order == 0 || order >= width {
        return Err(Error::param(
            "order",
            format!("{order} must be a positive integer below width = {width}"),
        ));
    }
    if width > frames {
        // librosa raises ParameterError: width cannot exceed data.shape[axis].
        return Err(Error::too_short(
            format!(
                "delta with width={width} (use a longer clip, a smaller hop_length or a \
                 smaller width)"
            ),
            width as f64,
            frames as f64,
            "frame",
        ));
    }
    Ok(())
}

/// Delta features along the last axis (frames) of a `rows x frames` matrix, as
/// `librosa.feature.delta(data, width=width, order=order)` (`order` 1 = delta,
/// 2 = delta-delta). The result has the same shape.
///
/// Errors: [`Error::TooShort`] when there are fewer frames than `width` (librosa's
/// `ParameterError`), [`Error::InvalidParameter`] for an even `width`,
/// `width < 3` or `order` outside `1..width`.
///
/// ```
/// use ndarray::Array2;
/// use speaker_similarity::features::delta;
/// # fn main() -> speaker_similarity::Result<()> {
/// // A ramp has slope 2 everywhere, edges included.
/// let x = Array2::from_shape_fn((1, 12), |(_, t)| 2.0 * t as f32);
/// let d = delta(&x, 9, 1)?;
/// assert!(d.iter().all(|&v| (v - 2.0).abs() < 1e-5));
/// assert!(delta(&Array2::<f32>::zeros((1, 8)), 9, 1).is_err());
/// # Ok(())
/// # }
/// ```
pub fn delta<'a>(
    data: impl AsArray<'a, f32, Ix2>,
    width: usize,
    order: usize,
) -> Result<Array2<f32>> {
    let data = data.into();
    let (rows, frames) = data.dim();
    check_delta(frames, width, order)?;
    let coeffs = savgol_coeffs(width, order, order)?;
    let mut out = Array2::zeros((rows, frames));
    let mut row_buf = vec![0.0f32; frames];
    let mut out_buf = vec![0.0f32; frames];
    for r in 0..rows {
        for (b, &v) in row_buf.iter_mut().zip(data.row(r)) {
            *b = v;
        }
        delta_row(&row_buf, &coeffs, &mut out_buf);
        for (o, &v) in out.row_mut(r).iter_mut().zip(&out_buf) {
            *o = v;
        }
    }
    Ok(out)
}

/// One row of [`delta`] (checked by the caller: `x.len() >= coeffs.len()`,
/// `out.len() == x.len()`). Sums in `f64` like `scipy.ndimage.convolve1d`.
pub(crate) fn delta_row(x: &[f32], coeffs: &[f64], out: &mut [f32]) {
    let w = coeffs.len();
    let half = w / 2;
    let n = x.len();
    for t in half..n - half {
        let win = &x[t - half..t - half + w];
        let s: f64 = win.iter().zip(coeffs).map(|(&v, &c)| v as f64 * c).sum();
        out[t] = s as f32;
    }
    let (first, last) = (out[half], out[n - 1 - half]);
    out[..half].fill(first);
    out[n - half..].fill(last);
}

/// The mean of [`delta_row`]`(x, coeffs)` over all frames, in `O(len)` without
/// the row (the clip vector keeps only this mean). Same checks as `delta_row`.
///
/// The interior outputs are `d[t] = sum_j c_j x[t - h + j]` for `t` in
/// `h..n - h`, so their sum is `sum_j c_j S_j` with `S_j` the sum of the `n - w + 1`
/// samples from `x[j]`; `S_j = S_0 + D_j`, where `D_j` adds the samples entering
/// and drops those leaving as the window slides, which keeps the sum free of
/// cancellation. The `h` edge outputs at each end repeat the first and last
/// interior value, as `delta_row` fills them. Everything is summed in `f64`.
pub(crate) fn delta_row_mean(x: &[f32], coeffs: &[f64]) -> f32 {
    let w = coeffs.len();
    let half = w / 2;
    let n = x.len();
    let at = |t: usize| -> f64 {
        x[t - half..t - half + w]
            .iter()
            .zip(coeffs)
            .map(|(&v, &c)| v as f64 * c)
            .sum()
    };
    let s0: f64 = x[..=n - w].iter().map(|&v| v as f64).sum();
    let mut d = 0.0f64;
    let mut interior = 0.0f64;
    for (j, &c) in coeffs.iter().enumerate() {
        if j > 0 {
            d += x[n - w + j] as f64 - x[j - 1] as f64;
        }
        interior += c * (s0 + d);
    }
    let edges = half as f64 * (at(half) + at(n - 1 - half));
    ((interior + edges) / n as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_mean_equals_the_mean_of_the_row() {
        for (width, order) in [(9usize, 1usize), (5, 1), (9, 2), (3, 1)] {
            let coeffs = savgol_coeffs(width, order, order).unwrap();
            for n in [width, width + 1, 40, 126, 1001] {
                let x: Vec<f32> = (0..n)
                    .map(|i| {
                        ((i * 7919 % 1009) as f32 / 50.0 - 10.0) + (i as f32 * 0.37).sin() * 300.0
                    })
                    .collect();
                let mut out = vec![0.0f32; n];
                delta_row(&x, &coeffs, &mut out);
                let want = out.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
                let scale = out.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
                let got = delta_row_mean(&x, &coeffs) as f64;
                assert!(
                    (got - want).abs() <= 1e-6 * scale,
                    "width {width} order {order} n {n}: {got} vs {want} (scale {scale})"
                );
            }
        }
    }

    #[test]
    fn coefficients_match_scipy() {
        // scipy.signal.savgol_coeffs(9, 1, deriv=1, use='dot') = arange(-4, 5) / 60
        let c = savgol_coeffs(9, 1, 1).unwrap();
        for (j, v) in c.iter().enumerate() {
            assert!((v - (j as f64 - 4.0) / 60.0).abs() < 1e-15);
        }
        // scipy.signal.savgol_coeffs(5, 2, deriv=2, use='dot')
        let c = savgol_coeffs(5, 2, 2).unwrap();
        let want = [2.0 / 7.0, -1.0 / 7.0, -2.0 / 7.0, -1.0 / 7.0, 2.0 / 7.0];
        for (a, b) in c.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{c:?}");
        }
    }

    #[test]
    fn second_derivative_of_a_parabola() {
        let x = Array2::from_shape_fn((2, 15), |(r, t)| (r as f32 + 1.0) * (t as f32).powi(2));
        let d = delta(&x, 9, 2).unwrap();
        for r in 0..2 {
            for t in 0..15 {
                assert!((d[[r, t]] - 2.0 * (r as f32 + 1.0)).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn parameter_errors() {
        let x = Array2::<f32>::zeros((1, 20));
        assert!(matches!(
            delta(&x, 8, 1),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            delta(&x, 1, 1),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            delta(&x, 9, 0),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(delta(&x, 21, 1), Err(Error::TooShort { .. })));
        assert!(delta(&x, 19, 1).is_ok());
    }
}
