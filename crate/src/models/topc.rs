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
//! costs `C` dot products of length `d` per frame (and its `h_k`, once per used component)
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

use crate::models::fastmath::{lse_columns, lse_rows};
use crate::models::gmm::DiagGmm;
use crate::simd::MulAdd;
use ndarray::ArrayView2;

/// Each frame's `C` best UBM components, what scoring a speaker on them needs,
/// and the UBM's own top-C log-likelihood.
///
/// The kept (frame, component) pairs are stored grouped by component, so a
/// speaker's offsets of one component are read and converted once and serve all
/// the frames that kept it; each pair remembers where its log-density goes in the
/// `c × n` matrix (row = the component's rank in its frame) whose columns
/// [`lse_columns`] sums.
#[derive(Debug, Clone)]
pub(crate) struct TopFrames {
    /// Components kept per frame (`min(C, K)`).
    c: usize,
    /// Feature dimension.
    d: usize,
    /// Frames.
    n: usize,
    /// The pairs of component `k` are `starts[k]..starts[k + 1]` (`K + 1` values).
    starts: Vec<u32>,
    /// Per pair, `rank · n + frame`: its place in the `c × n` matrix.
    dest: Vec<u32>,
    /// Per pair, the UBM's weighted log-density of the component on the frame.
    lp: Vec<f64>,
    /// Per pair, `(x − μ_k) / σ²_k` (pairs × d).
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
        // Each frame's best components in rank order (n × c).
        let mut idx = Vec::with_capacity(n * c);
        let mut best: Vec<u32> = Vec::with_capacity(c + 1);
        for row in all.chunks_exact(k) {
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
            idx.extend_from_slice(&best);
        }
        let mut ubm_lp: Vec<f64> = idx
            .chunks_exact(c)
            .zip(all.chunks_exact(k))
            .flat_map(|(b, row)| b.iter().map(|&j| row[j as usize]))
            .collect();
        // Group the pairs by component (a counting sort, stable in frame order).
        let mut starts = vec![0u32; k + 1];
        for &j in &idx {
            starts[j as usize + 1] += 1;
        }
        for i in 0..k {
            starts[i + 1] += starts[i];
        }
        let mut next: Vec<usize> = starts[..k].iter().map(|&s| s as usize).collect();
        let mut dest = vec![0u32; n * c];
        let mut lp = vec![0.0; n * c];
        let mut v = vec![0.0; n * c * d];
        let (means, vars) = (ubm.means(), ubm.variances());
        for (pair, &j) in idx.iter().enumerate() {
            let (t, rank, j) = (pair / c, pair % c, j as usize);
            let p = next[j];
            next[j] += 1;
            dest[p] = (rank * n + t) as u32;
            lp[p] = ubm_lp[pair];
            let frame = x.row(t);
            for (((o, &xv), &mu), &var) in v[p * d..(p + 1) * d]
                .iter_mut()
                .zip(frame)
                .zip(means.row(j))
                .zip(vars.row(j))
            {
                *o = (f64::from(xv) - mu) / var;
            }
        }
        let ubm_total = lse_rows(&mut ubm_lp, c, false, None);
        TopFrames {
            c,
            d,
            n,
            starts,
            dest,
            lp,
            v,
            ubm_total,
        }
    }

    /// Mean per-frame top-C log-likelihood ratio of the frames under the speaker
    /// model with mean offsets `offsets` (`K × d`, standard layout), against the
    /// UBM; `half_prec` from [`half_precisions`]. `buf` is scratch space.
    pub(crate) fn llr(&self, offsets: &[f32], half_prec: &[f64], buf: &mut Vec<f64>) -> f64 {
        let nc = self.n * self.c;
        let need = nc + self.n + self.d;
        if buf.len() < need {
            buf.resize(need, 0.0);
        }
        let (out, rest) = buf.split_at_mut(nc);
        let (m, o64) = rest.split_at_mut(self.n);
        speaker_log_densities(
            &self.starts,
            &self.dest,
            &self.lp,
            &self.v,
            offsets,
            half_prec,
            &mut o64[..self.d],
            out,
        );
        let total = lse_columns(out, self.n, m);
        (total - self.ubm_total) / self.n as f64
    }
}

/// `1 / (2σ²_kf)` of every component and feature of the UBM (`K × d`,
/// row-major): what a speaker's `h_k` is weighted by.
pub(crate) fn half_precisions(ubm: &DiagGmm) -> Vec<f64> {
    ubm.variances().iter().map(|&s| 0.5 / s).collect()
}

