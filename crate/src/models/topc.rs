//! Top-C scoring of MAP-adapted speaker models (Reynolds, Quatieri & Dunn 2000,
//! section 3.3): each frame is scored by the `C` UBM components that explain it
//! best, in the UBM and in every speaker model, instead of by all `K`.
//!
//! A means-only adapted model shares the UBM's weights and variances, and its
//! component `k` is the UBM's moved by the offset `o_k`, so its weighted
//! log-density is the UBM component's plus a term linear in the frame:
//!
//! `log w_k N(x | μ_k + o_k, σ²_k) = log w_k N(x | μ_k, σ²_k) + o_k · v_k − h_k`,
//! with `v_k = (x − μ_k) / σ²_k` and `h_k = Σ_f o²_kf / (2σ²_kf)`.
//!
//! So one pass of the UBM over a query ([`TopFrames::select`]) finds each frame's
//! `C` best components and keeps their log-densities and `v_k`; a speaker then
//! costs `C` dot products of length `d` per frame (and its `h`, once per query)
//! rather than a full `K`-component mixture: with `K = 128`, `C = 5`, about 25
//! times fewer operations, and no per-speaker set-up of the mixture's matrices.
//! The frame's log-likelihood ratio is
//! `log Σ_{k ∈ top C} w_k N(x | μ_k + o_k) − log Σ_{k ∈ top C} w_k N(x | μ_k)`
//! (the UBM on the same components, as Reynolds et al. do), averaged over
//! frames. With `C = K` it is the exact mean log-likelihood ratio.
//!
//! It is an approximation because a speaker's best components can differ from
//! the UBM's; adapted means sit close to the UBM's, so the `C` best UBM
//! components hold nearly all of a speaker model's likelihood as well.

use crate::models::fastmath::lse_rows;
use crate::models::gmm::DiagGmm;
use crate::simd::MulAdd;
use ndarray::ArrayView2;

/// Each frame's `C` best UBM components, what scoring a speaker on them needs,
/// and the UBM's own top-C log-likelihood.
#[derive(Debug, Clone)]
pub(crate) struct TopFrames {
    /// Components kept per frame (`min(C, K)`).
    c: usize,
    /// Feature dimension.
    d: usize,
    /// Frames.
    n: usize,
    /// Per frame, its `c` components (n × c, row-major).
    idx: Vec<u32>,
    /// The UBM's weighted log-densities of those components (n × c).
    lp: Vec<f64>,
    /// `(x − μ_k) / σ²_k` for those components (n × c × d).
    v: Vec<f64>,
    /// Σ over frames of the UBM's log-sum-exp over the frame's `c` components.
    ubm_total: f64,
}

impl TopFrames {
    /// Score the frames `x` (checked input: finite, non-empty, the UBM's width)
    /// by the UBM and keep each frame's `c` (at least 1; at most `K`) best
    /// components. Ties go to the lower component index, so the choice is
    /// deterministic.
    pub(crate) fn select(ubm: &DiagGmm, x: ArrayView2<f32>, c: usize) -> TopFrames {
        let (k, d) = ubm.means().dim();
        let c = c.clamp(1, k);
        let n = x.nrows();
        let mut all = Vec::new();
        ubm.weighted_log_densities_unchecked(x, &mut all);
        let mut idx = Vec::with_capacity(n * c);
        let mut lp = Vec::with_capacity(n * c);
        let mut v = Vec::with_capacity(n * c * d);
        let (means, vars) = (ubm.means(), ubm.variances());
        let mut best: Vec<u32> = Vec::with_capacity(c + 1);
        for (t, row) in all.chunks_exact(k).enumerate() {
            best.clear();
            if c == k {
                best.extend(0..k as u32);
            } else {
                // Insertion into a sorted list of the c best so far (c is small).
                for (j, &val) in row.iter().enumerate() {
                    if best.len() == c && val <= row[best[c - 1] as usize] {
                        continue;
                    }
                    let pos = best
                        .iter()
                        .position(|&b| val > row[b as usize])
                        .unwrap_or(best.len());
                    best.insert(pos, j as u32);
                    best.truncate(c);
                }
            }
            let frame = x.row(t);
            for &j in &best {
                let j_ = j as usize;
                idx.push(j);
                lp.push(row[j_]);
                for ((&xv, &mu), &var) in frame.iter().zip(means.row(j_)).zip(vars.row(j_)) {
                    v.push((f64::from(xv) - mu) / var);
                }
            }
        }
        let mut ubm_lp = lp.clone();
        let ubm_total = lse_rows(&mut ubm_lp, c, false, None);
        TopFrames {
            c,
            d,
            n,
            idx,
            lp,
            v,
            ubm_total,
        }
    }

    /// Mean per-frame top-C log-likelihood ratio of the frames under the speaker
    /// model with mean offsets `offsets` (`K × d`, standard layout) and
    /// `half = h_k` of those offsets ([`half_norms`]), against the UBM. `buf` is
    /// scratch space.
    pub(crate) fn llr(&self, offsets: &[f32], half: &[f64], buf: &mut Vec<f64>) -> f64 {
        buf.clear();
        buf.resize(self.n * self.c, 0.0);
        speaker_log_densities(&self.idx, &self.lp, &self.v, offsets, half, self.d, buf);
        let total = lse_rows(buf, self.c, false, None);
        (total - self.ubm_total) / self.n as f64
    }
}

/// `1 / (2σ²_kf)` of every component and feature of the UBM (`K × d`,
/// row-major): what [`half_norms`] multiplies by.
pub(crate) fn half_precisions(ubm: &DiagGmm) -> Vec<f64> {
    ubm.variances().iter().map(|&s| 0.5 / s).collect()
}

