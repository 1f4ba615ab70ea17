//! GMM-UBM: a universal background model and MAP adaptation (Reynolds, Quatieri
//! & Dunn, "Speaker Verification Using Adapted Gaussian Mixture Models", Digital
//! Signal Processing 10, 2000).
//!
//! A **universal background model** (UBM) is one large Gaussian mixture trained on
//! frames pooled from many speakers: it describes speech in general. A speaker
//! model is then not trained from scratch but **adapted** from the UBM with the
//! speaker's (often few) frames, by maximum a posteriori (MAP) estimation. For
//! each component `k` with UBM mean `μ_k`, the speaker's frames give
//!
//! - the soft count `n_k = Σ_t P(k | x_t)` and
//! - the first-order statistic `E_k(x) = Σ_t P(k | x_t) x_t / n_k`,
//!
//! and the adapted mean is `μ̂_k = α_k E_k(x) + (1 − α_k) μ_k` with
//! `α_k = n_k / (n_k + r)`, `r` being the *relevance factor* (typically 16).
//! Components the speaker's data hardly touch keep the UBM mean; well observed
//! ones move to the data. Weights and variances stay the UBM's (means-only
//! adaptation, the usual choice).
//!
//! A test utterance is scored by the **log-likelihood ratio** between the adapted
//! model and the UBM, averaged over frames. The adapted means, stacked and
//! normalised by `√w_k / σ_k`, form the **supervector** whose inner products
//! approximate the KL divergence between models, a speaker embedding.
//!
//! ```
//! use ndarray::Array2;
//! use speaker_similarity::models::{GmmParams, Ubm};
//! let background = Array2::from_shape_fn((400, 2), |(i, j)| ((i * 7 + j * 3) % 23) as f32 / 4.0);
//! let ubm = Ubm::fit(background.view(), &GmmParams { n_components: 4, ..GmmParams::default() }).unwrap();
//! // A speaker whose frames are shifted by +0.5.
//! let speaker = background.slice(ndarray::s![..100, ..]).mapv(|v| v + 0.5);
//! let model = ubm.map_adapt(speaker.view(), 16.0).unwrap();
//! assert!(ubm.llr(&model, speaker.view()).unwrap() > 0.0);
//! assert_eq!(ubm.supervector(&model).unwrap().len(), 4 * 2);
//! ```

use crate::error::{Error, Result};
use crate::models::classifier::{argmax_rows, check_names};
use crate::models::gmm::{DiagGmm, GmmParams};
use crate::models::topc::{half_precisions, TopFrames};

/// Top-C scoring ([`GmmUbmClassifier::scores_clips`]) cuts clips into blocks of
/// at most this many frames (20 s at 100 frames/s)...
const TOP_C_BLOCK_FRAMES: usize = 2_000;
/// ...and scores blocks of this many frames together (their kept components,
/// about 1.6 KB per frame, are held at once: about 13 MB).
const TOP_C_BATCH_FRAMES: usize = 8_000;
use ndarray::{s, Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Default relevance factor `r = 16` (Reynolds et al. 2000).
pub const DEFAULT_RELEVANCE: f64 = 16.0;

/// Default top-C of newly trained models: every frame is scored on its 5 best UBM
/// components (Reynolds et al. 2000 use 5 of 2048; see [`GmmUbmClassifier::top_c`]).
pub const DEFAULT_TOP_C: usize = 5;

/// Check a top-C hyperparameter: `None` (exact) or at least 1. A `C` at or above
/// a UBM's component count scores every component, i.e. exactly
/// ([`GmmUbmClassifier::with_top_c`] stores it as `None`), so the default of 5
/// suits a UBM of any size.
pub(crate) fn check_top_c_setting(top_c: Option<usize>) -> Result<()> {
    match top_c {
        Some(0) => Err(Error::param(
            "top_c",
            "must be at least 1 (or none: exact), got 0",
        )),
        _ => Ok(()),
    }
}

/// Check the top-C of a model against its UBM of `k` components: `None` (exact)
/// or `1..k` (what [`GmmUbmClassifier::with_top_c`] stores; a loaded file with
/// anything else is refused).
pub(crate) fn check_top_c(top_c: Option<usize>, k: usize) -> Result<()> {
    match top_c {
        Some(c) if c == 0 || c > k => Err(Error::param(
            "top_c",
            format!("must be between 1 and the UBM's {k} components (or none: exact), got {c}"),
        )),
        _ => Ok(()),
    }
}

/// A universal background model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ubm {
    gmm: DiagGmm,
}

