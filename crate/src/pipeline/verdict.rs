//! Open-set verdicts: "this is speaker X" or "not an enrolled voice", from the
//! GMM-UBM model set's scores calibrated at training time on the training clips
//! alone.
//!
//! Calibration ([`OpenSetCalibration::fit`], trials from [`held_out_trials`]):
//! - *speaker folds*: each leaves a group of training speakers out entirely (a UBM
//!   is trained without them); their clips are never-enrolled voices, scored
//!   against the other speakers (impostor trials);
//! - *clip folds* of the remaining speakers: each held-out clip is scored against
//!   speaker models MAP-adapted, and embeddings averaged, without it (target
//!   trials).
//!
//! Every method — GMM-UBM frame LLR, supervector cosine, or their fusion
//! ([`ScoreSource`]), each raw, t-normed or s-normed with the enrolled speakers as
//! cohort ([`ScoreNorm`]) — is calibrated by [`LinearCalibration`] to natural-log
//! LLRs and measured by its cross-validated open-set EER; the best is used. The
//! default threshold is [`OpenSetParams::false_alarm`] (1 %) of the calibrated
//! impostor best scores, because a verdict compares the *best* score of a query
//! with the threshold. Queries never enter: the trials are built from the training
//! clips only, and the calibration records which ones
//! ([`OpenSetCalibration::trial_clips`]). The MLP's softmax is a closed-set
//! probability and is shown as such.
//!
//! The calibration reads the training clips' frames from the training set's frame
//! source ([`TrainingSet::frames_of`]), [`CALIBRATION_BATCH`] clips or a few
//! speakers at a time, so a set whose frames stream from disk
//! ([`TrainingSet::streaming`]) is calibrated without holding its frames, and to
//! the same calibration as the same clips held in memory.

use std::collections::BTreeMap;

use ndarray::{s, Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::extract::{extract, ClipFeatures};
use super::params::ModelKind;
use super::train::SpeakerModels;
use crate::audio::Audio;
use crate::calibration::{
    open_set_eer, open_set_report, threshold_at_false_alarm, CalibrationParams, CohortStats,
    LinearCalibration, OpenSetTrial, Verdict,
};
use crate::error::{Error, Result};
use crate::models::speaker::gmm_ubm::UbmParams;
use crate::models::speaker::{stack_views, ClipBatch, GmmUbmModel, SpeakerModel, TrainingSet};
use crate::models::{DiagGmm, GmmParams, GmmUbmClassifier, Ubm};
use crate::similarity::EnrolledSpeakers;

/// How raw GMM-UBM scores are normalised before calibration, with the other
/// enrolled speakers as the impostor cohort (no outside data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreNorm {
    /// The raw score (mean per-frame log-likelihood ratio against the UBM).
    Raw,
    /// Adaptive t-norm: the score standardised by the query's scores against the
    /// other enrolled speakers' models (the [`OpenSetParams::cohort_top_k`] highest).
    /// Needs no statistics per speaker, so it stays valid when speakers are enrolled
    /// or removed.
    Tnorm,
    /// Adaptive s-norm: the mean of the t-norm and of the z-norm by the speaker's
    /// own statistics (its model against the other speakers' training clips, the
    /// [`OpenSetParams::cohort_top_k`] highest; Matějka et al. 2017). The z-norm
    /// statistics are stored per speaker; a speaker enrolled later has none.
    Snorm,
}

impl ScoreNorm {
    /// Every normalisation, in order of preference when they tie.
    pub const ALL: [ScoreNorm; 3] = [ScoreNorm::Raw, ScoreNorm::Tnorm, ScoreNorm::Snorm];

    /// As written in JSON and on the command line: `raw`, `tnorm`, `snorm`.
    pub fn name(self) -> &'static str {
        match self {
            ScoreNorm::Raw => "raw",
            ScoreNorm::Tnorm => "tnorm",
            ScoreNorm::Snorm => "snorm",
        }
    }

    /// Whether the normalisation needs statistics of each speaker's model, which
    /// a speaker enrolled after training does not have.
    pub fn per_speaker(self) -> bool {
        self == ScoreNorm::Snorm
    }
}

impl std::fmt::Display for ScoreNorm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Speakers a model set needs before t-norm and s-norm are tried: their cohort is
/// the other enrolled speakers (the top [`OpenSetParams::cohort_top_k`]), whose
/// statistics are noise with fewer.
pub const MIN_NORM_SPEAKERS: usize = 8;

/// Settings of the open-set calibration made at training time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSetParams {
    /// Cross-validation folds of each speaker's enrolment clips (at least 2).
    /// Default 3: every clip is held out once, and a speaker keeps about two thirds
    /// of its clips in each fold's model.
    pub folds: usize,
    /// The default threshold accepts at most this fraction of the held-out impostor
    /// best scores, in [0, 1). Default 0.01 (1 % false acceptance).
    pub false_alarm: f64,
    /// The logistic-regression settings of the score calibration (default prior 0.5).
    pub calibration: CalibrationParams,
    /// The score normalisation; `None` (the default): the one of [`ScoreNorm::ALL`]
    /// with the lowest open-set equal error rate on the cross-validation trials
    /// (t-norm and s-norm are tried from [`MIN_NORM_SPEAKERS`] speakers on).
    pub norm: Option<ScoreNorm>,
    /// Speaker folds (at least 2): each fold leaves a group of the training
    /// speakers out entirely (UBM included) and scores their clips as
    /// never-enrolled voices. Default 4: three quarters of the speakers enrolled
    /// in each fold, and 4 UBM fits.
    pub speaker_folds: usize,
    /// The score calibrated; `None` (the default): the one of [`ScoreSource::ALL`]
    /// with the lowest cross-validated open-set equal error rate.
    pub source: Option<ScoreSource>,
    /// Cohort members kept by the adaptive normalisations (the highest-scoring
    /// ones), at least 2. Default 10.
    pub cohort_top_k: usize,
}

impl Default for OpenSetParams {
    fn default() -> Self {
        OpenSetParams {
            folds: 3,
            false_alarm: 0.01,
            calibration: CalibrationParams::default(),
            norm: None,
            source: None,
            speaker_folds: 4,
            cohort_top_k: 10,
        }
    }
}

impl OpenSetParams {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if self.folds < 2 {
            return Err(Error::param(
                "folds",
                format!("must be at least 2, got {}", self.folds),
            ));
        }
        if !(0.0..1.0).contains(&self.false_alarm) {
            return Err(Error::param(
                "false_alarm",
                format!("must be in [0, 1), got {}", self.false_alarm),
            ));
        }
        if self.speaker_folds < 2 {
            return Err(Error::param(
                "speaker_folds",
                format!("must be at least 2, got {}", self.speaker_folds),
            ));
        }
        if self.cohort_top_k < 2 {
            return Err(Error::param(
                "cohort_top_k",
                format!("must be at least 2, got {}", self.cohort_top_k),
            ));
        }
        self.calibration.validate()
    }
}