/// `Σ_f a_f · b_f · w_f` with eight running sums (so the loop vectorises; their
/// order is fixed, so the result does not depend on the vector width). With
/// `w = None`, `Σ_f a_f · b_f`.
#[inline(always)]
fn dot<const FMA: bool>(a: &[f64], b: &[f64], w: Option<&[f64]>) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut rest = 0.0;
    match w {
        None => {
            for (x, y) in ca.zip(cb) {
                for l in 0..8 {
                    acc[l] = f64::madd::<FMA>(x[l], y[l], acc[l]);
                }
            }
            for (&x, &y) in ra.iter().zip(rb) {
                rest = f64::madd::<FMA>(x, y, rest);
            }
        }
        Some(w) => {
            let cw = w.chunks_exact(8);
            let rw = cw.remainder();
            for ((x, y), z) in ca.zip(cb).zip(cw) {
                for l in 0..8 {
                    acc[l] = f64::madd::<FMA>(x[l] * y[l], z[l], acc[l]);
                }
            }
            for ((&x, &y), &z) in ra.iter().zip(rb).zip(rw) {
                rest = f64::madd::<FMA>(x * y, z, rest);
            }
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest
}

/// For every kept (frame, component) pair `p` of component `k`:
/// `out[dest[p]] = lp[p] + o_k · v_p − h_k`, the speaker model's weighted
/// log-density, with `h_k = Σ_f o²_kf / (2σ²_kf)`. Each component's offsets are
/// converted (into `o64`, `d` long) and its `h_k` computed once, for all the
/// frames that kept it; components no frame kept cost nothing.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the kernel's slices, as its SIMD twin takes them
fn speaker_log_densities_g<const FMA: bool>(
    starts: &[u32],
    dest: &[u32],
    lp: &[f64],
    v: &[f64],
    offsets: &[f32],
    half_prec: &[f64],
    o64: &mut [f64],
    out: &mut [f64],
) {
    let d = o64.len();
    for (k, w) in starts.windows(2).enumerate() {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if a == b {
            continue;
        }
        for (x, &y) in o64.iter_mut().zip(&offsets[k * d..(k + 1) * d]) {
            *x = f64::from(y);
        }
        let h = dot::<FMA>(o64, o64, Some(&half_prec[k * d..(k + 1) * d]));
        for ((&to, &l), vp) in dest[a..b]
            .iter()
            .zip(&lp[a..b])
            .zip(v[a * d..b * d].chunks_exact(d))
        {
            out[to as usize] = l + dot::<FMA>(o64, vp, None) - h;
        }
    }
}

crate::simd::kernel! {
    /// A speaker model's weighted log-densities of the kept (frame, component)
    /// pairs, see [`speaker_log_densities_g`].
    fn speaker_log_densities(
        starts: &[u32],
        dest: &[u32],
        lp: &[f64],
        v: &[f64],
        offsets: &[f32],
        half_prec: &[f64],
        o64: &mut [f64],
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
    /// and 13, which leaves a remainder; one component kept by no frame):
    /// within 1e-12 relative to max(1, |x|).
    #[test]
    fn simd_twin_matches_scalar_twin() {
        let mut rng = rng(5);
        for d in [40usize, 13] {
            let (k, pairs) = (16usize, 300usize);
            // Component j holds pairs j*20 .. j*20+20, except component 3 (none).
            let mut starts = vec![0u32];
            for j in 0..k {
                let add = if j == 3 { 0 } else { pairs / (k - 1) };
                starts.push(starts[j] + add as u32);
            }
            let used = *starts.last().unwrap() as usize;
            let dest: Vec<u32> = (0..used as u32).rev().collect();
            let lp = uniform_f64(&mut rng, used, -80.0, -20.0);
            let v = uniform_f64(&mut rng, used * d, -3.0, 3.0);
            let offsets: Vec<f32> = uniform_f64(&mut rng, k * d, -1.0, 1.0)
                .into_iter()
                .map(|x| x as f32)
                .collect();
            let hp = uniform_f64(&mut rng, k * d, 0.1, 2.0);
            let (mut a, mut b) = (vec![0.0; used], vec![0.0; used]);
            let (mut oa, mut ob) = (vec![0.0; d], vec![0.0; d]);
            speaker_log_densities_scalar(&starts, &dest, &lp, &v, &offsets, &hp, &mut ob, &mut b);
            // The portable twin against the formula, term by term.
            for j in 0..k {
                for p in starts[j] as usize..starts[j + 1] as usize {
                    let o = &offsets[j * d..(j + 1) * d];
                    let want = lp[p] + (0..d).map(|f| f64::from(o[f]) * v[p * d + f]).sum::<f64>()
                        - (0..d)
                            .map(|f| f64::from(o[f]).powi(2) * hp[j * d + f])
                            .sum::<f64>();
                    let got = b[dest[p] as usize];
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "{got} vs {want}"
                    );
                }
            }
            let simd =
                speaker_log_densities_simd(&starts, &dest, &lp, &v, &offsets, &hp, &mut oa, &mut a);
            if simd.is_none() {
                return; // no AVX2 + FMA here: only the portable twin exists
            }
            assert_close(&a, &b, 1e-12, 1.0, "speaker log-densities");
        }
    }

    /// The kept components are each frame's best, in order; the UBM's top-C
    /// total is their log-sum-exp; a speaker's top-C LLR is the mean over frames
    /// of the log-sum-exp over those components of its own model against the
    /// UBM's; and with C = K it is the exact mean LLR.
    #[test]
    fn select_keeps_the_best_components() {
        let means = Array2::from_shape_fn((6, 2), |(k, f)| k as f64 * 1.5 + f as f64 * 0.25);
        let vars = Array2::from_shape_fn((6, 2), |(k, f)| 0.6 + 0.1 * (k + f) as f64);
        let ubm = DiagGmm::from_parts(Array1::from_elem(6, 1.0), means.clone(), vars).unwrap();
        let x = Array2::from_shape_fn((9, 2), |(i, f)| (i as f32) * 0.9 - 0.3 * f as f32);
        let offsets = Array2::from_shape_fn((6, 2), |(k, f)| 0.2 * k as f32 - 0.35 * f as f32);
        let moved = DiagGmm::from_parts(
            Array1::from_elem(6, 1.0),
            &means + &offsets.mapv(f64::from),
            ubm.variances().to_owned(),
        )
        .unwrap();
        let (mut all, mut all_s) = (Vec::new(), Vec::new());
        ubm.weighted_log_densities_unchecked(x.view(), &mut all);
        moved.weighted_log_densities_unchecked(x.view(), &mut all_s);
        let lse = |v: &mut dyn Iterator<Item = f64>| v.map(f64::exp).sum::<f64>().ln();
        let hp = half_precisions(&ubm);
        let o = offsets.as_slice().unwrap();
        let mut buf = Vec::new();
        for c in [3usize, 6] {
            let top = TopFrames::select(&ubm, x.view(), c);
            // The kept components of each frame, in rank order, from the groups.
            let mut kept = vec![usize::MAX; 9 * c];
            for j in 0..6 {
                for p in top.starts[j] as usize..top.starts[j + 1] as usize {
                    let (rank, t) = (top.dest[p] as usize / 9, top.dest[p] as usize % 9);
                    kept[t * c + rank] = j;
                }
            }
            let (mut want_total, mut want_llr) = (0.0, 0.0);
            for (t, row) in all.chunks_exact(6).enumerate() {
                let mut order: Vec<usize> = (0..6).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                let mut got = kept[t * c..(t + 1) * c].to_vec();
                if c == 6 {
                    got.sort(); // all components, kept in index order
                    order.sort();
                }
                assert_eq!(got, order[..c].to_vec(), "c {c}, frame {t}");
                let u = lse(&mut order[..c].iter().map(|&j| row[j]));
                let s = lse(&mut order[..c].iter().map(|&j| all_s[t * 6 + j]));
                want_total += u;
                want_llr += (s - u) / 9.0;
            }
            assert!((top.ubm_total - want_total).abs() < 1e-10);
            let got = top.llr(o, &hp, &mut buf);
            assert!((got - want_llr).abs() < 1e-10, "c {c}: {got} vs {want_llr}");
            // Zero offsets: the speaker is the UBM, its LLR 0.
            let zero = vec![0.0f32; 12];
            let z = top.llr(&zero, &hp, &mut buf);
            assert!(z.abs() < 1e-12, "{z}");
        }
        // C = K: the exact mean log-likelihood ratio.
        let exact = (moved.total_log_likelihoods_unchecked(&[x.view()])[0]
            - ubm.total_log_likelihoods_unchecked(&[x.view()])[0])
            / 9.0;
        let got = TopFrames::select(&ubm, x.view(), 6).llr(o, &hp, &mut buf);
        assert!((got - exact).abs() < 1e-10, "{got} vs {exact}");
    }
}