/// What MAP adaptation of a UBM's means needs of some frames: each component's
/// summed responsibility `Σ r_k` and responsibility-weighted sum `Σ r_k (x − c)`
/// about the UBM's overall mean `c`. Additive over clips.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MeanStats {
    /// Σ r (k).
    pub nk: Array1<f64>,
    /// Σ r (x − c) (k × d).
    pub sx: Array2<f64>,
}

impl MeanStats {
    /// The statistics of these frames and `other`'s together.
    pub(crate) fn add(&mut self, other: &MeanStats) {
        self.nk += &other.nk;
        self.sx += &other.sx;
    }

    /// The statistics of these frames without `other`'s (a part of them).
    pub(crate) fn sub(&mut self, other: &MeanStats) {
        self.nk -= &other.nk;
        self.sx -= &other.sx;
        // A component's responsibility that cancels to rounding noise is none.
        self.nk.mapv_inplace(|n| if n < 1e-9 { 0.0 } else { n });
    }
}

impl Ubm {
    /// Fit the UBM on frames pooled over many speakers (e.g. 64–256 components).
    pub fn fit(frames: ArrayView2<f32>, params: &GmmParams) -> Result<Self> {
        Ok(Ubm {
            gmm: DiagGmm::fit(frames, params)?,
        })
    }

    /// Use an existing mixture as the UBM.
    pub fn from_gmm(gmm: DiagGmm) -> Result<Self> {
        gmm.validate()?;
        Ok(Ubm { gmm })
    }

    /// The background mixture.
    pub fn gmm(&self) -> &DiagGmm {
        &self.gmm
    }

    /// MAP-adapt the UBM means to `frames` with relevance factor `r ≥ 0`
    /// (`r = 0`: the responsibility-weighted means of the data; `r → ∞`: the UBM
    /// means).
    pub fn map_adapt(&self, frames: ArrayView2<f32>, relevance_factor: f64) -> Result<DiagGmm> {
        if relevance_factor.is_nan() || relevance_factor < 0.0 {
            return Err(Error::param(
                "relevance_factor",
                format!("must be >= 0, got {relevance_factor}"),
            ));
        }
        crate::models::check_matrix(frames, "adaptation frames")?;
        if frames.ncols() != self.gmm.n_features() {
            return Err(Error::shape(
                "frame columns for the UBM",
                self.gmm.n_features(),
                frames.ncols(),
            ));
        }
        let st = self.mean_stats(frames)?;
        let adapted = self
            .gmm
            .with_means(self.adapted_means(&st, relevance_factor));
        adapted.validate()?;
        Ok(adapted)
    }

    /// The statistics of `frames` that MAP adaptation of the means needs
    /// (unchecked input: finite, of the UBM's width). Those of several clips,
    /// [`MeanStats::add`]ed, adapt to the clips together exactly as their stacked
    /// frames do.
    pub(crate) fn mean_stats(&self, frames: ArrayView2<f32>) -> Result<MeanStats> {
        let st = self.gmm.stats(frames)?;
        Ok(MeanStats {
            nk: st.nk,
            sx: st.sx,
        })
    }

    /// The MAP-adapted means of frames with statistics `st`: each component's
    /// mean moves towards its data's by `n / (n + r)` for `n` frames' worth of
    /// responsibility (`r = ∞`: the UBM's means).
    pub(crate) fn adapted_means(&self, st: &MeanStats, relevance_factor: f64) -> Array2<f64> {
        let mu = self.gmm.means();
        let center = self.gmm.weights().dot(mu);
        let mut means = mu.clone();
        for k in 0..means.nrows() {
            let n = st.nk[k];
            if n <= 0.0 {
                continue;
            }
            let alpha = if relevance_factor.is_infinite() {
                0.0
            } else {
                n / (n + relevance_factor)
            };
            for f in 0..means.ncols() {
                let e = st.sx[[k, f]] / n + center[f];
                means[[k, f]] = alpha * e + (1.0 - alpha) * mu[[k, f]];
            }
        }
        means
    }

