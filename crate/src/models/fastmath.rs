//! A vectorisable `exp` for `f64` and a row-wise log-sum-exp / softmax built on
//! it (the E-step's hot loop).
//!
//! `exp(x) = 2ⁿ · exp(r)` with `n = round(x / ln 2)` and `|r| ≤ ln 2 / 2`;
//! `exp(r)` is its Taylor polynomial of degree 12 (relative error below 1e-15),
//! `2ⁿ` is built from the exponent bits. The code has no branches, so the
//! compiler vectorises the loops; on x86-64 CPUs with AVX2 and FMA a copy
//! compiled for them is chosen at run time.

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

#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `exp(x)`.
#[inline(always)]
fn exp_g<const FMA: bool>(x: f64) -> f64 {
    let xc = x.clamp(-708.0, 709.0);
    let t = madd::<FMA>(xc, LOG2E, SHIFTER);
    let n = t - SHIFTER;
    let r = madd::<FMA>(-n, LN2_LO, madd::<FMA>(-n, LN2_HI, xc));
    let mut p = C[0];
    for &c in &C[1..] {
        p = madd::<FMA>(p, r, c);
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lse_rows_avx2(lp: &mut [f64], k: usize, resp: bool, out: Option<&mut [f64]>) -> f64 {
    lse_rows_g::<true>(lp, k, resp, out)
}

/// Row-wise log-sum-exp (and softmax when `resp`), see [`lse_rows_g`].
pub(crate) fn lse_rows(lp: &mut [f64], k: usize, resp: bool, out: Option<&mut [f64]>) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { lse_rows_avx2(lp, k, resp, out) };
        }
    }
    lse_rows_g::<false>(lp, k, resp, out)
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
}