/// Which score of a query against an enrolled speaker is calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreSource {
    /// The GMM-UBM's mean per-frame log-likelihood ratio (what `predict` shows).
    Gmm,
    /// The cosine similarity of the query's supervector with the speaker's (what
    /// `similar` ranks by).
    Cosine,
    /// Both, each calibrated, their LLRs summed and calibrated again.
    Fusion,
}

impl ScoreSource {
    /// Every source, in order of preference when they tie.
    pub const ALL: [ScoreSource; 3] = [ScoreSource::Gmm, ScoreSource::Cosine, ScoreSource::Fusion];

    /// As written in JSON: `gmm`, `cosine`, `fusion`.
    pub fn name(self) -> &'static str {
        match self {
            ScoreSource::Gmm => "gmm",
            ScoreSource::Cosine => "cosine",
            ScoreSource::Fusion => "fusion",
        }
    }
}

impl std::fmt::Display for ScoreSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One scoring method (source and normalisation), its calibration and its
/// cross-validated open-set rates on the training clips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormChoice {
    /// The score.
    pub source: ScoreSource,
    /// The normalisation.
    pub norm: ScoreNorm,
    /// Fusion only: the calibrations of the normalised GMM and cosine scores whose
    /// LLRs are summed before `calibration`.
    pub stage1: Option<(LinearCalibration, LinearCalibration)>,
    /// Normalised (or fused) score to natural-log LLR.
    pub calibration: LinearCalibration,
    /// Its default threshold (LLR): [`OpenSetParams::false_alarm`] of the held-out
    /// impostor best scores.
    pub threshold: f64,
    /// Open-set equal error rate on the cross-validation trials (held-out clips as
    /// enrolled queries, and the same clips with their speaker left out as
    /// never-enrolled ones).
    pub cv_eer: f64,
    /// Held-out clips accepted and named right at `threshold`.
    pub cv_identified: f64,
    /// Held-out clips whose best-scoring speaker is right (closed set).
    pub cv_closed_set: f64,
}

impl NormChoice {
    /// `source/norm`, for instance `fusion/snorm`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.source, self.norm)
    }
}

/// The open-set calibration stored with a model set: the GMM-UBM's scores
/// (frame LLR and supervector cosine), normalised ([`ScoreNorm`]), to calibrated
/// LLRs, and the default acceptance threshold (in LLR).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSetCalibration {
    /// The model whose scores are calibrated (GMM-UBM).
    pub model: ModelKind,
    /// The method in use (one of `choices`, possibly switched after an enrolment).
    pub method: NormChoice,
    /// Cohort members kept by the adaptive normalisations.
    pub cohort_top_k: usize,
    /// The default threshold on the calibrated LLR of the best-scoring speaker.
    pub threshold: f64,
    /// The false-acceptance rate on the held-out impostor best scores the threshold
    /// was set at.
    pub false_alarm: f64,
    /// Number of folds.
    pub folds: usize,
    /// z-norm statistics of each speaker's model against the other speakers'
    /// training clips, GMM and cosine (s-norm only; empty otherwise).
    pub z_stats: BTreeMap<String, (CohortStats, CohortStats)>,
    /// Every method tried, with its calibration and cross-validated rates.
    pub choices: Vec<NormChoice>,
    /// Methods that could not be calibrated on these trials, with the reason.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Target trials (held-out clip against its own speaker).
    pub target_trials: usize,
    /// Non-target trials (held-out clip against each other speaker).
    pub nontarget_trials: usize,
    /// The training clips (positions in the training set's clip order) the trials came from,
    /// sorted, each once: every one of them, and nothing else.
    pub trial_clips: Vec<usize>,
    /// Speakers the calibration was fitted on.
    pub fitted_speakers: usize,
}

/// Cross-validation folds of training clips, per speaker: each speaker's clips
/// (`labels[i]` is clip `i`'s class) are shuffled (seeded) and dealt round-robin
/// over `folds` folds. Returns the held-out clip indices of every fold (sorted); a
/// fold's model for a speaker uses that speaker's other clips. A speaker with `n >=
/// 2` clips always keeps at least one clip in every fold.
///
/// ```
/// use speaker_similarity::pipeline::open_set_folds;
/// let labels = [0, 0, 0, 1, 1, 1, 1];
/// let folds = open_set_folds(&labels, 2, 3, 7);
/// let mut all: Vec<usize> = folds.concat();
/// all.sort();
/// assert_eq!(all, (0..7).collect::<Vec<_>>());
/// ```
pub fn open_set_folds(
    labels: &[usize],
    n_classes: usize,
    folds: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let folds = folds.max(1);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0be5_e7ca);
    let mut out = vec![Vec::new(); folds];
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        idx.shuffle(&mut rng);
        for (p, i) in idx.into_iter().enumerate() {
            out[p % folds].push(i);
        }
    }
    for f in out.iter_mut() {
        f.sort_unstable();
    }
    out
}

/// The normalised score of candidate speaker `j` in a query's `row` of raw scores
/// (against every enrolled speaker). The t-norm cohort is the row's other
/// speakers, leaving out `exclude` too (the query's own speaker, when simulating a
/// voice that was never enrolled); `z` is speaker `j`'s z-norm statistics (s-norm).
/// Falls back to the raw score when the cohort has fewer than 2 members.
///
/// ```
/// use speaker_similarity::pipeline::{normalised_score, ScoreNorm};
/// let row = [2.0, 0.0, 1.0, -1.0];
/// assert_eq!(normalised_score(ScoreNorm::Raw, &row, 0, None, None, 10), 2.0);
/// // t-norm: (2 - mean(0, 1, -1)) / std(0, 1, -1)
/// let t = normalised_score(ScoreNorm::Tnorm, &row, 0, None, None, 10);
/// assert!((t - 2.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// ```
pub fn normalised_score(
    norm: ScoreNorm,
    row: &[f64],
    j: usize,
    exclude: Option<usize>,
    z: Option<&CohortStats>,
    top_k: usize,
) -> f64 {
    let raw = row[j];
    if norm == ScoreNorm::Raw {
        return raw;
    }
    let cohort: Vec<f64> = row
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != j && Some(*k) != exclude)
        .map(|(_, v)| *v)
        .collect();
    let t = match CohortStats::from_scores(&cohort, Some(top_k)) {
        Ok(t) if cohort.len() >= 2 => t.z(raw),
        _ => return raw,
    };
    match (norm, z) {
        (ScoreNorm::Snorm, Some(z)) => 0.5 * (z.z(raw) + t),
        _ => t,
    }
}