    /// The adapted mean offsets (as [`map_adapt_offsets`](Self::map_adapt_offsets))
    /// of frames with statistics `st`.
    pub(crate) fn offsets_from_stats(&self, st: &MeanStats, relevance_factor: f64) -> Array2<f32> {
        self.offsets_of(&self.adapted_means(st, relevance_factor))
    }

    /// The supervector offset (as [`supervector_offset`](Self::supervector_offset))
    /// of frames with statistics `st`.
    pub(crate) fn supervector_from_stats(
        &self,
        st: &MeanStats,
        relevance_factor: f64,
    ) -> Array1<f32> {
        self.normalised(&(self.adapted_means(st, relevance_factor) - self.gmm.means()))
    }

    /// Mean per-frame log-likelihood ratio of each clip (checked input) under the
    /// model with adapted mean offsets `offsets`, against the UBM: exact with
    /// `top_c = None`, else scored on each frame's `top_c` best UBM components
    /// ([`crate::models::topc`]), as [`GmmUbmClassifier::scores_clips`] scores.
    pub(crate) fn llr_of_offsets(
        &self,
        offsets: &Array2<f32>,
        clips: &[ArrayView2<f32>],
        top_c: Option<usize>,
    ) -> Vec<f64> {
        if let Some(c) = top_c {
            let o = offsets.as_standard_layout();
            let o = o.as_slice().expect("a standard-layout array is contiguous");
            let half_prec = half_precisions(&self.gmm);
            let mut buf = Vec::new();
            return clips
                .iter()
                .map(|x| TopFrames::select(&self.gmm, *x, c).llr(o, &half_prec, &mut buf))
                .collect();
        }
        let base = self.gmm.total_log_likelihoods_unchecked(clips);
        let adapted = self
            .with_offsets(offsets)
            .total_log_likelihoods_unchecked(clips);
        adapted
            .iter()
            .zip(&base)
            .zip(clips)
            .map(|((a, b), c)| (a - b) / c.nrows() as f64)
            .collect()
    }

    /// Mean per-frame log-likelihood ratio `log p(x | adapted) − log p(x | UBM)`.
    pub fn llr(&self, adapted: &DiagGmm, frames: ArrayView2<f32>) -> Result<f64> {
        Ok(adapted.score(frames)? - self.gmm.score(frames)?)
    }

    fn check_adapted(&self, adapted: &DiagGmm) -> Result<()> {
        if adapted.means().dim() != self.gmm.means().dim() {
            return Err(Error::shape(
                "adapted means",
                format_args!("the UBM's {:?}", self.gmm.means().dim()),
                format_args!("{:?}", adapted.means().dim()),
            ));
        }
        Ok(())
    }

    /// The KL-normalised mean supervector of an adapted model:
    /// `[√w_k · μ_k / σ_k]` for all components `k`, concatenated (k·d values),
    /// with the UBM's weights and standard deviations.
    pub fn supervector(&self, adapted: &DiagGmm) -> Result<Array1<f32>> {
        self.check_adapted(adapted)?;
        Ok(self.normalised(adapted.means()))
    }

    /// As [`supervector`](Self::supervector) but of the offsets `μ̂_k − μ_k` from
    /// the UBM means: the speaker-specific part, better suited to cosine
    /// similarity (all models share the UBM part).
    pub fn supervector_offset(&self, adapted: &DiagGmm) -> Result<Array1<f32>> {
        self.check_adapted(adapted)?;
        Ok(self.normalised(&(adapted.means() - self.gmm.means())))
    }

