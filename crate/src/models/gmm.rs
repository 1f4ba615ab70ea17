//! Gaussian mixture models with diagonal covariances, fitted by
//! expectation–maximisation (EM), numerically as scikit-learn's
//! `GaussianMixture(covariance_type="diag")`.
//!
//! A Gaussian mixture describes the distribution of feature vectors as a weighted
//! sum of `K` Gaussians: `p(x) = Σ_k w_k N(x | μ_k, diag σ²_k)`. EM alternates
//! two steps. The **E-step** computes, for every sample, the *responsibility*
//! of each component — the posterior probability that the component produced the
//! sample. The **M-step** re-estimates weights, means and variances as
//! responsibility-weighted averages. Each iteration cannot lower the average
//! log-likelihood (the *lower bound*); fitting stops when it changes by less than
//! `tol`.
//!
//! The E-step is written in matrix form: with `z = [x, x²]` (a row of `2d`
//! values), every weighted log-density is
//! `log w_k − ½(d log 2π + Σ log σ²_k + Σ μ²_k/σ²_k) + z · [μ_k/σ²_k, −1/(2σ²_k)]`,
//! so the log-densities of a block of samples against all components are one
//! matrix product, followed by a log-sum-exp per row. The M-step's sufficient
//! statistics (`Σ r`, `Σ r x`, `Σ r x²`) are a second product, `Rᵀ Z`, fused into
//! the same pass over the block. Blocks run in parallel (rayon) and their sums
//! are added in a fixed order, so results do not depend on thread scheduling.
//! All arithmetic is `f64`.
//!
//! ```
//! use ndarray::Array2;
//! use speaker_similarity::models::{DiagGmm, GmmParams};
//! // Two well separated blobs.
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| {
//!     let c = if i < 100 { 0.0 } else { 8.0 };
//!     c + ((i * 7 + j * 3) % 11) as f32 / 11.0
//! });
//! let params = GmmParams { n_components: 2, ..GmmParams::default() };
//! let gmm = DiagGmm::fit(x.view(), &params).unwrap();
//! assert!(gmm.converged());
//! let p = gmm.predict_proba(x.view()).unwrap();
//! assert!(p[[0, 0]] > 0.99 || p[[0, 1]] > 0.99);
//! ```

use crate::error::{Error, Result};
use crate::models::fastmath::lse_rows;
use crate::models::kmeans::{kmeans, kmeans_plusplus};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows per block in the E-step.
const BLOCK: usize = 512;
const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// How EM is initialised (scikit-learn's `init_params`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GmmInit {
    /// Responsibilities from the labels of a k-means run (`"kmeans"`, sklearn's
    /// default): each sample belongs fully to its cluster's component.
    KMeans,
    /// Components centred on k-means++ seeds with variances `reg_covar`
    /// (`"k-means++"`).
    KMeansPlusPlus,
    /// Random responsibilities, uniform then normalised per sample (`"random"`).
    Random,
}

/// Hyperparameters of [`DiagGmm::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmParams {
    /// Number of mixture components. Default 16, the original project's
    /// per-speaker GMM (scikit-learn's default is 1).
    pub n_components: usize,
    /// Convergence threshold on the change of the mean log-likelihood lower bound
    /// between iterations. Default 1e-3 (scikit-learn's).
    pub tol: f64,
    /// Added to every variance for numerical stability. Default 1e-6
    /// (scikit-learn's).
    pub reg_covar: f64,
    /// Maximum EM iterations per initialisation. Default 100 (scikit-learn's).
    pub max_iter: usize,
    /// Number of initialisations; the one with the best lower bound is kept.
    /// Default 1 (scikit-learn's; the original project used 3).
    pub n_init: usize,
    /// Initialisation method. Default [`GmmInit::KMeans`] (scikit-learn's).
    pub init: GmmInit,
    /// Seed of the random number generator (k-means++ seeding). Default 0
    /// (scikit-learn's default `random_state=None` is not reproducible).
    pub seed: u64,
}

impl Default for GmmParams {
    fn default() -> Self {
        GmmParams {
            n_components: 16,
            tol: 1e-3,
            reg_covar: 1e-6,
            max_iter: 100,
            n_init: 1,
            init: GmmInit::KMeans,
            seed: 0,
        }
    }
}

