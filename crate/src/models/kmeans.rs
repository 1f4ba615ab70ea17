//! k-means clustering (k-means++ seeding and Lloyd's iterations), as scikit-learn's
//! `KMeans(n_init=1)` does it, used to initialise the EM algorithm of a
//! [`DiagGmm`](super::DiagGmm).
//!
//! k-means looks for `k` centres that minimise the sum of squared distances from
//! every point to its nearest centre (the *inertia*). k-means++ picks the first
//! centre at random and each next one among a few candidates drawn with probability
//! proportional to the squared distance to the nearest centre chosen so far
//! (keeping the candidate that lowers the inertia most, "greedy k-means++").
//! Lloyd's algorithm then alternates two steps until the centres stop moving:
//! assign every point to its nearest centre, move every centre to the mean of its
//! points.
//!
//! Distances are computed in blocks of rows as one matrix product
//! (`|x|² − 2 x·c + |c|²`), in parallel over blocks, in `f64`.
//!
//! ```
//! use ndarray::array;
//! use rand::SeedableRng;
//! use speaker_similarity::models::kmeans::kmeans;
//! let x = array![[0.0f32, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]];
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let km = kmeans(x.view(), 2, 300, &mut rng).unwrap();
//! assert_eq!(km.labels[0], km.labels[1]);
//! assert_ne!(km.labels[0], km.labels[2]);
//! ```

use crate::error::{Error, Result};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::Rng;
use rayon::prelude::*;

/// Rows per block in the parallel distance computations.
const BLOCK: usize = 2048;

/// The result of [`kmeans`].
#[derive(Debug, Clone)]
pub struct KMeansResult {
    /// Cluster centres, one row per cluster.
    pub centers: Array2<f64>,
    /// The cluster of every input row.
    pub labels: Vec<usize>,
    /// Sum of squared distances from each row to its centre.
    pub inertia: f64,
    /// Lloyd iterations run.
    pub n_iter: usize,
}

/// Convert rows `r0..r1` of `x` to an `f64` block.
pub(crate) fn block_f64(x: ArrayView2<f32>, r0: usize, r1: usize) -> Array2<f64> {
    x.slice(s![r0..r1, ..]).mapv(f64::from)
}

/// Squared distance between an `f32` row and an `f64` point, with 4
/// independent accumulators (vectorisable).
#[inline(always)]
fn sq_dist_row(r: &[f32], c: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let rc = r.chunks_exact(4);
    let cc = c.chunks_exact(4);
    let (rr, cr) = (rc.remainder(), cc.remainder());
    for (a, b) in rc.zip(cc) {
        for l in 0..4 {
            let d = f64::from(a[l]) - b[l];
            acc[l] += d * d;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (a, b) in rr.iter().zip(cr) {
        let d = f64::from(*a) - b;
        s += d * d;
    }
    s
}

/// Squared distances of rows `r0..r0 + out.len()` of `x` to the point `c`.
#[inline(always)]
fn sq_dist_block_g(x: ArrayView2<f32>, r0: usize, c: &[f64], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        let row = x.row(r0 + i);
        *o = match row.as_slice() {
            Some(r) => sq_dist_row(r, c),
            None => row
                .iter()
                .zip(c)
                .map(|(&a, &b)| {
                    let d = f64::from(a) - b;
                    d * d
                })
                .sum(),
        };
    }
}

crate::simd::kernel! {
    /// Squared distances of rows `r0..r0 + out.len()` of `x` to the point `c`
    /// (see [`sq_dist_block_g`]).
    fn sq_dist_block(x: ArrayView2<f32>, r0: usize, c: &[f64], out: &mut [f64]) {
        simd "avx2,fma" sq_dist_block_simd => sq_dist_block_g,
        scalar sq_dist_block_scalar => sq_dist_block_g,
    }
}

/// Squared distances of every row of `x` to the single point `c`, written to `out`.
fn sq_dist_to(x: ArrayView2<f32>, c: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(bi, chunk)| sq_dist_block(x, bi * BLOCK, c, chunk));
}