    fn normalised(&self, means: &Array2<f64>) -> Array1<f32> {
        let w = self.gmm.weights();
        let v = self.gmm.variances();
        let (k, d) = means.dim();
        let mut out = Array1::<f32>::zeros(k * d);
        for j in 0..k {
            let sw = w[j].sqrt();
            for f in 0..d {
                out[j * d + f] = (sw * means[[j, f]] / v[[j, f]].sqrt()) as f32;
            }
        }
        out
    }
}

/// Speaker identification with MAP-adapted speaker models: each speaker's model
/// is the UBM adapted to that speaker's frames; an utterance goes to the speaker
/// with the highest log-likelihood ratio against the UBM (equivalently, the
/// highest adapted-model likelihood).
///
/// Adaptation moves the means only, so a speaker is stored as the offsets of its
/// adapted means from the UBM's (`k × d` values in `f32`, 20 KB per speaker with
/// the default 128 components × 40 features); the UBM's weights and variances
/// are kept once. Model files written before this stored every speaker as a full
/// mixture (`speakers`, in `f64`, about 80 KB each); they still load, their means
/// taken as the offsets (their weights and variances are the UBM's, which
/// [`validate`](Self::validate) checks on the way in).
///
/// Scoring is exact (every frame against all `K` components of every speaker's
/// model) or **top-C** ([`top_c`](Self::top_c), [`crate::models::topc`]): each
/// frame on its `C` best UBM components only, much faster with many speakers.
/// A model file without the setting (written before it existed) scores exactly,
/// so its scores, and the open-set calibration made from them, are unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredGmmUbm")]
pub struct GmmUbmClassifier {
    ubm: Ubm,
    names: Vec<String>,
    /// Per speaker, adapted means minus the UBM means (`k × d`).
    offsets: Vec<Array2<f32>>,
    relevance_factor: f64,
    /// `Some(C)`: score each frame on its `C` best UBM components; `None`: exact.
    top_c: Option<usize>,
}

/// What a model file may hold: `offsets` (this version) or `speakers` (full
/// adapted mixtures, as earlier versions wrote them).
#[derive(Deserialize)]
struct StoredGmmUbm {
    ubm: Ubm,
    names: Vec<String>,
    #[serde(default)]
    offsets: Option<Vec<Array2<f32>>>,
    #[serde(default)]
    speakers: Option<Vec<DiagGmm>>,
    relevance_factor: f64,
    /// Absent in files written before top-C scoring: exact scoring.
    #[serde(default)]
    top_c: Option<usize>,
}

impl TryFrom<StoredGmmUbm> for GmmUbmClassifier {
    type Error = String;

    fn try_from(s: StoredGmmUbm) -> std::result::Result<Self, String> {
        let offsets = match (s.offsets, s.speakers) {
            (Some(o), _) => o,
            (None, Some(speakers)) => {
                let mut out = Vec::with_capacity(speakers.len());
                for m in &speakers {
                    s.ubm.check_adapted(m).map_err(|e| e.to_string())?;
                    if m.weights() != s.ubm.gmm.weights() || m.variances() != s.ubm.gmm.variances()
                    {
                        return Err("a speaker model's weights or variances differ from the \
                                    UBM's: not a means-only adapted model; retrain it"
                            .into());
                    }
                    out.push(s.ubm.offsets_of(m.means()));
                }
                out
            }
            (None, None) => return Err("missing field `offsets`".into()),
        };
        Ok(GmmUbmClassifier {
            ubm: s.ubm,
            names: s.names,
            offsets,
            relevance_factor: s.relevance_factor,
            top_c: s.top_c,
        })
    }
}

impl Ubm {
    /// MAP-adapt the UBM means to `frames` (as [`map_adapt`](Self::map_adapt)) and
    /// return only the offsets of the adapted means from the UBM's (`k × d`, `f32`):
    /// all that a means-only adapted model adds to the UBM.
    pub fn map_adapt_offsets(
        &self,
        frames: ArrayView2<f32>,
        relevance_factor: f64,
    ) -> Result<Array2<f32>> {
        let adapted = self.map_adapt(frames, relevance_factor)?;
        Ok(self.offsets_of(adapted.means()))
    }