/// One query's raw scores against every enrolled speaker, from both sources.
#[derive(Debug, Clone, Copy)]
struct QueryRows<'a> {
    gmm: &'a [f64],
    cosine: &'a [f64],
}

/// z-norm statistics of speaker `j` (GMM, cosine), when the method uses them.
type ZOf<'a> = dyn Fn(usize) -> (Option<CohortStats>, Option<CohortStats>) + 'a;

/// The score of method (`source`, `norm`, `stage1`) for candidate `j`.
#[allow(clippy::too_many_arguments)]
fn method_score(
    source: ScoreSource,
    norm: ScoreNorm,
    stage1: Option<&(LinearCalibration, LinearCalibration)>,
    q: QueryRows<'_>,
    j: usize,
    exclude: Option<usize>,
    z: &ZOf<'_>,
    top_k: usize,
) -> f64 {
    let (zg, zc) = z(j);
    let g = || normalised_score(norm, q.gmm, j, exclude, zg.as_ref(), top_k);
    let c = || normalised_score(norm, q.cosine, j, exclude, zc.as_ref(), top_k);
    match (source, stage1) {
        (ScoreSource::Gmm, _) => g(),
        (ScoreSource::Cosine, _) => c(),
        (ScoreSource::Fusion, Some((a, b))) => a.llr(g()) + b.llr(c()),
        (ScoreSource::Fusion, None) => g() + c(),
    }
}

/// The best candidate of a query: `(speaker, score)`, leaving `exclude` out of the
/// candidates and of the cohort.
#[allow(clippy::too_many_arguments)]
fn best_of(
    source: ScoreSource,
    norm: ScoreNorm,
    stage1: Option<&(LinearCalibration, LinearCalibration)>,
    q: QueryRows<'_>,
    exclude: Option<usize>,
    z: &ZOf<'_>,
    top_k: usize,
) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for j in (0..q.gmm.len()).filter(|&j| Some(j) != exclude) {
        let s = method_score(source, norm, stage1, q, j, exclude, z, top_k);
        if s > best.1 {
            best = (j, s);
        }
    }
    best
}

/// Held-out scores of the training clips, by cross-validation over speakers and
/// clips (see [`held_out_trials`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeldOutTrials {
    /// Per trial, the GMM-UBM scores of a held-out clip against every candidate
    /// speaker's fold model (built without it). The candidates are the fold's
    /// enrolled speakers; rows of different speaker folds differ in length.
    pub gmm: Vec<Vec<f64>>,
    /// Per trial, the cosine similarity of the clip's supervector with every
    /// candidate's fold embedding (the mean of that speaker's other clips).
    pub cosine: Vec<Vec<f64>>,
    /// Per trial, the clip's speaker as an index into the row, or `None` for a
    /// clip of a speaker left out of the fold altogether (UBM included): a
    /// never-enrolled voice.
    pub own: Vec<Option<usize>>,
    /// Per trial, the training clip (its position in the training set's clip order).
    pub clips: Vec<usize>,
    /// Per trial, the z-norm statistics (GMM, cosine) of every candidate `j`'s
    /// fold model against the fold's other enrolled speakers' clips (leaving out
    /// the clip's own speaker's); `None` when that leaves no clip (a fold of two
    /// enrolled speakers), and s-norm then scores candidate `j` by its t-norm.
    pub z: Vec<Vec<Option<(CohortStats, CohortStats)>>>,
}

/// z-norm statistics of every model (columns of `scores`, clips × speakers)
/// against the clips of the other speakers, leaving out speaker `exclude`'s clips
/// too; `None` for a model with no such clip.
fn z_stats_of(
    scores: &Array2<f64>,
    labels: &[usize],
    exclude: Option<usize>,
    top_k: usize,
) -> Result<Vec<Option<CohortStats>>> {
    (0..scores.ncols())
        .map(|j| {
            let s: Vec<f64> = (0..labels.len())
                .filter(|&c| labels[c] != j && Some(labels[c]) != exclude)
                .map(|c| scores[[c, j]])
                .collect();
            if s.is_empty() {
                return Ok(None);
            }
            CohortStats::from_scores(&s, Some(top_k)).map(Some)
        })
        .collect()
}

/// Cosine scores (clips × speakers) of clip supervectors against speaker
/// embeddings.
fn cosine_matrix(enrolled: &EnrolledSpeakers, svs: &[&Array1<f32>]) -> Result<Array2<f64>> {
    let mut out = Array2::zeros((svs.len(), enrolled.len()));
    for (i, v) in svs.iter().enumerate() {
        let s = enrolled.scores(v.as_slice().unwrap_or(&v.to_vec()))?;
        for (j, x) in s.into_iter().enumerate() {
            out[[i, j]] = x as f64;
        }
    }
    Ok(out)
}

/// Every clip's supervector embedding under `ubm`, as a query's is made (clips in
/// parallel).
fn clip_supervectors(
    ubm: &Ubm,
    relevance: f64,
    frames: &[ArrayView2<f32>],
) -> Result<Vec<Array1<f32>>> {
    use rayon::prelude::*;
    frames
        .par_iter()
        .map(|f| ubm.supervector_offset(&ubm.map_adapt(*f, relevance)?))
        .collect()
}

/// Training clips whose frames the calibration asks its training set for at a
/// time when it counts, samples or scores them: with frames that stream from the
/// data set, no more are held than this many clips' (plus one fold's speaker
/// models, and a few speakers' clips at a time while those are adapted).
pub const CALIBRATION_BATCH: usize = 128;

/// Run `f(positions, frames)` over the training clips at `clips` (positions in the
/// training set's clip order), [`CALIBRATION_BATCH`] clips at a time, in order.
fn for_batches(
    data: &TrainingSet<'_>,
    clips: &[usize],
    mut f: impl FnMut(&[usize], &[Array2<f32>]) -> Result<()>,
) -> Result<()> {
    for batch in clips.chunks(CALIBRATION_BATCH) {
        f(batch, &data.frames_of(batch)?)?;
    }
    Ok(())
}

/// Every `step`-th frame of clips that arrive one after the other, as if their
/// frame matrices were stacked: the rows `0, step, 2·step, …` of the stack, with
/// `step` the least that keeps at most `max` of `total` frames (1 when `total <=
/// max`). Fed a clip at a time, so only the sample is held.
struct FrameDecimator {
    step: usize,
    seen: usize,
    dim: Option<usize>,
    rows: usize,
    flat: Vec<f32>,
}

impl FrameDecimator {
    fn new(total: usize, max: usize) -> Self {
        FrameDecimator {
            step: if total <= max {
                1
            } else {
                total.div_ceil(max.max(1))
            },
            seen: 0,
            dim: None,
            rows: 0,
            flat: Vec::new(),
        }
    }