impl GmmParams {
    /// The original project's per-speaker GMM:
    /// `GaussianMixture(n_components=16, covariance_type='diag', n_init=3)`.
    pub fn original() -> Self {
        GmmParams {
            n_components: 16,
            n_init: 3,
            ..GmmParams::default()
        }
    }

    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if self.n_components == 0 {
            return Err(Error::param("n_components", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::param(
                "tol",
                format!("must be >= 0, got {}", self.tol),
            ));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(Error::param(
                "reg_covar",
                format!("must be >= 0, got {}", self.reg_covar),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", "must be at least 1"));
        }
        if self.n_init == 0 {
            return Err(Error::param("n_init", "must be at least 1"));
        }
        Ok(())
    }
}

/// A Gaussian mixture with diagonal covariances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagGmm {
    weights: Array1<f64>,
    means: Array2<f64>,
    variances: Array2<f64>,
    converged: bool,
    n_iter: usize,
    #[serde(with = "neg_inf_as_null")]
    lower_bound: f64,
    #[serde(default)]
    lower_bounds: Vec<f64>,
}

/// JSON has no infinities: an unfitted model's lower bound (−∞) is `null`.
mod neg_inf_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NEG_INFINITY))
    }
}

/// Sufficient statistics of a data set under a mixture: `Σ_n r_nk`,
/// `Σ_n r_nk (x_n − c)`, `Σ_n r_nk (x_n − c)²` about a centre `c` (centring keeps
/// `E[x²] − E[x]²` free of cancellation) and the summed log-likelihood.
#[derive(Debug, Clone)]
pub(crate) struct SuffStats {
    /// Σ r (k).
    pub nk: Array1<f64>,
    /// Σ r (x − c) (k × d).
    pub sx: Array2<f64>,
    /// Σ r (x − c)² (k × d).
    pub sxx: Array2<f64>,
    /// The centre `c` (d).
    pub center: Array1<f64>,
    /// Σ log p(x).
    pub log_lik: f64,
    /// Number of samples.
    pub n: usize,
}

/// The log-densities of a block in matrix form: `[y, y², 1] · W` with the
/// centred data `y = x − centre`.
struct Precomp {
    /// (2d+1 × k): rows 0..d are (μ − centre)/σ², rows d..2d are −1/(2σ²), row
    /// 2d is log w_k − ½(d log 2π + Σ log σ² + Σ (μ − centre)²/σ²).
    w: Array2<f64>,
    /// The centre: the mixture's overall mean Σ w_k μ_k.
    center: Array1<f64>,
}

/// Scratch buffers of one block.
struct Scratch {
    /// [y, y², 1] per row.
    z: Array2<f64>,
    /// Weighted log-densities, then responsibilities.
    lp: Array2<f64>,
}

impl Scratch {
    /// The first `b` rows of `lp` as one row-major slice.
    fn lp_rows(&mut self, b: usize) -> &mut [f64] {
        let k = self.lp.ncols();
        let all = self
            .lp
            .as_slice_mut()
            .expect("an owned standard-layout array is contiguous");
        &mut all[..b * k]
    }

    fn new(d: usize, k: usize) -> Self {
        Scratch {
            z: Array2::zeros((BLOCK, 2 * d + 1)),
            lp: Array2::zeros((BLOCK, k)),
        }
    }
}

impl DiagGmm {
    /// A mixture from its parameters: `weights` (k, positive; normalised to sum to
    /// 1), `means` (k × d) and `variances` (k × d, positive).
    pub fn from_parts(
        weights: Array1<f64>,
        means: Array2<f64>,
        variances: Array2<f64>,
    ) -> Result<Self> {
        let mut g = DiagGmm {
            weights,
            means,
            variances,
            converged: false,
            n_iter: 0,
            lower_bound: f64::NEG_INFINITY,
            lower_bounds: Vec::new(),
        };
        g.validate()?;
        let s = g.weights.sum();
        g.weights /= s;
        Ok(g)
    }