    fn offsets_of(&self, means: &Array2<f64>) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros(means.dim());
        ndarray::Zip::from(&mut out)
            .and(means)
            .and(self.gmm.means())
            .for_each(|o, &m, &u| *o = (m - u) as f32);
        out
    }

    /// The adapted mixture whose means are the UBM's plus `offsets`.
    fn with_offsets(&self, offsets: &Array2<f32>) -> DiagGmm {
        let mut means = self.gmm.means().clone();
        ndarray::Zip::from(&mut means)
            .and(offsets)
            .for_each(|m, &o| *m += f64::from(o));
        self.gmm.with_means(means)
    }

    pub(crate) fn check_offsets(&self, offsets: &Array2<f32>) -> Result<()> {
        if offsets.dim() != self.gmm.means().dim() {
            return Err(Error::shape(
                "adapted mean offsets",
                format_args!("the UBM's {:?}", self.gmm.means().dim()),
                format_args!("{:?}", offsets.dim()),
            ));
        }
        if let Some(i) = offsets.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "adapted mean offsets".into(),
                index: i,
                value: offsets.iter().nth(i).copied().unwrap_or(f32::NAN),
            });
        }
        Ok(())
    }
}

impl GmmUbmClassifier {
    /// Adapt one model per class from `per_class[c]`'s frames (in parallel).
    pub fn fit(
        ubm: Ubm,
        per_class: &[ArrayView2<f32>],
        names: &[String],
        relevance_factor: f64,
    ) -> Result<Self> {
        check_names(names, per_class.len())?;
        let offsets = per_class
            .par_iter()
            .map(|x| ubm.map_adapt_offsets(*x, relevance_factor))
            .collect::<Result<Vec<_>>>()?;
        Self::from_offsets(ubm, names, offsets, relevance_factor)
    }

    /// A classifier from speaker models adapted elsewhere (with
    /// [`Ubm::map_adapt`] and `relevance_factor`, one per class in class order):
    /// for callers that adapt a few speakers at a time. Only their means are kept
    /// (as offsets from the UBM's).
    pub fn from_adapted(
        ubm: Ubm,
        names: &[String],
        speakers: Vec<DiagGmm>,
        relevance_factor: f64,
    ) -> Result<Self> {
        let mut offsets = Vec::with_capacity(speakers.len());
        for s in &speakers {
            ubm.check_adapted(s)?;
            offsets.push(ubm.offsets_of(s.means()));
        }
        Self::from_offsets(ubm, names, offsets, relevance_factor)
    }

    /// A classifier from the adapted mean offsets of each speaker (made with
    /// [`Ubm::map_adapt_offsets`] and `relevance_factor`, one per class in class
    /// order): the compact form callers adapting a few speakers at a time collect.
    pub fn from_offsets(
        ubm: Ubm,
        names: &[String],
        offsets: Vec<Array2<f32>>,
        relevance_factor: f64,
    ) -> Result<Self> {
        check_names(names, offsets.len())?;
        for o in &offsets {
            ubm.check_offsets(o)?;
        }
        Ok(GmmUbmClassifier {
            ubm,
            names: names.to_vec(),
            offsets,
            relevance_factor,
            top_c: None,
        })
    }

