//! The Bayesian information criterion between clusters of frames: does one
//! Gaussian explain two clusters' frames (one speaker), or does each need its own
//! (two speakers)? The classic stopping rule of agglomerative speaker clustering
//! (Chen & Gopalakrishnan 1998), computed from each cluster's sufficient
//! statistics — frame count, sum and sum of outer products — so clusters merge by
//! adding their statistics, in memory that does not grow with their frames.
//!
//! `ΔBIC(a, b) = ½ (N log|Σ| − N_a log|Σ_a| − N_b log|Σ_b|) − λ ½ P log N`, with `N =
//! N_a + N_b`, `Σ` the maximum-likelihood covariance of the frames (full or
//! diagonal) and `P` the parameters one Gaussian more costs (`d + d(d+1)/2` full,
//! `2d` diagonal). Positive: two Gaussians are worth their parameters (keep the
//! clusters apart); negative: merge.
//!
//! ```
//! use speaker_similarity::diarize::bic::{delta_bic, GaussStats};
//! // Two clusters of the same distribution, and one shifted.
//! let rows = |shift: f32, n: usize| {
//!     let mut s = GaussStats::new(2, true);
//!     for i in 0..n {
//!         let t = i as f32 * 0.618;
//!         s.push(&[shift + (t * 7.0).sin(), (t * 3.0).cos()]);
//!     }
//!     s
//! };
//! let (a, b, c) = (rows(0.0, 400), rows(0.0, 300), rows(3.0, 300));
//! assert!(delta_bic(&a, &b, 1.0) < 0.0); // same: merge
//! assert!(delta_bic(&a, &c, 1.0) > 0.0); // different: keep apart
//! ```

/// Sufficient statistics of a set of `d`-dimensional frames for one Gaussian with
/// a full or a diagonal covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussStats {
    /// Number of frames.
    pub n: f64,
    /// Σ x (d).
    pub s1: Vec<f64>,
    /// Full: Σ x xᵀ (d × d, row-major, upper triangle); diagonal: Σ x² (d).
    pub s2: Vec<f64>,
    /// Whether the covariance is full.
    pub full: bool,
}

impl GaussStats {
    /// No frames of dimension `d`; `full` keeps the outer products (d² numbers),
    /// else only the squares (d).
    pub fn new(d: usize, full: bool) -> Self {
        GaussStats {
            n: 0.0,
            s1: vec![0.0; d],
            s2: vec![0.0; if full { d * d } else { d }],
            full,
        }
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.s1.len()
    }

    /// Add one frame (its length must be the dimension).
    pub fn push(&mut self, x: &[f32]) {
        let d = self.dim();
        debug_assert_eq!(x.len(), d);
        self.n += 1.0;
        for i in 0..d {
            let xi = f64::from(x[i]);
            self.s1[i] += xi;
            if !self.full {
                self.s2[i] += xi * xi;
                continue;
            }
            let row = &mut self.s2[i * d..(i + 1) * d];
            for (j, r) in row.iter_mut().enumerate().skip(i) {
                *r += xi * f64::from(x[j]);
            }
        }
    }

    /// Add another set's statistics (of the same dimension and kind).
    pub fn add(&mut self, o: &GaussStats) {
        debug_assert_eq!(self.s2.len(), o.s2.len());
        self.n += o.n;
        self.s1.iter_mut().zip(&o.s1).for_each(|(a, b)| *a += b);
        self.s2.iter_mut().zip(&o.s2).for_each(|(a, b)| *a += b);
    }

