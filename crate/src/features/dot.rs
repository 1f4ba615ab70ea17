//! Small numerical kernels written so the compiler vectorises them: dot products
//! with several independent accumulators (a plain `zip().sum()` is one serial
//! dependency chain, because floating-point addition is not reassociated).

/// Lanes of independent partial sums: 8 `f32` = two SSE or one AVX register.
const LANES: usize = 8;

/// `sum(a[i] * b[i])` in `f32` with 8 independent accumulators (pairwise-like
/// rounding, roughly `sqrt(n / 8)` times better than a serial sum).
#[inline]
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    let s4 = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (s4[0] + s4[2]) + (s4[1] + s4[3]) + tail
}

/// Block length for [`dot_f64_acc`]: partial sums stay short in `f32`.
const BLOCK: usize = 512;

/// `sum(a[i] * b[i])` of long `f32` vectors, accurate to about `f64`: products are
/// summed in `f32` lanes over blocks of 512 and the block sums are added in `f64`.
/// Used by Burg's LPC, whose sums run over a whole clip (10^5 samples).
#[inline]
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
#[inline]
pub(crate) fn sum_sq_f64_acc(a: &[f32]) -> f64 {
    dot_f64_acc(a, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_f64_reference() {
        for n in [0usize, 1, 7, 8, 9, 100, 513, 1500] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 53 % 97) as f32 - 48.0) / 3.0).collect();
            let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let scale: f64 = a.iter().zip(&b).map(|(&x, &y)| (x as f64 * y as f64).abs()).sum();
            let tol = 1e-6 * scale.max(1.0);
            assert!((dot_f32(&a, &b) as f64 - exact).abs() <= tol, "n={n}");
            assert!((dot_f64_acc(&a, &b) - exact).abs() <= tol, "n={n}");
        }
    }
}