    /// The same classifier scoring with top-C `top_c` (`None`: exact; else at
    /// least 1; a `C` at or above the UBM's number of components keeps every
    /// component, which is the exact score, and is stored as `None`). Models are
    /// built exact;
    /// training sets [`UbmParams::top_c`](crate::models::speaker::gmm_ubm::UbmParams::top_c).
    ///
    /// ```
    /// use ndarray::Array2;
    /// use speaker_similarity::models::{GmmParams, GmmUbmClassifier, Ubm};
    /// let x = Array2::from_shape_fn((400, 2), |(i, j)| ((i * 7 + j * 3) % 23) as f32 / 4.0);
    /// let ubm = Ubm::fit(x.view(), &GmmParams { n_components: 8, ..GmmParams::default() }).unwrap();
    /// let (a, b) = (x.slice(ndarray::s![..200, ..]), x.slice(ndarray::s![200.., ..]));
    /// let names = ["a".to_string(), "b".to_string()];
    /// let exact = GmmUbmClassifier::fit(ubm, &[a, b], &names, 16.0).unwrap();
    /// let top = exact.clone().with_top_c(Some(8)).unwrap(); // C = K: exact scores
    /// let (e, t) = (exact.scores_clips(&[a]).unwrap(), top.scores_clips(&[a]).unwrap());
    /// assert!((e[[0, 0]] - t[[0, 0]]).abs() < 1e-9);
    /// assert_eq!(exact.clone().with_top_c(Some(9)).unwrap().top_c(), None); // C > K: exact
    /// assert!(exact.clone().with_top_c(Some(0)).is_err());
    /// ```
    pub fn with_top_c(mut self, top_c: Option<usize>) -> Result<Self> {
        check_top_c_setting(top_c)?;
        let k = self.ubm.gmm.n_components();
        // C >= K keeps every component: that is the exact score.
        self.top_c = top_c.filter(|&c| c < k);
        Ok(self)
    }

    /// How queries are scored: `Some(C)`, each frame on its `C` best UBM
    /// components in the UBM and in every speaker model (Reynolds et al. 2000);
    /// `None`, exactly on all components. Newly trained models use
    /// [`DEFAULT_TOP_C`]; model files that predate the setting load as `None`.
    pub fn top_c(&self) -> Option<usize> {
        self.top_c
    }

    /// Mean per-frame log-likelihood ratio of every utterance against every
    /// speaker (utterances × speakers): exact, or on each frame's best UBM
    /// components when [`top_c`](Self::top_c) is set.
    pub fn scores_clips(&self, clips: &[ArrayView2<f32>]) -> Result<Array2<f64>> {
        let ubm = self.ubm.gmm();
        for c in clips {
            ubm.check_input(*c)?;
        }
        if let Some(c) = self.top_c {
            return Ok(self.scores_top_c(clips, c));
        }
        let base = ubm.total_log_likelihoods_unchecked(clips);
        let cols: Vec<Vec<f64>> = self
            .offsets
            .par_iter()
            .map(|o| {
                self.ubm
                    .with_offsets(o)
                    .total_log_likelihoods_unchecked(clips)
            })
            .collect();
        let mut out = Array2::zeros((clips.len(), cols.len()));
        for (j, c) in cols.iter().enumerate() {
            for (i, &v) in c.iter().enumerate() {
                out[[i, j]] = (v - base[i]) / clips[i].nrows() as f64;
            }
        }
        Ok(out)
    }

    /// [`scores_clips`](Self::scores_clips) on each frame's `c` best UBM
    /// components (checked input): the UBM selects them once per clip, then every
    /// speaker (in parallel) costs `c` dot products per frame. The kept components
    /// take about 1.6 KB per frame, so the clips are cut into blocks of at most
    /// [`TOP_C_BLOCK_FRAMES`] frames and scored [`TOP_C_BATCH_FRAMES`] frames at a
    /// time: a 10-minute recording is never held whole. A clip's score is the
    /// frame-weighted mean of its blocks' (the mean over its frames, as unblocked).
    fn scores_top_c(&self, clips: &[ArrayView2<f32>], c: usize) -> Array2<f64> {
        let ubm = self.ubm.gmm();
        let half_prec = half_precisions(ubm);
        let mut out = Array2::zeros((clips.len(), self.offsets.len()));
        // (clip, first frame, frames) of every block, in order.
        let blocks: Vec<(usize, usize, usize)> = clips
            .iter()
            .enumerate()
            .flat_map(|(i, x)| {
                let n = x.nrows();
                (0..n)
                    .step_by(TOP_C_BLOCK_FRAMES)
                    .map(move |f| (i, f, TOP_C_BLOCK_FRAMES.min(n - f)))
            })
            .collect();
        let mut start = 0;
        while start < blocks.len() {
            let mut end = start;
            let mut frames = 0;
            while end < blocks.len()
                && (end == start || frames + blocks[end].2 <= TOP_C_BATCH_FRAMES)
            {
                frames += blocks[end].2;
                end += 1;
            }
            let batch = &blocks[start..end];
            let tops: Vec<TopFrames> = batch
                .par_iter()
                .map(|&(i, f, n)| TopFrames::select(ubm, clips[i].slice(s![f..f + n, ..]), c))
                .collect();
            let cols: Vec<Vec<f64>> = self
                .offsets
                .par_iter()
                .map_init(Vec::new, |buf, o| {
                    let o = o.as_standard_layout();
                    let o = o.as_slice().expect("a standard-layout array is contiguous");
                    tops.iter().map(|t| t.llr(o, &half_prec, buf)).collect()
                })
                .collect();
            for (j, col) in cols.iter().enumerate() {
                for (&(i, _, n), &v) in batch.iter().zip(col) {
                    let total = clips[i].nrows();
                    out[[i, j]] += if n == total {
                        v
                    } else {
                        v * n as f64 / total as f64
                    };
                }
            }
            start = end;
        }
        out
    }