/// `h_k = Σ_f o²_kf / (2σ²_kf)` of every component of a speaker's offsets
/// (`K × d`, row-major) into `out`, with `half_prec` from [`half_precisions`].
pub(crate) fn half_norms(half_prec: &[f64], offsets: &[f32], d: usize, out: &mut Vec<f64>) {
    out.clear();
    out.extend(
        offsets
            .chunks_exact(d)
            .zip(half_prec.chunks_exact(d))
            .map(|(o, p)| {
                o.iter()
                    .zip(p)
                    .map(|(&o, &p)| {
                        let o = f64::from(o);
                        o * o * p
                    })
                    .sum::<f64>()
            }),
    );
}

/// `a · b` with eight running sums (so the loop vectorises; their order is
/// fixed, so the result does not depend on the vector width).
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] = f64::madd::<FMA>(f64::from(x[l]), y[l], acc[l]);
        }
    }
    let mut rest = 0.0;
    for (&x, &y) in ra.iter().zip(rb) {
        rest = f64::madd::<FMA>(f64::from(x), y, rest);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest
}

/// For every kept (frame, component) pair `j` with component `k = idx[j]`:
/// `out[j] = lp[j] + offsets_k · v_j − half[k]`, the speaker model's weighted
/// log-density.
#[inline(always)]
fn speaker_log_densities_g<const FMA: bool>(
    idx: &[u32],
    lp: &[f64],
    v: &[f64],
    offsets: &[f32],
    half: &[f64],
    d: usize,
    out: &mut [f64],
) {
    for (((&k, &l), vj), o) in idx
        .iter()
        .zip(lp)
        .zip(v.chunks_exact(d))
        .zip(out.iter_mut())
    {
        let k = k as usize;
        *o = l + dot::<FMA>(&offsets[k * d..(k + 1) * d], vj) - half[k];
    }
}

crate::simd::kernel! {
    /// A speaker model's weighted log-densities of the kept (frame, component)
    /// pairs, see [`speaker_log_densities_g`].
    fn speaker_log_densities(
        idx: &[u32],
        lp: &[f64],
        v: &[f64],
        offsets: &[f32],
        half: &[f64],
        d: usize,
        out: &mut [f64],
    ) {
        simd "avx2,fma" speaker_log_densities_simd => speaker_log_densities_g::<true>,
        scalar speaker_log_densities_scalar => speaker_log_densities_g::<false>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::testing::{assert_close, rng, uniform_f64};
    use ndarray::{Array1, Array2};

    /// The AVX2 + FMA twin against the portable one on random inputs (d = 40
    /// and 13, which leaves a remainder): within 1e-12 relative to max(1, |x|).
    #[test]
    fn simd_twin_matches_scalar_twin() {
        let mut rng = rng(5);
        for d in [40usize, 13] {
            let (k, pairs) = (16usize, 300usize);
            let idx: Vec<u32> = (0..pairs).map(|j| ((j * 7) % k) as u32).collect();
            let lp = uniform_f64(&mut rng, pairs, -80.0, -20.0);
            let v = uniform_f64(&mut rng, pairs * d, -3.0, 3.0);
            let offsets: Vec<f32> = uniform_f64(&mut rng, k * d, -1.0, 1.0)
                .into_iter()
                .map(|x| x as f32)
                .collect();
            let half = uniform_f64(&mut rng, k, 0.0, 2.0);
            let mut a = vec![0.0; pairs];
            let mut b = vec![0.0; pairs];
            speaker_log_densities_scalar(&idx, &lp, &v, &offsets, &half, d, &mut b);
            if speaker_log_densities_simd(&idx, &lp, &v, &offsets, &half, d, &mut a).is_none() {
                return; // no AVX2 + FMA here: only the portable twin exists
            }
            assert_close(&a, &b, 1e-12, 1.0, "speaker log-densities");
        }
    }

    /// The kept components are each frame's best, in order, and the UBM's
    /// top-C total is their log-sum-exp.
    #[test]
    fn select_keeps_the_best_components() {
        let means = Array2::from_shape_fn((6, 2), |(k, f)| k as f64 * 1.5 + f as f64 * 0.25);
        let vars = Array2::from_elem((6, 2), 0.8);
        let ubm = DiagGmm::from_parts(Array1::from_elem(6, 1.0), means, vars).unwrap();
        let x = Array2::from_shape_fn((9, 2), |(i, f)| (i as f32) * 0.9 - 0.3 * f as f32);
        let top = TopFrames::select(&ubm, x.view(), 3);
        let mut all = Vec::new();
        ubm.weighted_log_densities_unchecked(x.view(), &mut all);
        let mut want_total = 0.0;
        for (t, row) in all.chunks_exact(6).enumerate() {
            let mut order: Vec<usize> = (0..6).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            let got: Vec<usize> = top.idx[t * 3..t * 3 + 3]
                .iter()
                .map(|&j| j as usize)
                .collect();
            assert_eq!(got, order[..3].to_vec(), "frame {t}");
            want_total += order[..3].iter().map(|&j| row[j].exp()).sum::<f64>().ln();
        }
        assert!((top.ubm_total - want_total).abs() < 1e-10);
        // Zero offsets: the speaker is the UBM, its LLR 0.
        let zero = Array2::<f32>::zeros((6, 2));
        let mut h = Vec::new();
        half_norms(&half_precisions(&ubm), zero.as_slice().unwrap(), 2, &mut h);
        let mut buf = Vec::new();
        let z = top.llr(zero.as_slice().unwrap(), &h, &mut buf);
        assert!(z.abs() < 1e-12, "{z}");
    }
}