    fn add(&mut self, x: ArrayView2<f32>) -> Result<()> {
        let d = *self.dim.get_or_insert(x.ncols());
        if x.ncols() != d {
            return Err(Error::shape(
                "frame matrices",
                format_args!("{d} columns, as the other clips'"),
                x.ncols(),
            ));
        }
        let first = (self.step - self.seen % self.step) % self.step;
        for j in (first..x.nrows()).step_by(self.step) {
            self.flat.extend(x.row(j).iter());
            self.rows += 1;
        }
        self.seen += x.nrows();
        Ok(())
    }

    fn finish(self) -> Result<Array2<f32>> {
        let d = self
            .dim
            .ok_or_else(|| Error::too_short("UBM frames", 1.0, 0.0, "clip"))?;
        Array2::from_shape_vec((self.rows, d), self.flat)
            .map_err(|e| Error::shape("UBM frame sample", format_args!("rows of {d}"), e))
    }
}

/// GMM-UBM scores (mean per-frame LLR) and supervector cosines of clips (`frames`,
/// with their supervectors `svs` under `clf`'s UBM) against every speaker of `clf`
/// and `enrolled`: two clips × speakers matrices.
fn gmm_and_cosine(
    clf: &GmmUbmClassifier,
    enrolled: &EnrolledSpeakers,
    frames: &[ArrayView2<f32>],
    svs: &[Array1<f32>],
) -> Result<(Array2<f64>, Array2<f64>)> {
    let gmm = clf.scores_clips(frames)?;
    let cos = cosine_matrix(enrolled, &svs.iter().collect::<Vec<_>>())?;
    Ok((gmm, cos))
}

/// GMM-UBM scores and supervector cosines (see [`gmm_and_cosine`]) of every
/// training clip against the model set's speakers, read [`CALIBRATION_BATCH`]
/// clips at a time: what the s-norm's z-norm statistics come from.
fn training_scores(m: &GmmUbmModel, data: &TrainingSet<'_>) -> Result<(Array2<f64>, Array2<f64>)> {
    let k = m.enrolled.len();
    let mut gmm = Array2::zeros((data.len(), k));
    let mut cos = Array2::zeros((data.len(), k));
    let all: Vec<usize> = (0..data.len()).collect();
    let ubm = m.classifier.ubm();
    let mut row = 0;
    for_batches(data, &all, |batch, frames| {
        let views: Vec<ArrayView2<f32>> = frames.iter().map(|f| f.view()).collect();
        let svs = clip_supervectors(ubm, m.classifier.relevance_factor(), &views)?;
        let (g, c) = gmm_and_cosine(&m.classifier, &m.enrolled, &views, &svs)?;
        let rows = s![row..row + batch.len(), ..];
        gmm.slice_mut(rows).assign(&g);
        cos.slice_mut(rows).assign(&c);
        row += batch.len();
        Ok(())
    })?;
    Ok((gmm, cos))
}

/// Speaker folds: the `k` speakers shuffled (seeded) and dealt round-robin over
/// `groups` groups; each group is left out of one fold entirely.
fn speaker_groups(k: usize, groups: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..k).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5be4_c0de));
    let mut out = vec![Vec::new(); groups.clamp(1, k)];
    let n = out.len();
    for (p, s) in order.into_iter().enumerate() {
        out[p % n].push(s);
    }
    for g in out.iter_mut() {
        g.sort_unstable();
    }
    out
}

/// One speaker fold of [`held_out_trials`]: which speakers are enrolled (known)
/// and which clips are theirs.
struct SpeakerFold {
    /// The enrolled speakers (classes), sorted.
    known: Vec<usize>,
    /// The known speakers' clips (positions), in clip order.
    known_clips: Vec<usize>,
    /// Class of every known clip among `known`.
    local_labels: Vec<usize>,
    /// The left-out speakers' clips (positions), in clip order.
    outside: Vec<usize>,
}

impl SpeakerFold {
    fn new(data: &TrainingSet<'_>, group: &[usize]) -> Self {
        let k = data.n_speakers();
        let known: Vec<usize> = (0..k).filter(|s| group.binary_search(s).is_err()).collect();
        let mut fold = SpeakerFold {
            known: Vec::new(),
            known_clips: Vec::new(),
            local_labels: Vec::new(),
            outside: Vec::new(),
        };
        for (i, l) in data.labels.iter().enumerate() {
            match known.binary_search(l) {
                Ok(local) => {
                    fold.known_clips.push(i);
                    fold.local_labels.push(local);
                }
                Err(_) => fold.outside.push(i),
            }
        }
        fold.known = known;
        fold
    }
}

/// The UBM training frames of every speaker fold: each fold's known clips' frames,
/// every `step`-th of them as if stacked in clip order, at most `max` per fold.
/// Two passes over the clips (their frame counts, then the samples), all folds at
/// once: at most `folds.len() × max` frames are held.
fn fold_ubm_samples(
    data: &TrainingSet<'_>,
    folds: &[SpeakerFold],
    max: usize,
) -> Result<Vec<Array2<f32>>> {
    let all: Vec<usize> = (0..data.len()).collect();
    let mut counts = Vec::with_capacity(data.len());
    for_batches(data, &all, |_, frames| {
        counts.extend(frames.iter().map(|f| f.nrows()));
        Ok(())
    })?;
    let mut samples: Vec<FrameDecimator> = folds
        .iter()
        .map(|f| FrameDecimator::new(f.known_clips.iter().map(|&i| counts[i]).sum(), max))
        .collect();
    for_batches(data, &all, |batch, frames| {
        for (&i, x) in batch.iter().zip(frames) {
            for (fold, sample) in folds.iter().zip(samples.iter_mut()) {
                if fold.known.binary_search(&data.labels[i]).is_ok() {
                    sample.add(x.view())?;
                }
            }
        }
        Ok(())
    })?;
    samples.into_iter().map(FrameDecimator::finish).collect()
}