    /// The best-scoring speaker of every utterance.
    pub fn predict_clips(&self, clips: &[ArrayView2<f32>]) -> Result<Vec<usize>> {
        Ok(argmax_rows(&self.scores_clips(clips)?))
    }

    /// KL-normalised offset supervectors of all speakers (speakers × k·d).
    pub fn supervectors(&self) -> Result<Array2<f32>> {
        let (k, d) = self.ubm.gmm.means().dim();
        let mut out = Array2::<f32>::zeros((self.offsets.len(), k * d));
        for (mut row, o) in out.rows_mut().into_iter().zip(&self.offsets) {
            row.assign(&self.ubm.normalised(&o.mapv(f64::from)));
        }
        Ok(out)
    }

    /// MAP-adapt the UBM to `frames` (one speaker's) and add that speaker as the
    /// last class, or replace its model when `name` is enrolled; the UBM and every
    /// other speaker's model are left as they were.
    pub fn upsert(&mut self, name: &str, frames: ArrayView2<f32>) -> Result<()> {
        let adapted = self.ubm.map_adapt_offsets(frames, self.relevance_factor)?;
        match self.names.iter().position(|n| n == name) {
            Some(i) => self.offsets[i] = adapted,
            None => {
                self.names.push(name.to_string());
                self.offsets.push(adapted);
            }
        }
        Ok(())
    }

    /// Drop speaker `name` (at least two must remain).
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let i = super::classifier::remove_index(&self.names, name)?;
        self.names.remove(i);
        self.offsets.remove(i);
        Ok(())
    }

    /// The background model.
    pub fn ubm(&self) -> &Ubm {
        &self.ubm
    }
    /// Class names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The adapted model of speaker `i` (the UBM with the speaker's means), made
    /// from the stored offsets; `None` past the last speaker.
    pub fn speaker_model(&self, i: usize) -> Option<DiagGmm> {
        self.offsets.get(i).map(|o| self.ubm.with_offsets(o))
    }
    /// Per speaker, the offsets of its adapted means from the UBM's (`k × d`).
    pub fn offsets(&self) -> &[Array2<f32>] {
        &self.offsets
    }
    /// The relevance factor used.
    pub fn relevance_factor(&self) -> f64 {
        self.relevance_factor
    }

    /// Check consistency (used on loaded models).
    pub fn validate(&self) -> Result<()> {
        self.ubm.gmm.validate()?;
        check_names(&self.names, self.offsets.len())?;
        for o in &self.offsets {
            self.ubm.check_offsets(o)?;
        }
        if self.relevance_factor.is_nan() || self.relevance_factor < 0.0 {
            return Err(Error::param("relevance_factor", "must be >= 0"));
        }
        check_top_c(self.top_c, self.ubm.gmm.n_components())
    }
}

impl Ubm {
    /// Check the mixture (used on loaded models).
    pub fn validate(&self) -> Result<()> {
        self.gmm.validate()
    }
}