    /// `log |Σ|` of the maximum-likelihood covariance (full, or diagonal), with
    /// `reg` added to the diagonal; `None` without frames or when not positive
    /// definite.
    pub fn log_det(&self, reg: f64) -> Option<f64> {
        let d = self.dim();
        if self.n <= 0.0 {
            return None;
        }
        let mean: Vec<f64> = self.s1.iter().map(|s| s / self.n).collect();
        if !self.full {
            let mut s = 0.0;
            for (q, m) in self.s2.iter().zip(&mean) {
                let v = q / self.n - m * m + reg;
                if v.is_nan() || v <= 0.0 {
                    return None;
                }
                s += v.ln();
            }
            return Some(s);
        }
        // Only the upper triangle of s2 is filled (push); mirror it.
        let cov = |i: usize, j: usize| {
            let (a, b) = if i <= j { (i, j) } else { (j, i) };
            self.s2[a * d + b] / self.n - mean[a] * mean[b] + if i == j { reg } else { 0.0 }
        };
        // Cholesky: log|Σ| = 2 Σ log L_ii.
        let mut l = vec![0.0f64; d * d];
        let mut s = 0.0;
        for i in 0..d {
            for j in 0..=i {
                let mut v = cov(i, j);
                for k in 0..j {
                    v -= l[i * d + k] * l[j * d + k];
                }
                if i == j {
                    if v.is_nan() || v <= 0.0 {
                        return None;
                    }
                    l[i * d + i] = v.sqrt();
                    s += 2.0 * l[i * d + i].ln();
                } else {
                    l[i * d + j] = v / l[j * d + j];
                }
            }
        }
        Some(s)
    }
}

/// Covariance regularisation of [`delta_bic`] (the frames are standardised, so
/// their variances are near 1).
const REG: f64 = 1e-3;

/// `ΔBIC` of keeping `a` and `b` apart against merging them (see the module docs):
/// positive keeps them apart. `lambda` weighs the parameter penalty; the
/// covariances are full or diagonal as the statistics are. `+∞` when a cluster has no frames: no
/// evidence to merge on (the pipeline's smallest-cluster rule decides instead).
pub fn delta_bic(a: &GaussStats, b: &GaussStats, lambda: f64) -> f64 {
    let full = a.full;
    let mut ab = a.clone();
    ab.add(b);
    let (Some(la), Some(lb), Some(lab)) = (a.log_det(REG), b.log_det(REG), ab.log_det(REG)) else {
        return f64::INFINITY;
    };
    let d = a.dim() as f64;
    let p = if full {
        d + d * (d + 1.0) / 2.0
    } else {
        2.0 * d
    };
    0.5 * (ab.n * lab - a.n * la - b.n * lb) - lambda * 0.5 * p * ab.n.ln()
}