/// One speaker's models in every clip fold of a speaker fold: for each fold of
/// `active`, the UBM MAP-adapted to the speaker's clips kept in that fold (those
/// whose `fold_of` is another), and the mean of their supervectors. `clips` are
/// the speaker's clips (indices into `fold_of`), `frames` their frames.
fn speaker_fold_models(
    ubm: &Ubm,
    relevance: f64,
    speaker: &str,
    clips: &[usize],
    frames: &[Array2<f32>],
    fold_of: &[usize],
    active: &[usize],
) -> Result<Vec<(DiagGmm, Array1<f32>)>> {
    let svs = frames
        .iter()
        .map(|f| ubm.supervector_offset(&ubm.map_adapt(f.view(), relevance)?))
        .collect::<Result<Vec<_>>>()?;
    let dim = svs.first().map_or(0, |v| v.len());
    active
        .iter()
        .map(|&fold| {
            let kept: Vec<usize> = (0..clips.len())
                .filter(|&q| fold_of[clips[q]] != fold)
                .collect();
            if kept.is_empty() {
                return Err(Error::too_short(
                    format!(
                        "the clips of speaker `{speaker}` left to adapt in open-set \
                         calibration fold {fold}"
                    ),
                    1.0,
                    0.0,
                    "clip",
                ));
            }
            let mut mean = Array1::<f32>::zeros(dim);
            for &q in &kept {
                mean += &svs[q];
            }
            mean /= kept.len() as f32;
            let views: Vec<ArrayView2<f32>> = kept.iter().map(|&q| frames[q].view()).collect();
            let stacked = stack_views(&views)?;
            Ok((ubm.map_adapt(stacked.view(), relevance)?, mean))
        })
        .collect()
}

