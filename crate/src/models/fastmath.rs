//! A vectorisable `exp` for `f64` and a row-wise log-sum-exp / softmax built on
//! it (the E-step's hot loop).
//!
//! `exp(x) = 2ⁿ · exp(r)` with `n = round(x / ln 2)` and `|r| ≤ ln 2 / 2`;
//! `exp(r)` is its Taylor polynomial of degree 12 (relative error below 1e-15),
//! `2ⁿ` is built from the exponent bits. The code has no branches, so the
//! compiler vectorises the loops; on x86-64 CPUs with AVX2 and FMA a copy
//! compiled for them (with fused multiply-adds) is chosen at run time, see
//! [`crate::simd`].

use crate::simd::MulAdd;

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

const C: [f64; 13] = [
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `exp(x)`.
#[inline(always)]
fn exp_g<const FMA: bool>(x: f64) -> f64 {
    let xc = x.clamp(-708.0, 709.0);
    let t = f64::madd::<FMA>(xc, LOG2E, SHIFTER);
    let n = t - SHIFTER;
    let r = f64::madd::<FMA>(-n, LN2_LO, f64::madd::<FMA>(-n, LN2_HI, xc));
    let mut p = C[0];
    for &c in &C[1..] {
        p = f64::madd::<FMA>(p, r, c);
    }
    let bits = t.to_bits().wrapping_add(1023) << 52;
    let y = p * f64::from_bits(bits);
    if x < -708.0 {
        0.0
    } else {
        y
    }
}

/// `exp(x)` for one value.
#[cfg(test)]
pub(crate) fn exp(x: f64) -> f64 {
    exp_g::<false>(x)
}

/// For every row of `lp` (row-major, `k` columns): `lse = log Σ exp(row)`;
/// with `resp` the row becomes `exp(row − lse)` (responsibilities). Writes the
/// per-row `lse` to `out` when given; returns their sum.
#[inline(always)]
fn lse_rows_g<const FMA: bool>(
    lp: &mut [f64],
    k: usize,
    resp: bool,
    mut out: Option<&mut [f64]>,
) -> f64 {
    let mut total = 0.0;
    for (i, row) in lp.chunks_exact_mut(k).enumerate() {
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let lse = if m.is_finite() {
            for v in row.iter_mut() {
                *v = exp_g::<FMA>(*v - m);
            }
            let s: f64 = row.iter().sum();
            if resp {
                let inv = 1.0 / s;
                for v in row.iter_mut() {
                    *v *= inv;
                }
            }
            m + s.ln()
        } else {
            m
        };
        if let Some(o) = out.as_deref_mut() {
            o[i] = lse;
        }
        total += lse;
    }
    total
}

/// `Σ_t log Σ_r exp(lp[r·n + t])`: the log-sum-exp down each of the `n` columns
/// of the `c × n` matrix `lp` (row-major, so every row is contiguous and each
/// step runs over all columns at once), summed over the columns. `lp` is
/// overwritten; `m` (at least `n` long) is scratch. A column whose maximum is not
/// finite contributes that maximum, as in [`lse_rows`].
///
/// After subtracting its maximum a column's sum of exponentials lies in `[1, c]`,
/// so the logarithms of a run of columns are taken at once, as the logarithm of
/// their product: runs short enough (`c^run ≤ 2^1000`) that the product cannot
/// overflow, one `ln` per run instead of one per column.
#[inline(always)]
fn lse_columns_g<const FMA: bool>(lp: &mut [f64], n: usize, m: &mut [f64]) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let c = lp.len() / n;
    let m = &mut m[..n];
    let (first, rest) = lp[..c * n].split_at_mut(n);
    m.copy_from_slice(first);
    for row in rest.chunks_exact(n) {
        for (a, &b) in m.iter_mut().zip(row) {
            *a = a.max(b);
        }
    }
    for (s, &mx) in first.iter_mut().zip(m.iter()) {
        *s = exp_g::<FMA>(*s - mx);
    }
    for row in rest.chunks_exact(n) {
        for ((s, &v), &mx) in first.iter_mut().zip(row).zip(m.iter()) {
            *s += exp_g::<FMA>(v - mx);
        }
    }
    let run = if c <= 1 {
        n
    } else {
        ((1000.0 / (c as f64).log2()) as usize).max(1)
    };
    let mut total = 0.0;
    for (s, mx) in first.chunks(run).zip(m.chunks(run)) {
        let mut prod = 1.0;
        for (&s, &mx) in s.iter().zip(mx) {
            prod *= if mx.is_finite() { s } else { 1.0 };
            total += mx;
        }
        total += prod.ln();
    }
    total
}

crate::simd::kernel! {
    /// Column-wise log-sum-exp, summed, see [`lse_columns_g`].
    pub(crate) fn lse_columns(lp: &mut [f64], n: usize, m: &mut [f64]) -> f64 {
        simd "avx2,fma" lse_columns_simd => lse_columns_g::<true>,
        scalar lse_columns_scalar => lse_columns_g::<false>,
    }
}

