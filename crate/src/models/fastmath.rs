//! A vectorisable `exp` for `f64` slices (used by the E-step's log-sum-exp).
//!
//! `exp(x) = 2ⁿ · exp(r)` with `n = round(x / ln 2)` and `|r| ≤ ln 2 / 2`;
//! `exp(r)` is its Taylor polynomial of degree 12 (relative error below 1e-15),
//! `2ⁿ` is built from the exponent bits. Written without branches so the
//! compiler vectorises the loop.

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// `exp(x)` for one value (same algorithm as [`exp_in_place`]).
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    let xc = x.clamp(-708.0, 709.0);
    let t = xc * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // Horner, degree 12.
    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let bits = t.to_bits().wrapping_add(1023) << 52;
    let y = p * f64::from_bits(bits);
    if x < -708.0 {
        0.0
    } else {
        y
    }
}

/// `v[i] = exp(v[i] − shift)` in place; returns the sum of the results.
#[inline]
pub(crate) fn exp_shift_sum(v: &mut [f64], shift: f64) -> f64 {
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = exp(*x - shift);
        s += *x;
    }
    s
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
}