/// Column means and (population) variances of `x`, accumulated in `f64`.
pub(crate) fn column_mean_var(x: ArrayView2<f32>) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = x.dim();
    let mut mean = vec![0.0f64; d];
    for row in x.outer_iter() {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    for m in &mut mean {
        *m /= n.max(1) as f64;
    }
    let mut var = vec![0.0f64; d];
    for row in x.outer_iter() {
        for ((s, &v), &m) in var.iter_mut().zip(row).zip(&mean) {
            let dv = f64::from(v) - m;
            *s += dv * dv;
        }
    }
    for s in &mut var {
        *s /= n.max(1) as f64;
    }
    (mean, var)
}

/// Greedy k-means++ seeding (scikit-learn's `_kmeans_plusplus` with
/// `2 + ln k` local trials). Returns the indices of the rows chosen as centres.
pub fn kmeans_plusplus(x: ArrayView2<f32>, k: usize, rng: &mut StdRng) -> Result<Vec<usize>> {
    let n = x.nrows();
    if k == 0 || k > n {
        return Err(Error::param(
            "n_clusters",
            format!("must be between 1 and the number of rows ({n}), got {k}"),
        ));
    }
    let t = 2 + (k as f64).ln() as usize;
    let d = x.ncols();
    let mut chosen = Vec::with_capacity(k);
    let first = rng.random_range(0..n);
    chosen.push(first);
    let row = |i: usize| -> Vec<f64> { x.row(i).iter().map(|&v| f64::from(v)).collect() };
    let mut closest = vec![0.0f64; n];
    sq_dist_to(x, &row(first), &mut closest);
    let mut pot: f64 = closest.iter().sum();
    // cand[i * t + c]: min(closest[i], |x_i − candidate c|²).
    let mut cand = vec![0.0f64; n * t];
    let mut cumsum = vec![0.0f64; n];
    for _ in 1..k {
        let mut acc = 0.0;
        for (c, &dv) in cumsum.iter_mut().zip(&closest) {
            acc += dv;
            *c = acc;
        }
        let candidates: Vec<usize> = (0..t)
            .map(|_| {
                let r = rng.random::<f64>() * pot;
                // np.searchsorted(side='left'): first index with cumsum >= r.
                cumsum.partition_point(|&c| c < r).min(n - 1)
            })
            .collect();
        let crows: Vec<f64> = candidates.iter().flat_map(|&c| row(c)).collect();
        // One pass over the data for all candidates; per-block potentials are
        // summed in block order (deterministic).
        let partial: Vec<Vec<f64>> = cand
            .par_chunks_mut(BLOCK * t)
            .zip(closest.par_chunks(BLOCK))
            .enumerate()
            .map(|(bi, (out, cl))| candidates_block(x, bi * BLOCK, &crows, d, cl, out))
            .collect();
        let mut pots = vec![0.0f64; t];
        for p in &partial {
            for (a, b) in pots.iter_mut().zip(p) {
                *a += b;
            }
        }
        let mut best = 0;
        for c in 1..t {
            if pots[c] < pots[best] {
                best = c;
            }
        }
        pot = pots[best];
        closest
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = cand[i * t + best]);
        chosen.push(candidates[best]);
    }
    Ok(chosen)
}

/// For rows `r0..r0 + cl.len()`: `out[i·t + c] = min(cl[i], |x_i − crows[c]|²)`;
/// returns the per-candidate sums.
#[inline(always)]
fn candidates_block_g(
    x: ArrayView2<f32>,
    r0: usize,
    crows: &[f64],
    d: usize,
    cl: &[f64],
    out: &mut [f64],
) -> Vec<f64> {
    let t = crows.len() / d;
    let mut pots = vec![0.0f64; t];
    for (i, (o, &c0)) in out.chunks_exact_mut(t).zip(cl).enumerate() {
        let row = x.row(r0 + i);
        for (c, (ov, pv)) in o.iter_mut().zip(pots.iter_mut()).enumerate() {
            let cr = &crows[c * d..(c + 1) * d];
            let dist = match row.as_slice() {
                Some(r) => sq_dist_row(r, cr),
                None => row
                    .iter()
                    .zip(cr)
                    .map(|(&a, &b)| {
                        let e = f64::from(a) - b;
                        e * e
                    })
                    .sum(),
            };
            *ov = dist.min(c0);
            *pv += *ov;
        }
    }
    pots
}