    /// Check that the shapes agree and every parameter is finite and in range
    /// (used on models built from parts or loaded from files).
    pub fn validate(&self) -> Result<()> {
        let k = self.weights.len();
        if k == 0 {
            return Err(Error::shape("mixture components", "at least one", 0));
        }
        if self.means.nrows() != k || self.variances.dim() != self.means.dim() {
            return Err(Error::shape(
                "mixture (means, variances)",
                format_args!("{k} rows each, of equal shape"),
                format_args!("{:?}, {:?}", self.means.dim(), self.variances.dim()),
            ));
        }
        if self.means.ncols() == 0 {
            return Err(Error::shape("mixture features", "at least one", 0));
        }
        if self.weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
            return Err(Error::param(
                "weights",
                "every weight must be finite and > 0",
            ));
        }
        if self.means.iter().any(|v| !v.is_finite()) {
            return Err(Error::param("means", "every mean must be finite"));
        }
        if self.variances.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(Error::param(
                "variances",
                "every variance must be finite and > 0",
            ));
        }
        Ok(())
    }

    /// Fit a mixture to the rows of `x` by EM (see the module docs), keeping the
    /// best of `params.n_init` initialisations.
    pub fn fit(x: ArrayView2<f32>, params: &GmmParams) -> Result<Self> {
        params.validate()?;
        super::check_matrix(x, "GMM training data")?;
        if x.nrows() < params.n_components {
            return Err(Error::too_short(
                format!(
                    "GMM training data for {} mixture components (n_samples >= n_components)",
                    params.n_components
                ),
                params.n_components as f64,
                x.nrows() as f64,
                "row",
            ));
        }
        let mut rng = StdRng::seed_from_u64(params.seed);
        let mut best: Option<DiagGmm> = None;
        for _ in 0..params.n_init {
            let init = Self::initialize(x, params, &mut rng)?;
            let g = init.run_em(x, params)?;
            let better = match &best {
                None => true,
                Some(b) => g.lower_bound > b.lower_bound,
            };
            if better {
                best = Some(g);
            }
        }
        // n_init >= 1 was validated, so the loop ran at least once.
        best.ok_or_else(|| Error::training("gmm", "no initialisation ran"))
    }

    /// Run EM from the parameters of `init` (scikit-learn's `weights_init`,
    /// `means_init`, `precisions_init`), ignoring `params.init`, `n_init` and
    /// `n_components`.
    pub fn fit_from(init: &DiagGmm, x: ArrayView2<f32>, params: &GmmParams) -> Result<Self> {
        params.validate()?;
        init.validate()?;
        super::check_matrix(x, "GMM training data")?;
        init.check_dim(x)?;
        let mut g = init.clone();
        g.converged = false;
        g.n_iter = 0;
        g.lower_bounds.clear();
        g.run_em(x, params)
    }

    fn initialize(x: ArrayView2<f32>, params: &GmmParams, rng: &mut StdRng) -> Result<Self> {
        let k = params.n_components;
        let (n, d) = x.dim();
        let mut nk = Array1::<f64>::zeros(k);
        let mut sx = Array2::<f64>::zeros((k, d));
        let mut sxx = Array2::<f64>::zeros((k, d));
        let mut add = |j: usize, r: f64, row: ArrayView1<f32>| {
            nk[j] += r;
            for ((a, b), &v) in sx
                .row_mut(j)
                .iter_mut()
                .zip(sxx.row_mut(j).iter_mut())
                .zip(row)
            {
                let v = f64::from(v);
                *a += r * v;
                *b += r * v * v;
            }
        };
        match params.init {
            GmmInit::KMeans => {
                let km = kmeans(x, k, 300, rng)?;
                for (i, &l) in km.labels.iter().enumerate() {
                    add(l, 1.0, x.row(i));
                }
            }
            GmmInit::KMeansPlusPlus => {
                let seeds = kmeans_plusplus(x, k, rng)?;
                for (j, &i) in seeds.iter().enumerate() {
                    add(j, 1.0, x.row(i));
                }
            }
            GmmInit::Random => {
                let mut r = vec![0.0f64; k];
                for i in 0..n {
                    for v in r.iter_mut() {
                        *v = rng.random::<f64>();
                    }
                    let s: f64 = r.iter().sum();
                    for (j, &v) in r.iter().enumerate() {
                        add(j, v / s, x.row(i));
                    }
                }
            }
        }
        let stats = SuffStats {
            nk,
            sx,
            sxx,
            center: Array1::zeros(d),
            log_lik: 0.0,
            n,
        };
        Self::m_step(&stats, params.reg_covar)
    }

    /// The M-step from sufficient statistics (scikit-learn's
    /// `_estimate_gaussian_parameters`, diag).
    pub(crate) fn m_step(stats: &SuffStats, reg_covar: f64) -> Result<Self> {
        let nk = stats.nk.mapv(|v| v + 10.0 * f64::EPSILON);
        let centred = &stats.sx / &nk.view().insert_axis(Axis(1));
        let variances =
            &stats.sxx / &nk.view().insert_axis(Axis(1)) - &centred.mapv(|m| m * m) + reg_covar;
        let means = centred + stats.center.view().insert_axis(Axis(0));
        if variances.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(Error::training(
                "gmm",
                "ill-defined empirical covariance (a component collapsed onto too few \
                 samples); try a larger reg_covar or fewer components",
            ));
        }
        let weights = &nk / nk.sum();
        Ok(DiagGmm {
            weights,
            means,
            variances,
            converged: false,
            n_iter: 0,
            lower_bound: f64::NEG_INFINITY,
            lower_bounds: Vec::new(),
        })
    }

    fn run_em(mut self, x: ArrayView2<f32>, params: &GmmParams) -> Result<Self> {
        let mut lb = f64::NEG_INFINITY;
        let mut history = Vec::new();
        let mut converged = false;
        let mut n_iter = 0;
        for it in 1..=params.max_iter {
            let prev = lb;
            let stats = self.stats(x)?;
            lb = stats.log_lik / stats.n as f64;
            if !lb.is_finite() {
                return Err(Error::training(
                    "gmm",
                    format_args!("the log-likelihood became {lb} at EM iteration {it}"),
                ));
            }
            let next = Self::m_step(&stats, params.reg_covar)?;
            self.weights = next.weights;
            self.means = next.means;
            self.variances = next.variances;
            history.push(lb);
            n_iter = it;
            if (lb - prev).abs() < params.tol {
                converged = true;
                break;
            }
        }
        self.converged = converged;
        self.n_iter = n_iter;
        self.lower_bound = lb;
        self.lower_bounds = history;
        Ok(self)
    }

    /// One EM iteration in place: E-step under the current parameters, then
    /// M-step. Returns the mean log-likelihood before the M-step.
    pub fn em_step(&mut self, x: ArrayView2<f32>, reg_covar: f64) -> Result<f64> {
        super::check_matrix(x, "GMM training data")?;
        self.check_dim(x)?;
        let stats = self.stats(x)?;
        let next = Self::m_step(&stats, reg_covar)?;
        self.weights = next.weights;
        self.means = next.means;
        self.variances = next.variances;
        self.n_iter += 1;
        let lb = stats.log_lik / stats.n as f64;
        self.lower_bound = lb;
        self.lower_bounds.push(lb);
        Ok(lb)
    }

    fn check_dim(&self, x: ArrayView2<f32>) -> Result<()> {
        if x.ncols() != self.n_features() {
            return Err(Error::shape(
                "data columns for the mixture",
                self.n_features(),
                x.ncols(),
            ));
        }
        Ok(())
    }

    fn precomp(&self) -> Precomp {
        let (k, d) = self.means.dim();
        let center = self.weights.dot(&self.means);
        let mut w = Array2::<f64>::zeros((2 * d + 1, k));
        for j in 0..k {
            let mut acc = self.weights[j].ln() - 0.5 * d as f64 * LN_2PI;
            for f in 0..d {
                let var = self.variances[[j, f]];
                let mu = self.means[[j, f]] - center[f];
                let prec = 1.0 / var;
                w[[f, j]] = mu * prec;
                w[[d + f, j]] = -0.5 * prec;
                acc -= 0.5 * (var.ln() + mu * mu * prec);
            }
            w[[2 * d, j]] = acc;
        }
        Precomp { w, center }
    }

    /// Weighted log-densities of rows `r0..r1` into `sc.lp[..b]` (one matrix
    /// product), with `sc.z[..b] = [y, y², 1]`, `y = x − centre`. Centring on the
    /// mixture's mean keeps the terms small, so the quadratic form loses no
    /// digits to cancellation.
    fn block_logprob(
        pre: &Precomp,
        x: ArrayView2<f32>,
        r0: usize,
        r1: usize,
        sc: &mut Scratch,
    ) -> usize {
        let b = r1 - r0;
        let d = x.ncols();
        let center = pre
            .center
            .as_slice()
            .expect("an owned 1-D array is contiguous");
        let zall =
            sc.z.as_slice_mut()
                .expect("an owned standard-layout array is contiguous");
        for (row, zs) in x
            .slice(s![r0..r1, ..])
            .outer_iter()
            .zip(zall.chunks_exact_mut(2 * d + 1))
        {
            let (lo, rest) = zs.split_at_mut(d);
            let (hi, one) = rest.split_at_mut(d);
            one[0] = 1.0;
            let put = |(a, q): (&mut f64, &mut f64), (&v, &c): (&f32, &f64)| {
                let y = f64::from(v) - c;
                *a = y;
                *q = y * y;
            };
            match row.as_slice() {
                Some(r) => lo
                    .iter_mut()
                    .zip(hi.iter_mut())
                    .zip(r.iter().zip(center))
                    .for_each(|(a, b)| put(a, b)),
                None => lo
                    .iter_mut()
                    .zip(hi.iter_mut())
                    .zip(row.iter().zip(center))
                    .for_each(|(a, b)| put(a, b)),
            }
        }
        let z = sc.z.slice(s![..b, ..]);
        let mut lp = sc.lp.slice_mut(s![..b, ..]);
        general_mat_mul(1.0, &z, &pre.w, 0.0, &mut lp);
        b
    }

    /// Sufficient statistics of `x` under the current parameters (E-step).
    pub(crate) fn stats(&self, x: ArrayView2<f32>) -> Result<SuffStats> {
        let (k, d) = self.means.dim();
        let n = x.nrows();
        let pre = self.precomp();
        let nblocks = n.div_ceil(BLOCK);
        let parts: Vec<(f64, Array2<f64>)> = (0..nblocks)
            .into_par_iter()
            .map_init(
                || Scratch::new(d, k),
                |sc, bi| {
                    let r0 = bi * BLOCK;
                    let r1 = (r0 + BLOCK).min(n);
                    let b = Self::block_logprob(&pre, x, r0, r1, sc);
                    let ll = lse_rows(sc.lp_rows(b), k, true, None);
                    // [Σ r y, Σ r y², Σ r] in one product.
                    let lp = sc.lp.slice(s![..b, ..]);
                    let mut st = Array2::<f64>::zeros((k, 2 * d + 1));
                    general_mat_mul(1.0, &lp.t(), &sc.z.slice(s![..b, ..]), 0.0, &mut st);
                    (ll, st)
                },
            )
            .collect();
        let mut log_lik = 0.0;
        let mut st = Array2::<f64>::zeros((k, 2 * d + 1));
        for (ll, pst) in parts {
            log_lik += ll;
            st += &pst;
        }
        Ok(SuffStats {
            nk: st.column(2 * d).to_owned(),
            sx: st.slice(s![.., ..d]).to_owned(),
            sxx: st.slice(s![.., d..2 * d]).to_owned(),
            center: pre.center,
            log_lik,
            n,
        })
    }

    pub(crate) fn check_input(&self, x: ArrayView2<f32>) -> Result<()> {
        super::check_matrix(x, "GMM input")?;
        self.check_dim(x)
    }

    /// Per-block pass computing log p(x) per row into `out` (when given) and
    /// returning the sum.
    fn loglik_pass(&self, x: ArrayView2<f32>, mut out: Option<&mut [f64]>) -> f64 {
        let (k, d) = self.means.dim();
        let n = x.nrows();
        let pre = self.precomp();
        let nblocks = n.div_ceil(BLOCK);
        let parts: Vec<Vec<f64>> = (0..nblocks)
            .into_par_iter()
            .map_init(
                || Scratch::new(d, k),
                |sc, bi| {
                    let r0 = bi * BLOCK;
                    let r1 = (r0 + BLOCK).min(n);
                    let b = Self::block_logprob(&pre, x, r0, r1, sc);
                    let mut lse = vec![0.0; b];
                    lse_rows(sc.lp_rows(b), k, false, Some(&mut lse));
                    lse
                },
            )
            .collect();
        let mut total = 0.0;
        let mut i = 0;
        for p in parts {
            for v in p {
                total += v;
                if let Some(o) = out.as_deref_mut() {
                    o[i] = v;
                }
                i += 1;
            }
        }
        total
    }

    /// Summed log-likelihood of each of several utterances (one set-up of the
    /// model's matrices, utterances scored in turn: parallelise over models).
    pub fn total_log_likelihoods(&self, clips: &[ArrayView2<f32>]) -> Result<Vec<f64>> {
        for c in clips {
            self.check_input(*c)?;
        }
        Ok(self.total_log_likelihoods_unchecked(clips))
    }

    /// [`total_log_likelihoods`](Self::total_log_likelihoods) on inputs already
    /// checked (finite, non-empty, right width).
    pub(crate) fn total_log_likelihoods_unchecked(&self, clips: &[ArrayView2<f32>]) -> Vec<f64> {
        let (k, d) = self.means.dim();
        let pre = self.precomp();
        let mut sc = Scratch::new(d, k);
        clips
            .iter()
            .map(|x| {
                let n = x.nrows();
                let mut total = 0.0;
                for r0 in (0..n).step_by(BLOCK) {
                    let r1 = (r0 + BLOCK).min(n);
                    let b = Self::block_logprob(&pre, *x, r0, r1, &mut sc);
                    total += lse_rows(sc.lp_rows(b), k, false, None);
                }
                total
            })
            .collect()
    }

    /// The weighted log-density `log w_k + log N(x | μ_k, σ²_k)` of every row of
    /// `x` (checked input) under every component, row-major (`n × k`) into `out`:
    /// the E-step's matrix product before its log-sum-exp.
    pub(crate) fn weighted_log_densities_unchecked(&self, x: ArrayView2<f32>, out: &mut Vec<f64>) {
        let (k, d) = self.means.dim();
        let n = x.nrows();
        let pre = self.precomp();
        let mut sc = Scratch::new(d, k);
        out.clear();
        out.reserve(n * k);
        for r0 in (0..n).step_by(BLOCK) {
            let r1 = (r0 + BLOCK).min(n);
            let b = Self::block_logprob(&pre, x, r0, r1, &mut sc);
            out.extend_from_slice(sc.lp_rows(b));
        }
    }

    /// Log-likelihood `log p(x)` of every row (scikit-learn's `score_samples`).
    pub fn score_samples(&self, x: ArrayView2<f32>) -> Result<Array1<f64>> {
        self.check_input(x)?;
        let mut out = vec![0.0; x.nrows()];
        self.loglik_pass(x, Some(&mut out));
        Ok(Array1::from(out))
    }

    /// Mean log-likelihood of the rows (scikit-learn's `score`).
    pub fn score(&self, x: ArrayView2<f32>) -> Result<f64> {
        self.check_input(x)?;
        Ok(self.loglik_pass(x, None) / x.nrows() as f64)
    }

    /// Summed log-likelihood of the rows (the log-likelihood of an utterance whose
    /// frames are the rows, frames taken as independent).
    pub fn total_log_likelihood(&self, x: ArrayView2<f32>) -> Result<f64> {
        self.check_input(x)?;
        Ok(self.loglik_pass(x, None))
    }

    /// Responsibilities: the posterior probability of each component for each row
    /// (n × k; scikit-learn's `predict_proba`).
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f64>> {
        self.check_input(x)?;
        let (k, d) = self.means.dim();
        let n = x.nrows();
        let pre = self.precomp();
        let mut out = Array2::<f64>::zeros((n, k));
        let mut sc = Scratch::new(d, k);
        for r0 in (0..n).step_by(BLOCK) {
            let r1 = (r0 + BLOCK).min(n);
            let b = Self::block_logprob(&pre, x, r0, r1, &mut sc);
            lse_rows(sc.lp_rows(b), k, true, None);
            out.slice_mut(s![r0..r1, ..])
                .assign(&sc.lp.slice(s![..b, ..]));
        }
        Ok(out)
    }

    /// The most responsible component of each row.
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        let p = self.predict_proba(x)?;
        Ok(p.outer_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (j, &v)| if v > b.1 { (j, v) } else { b },
                    )
                    .0
            })
            .collect())
    }

    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }
    /// Number of features (dimensions).
    pub fn n_features(&self) -> usize {
        self.means.ncols()
    }
    /// Mixture weights (k).
    pub fn weights(&self) -> &Array1<f64> {
        &self.weights
    }
    /// Component means (k × d).
    pub fn means(&self) -> &Array2<f64> {
        &self.means
    }
    /// Component variances (k × d).
    pub fn variances(&self) -> &Array2<f64> {
        &self.variances
    }
    /// Whether the last fit reached `tol` before `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }
    /// EM iterations run by the best initialisation of the last fit.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }
    /// Mean log-likelihood lower bound of the best fit (computed in the last
    /// E-step, before the last M-step, as scikit-learn's `lower_bound_`).
    pub fn lower_bound(&self) -> f64 {
        self.lower_bound
    }
    /// The lower bound after each EM iteration of the best fit.
    pub fn lower_bound_history(&self) -> &[f64] {
        &self.lower_bounds
    }
    /// Replace the means (k × d), keeping weights and variances (used by MAP
    /// adaptation).
    pub(crate) fn with_means(&self, means: Array2<f64>) -> DiagGmm {
        DiagGmm {
            means,
            converged: false,
            n_iter: 0,
            lower_bound: f64::NEG_INFINITY,
            lower_bounds: Vec::new(),
            ..self.clone()
        }
    }
}