/// Agglomerate clusters by ΔBIC: starting from the clusters `assign` (item →
/// cluster `0..nc`) with item statistics `stats`, merge the pair with the smallest
/// ΔBIC while it is negative. Returns the new assignment (clusters numbered in order
/// of first item) and their number. O(c²) ΔBIC evaluations per merge for `c`
/// clusters: call it on tens of clusters, not windows.
pub fn bic_merge(
    stats: &[GaussStats],
    assign: &[usize],
    nc: usize,
    lambda: f64,
) -> (Vec<usize>, usize) {
    let d = stats.first().map_or(0, GaussStats::dim);
    let full = stats.first().is_some_and(|s| s.full);
    let mut cl: Vec<GaussStats> = vec![GaussStats::new(d, full); nc];
    for (s, &a) in stats.iter().zip(assign) {
        cl[a].add(s);
    }
    let mut target: Vec<usize> = (0..nc).collect();
    let mut alive: Vec<bool> = vec![true; nc];
    loop {
        let mut best = (f64::INFINITY, 0, 0);
        for i in (0..nc).filter(|&i| alive[i]) {
            for j in (i + 1..nc).filter(|&j| alive[j]) {
                let v = delta_bic(&cl[i], &cl[j], lambda);
                if v < best.0 {
                    best = (v, i, j);
                }
            }
        }
        if best.0.is_nan() || best.0 >= 0.0 {
            break;
        }
        let (_, i, j) = best;
        let cj = std::mem::replace(&mut cl[j], GaussStats::new(d, full));
        cl[i].add(&cj);
        alive[j] = false;
        for t in target.iter_mut() {
            if *t == j {
                *t = i;
            }
        }
    }
    let mut id = vec![usize::MAX; nc];
    let mut next = 0;
    let out = assign
        .iter()
        .map(|&a| {
            let t = target[a];
            if id[t] == usize::MAX {
                id[t] = next;
                next += 1;
            }
            id[t]
        })
        .collect();
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(rows: &[[f32; 2]]) -> GaussStats {
        stats_as(rows, false)
    }

    fn stats_as(rows: &[[f32; 2]], full: bool) -> GaussStats {
        let mut s = GaussStats::new(2, full);
        rows.iter().for_each(|r| s.push(r));
        s
    }

    fn pts5(x0: f32) -> [[f32; 2]; 5] {
        [
            [x0, 0.],
            [x0 + 2., 0.],
            [x0, 2.],
            [x0 + 2., 2.],
            [x0 + 1., 1.],
        ]
    }

    #[test]
    fn log_det_by_hand() {
        // Points (0,0) (2,0) (0,2) (2,2) (1,1): mean (1,1), ML covariance
        // [[0.8, 0], [0, 0.8]]; with (3,3) added the covariance is correlated.
        let pts = pts5(0.0);
        let want = (0.8f64 + REG).ln() * 2.0;
        assert!((stats_as(&pts, true).log_det(REG).unwrap() - want).abs() < 1e-12);
        assert!((stats_as(&pts, false).log_det(REG).unwrap() - want).abs() < 1e-12);
        let six = [[0., 0.], [2., 0.], [0., 2.], [2., 2.], [1., 1.], [3., 3.]];
        let (tf, t) = (stats_as(&six, true), stats_as(&six, false));
        // mean (4/3, 4/3); Σx² = 4 + 4 + 1 + 9 = 18 for both, Σxy = 4 + 1 + 9 = 14.
        let (n, m) = (6.0f64, 4.0f64 / 3.0);
        let (v, c) = (18.0 / n - m * m + REG, 14.0 / n - m * m);
        assert!((tf.log_det(REG).unwrap() - (v * v - c * c).ln()).abs() < 1e-12);
        assert!((t.log_det(REG).unwrap() - 2.0 * v.ln()).abs() < 1e-12);
        assert_eq!(GaussStats::new(2, true).log_det(REG), None);
        // Statistics add as the frames would.
        let mut u = stats_of(&[[0., 0.], [2., 0.], [0., 2.]]);
        u.add(&stats_of(&[[2., 2.], [1., 1.], [3., 3.]]));
        assert_eq!(u, t);
    }

    #[test]
    fn delta_bic_by_hand_and_merging() {
        let a = stats_of(&[[0., 0.], [2., 0.], [0., 2.], [2., 2.], [1., 1.]]);
        let b = stats_of(&[[10., 0.], [12., 0.], [10., 2.], [12., 2.], [11., 1.]]);
        let mut ab = a.clone();
        ab.add(&b);
        let l = |s: &GaussStats| s.log_det(REG).unwrap();
        let want = 0.5 * (10.0 * l(&ab) - 5.0 * l(&a) - 5.0 * l(&b)) - 0.5 * 4.0 * 10f64.ln();
        assert!((delta_bic(&a, &b, 1.0) - want).abs() < 1e-12);
        assert!(want > 0.0);
        // Without frames: never merged on evidence.
        assert_eq!(
            delta_bic(&a, &GaussStats::new(2, false), 1.0),
            f64::INFINITY
        );
        // Items 0, 2 from `a`'s distribution, 1 from `b`'s, each its own cluster:
        // the two alike merge, the far one stays.
        let a2 = stats_of(&[[0., 1.], [2., 1.], [1., 0.], [1., 2.], [1., 1.]]);
        let (lab, n) = bic_merge(&[a.clone(), b.clone(), a2], &[0, 1, 2], 3, 1.0);
        assert_eq!((lab, n), (vec![0, 1, 0], 2));
        // A huge penalty merges everything; none merges nothing apart.
        assert_eq!(bic_merge(&[a.clone(), b.clone()], &[0, 1], 2, 1e6).1, 1);
        assert_eq!(bic_merge(&[a, b], &[0, 1], 2, 0.0).1, 2);
        let (af, bf) = (stats_as(&pts5(0.0), true), stats_as(&pts5(10.0), true));
        assert!(delta_bic(&af, &bf, 1.0) > 0.0);
    }
}