crate::simd::kernel! {
    /// The k-means++ candidate distances of one block (see [`candidates_block_g`]).
    fn candidates_block(x: ArrayView2<f32>, r0: usize, crows: &[f64], d: usize, cl: &[f64], out: &mut [f64]) -> Vec<f64> {
        simd "avx2,fma" candidates_block_simd => candidates_block_g,
        scalar candidates_block_scalar => candidates_block_g,
    }
}

/// Per-block result of an assignment step.
struct Assign {
    labels: Vec<usize>,
    dists: Vec<f64>,
    sums: Array2<f64>,
    counts: Vec<f64>,
}

/// Assign every row to its nearest centre; also return per-cluster sums and counts.
fn assign(
    x: ArrayView2<f32>,
    centers: &Array2<f64>,
) -> (Vec<usize>, Vec<f64>, Array2<f64>, Vec<f64>) {
    let n = x.nrows();
    let (k, d) = centers.dim();
    let c_sq: Array1<f64> = centers.map_axis(Axis(1), |r| r.dot(&r));
    let ct = centers.t();
    let nblocks = n.div_ceil(BLOCK);
    let parts: Vec<Assign> = (0..nblocks)
        .into_par_iter()
        .map(|bi| {
            let r0 = bi * BLOCK;
            let r1 = (r0 + BLOCK).min(n);
            let xb = block_f64(x, r0, r1);
            let prod = xb.dot(&ct);
            let mut labels = Vec::with_capacity(r1 - r0);
            let mut dists = Vec::with_capacity(r1 - r0);
            let mut sums = Array2::<f64>::zeros((k, d));
            let mut counts = vec![0.0; k];
            for (i, xr) in xb.outer_iter().enumerate() {
                let x_sq = xr.dot(&xr);
                let pr = prod.row(i);
                let mut best = (f64::INFINITY, 0usize);
                for j in 0..k {
                    let dist = c_sq[j] - 2.0 * pr[j];
                    if dist < best.0 {
                        best = (dist, j);
                    }
                }
                labels.push(best.1);
                dists.push((best.0 + x_sq).max(0.0));
                sums.row_mut(best.1).scaled_add(1.0, &xr);
                counts[best.1] += 1.0;
            }
            Assign {
                labels,
                dists,
                sums,
                counts,
            }
        })
        .collect();
    let mut labels = Vec::with_capacity(n);
    let mut dists = Vec::with_capacity(n);
    let mut sums = Array2::<f64>::zeros((k, d));
    let mut counts = vec![0.0; k];
    for p in parts {
        labels.extend(p.labels);
        dists.extend(p.dists);
        sums += &p.sums;
        for (c, pc) in counts.iter_mut().zip(p.counts) {
            *c += pc;
        }
    }
    (labels, dists, sums, counts)
}