/// The cross-validation trials of the open-set calibration, from the training
/// clips of `data` alone. The speakers are dealt into `speaker_folds` groups; for
/// each group, a UBM is trained (with `ubm_params`, as the model's) on the *other*
/// speakers' frames (every `step`-th, at most `ubm_params.max_frames`), and those
/// speakers' clips are split into `folds` clip folds ([`open_set_folds`]): each
/// held-out clip is scored against speaker models MAP-adapted, and embeddings
/// averaged, without it (target and non-target trials), and the left-out group's
/// clips are scored against the first clip fold's models as never-enrolled voices
/// (impostor trials) — voices that neither the UBM, nor the embedding centre, nor
/// any speaker model has seen, as a real never-enrolled query. z-norm statistics
/// use the `top_k` highest cohort scores.
///
/// The clips' frames come from the training set's frame source
/// ([`TrainingSet::frames_of`]), [`CALIBRATION_BATCH`] clips or a few speakers at
/// a time, so frames that stream from disk are never all held: two passes for the
/// UBM samples, then two per speaker fold (adapting the fold's speaker models;
/// scoring every clip against them). The trials themselves hold one score per
/// trial and candidate speaker.
///
/// Errors: [`Error::TooShort`] with fewer than 3 speakers; [`Error::Training`]
/// when the folds give no enrolled or no never-enrolled trial; those of the
/// frame source and of the UBM.
pub fn held_out_trials(
    ubm_params: &UbmParams,
    data: &TrainingSet<'_>,
    folds: usize,
    speaker_folds: usize,
    seed: u64,
    top_k: usize,
) -> Result<HeldOutTrials> {
    use rayon::prelude::*;
    let k = data.n_speakers();
    if k < 3 {
        return Err(Error::too_short(
            "open-set calibration",
            3.0,
            k as f64,
            "speaker",
        ));
    }
    let relevance = ubm_params.relevance_factor;
    let groups: Vec<SpeakerFold> = speaker_groups(k, speaker_folds, seed)
        .iter()
        .map(|g| SpeakerFold::new(data, g))
        .filter(|f| f.known.len() >= 2)
        .collect();
    let samples = fold_ubm_samples(data, &groups, ubm_params.max_frames)?;
    let chunk = (rayon::current_num_threads() * 2).max(1);
    let mut t = HeldOutTrials::default();
    for (g, pooled) in groups.iter().zip(samples) {
        let ubm = Ubm::fit(
            pooled.view(),
            &GmmParams {
                seed,
                ..ubm_params.ubm.clone()
            },
        )?;
        drop(pooled);
        let names: Vec<String> = g.known.iter().map(|&s| data.speakers[s].clone()).collect();
        let nk = g.known.len();
        let nc = g.known_clips.len();
        let clip_folds = open_set_folds(&g.local_labels, nk, folds, seed);
        let active: Vec<usize> = (0..clip_folds.len())
            .filter(|&f| !clip_folds[f].is_empty())
            .collect();
        // The clip fold of every training clip of a known speaker (by position).
        let mut fold_of = vec![usize::MAX; data.len()];
        for (f, held) in clip_folds.iter().enumerate() {
            for &p in held {
                fold_of[g.known_clips[p]] = f;
            }
        }

        // The fold models, a few known speakers at a time.
        let mut per_fold: Vec<(Vec<DiagGmm>, Array2<f32>)> = Vec::new();
        let mut local = 0;
        for classes in g.known.chunks(chunk) {
            let lists: Vec<Vec<usize>> = classes.iter().map(|&c| data.speaker_clips(c)).collect();
            let flat: Vec<usize> = lists.concat();
            let mut frames = data.frames_of(&flat)?.into_iter();
            let frames: Vec<Vec<Array2<f32>>> = lists
                .iter()
                .map(|l| frames.by_ref().take(l.len()).collect())
                .collect();
            let results = classes
                .par_iter()
                .zip(lists.par_iter().zip(frames.par_iter()))
                .map(|(&c, (l, f))| {
                    speaker_fold_models(&ubm, relevance, &data.speakers[c], l, f, &fold_of, &active)
                })
                .collect::<Result<Vec<_>>>()?;
            for per_speaker in results {
                for (a, (adapted, mean)) in per_speaker.into_iter().enumerate() {
                    if per_fold.len() <= a {
                        per_fold.push((Vec::with_capacity(nk), Array2::zeros((nk, mean.len()))));
                    }
                    per_fold[a].0.push(adapted);
                    per_fold[a].1.row_mut(local).assign(&mean);
                }
                local += 1;
            }
        }
        let fold_models = per_fold
            .into_iter()
            .map(|(adapted, means)| {
                Ok((
                    GmmUbmClassifier::from_adapted(ubm.clone(), &names, adapted, relevance)?,
                    EnrolledSpeakers::enroll(names.clone(), means.view(), true)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;

        // Known clips for the held-out rows and the z-norm cohort (every fold);
        // the left-out clips in the first fold only.
        let scored: Vec<usize> = g.known_clips.iter().chain(&g.outside).copied().collect();
        let rows_of = |f: usize| if f == 0 { scored.len() } else { nc };
        let mut gmm: Vec<Array2<f64>> = active
            .iter()
            .map(|&f| Array2::zeros((rows_of(f), nk)))
            .collect();
        let mut cos = gmm.clone();
        let mut row = 0;
        for_batches(data, &scored, |batch, frames| {
            let views: Vec<ArrayView2<f32>> = frames.iter().map(|f| f.view()).collect();
            let svs = clip_supervectors(&ubm, relevance, &views)?;
            for (a, (clf, enrolled)) in fold_models.iter().enumerate() {
                let take = gmm[a].nrows().saturating_sub(row).min(batch.len());
                if take == 0 {
                    continue;
                }
                let (s, c) = gmm_and_cosine(clf, enrolled, &views[..take], &svs[..take])?;
                gmm[a].slice_mut(s![row..row + take, ..]).assign(&s);
                cos[a].slice_mut(s![row..row + take, ..]).assign(&c);
            }
            row += batch.len();
            Ok(())
        })?;
        drop(fold_models);

        let labels = &g.local_labels;
        for (a, &fold) in active.iter().enumerate() {
            let (gmm, cos) = (&gmm[a], &cos[a]);
            type Z = Option<(CohortStats, CohortStats)>;
            let z_for = |own: Option<usize>| -> Result<Vec<Z>> {
                let zg = z_stats_of(gmm, labels, own, top_k)?;
                let zc = z_stats_of(cos, labels, own, top_k)?;
                Ok(zg.into_iter().zip(zc).map(|(g, c)| g.zip(c)).collect())
            };
            let z_by_own = (0..nk)
                .map(|o| z_for(Some(o)))
                .collect::<Result<Vec<_>>>()?;
            for &p in &clip_folds[fold] {
                t.gmm.push(gmm.row(p).to_vec());
                t.cosine.push(cos.row(p).to_vec());
                t.own.push(Some(labels[p]));
                t.clips.push(g.known_clips[p]);
                t.z.push(z_by_own[labels[p]].clone());
            }
            if fold == 0 {
                let z_out = z_for(None)?;
                for (q, &i) in g.outside.iter().enumerate() {
                    t.gmm.push(gmm.row(nc + q).to_vec());
                    t.cosine.push(cos.row(nc + q).to_vec());
                    t.own.push(None);
                    t.clips.push(i);
                    t.z.push(z_out.clone());
                }
            }
        }
    }
    if !t.own.iter().any(Option::is_none) || !t.own.iter().any(Option::is_some) {
        return Err(Error::training(
            "open-set calibration",
            "too few speakers and clips for trials of both enrolled and never-enrolled voices",
        ));
    }
    Ok(t)
}

/// Calibrate one method on held-out trials and measure it there. Returns the
/// choice and the (target, non-target) trial counts.
fn fit_choice(
    t: &HeldOutTrials,
    source: ScoreSource,
    norm: ScoreNorm,
    stage1: Option<(LinearCalibration, LinearCalibration)>,
    params: &OpenSetParams,
) -> Result<(NormChoice, usize, usize)> {
    let top_k = params.cohort_top_k;
    let (mut targets, mut nontargets, mut impostor, mut enrolled) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..t.own.len() {
        let q = QueryRows {
            gmm: &t.gmm[n],
            cosine: &t.cosine[n],
        };
        let z = |j: usize| match t.z[n].get(j) {
            Some(Some((g, c))) if norm.per_speaker() => (Some(*g), Some(*c)),
            _ => (None, None),
        };
        let s1 = stage1.as_ref();
        let (j, s) = best_of(source, norm, s1, q, None, &z, top_k);
        match t.own[n] {
            Some(own) => {
                targets.push(method_score(source, norm, s1, q, own, None, &z, top_k));
                enrolled.push((j == own, s));
            }
            None => {
                // A never-enrolled voice: every candidate is a non-target.
                for j in 0..q.gmm.len() {
                    nontargets.push(method_score(source, norm, s1, q, j, None, &z, top_k));
                }
                impostor.push(s);
            }
        }
    }
    let cal = LinearCalibration::fit(&targets, &nontargets, &params.calibration)?;
    if cal.scale <= 0.0 {
        return Err(Error::param(
            "calibration",
            format!("{source}/{norm}: held-out target trials do not score above non-target ones"),
        ));
    }
    let best: Vec<f64> = impostor.iter().map(|&s| cal.llr(s)).collect();
    let threshold = threshold_at_false_alarm(&best, params.false_alarm)?;
    let trials: Vec<OpenSetTrial> = enrolled
        .iter()
        .map(|&(correct, s)| OpenSetTrial {
            enrolled: true,
            correct,
            score: cal.llr(s),
        })
        .chain(best.iter().map(|&score| OpenSetTrial {
            enrolled: false,
            correct: false,
            score,
        }))
        .collect();
    let (cv_eer, _) = open_set_eer(&trials)?;
    let r = open_set_report(&trials, threshold)?;
    Ok((
        NormChoice {
            source,
            norm,
            stage1,
            calibration: cal,
            threshold,
            cv_eer,
            cv_identified: r.enrolled_identified,
            cv_closed_set: r.closed_set_correct,
        },
        targets.len(),
        nontargets.len(),
    ))
}

/// The choice with the lowest cross-validated EER among `choices` passing
/// `keep`; ties go to the simpler source and normalisation.
fn best_choice(choices: &[NormChoice], keep: impl Fn(&NormChoice) -> bool) -> Option<&NormChoice> {
    choices.iter().filter(|c| keep(c)).min_by(|a, b| {
        a.cv_eer
            .total_cmp(&b.cv_eer)
            .then(a.source.cmp(&b.source))
            .then(a.norm.cmp(&b.norm))
    })
}

impl OpenSetCalibration {
    /// Check a calibration read from disk against its model set.
    pub fn validate(&self, models: &SpeakerModels) -> Result<()> {
        let c = &self.method.calibration;
        let bad = |reason: String| Err(Error::param("calibration", reason));
        if !(c.scale.is_finite()
            && c.scale > 0.0
            && c.offset.is_finite()
            && self.threshold.is_finite())
        {
            return bad("open-set calibration is not finite and increasing".into());
        }
        if self.method.source == ScoreSource::Fusion && self.method.stage1.is_none() {
            return bad("open-set fusion without its first-stage calibrations".into());
        }
        if models.get(self.model).is_none() {
            return bad(format!(
                "open-set calibration of {} without that model",
                self.model
            ));
        }
        if self.cohort_top_k < 2 {
            return bad("open-set calibration with a cohort of fewer than 2".into());
        }
        if self.method.norm.per_speaker() {
            if let Some(s) = models
                .speakers
                .iter()
                .find(|s| !self.z_stats.contains_key(*s))
            {
                return bad(format!(
                    "open-set calibration ({}) has no statistics of speaker {s}",
                    self.method.label()
                ));
            }
        }
        Ok(())
    }

    /// Calibrate a trained GMM-UBM model set on its own training clips (see the
    /// module docs): `data` is exactly the training set it was trained on (its
    /// clips, labels and speakers; the seed is the set's). The clips' frames are
    /// read from the set's frame source a batch or a few speakers at a time
    /// ([`held_out_trials`]), so a set whose frames stream from disk is calibrated
    /// in bounded memory, to the same calibration as the same clips in memory.
    ///
    /// Errors: [`Error::Shape`] when `data`'s speakers are not the model set's;
    /// [`Error::Training`] when no method separates the held-out speakers from
    /// never-enrolled ones better than chance; those of [`held_out_trials`].
    pub fn fit(
        models: &SpeakerModels,
        data: &TrainingSet<'_>,
        params: &OpenSetParams,
    ) -> Result<OpenSetCalibration> {
        params.validate()?;
        let m = models.gmm_ubm().ok_or_else(|| {
            Error::param("models", "open-set calibration needs the gmm-ubm model")
        })?;
        if data.speakers != models.speakers.as_slice() {
            return Err(Error::shape(
                "the training set's speakers",
                "the model set's",
                format_args!("{:?}", data.speakers),
            ));
        }
        let k = models.speakers.len();
        let norms: Vec<ScoreNorm> = match params.norm {
            Some(n) => vec![n],
            None if k >= MIN_NORM_SPEAKERS => ScoreNorm::ALL.to_vec(),
            None => vec![ScoreNorm::Raw],
        };
        let sources: Vec<ScoreSource> = match params.source {
            Some(s) => vec![s],
            None => ScoreSource::ALL.to_vec(),
        };
        let t = held_out_trials(
            &models.params.settings.gmm_ubm,
            data,
            params.folds,
            params.speaker_folds,
            data.seed,
            params.cohort_top_k,
        )?;
        let mut choices: Vec<NormChoice> = Vec::new();
        let mut counts = (0, 0);
        let mut last_err = None;
        let mut skipped = Vec::new();
        for &norm in &norms {
            let single = |source| fit_choice(&t, source, norm, None, params);
            let g = single(ScoreSource::Gmm);
            let c = single(ScoreSource::Cosine);
            let fused = match (&g, &c) {
                (Ok(g), Ok(c)) if sources.contains(&ScoreSource::Fusion) => Some(fit_choice(
                    &t,
                    ScoreSource::Fusion,
                    norm,
                    Some((g.0.calibration, c.0.calibration)),
                    params,
                )),
                _ => None,
            };
            for (source, r) in [
                (ScoreSource::Gmm, Some(g)),
                (ScoreSource::Cosine, Some(c)),
                (ScoreSource::Fusion, fused),
            ] {
                match r {
                    Some(Ok((choice, nt, nn))) if sources.contains(&source) => {
                        counts = (nt, nn);
                        choices.push(choice);
                    }
                    Some(Err(e)) => {
                        skipped.push(format!("{source}/{norm}: {e}"));
                        last_err = Some(e);
                    }
                    _ => {}
                }
            }
        }
        // A method no better than chance on the trials cannot make verdicts.
        let (usable, useless): (Vec<NormChoice>, Vec<NormChoice>) =
            choices.into_iter().partition(|c| c.cv_eer < 0.5);
        for c in &useless {
            skipped.push(format!(
                "{}: cross-validated open-set EER {:.1} %, no better than chance",
                c.label(),
                100.0 * c.cv_eer
            ));
        }
        let choices = usable;
        let Some(chosen) = best_choice(&choices, |_| true).cloned() else {
            return Err(Error::training(
                "open-set calibration",
                format!(
                    "no scoring method tells held-out training speakers from never-enrolled \
                     ones better than chance ({})",
                    if skipped.is_empty() {
                        last_err.map(|e| e.to_string()).unwrap_or_default()
                    } else {
                        skipped.join("; ")
                    }
                ),
            ));
        };
        let z_stats = if chosen.norm.per_speaker() {
            // The full models against the other speakers' training clips.
            let (g, c) = training_scores(m, data)?;
            // Every speaker has a cohort here: the other speakers' clips.
            let cohort = |z: Vec<Option<CohortStats>>| {
                z.into_iter()
                    .map(|s| s.ok_or_else(|| Error::too_short("z-norm cohort", 1.0, 0.0, "clip")))
                    .collect::<Result<Vec<_>>>()
            };
            let zg = cohort(z_stats_of(&g, data.labels, None, params.cohort_top_k)?)?;
            let zc = cohort(z_stats_of(&c, data.labels, None, params.cohort_top_k)?)?;
            models
                .speakers
                .iter()
                .cloned()
                .zip(zg.into_iter().zip(zc))
                .collect()
        } else {
            BTreeMap::new()
        };
        let mut trial_clips = t.clips.clone();
        trial_clips.sort_unstable();
        trial_clips.dedup();
        Ok(OpenSetCalibration {
            model: ModelKind::GmmUbm,
            threshold: chosen.threshold,
            method: chosen,
            cohort_top_k: params.cohort_top_k,
            false_alarm: params.false_alarm,
            folds: params.folds,
            z_stats,
            choices,
            skipped,
            target_trials: counts.0,
            nontarget_trials: counts.1,
            trial_clips,
            fitted_speakers: k,
        })
    }

    /// The calibration after speaker `speaker` was enrolled (or replaced) or
    /// removed. Raw scores and t-norm need nothing per speaker: the calibration is
    /// kept as fitted (the t-norm cohort is the speaker set of the moment). s-norm
    /// needs statistics of every speaker's model against the other speakers'
    /// training clips, which a speaker enrolled later has not: the calibration
    /// switches to the best cross-validated method that needs none (fitted at
    /// training time on the same trials, so the switch costs nothing). A removed
    /// speaker's statistics are dropped. Returns `(refreshed, what)`: whether the
    /// calibration changed, and a sentence for the user.
    pub fn after_change(&mut self, speaker: &str, removed: bool) -> (bool, String) {
        if removed {
            self.z_stats.remove(speaker);
        } else if self.method.norm.per_speaker() {
            if let Some(c) = best_choice(&self.choices, |c| !c.norm.per_speaker()).cloned() {
                let before = self.method.label();
                self.threshold = c.threshold;
                self.method = c;
                self.z_stats.clear();
                return (
                    true,
                    format!(
                        "open-set calibration refreshed: {before} needs statistics speaker \
                         {speaker:?} does not have, so verdicts now use {} (fitted at \
                         training time on the same trials; cross-validated EER {:.1} %), \
                         threshold {:.2}",
                        self.method.label(),
                        100.0 * self.method.cv_eer,
                        self.threshold
                    ),
                );
            }
        }
        (
            false,
            format!(
                "open-set calibration kept ({} scores, fitted on {} training speakers), \
                 threshold {:.2}",
                self.method.label(),
                self.fitted_speakers,
                self.threshold
            ),
        )
    }

    /// The z-norm statistics of speaker `id` (s-norm only).
    fn z_of(&self, id: &str) -> (Option<CohortStats>, Option<CohortStats>) {
        match self.z_stats.get(id) {
            Some((g, c)) if self.method.norm.per_speaker() => (Some(*g), Some(*c)),
            _ => (None, None),
        }
    }
}

impl SpeakerModels {
    /// The GMM-UBM model, if this set holds one.
    pub fn gmm_ubm(&self) -> Option<&GmmUbmModel> {
        match self.get(ModelKind::GmmUbm) {
            Some(crate::models::speaker::TrainedModel::GmmUbm(m)) => Some(m),
            _ => None,
        }
    }

    /// The open-set calibration, or the error saying the model set has none.
    pub fn open_set(&self) -> Result<&OpenSetCalibration> {
        self.calibration
            .as_ref()
            .ok_or_else(|| Error::RetrainNeeded {
                what: match &self.calibration_skipped {
                    Some(why) => {
                        format!("this model directory has no open-set calibration ({why})")
                    }
                    None => "this model directory has no open-set calibration (it needs the \
                             gmm-ubm model and was trained without verdicts)"
                        .into(),
                },
            })
    }

    /// The threshold a verdict uses: `threshold`, or the calibration's default.
    fn verdict_threshold(&self, threshold: Option<f64>) -> Result<f64> {
        let t = threshold.unwrap_or(self.open_set()?.threshold);
        if !t.is_finite() {
            return Err(Error::param("threshold", "must be a finite number"));
        }
        Ok(t)
    }

    /// The open-set verdicts of clips: for each, the enrolled speaker with the best
    /// calibrated score (GMM-UBM frame LLR and/or supervector cosine, normalised, as
    /// the calibration's method says), its calibrated LLR, accepted when `>=
    /// threshold` (the calibration's default threshold when `None`).
    pub fn verdicts(&self, clips: &[ClipFeatures], threshold: Option<f64>) -> Result<Vec<Verdict>> {
        let cal = self.open_set()?;
        let threshold = self.verdict_threshold(threshold)?;
        let m = self.gmm_ubm().ok_or_else(|| {
            Error::param(
                "calibration",
                format!("the calibrated model {} is missing", cal.model),
            )
        })?;
        if clips.is_empty() {
            return Ok(Vec::new());
        }
        for c in clips {
            if c.frames.nrows() == 0 {
                return Err(Error::NoSpeechFound {
                    speech_seconds: 0.0,
                    reason: "a clip to identify has no voiced frame".into(),
                });
            }
        }
        let gmm = m.scores(&ClipBatch::new(clips)?)?.values;
        let cosine = if cal.method.source == ScoreSource::Gmm {
            Array2::zeros(gmm.dim())
        } else {
            let frames: Vec<ArrayView2<f32>> = clips.iter().map(|c| c.frames.view()).collect();
            let ubm = m.classifier.ubm();
            let svs = clip_supervectors(ubm, m.classifier.relevance_factor(), &frames)?;
            cosine_matrix(&m.enrolled, &svs.iter().collect::<Vec<_>>())?
        };
        let z = |j: usize| cal.z_of(&self.speakers[j]);
        let c = &cal.method;
        let mut out = Vec::with_capacity(clips.len());
        for (g, cs) in gmm.outer_iter().zip(cosine.outer_iter()) {
            let (g, cs) = (g.to_vec(), cs.to_vec());
            if let Some(i) = g.iter().chain(&cs).position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: "speaker scores".into(),
                    index: i,
                    value: f32::NAN,
                });
            }
            let q = QueryRows {
                gmm: &g,
                cosine: &cs,
            };
            let (j, s) = best_of(
                c.source,
                c.norm,
                c.stage1.as_ref(),
                q,
                None,
                &z,
                cal.cohort_top_k,
            );
            let id = &self.speakers[j];
            out.push(Verdict::decide(
                (id, self.display_name(id)),
                c.calibration.llr(s),
                threshold,
            ));
        }
        Ok(out)
    }

    /// The verdict of one clip's features (see [`SpeakerModels::verdicts`]); a clip
    /// without a voiced frame is [`Verdict::no_speech`].
    pub fn verdict(&self, features: &ClipFeatures, threshold: Option<f64>) -> Result<Verdict> {
        let t = self.verdict_threshold(threshold)?;
        if features.frames.nrows() == 0 {
            return Ok(Verdict::no_speech(t));
        }
        let mut v = self.verdicts(std::slice::from_ref(features), Some(t))?;
        v.pop()
            .ok_or_else(|| Error::param("clips", "no verdict for one clip"))
    }

    /// The verdict of a recording: features extracted as in training, then
    /// [`SpeakerModels::verdict`]; a recording without speech is
    /// [`Verdict::no_speech`], never a speaker.
    /// A narrowband recording is judged by the narrowband models (and their own
    /// calibration) when they were trained and calibrated ([`SpeakerModels::route`]).
    pub fn verdict_audio(&self, audio: &Audio, threshold: Option<f64>) -> Result<Verdict> {
        let t = self.verdict_threshold(threshold)?;
        if audio.is_empty() {
            return Ok(Verdict::no_speech(t));
        }
        let m = match self.route(audio)? {
            nb if nb.calibration.is_some() => nb,
            _ => self,
        };
        let t = m.verdict_threshold(threshold)?;
        match extract(audio, &m.params) {
            Ok(f) => m.verdict(&f, Some(t)),
            Err(Error::NoSpeech { .. } | Error::NoSpeechFound { .. }) => Ok(Verdict::no_speech(t)),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::speaker::subsample_frames;

    fn clip(rows: usize, base: f32) -> ClipFeatures {
        ClipFeatures {
            clip: vec![0.0],
            frames: Array2::from_shape_fn((rows, 3), |(i, j)| base + (i * 3 + j) as f32),
        }
    }

    #[test]
    fn decimator_takes_the_rows_of_the_stacked_subsample() {
        // Clip lengths around every step boundary, empty clips included.
        let clips: Vec<ClipFeatures> = [7, 0, 1, 13, 5, 2, 29, 3, 0, 11]
            .iter()
            .enumerate()
            .map(|(c, &n)| clip(n, 1000.0 * c as f32))
            .collect();
        let refs: Vec<&ClipFeatures> = clips.iter().collect();
        let total: usize = clips.iter().map(|c| c.frames.nrows()).sum();
        for max in [1, 2, 3, 5, 7, 10, 16, 33, total - 1, total, total + 5] {
            let mut d = FrameDecimator::new(total, max);
            for c in &clips {
                d.add(c.frames.view()).unwrap();
            }
            let got = d.finish().unwrap();
            assert_eq!(got, subsample_frames(&refs, max).unwrap(), "max {max}");
            assert!(got.nrows() <= max.max(1), "max {max}: {} rows", got.nrows());
        }
        // Clips of different widths are an error, not a panic.
        let mut d = FrameDecimator::new(10, 5);
        d.add(Array2::<f32>::zeros((4, 3)).view()).unwrap();
        assert!(matches!(
            d.add(Array2::<f32>::zeros((4, 2)).view()),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            FrameDecimator::new(0, 5).finish(),
            Err(Error::TooShort { .. })
        ));
    }
}