crate::simd::kernel! {
    /// Row-wise log-sum-exp (and softmax when `resp`), see [`lse_rows_g`].
    pub(crate) fn lse_rows(lp: &mut [f64], k: usize, resp: bool, out: Option<&mut [f64]>) -> f64 {
        simd "avx2,fma" lse_rows_simd => lse_rows_g::<true>,
        scalar lse_rows_scalar => lse_rows_g::<false>,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_std_exp() {
        let mut worst = 0.0f64;
        let mut x = -745.0;
        while x < 709.0 {
            let a = super::exp(x);
            let b = x.exp();
            if b > 1e-300 {
                worst = worst.max((a - b).abs() / b);
            } else {
                assert!(a < 1e-290);
            }
            x += 0.0137;
        }
        assert!(worst < 4e-15, "worst relative error {worst}");
        assert_eq!(super::exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(super::exp(0.0), 1.0);
    }

    #[test]
    fn lse_rows_matches_direct_computation() {
        let k = 7;
        let mut lp: Vec<f64> = (0..5 * k)
            .map(|i| ((i * 37 % 23) as f64 - 11.0) * 3.1)
            .collect();
        let orig = lp.clone();
        let mut out = vec![0.0; 5];
        let total = super::lse_rows(&mut lp, k, true, Some(&mut out));
        for (r, row) in orig.chunks(k).enumerate() {
            let want = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            assert!((out[r] - want).abs() < 1e-12);
            let s: f64 = lp[r * k..(r + 1) * k].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        assert!((total - out.iter().sum::<f64>()).abs() < 1e-12);
    }

    /// The column-wise log-sum-exp against the direct computation (std `exp` and
    /// `ln`, column by column) for 1 to 128 rows, runs of columns cut by the
    /// overflow guard included, a column all `-inf`; and its SIMD twin.
    #[test]
    fn lse_columns_matches_direct_computation() {
        use crate::simd::testing::{rng, uniform_f64};
        let mut rng = rng(12);
        for (c, spread, n) in [
            (1, 5.0, 7),
            (5, 60.0, 301),
            (16, 500.0, 900),
            (128, 3.0, 40),
        ] {
            let mut lp = uniform_f64(&mut rng, c * n, -spread, spread);
            for r in 0..c {
                lp[r * n + 3] = f64::NEG_INFINITY;
            }
            let want: f64 = (0..n)
                .filter(|&t| t != 3)
                .map(|t| {
                    let col: Vec<f64> = (0..c).map(|r| lp[r * n + t]).collect();
                    let mx = col.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                    mx + col.iter().map(|v| (v - mx).exp()).sum::<f64>().ln()
                })
                .sum();
            let mut m = vec![0.0; n];
            let got = super::lse_columns_scalar(&mut lp.clone(), n, &mut m);
            assert_eq!(got, f64::NEG_INFINITY, "a column of -inf gives -inf");
            for r in 0..c {
                lp[r * n + 3] = 0.0;
            }
            let col3 = (c as f64).ln();
            let got = super::lse_columns_scalar(&mut lp.clone(), n, &mut m);
            assert!(
                (got - (want + col3)).abs() <= 1e-12 * want.abs().max(1.0),
                "c {c}: {got} vs {}",
                want + col3
            );
            if let Some(s) = super::lse_columns_simd(&mut lp.clone(), n, &mut m) {
                assert!(
                    (s - got).abs() <= 1e-12 * got.abs().max(1.0),
                    "simd {s} vs {got}"
                );
            }
        }
    }

    /// The AVX2 + FMA twin against the portable one on random log-probabilities
    /// (rows of 1 to 40 components, spreads up to 2000 nats, some rows all `-inf`):
    /// responsibilities within 1e-14 absolute (they lie in [0, 1]), log-sum-exps
    /// within 1e-13 relative to max(1, |lse|).
    #[test]
    fn simd_twin_matches_scalar_twin() {
        use crate::simd::testing::{assert_close, rng, uniform_f64};
        let mut rng = rng(11);
        for (k, spread) in [(1, 5.0), (7, 50.0), (16, 2000.0), (32, 30.0), (40, 1.0)] {
            let n = 301;
            let mut lp = uniform_f64(&mut rng, n * k, -spread, spread);
            for v in &mut lp[..k] {
                *v = f64::NEG_INFINITY;
            }
            for resp in [false, true] {
                let (mut a, mut b) = (lp.clone(), lp.clone());
                let (mut la, mut lb) = (vec![0.0; n], vec![0.0; n]);
                let tb = super::lse_rows_scalar(&mut b, k, resp, Some(&mut lb));
                let Some(ta) = super::lse_rows_simd(&mut a, k, resp, Some(&mut la)) else {
                    return; // no AVX2 + FMA here: only the portable twin exists
                };
                assert_eq!(la[0], f64::NEG_INFINITY);
                for (x, y) in la[1..].iter().zip(&lb[1..]) {
                    assert!((x - y).abs() <= 1e-13 * y.abs().max(1.0), "lse {x} vs {y}");
                }
                assert!((ta - tb).abs() <= 1e-13 * tb.abs().max(1.0) || ta == tb);
                if resp {
                    assert_close(&a[k..], &b[k..], 1e-14, 1.0, "responsibilities");
                }
            }
        }
    }
}