/// k-means with k-means++ seeding and Lloyd's iterations, like scikit-learn's
/// `KMeans(n_clusters=k, n_init=1, max_iter, tol=1e-4)`: stops when the labels no
/// longer change or the total squared centre shift falls to `1e-4 ×` the mean
/// per-column variance of `x`. Empty clusters are moved to the points farthest from
/// their centres.
pub fn kmeans(
    x: ArrayView2<f32>,
    k: usize,
    max_iter: usize,
    rng: &mut StdRng,
) -> Result<KMeansResult> {
    super::check_matrix(x, "k-means input")?;
    if max_iter == 0 {
        return Err(Error::param("max_iter", "must be at least 1"));
    }
    let n = x.nrows();
    let d = x.ncols();
    let seeds = kmeans_plusplus(x, k, rng)?;
    let mut centers = Array2::<f64>::zeros((k, d));
    for (j, &i) in seeds.iter().enumerate() {
        centers.row_mut(j).assign(&x.row(i).mapv(f64::from));
    }
    // tol scaled by the mean column variance, as sklearn's _tolerance.
    let (_, var) = column_mean_var(x);
    let var_mean = var.iter().sum::<f64>() / d as f64;
    let tol = 1e-4 * var_mean;
    let mut labels: Vec<usize> = Vec::new();
    let mut n_iter = 0;
    let mut strict = false;
    for it in 0..max_iter {
        n_iter = it + 1;
        let (new_labels, dists, sums, counts) = assign(x, &centers);
        let mut new_centers = centers.clone();
        // Relocate empty clusters to the farthest points.
        let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0.0).collect();
        let mut sums = sums;
        let mut counts = counts;
        if !empty.is_empty() {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| dists[b].total_cmp(&dists[a]));
            for (&j, &far) in empty.iter().zip(&order) {
                let xr = x.row(far).mapv(f64::from);
                let old = new_labels[far];
                sums.row_mut(old).scaled_add(-1.0, &xr);
                counts[old] -= 1.0;
                sums.row_mut(j).assign(&xr);
                counts[j] = 1.0;
            }
        }
        for (j, &cnt) in counts.iter().enumerate() {
            if cnt > 0.0 {
                let c = &sums.row(j) / cnt;
                new_centers.row_mut(j).assign(&c);
            }
        }
        let shift: f64 = (&new_centers - &centers).iter().map(|v| v * v).sum();
        centers = new_centers;
        if new_labels == labels {
            strict = true;
            labels = new_labels;
            break;
        }
        labels = new_labels;
        if shift <= tol {
            break;
        }
    }
    let (final_labels, dists, _, _) = assign(x, &centers);
    if !strict {
        labels = final_labels;
    }
    let inertia = dists.iter().sum();
    Ok(KMeansResult {
        centers,
        labels,
        inertia,
        n_iter,
    })
}

#[cfg(test)]
mod tests {
    use crate::simd::testing::{assert_close, rng, uniform_f32, uniform_f64};
    use ndarray::{s, Array2, ShapeBuilder};

    /// The AVX2 + FMA twins of the distance kernels against the portable ones on
    /// random rows (contiguous and strided views, dimensions not a multiple of
    /// the 4 lanes): bit-identical, as these kernels use no fused multiply-add.
    #[test]
    fn simd_twins_match_scalar_twins() {
        let mut rng = rng(3);
        for d in [1usize, 4, 13, 40] {
            let n = 300;
            let full =
                Array2::from_shape_vec((n, d + 1), uniform_f32(&mut rng, n * (d + 1), -3.0, 3.0))
                    .unwrap();
            let c = uniform_f64(&mut rng, d, -3.0, 3.0);
            let t = 3;
            let crows = uniform_f64(&mut rng, t * d, -3.0, 3.0);
            let cl = uniform_f64(&mut rng, n - 10, 0.0, 40.0);
            // Rows as contiguous slices, then the rows of a column-major copy.
            let col_major =
                Array2::from_shape_vec((n, d).f(), uniform_f32(&mut rng, n * d, -3.0, 3.0))
                    .unwrap();
            for x in [full.slice(s![.., 1..]), col_major.view()] {
                let (mut a, mut b) = (vec![0.0; n - 10], vec![0.0; n - 10]);
                super::sq_dist_block_scalar(x, 10, &c, &mut a);
                let Some(()) = super::sq_dist_block_simd(x, 10, &c, &mut b) else {
                    return; // no AVX2 + FMA here: only the portable twins exist
                };
                assert_close(&b, &a, 0.0, 1.0, "squared distances");
                let (mut oa, mut ob) = (vec![0.0; (n - 10) * t], vec![0.0; (n - 10) * t]);
                let pa = super::candidates_block_scalar(x, 10, &crows, d, &cl, &mut oa);
                let pb = super::candidates_block_simd(x, 10, &crows, d, &cl, &mut ob).unwrap();
                assert_close(&ob, &oa, 0.0, 1.0, "candidate distances");
                assert_close(&pb, &pa, 0.0, 1.0, "candidate potentials");
            }
        }
    }
}
