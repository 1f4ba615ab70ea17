//! Open-set verdicts: "this is speaker X" or "not an enrolled voice", from the
//! GMM-UBM model set's scores calibrated at training time on the training clips
//! alone.
//!
//! Calibration ([`OpenSetCalibration::fit`], trials from [`held_out_trials`]),
//! with the model set's own GMM-UBM and nothing refitted:
//! - *target trials*: each training clip against every enrolled speaker, its own
//!   speaker's model and embedding made without it (leave-one-out, exact and
//!   cheap: MAP-adapted means are a function of summed per-clip statistics);
//! - *never-enrolled trials*: the same clip against the other speakers only, as
//!   a voice that was never enrolled.
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
//! The calibration reads the training clips' frames a few speakers at a time
//! ([`TrainingSet::for_each_speaker`]), so a set whose frames stream from disk
//! ([`TrainingSet::streaming`]) is calibrated without holding its frames, and to
//! the same calibration as the same clips held in memory. At most
//! [`OpenSetParams::max_trial_clips`] clips become trials.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, ArrayView2};
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
use crate::models::speaker::gmm_ubm::{speaker_part, UbmParams};
use crate::models::speaker::FrameSampler;
use crate::models::speaker::{ClipBatch, GmmUbmModel, SpeakerModel, TrainingSet};
use crate::models::{DiagGmm, GmmParams, Ubm};
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
    /// Training clips that become held-out trials, at most (an equal share of
    /// each speaker's, at least 2 each); at least 3. Default 1000: every clip of a
    /// set of 24 speakers × 40 clips, 2 per speaker at 650 speakers. Each trial
    /// clip is scored against every speaker, so this bounds the calibration's cost.
    pub max_trial_clips: usize,
    /// Speaker folds (at least 2): each fold's group of speakers plays the
    /// never-enrolled voices, against a UBM and speaker models made without them.
    /// Default 4: three quarters of the speakers enrolled in each fold.
    pub speaker_folds: usize,
    /// EM iterations of a fold's UBM, started from the model's UBM on its frame
    /// sample without the fold's group (at least 1). Default 10.
    pub ubm_refit_iter: usize,
    /// The default threshold accepts at most this fraction of the held-out impostor
    /// best scores, in [0, 1). Default 0.01 (1 % false acceptance).
    pub false_alarm: f64,
    /// The logistic-regression settings of the score calibration (default prior 0.5).
    pub calibration: CalibrationParams,
    /// The score normalisation; `None` (the default): the one of [`ScoreNorm::ALL`]
    /// with the lowest open-set equal error rate on the cross-validation trials
    /// (t-norm and s-norm are tried from [`MIN_NORM_SPEAKERS`] speakers on).
    pub norm: Option<ScoreNorm>,
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
            max_trial_clips: 1000,
            speaker_folds: 4,
            ubm_refit_iter: 10,
            false_alarm: 0.01,
            calibration: CalibrationParams::default(),
            norm: None,
            source: None,
            cohort_top_k: 10,
        }
    }
}

impl OpenSetParams {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if self.speaker_folds < 2 {
            return Err(Error::param(
                "speaker_folds",
                format!("must be at least 2, got {}", self.speaker_folds),
            ));
        }
        if self.ubm_refit_iter < 1 {
            return Err(Error::param(
                "ubm_refit_iter",
                format!("must be at least 1, got {}", self.ubm_refit_iter),
            ));
        }
        if self.max_trial_clips < 3 {
            return Err(Error::param(
                "max_trial_clips",
                format!("must be at least 3, got {}", self.max_trial_clips),
            ));
        }
        if !(0.0..1.0).contains(&self.false_alarm) {
            return Err(Error::param(
                "false_alarm",
                format!("must be in [0, 1), got {}", self.false_alarm),
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
    RowCohort::new(row, top_k).normalised(norm, row, j, exclude, z)
}

/// One score row's highest scores, so that the adaptive cohort of every
/// candidate (the row without the candidate and an excluded index) costs
/// `O(top_k)` instead of a pass over the row: a query against `k` speakers is
/// normalised in `O(k · top_k)`, not `O(k²)`.
#[derive(Debug, Clone)]
struct RowCohort {
    /// The `top_k + 2` highest `(score, index)` pairs, highest first; empty when
    /// the row is too short for every cohort to be its `top_k` highest.
    top: Vec<(f64, usize)>,
    top_k: usize,
}

impl RowCohort {
    fn new(row: &[f64], top_k: usize) -> Self {
        let keep = top_k + 2;
        if top_k == 0 || row.len() <= keep {
            return RowCohort {
                top: Vec::new(),
                top_k,
            };
        }
        let mut top: Vec<(f64, usize)> = row.iter().copied().zip(0..).collect();
        top.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
        top.truncate(keep);
        top.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        RowCohort { top, top_k }
    }

    /// The cohort statistics of candidate `j`: the `top_k` highest of the row
    /// without `j` and `exclude`; `None` when the cohort has fewer than 2 members.
    fn stats(&self, row: &[f64], j: usize, exclude: Option<usize>) -> Option<CohortStats> {
        if self.top.is_empty() {
            // A short row: the cohort is (nearly) the whole row.
            let cohort: Vec<f64> = row
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != j && Some(*k) != exclude)
                .map(|(_, v)| *v)
                .collect();
            return match CohortStats::from_scores(&cohort, Some(self.top_k)) {
                Ok(t) if cohort.len() >= 2 => Some(t),
                _ => None,
            };
        }
        // The row holds more than top_k + 2 scores, so skipping at most two
        // leaves top_k of the cohort's highest among the kept ones.
        let mut s = [0.0f64; 64];
        let mut buf = Vec::new();
        let vals: &mut [f64] = if self.top_k <= s.len() {
            &mut s[..self.top_k]
        } else {
            buf.resize(self.top_k, 0.0);
            &mut buf
        };
        let mut n = 0;
        for &(v, k) in &self.top {
            if k == j || Some(k) == exclude {
                continue;
            }
            if n == vals.len() {
                break;
            }
            vals[n] = v;
            n += 1;
        }
        CohortStats::from_scores(vals, None).ok()
    }

    /// [`normalised_score`] of candidate `j`.
    fn normalised(
        &self,
        norm: ScoreNorm,
        row: &[f64],
        j: usize,
        exclude: Option<usize>,
        z: Option<&CohortStats>,
    ) -> f64 {
        let raw = row[j];
        if norm == ScoreNorm::Raw {
            return raw;
        }
        let Some(t) = self.stats(row, j, exclude) else {
            return raw;
        };
        match (norm, z) {
            (ScoreNorm::Snorm, Some(z)) => 0.5 * (z.z(raw) + t.z(raw)),
            _ => t.z(raw),
        }
    }
}

/// One query's raw scores against every enrolled speaker, from both sources,
/// with their cohorts.
#[derive(Debug, Clone)]
struct QueryRows<'a> {
    gmm: &'a [f64],
    cosine: &'a [f64],
    gmm_top: RowCohort,
    cosine_top: RowCohort,
}

impl<'a> QueryRows<'a> {
    fn new(gmm: &'a [f64], cosine: &'a [f64], top_k: usize) -> Self {
        QueryRows {
            gmm,
            cosine,
            gmm_top: RowCohort::new(gmm, top_k),
            cosine_top: RowCohort::new(cosine, top_k),
        }
    }
}

/// z-norm statistics of speaker `j` (GMM, cosine), when the method uses them.
type ZOf<'a> = dyn Fn(usize) -> (Option<CohortStats>, Option<CohortStats>) + 'a;

/// The score of method (`source`, `norm`, `stage1`) for candidate `j`.
fn method_score(
    source: ScoreSource,
    norm: ScoreNorm,
    stage1: Option<&(LinearCalibration, LinearCalibration)>,
    q: &QueryRows<'_>,
    j: usize,
    exclude: Option<usize>,
    z: &ZOf<'_>,
) -> f64 {
    let (zg, zc) = z(j);
    let g = || q.gmm_top.normalised(norm, q.gmm, j, exclude, zg.as_ref());
    let c = || {
        q.cosine_top
            .normalised(norm, q.cosine, j, exclude, zc.as_ref())
    };
    match (source, stage1) {
        (ScoreSource::Gmm, _) => g(),
        (ScoreSource::Cosine, _) => c(),
        (ScoreSource::Fusion, Some((a, b))) => a.llr(g()) + b.llr(c()),
        (ScoreSource::Fusion, None) => g() + c(),
    }
}

/// The best candidate of a query: `(speaker, score)`, leaving `exclude` out of the
/// candidates and of the cohort.
fn best_of(
    source: ScoreSource,
    norm: ScoreNorm,
    stage1: Option<&(LinearCalibration, LinearCalibration)>,
    q: &QueryRows<'_>,
    exclude: Option<usize>,
    z: &ZOf<'_>,
) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for j in (0..q.gmm.len()).filter(|&j| Some(j) != exclude) {
        let s = method_score(source, norm, stage1, q, j, exclude, z);
        if s > best.1 {
            best = (j, s);
        }
    }
    best
}

/// Held-out scores of the training clips (see [`held_out_trials`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeldOutTrials {
    /// Per trial, the GMM-UBM scores of a trial clip against every candidate
    /// speaker. A target trial's candidates are all the enrolled speakers, its own
    /// speaker's model adapted without the clip; a never-enrolled trial's are the
    /// other speakers, so its rows are one shorter.
    pub gmm: Vec<Vec<f64>>,
    /// Per trial, the cosine similarity of the clip's supervector with every
    /// candidate's embedding (its own speaker's the mean of its other clips).
    pub cosine: Vec<Vec<f64>>,
    /// Per trial, the clip's speaker as an index into the row, or `None` when the
    /// clip plays a never-enrolled voice (its speaker is not among the candidates).
    pub own: Vec<Option<usize>>,
    /// Per trial, the training clip (its position in the training set's clip order).
    pub clips: Vec<usize>,
    /// Per trial, which of [`z_sets`](Self::z_sets) holds the z-norm statistics
    /// of its candidates' models.
    pub z: Vec<usize>,
    /// z-norm statistics (GMM, cosine) of every candidate's model against the
    /// trial clips of the other speakers, one set per model the trials were
    /// scored by: the first is the enrolled speakers' full models' (what s-norm
    /// uses for queries, [`speaker_z`](Self::speaker_z)), then one per speaker
    /// fold, leaving out the fold's never-enrolled speakers' clips.
    pub z_sets: Vec<Vec<Option<(CohortStats, CohortStats)>>>,
}

impl HeldOutTrials {
    /// Per enrolled speaker, the z-norm statistics of its full model against the
    /// other speakers' trial clips: what s-norm uses for queries.
    pub fn speaker_z(&self) -> &[Option<(CohortStats, CohortStats)>] {
        self.z_sets.first().map_or(&[], |z| z.as_slice())
    }
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

/// One speaker's trial clips, scored: against every enrolled speaker's full
/// model (as a query is), and against its own model and embedding made without
/// the clip.
struct SpeakerTrials {
    /// The trial clips (positions in the training set's clip order).
    clips: Vec<usize>,
    /// GMM-UBM scores against every speaker's full model (clips × speakers).
    gmm: Array2<f64>,
    /// Supervector cosines against every speaker's embedding (clips × speakers).
    cosine: Array2<f64>,
    /// Per trial clip, its GMM-UBM score and cosine against its own speaker left
    /// without it; `None` for a speaker with no other clip.
    own: Vec<Option<(f64, f64)>>,
}

/// Score speaker `class`'s trial clips (`trial[q]` for its `q`-th clip; `frames`
/// are all its clips' in clip order, `clips` their positions). Its model without
/// clip `q` is the UBM MAP-adapted to the statistics of its other clips — exactly
/// the model training makes from those clips — and its embedding the mean of
/// their supervectors, centred as enrolment centres it.
fn speaker_trials(
    m: &GmmUbmModel,
    clips: &[usize],
    frames: &[Array2<f32>],
    trial: &[bool],
) -> Result<SpeakerTrials> {
    let ubm = m.classifier.ubm();
    let r = m.classifier.relevance_factor();
    if frames.is_empty() {
        return Err(Error::too_short(
            "a speaker's training clips",
            1.0,
            0.0,
            "clip",
        ));
    }
    let stats = frames
        .iter()
        .map(|f| ubm.mean_stats(f.view()))
        .collect::<Result<Vec<_>>>()?;
    let svs: Vec<Array1<f32>> = stats
        .iter()
        .map(|s| ubm.supervector_from_stats(s, r))
        .collect();
    let picked: Vec<usize> = (0..clips.len()).filter(|&q| trial[q]).collect();
    let views: Vec<ArrayView2<f32>> = picked.iter().map(|&q| frames[q].view()).collect();
    let gmm = m.classifier.scores_clips(&views)?;
    let cosine = cosine_matrix(
        &m.enrolled,
        &picked.iter().map(|&q| &svs[q]).collect::<Vec<_>>(),
    )?;
    // All clips' statistics and supervector sum; each clip's leave-one-out is
    // the total less its own.
    let mut total = stats[0].clone();
    let mut sum = svs[0].clone();
    for q in 1..clips.len() {
        total.add(&stats[q]);
        sum += &svs[q];
    }
    let mut own = Vec::with_capacity(picked.len());
    for (&q, view) in picked.iter().zip(&views) {
        if clips.len() < 2 {
            own.push(None);
            continue;
        }
        let mut st = total.clone();
        st.sub(&stats[q]);
        let mean = (&sum - &svs[q]) / (clips.len() - 1) as f32;
        // Scored as a query is: with the model's top-C setting.
        let g = ubm.llr_of_offsets(
            &ubm.offsets_from_stats(&st, r),
            std::slice::from_ref(view),
            m.classifier.top_c(),
        )[0];
        let a = m
            .enrolled
            .project(mean.as_slice().unwrap_or(&mean.to_vec()))?;
        let b = m
            .enrolled
            .project(svs[q].as_slice().unwrap_or(&svs[q].to_vec()))?;
        own.push(Some((g, f64::from(a.dot(&b)))));
    }
    Ok(SpeakerTrials {
        clips: picked.iter().map(|&q| clips[q]).collect(),
        gmm,
        cosine,
        own,
    })
}

/// Speaker folds: the `k` speakers shuffled (seeded) and dealt round-robin over
/// `groups` groups; each group plays the never-enrolled voices of one fold.
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

/// Scores of clips against a model: GMM-UBM LLRs and supervector cosines,
/// clips × speakers.
fn score_clips(m: &GmmUbmModel, views: &[ArrayView2<f32>]) -> Result<(Array2<f64>, Array2<f64>)> {
    let ubm = m.classifier.ubm();
    let svs = clip_supervectors(ubm, m.classifier.relevance_factor(), views)?;
    let gmm = m.classifier.scores_clips(views)?;
    let cos = cosine_matrix(&m.enrolled, &svs.iter().collect::<Vec<_>>())?;
    Ok((gmm, cos))
}

/// z-norm statistics (GMM, cosine) of every model, the `top_k` highest of its
/// cohort: the rows of `gmm` / `cos` (trial clips × models) of the other
/// enrolled speakers (`labels`, as model indices). Rows labelled `None` — clips
/// playing never-enrolled voices — are in no cohort: a query's voice never is,
/// and with it the adaptive cohort would hold the impostor's own clips.
fn z_stats(
    gmm: &[Vec<f64>],
    cos: &[Vec<f64>],
    labels: &[Option<usize>],
    top_k: usize,
) -> Result<Vec<Option<(CohortStats, CohortStats)>>> {
    let n = gmm.first().map_or(0, Vec::len);
    let one = |x: &[Vec<f64>], j: usize| -> Result<Option<CohortStats>> {
        let s: Vec<f64> = (0..labels.len())
            .filter(|&i| labels[i].is_some_and(|l| l != j))
            .map(|i| x[i][j])
            .collect();
        if s.is_empty() {
            return Ok(None);
        }
        CohortStats::from_scores(&s, Some(top_k)).map(Some)
    };
    (0..n).map(|j| Ok(one(gmm, j)?.zip(one(cos, j)?))).collect()
}

/// The training clips that become trials: at most `max_clips`, an equal share
/// of each speaker's (a seeded shuffle of its clips; at least 2 per speaker).
fn trial_selection(data: &TrainingSet<'_>, max_clips: usize, seed: u64) -> Vec<bool> {
    let k = data.n_speakers().max(1);
    let share = max_clips.div_ceil(k).max(2);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0be5_e7ca);
    let mut picked = vec![false; data.len()];
    for c in 0..k {
        let mut clips = data.speaker_clips(c);
        clips.shuffle(&mut rng);
        for &i in clips.iter().take(share) {
            picked[i] = true;
        }
    }
    picked
}

/// Training clips whose frames the calibration asks its training set for at a
/// time when it scores the trial clips against the fold models (training reads
/// a few speakers at a time).
pub const CALIBRATION_BATCH: usize = 128;

/// The trials of the open-set calibration, from the training clips of `data`
/// alone, each made as the verdict of a query is made at run time:
///
/// - **target trials**, scored by the model set's own GMM-UBM `m`: each trial
///   clip against every enrolled speaker, its own speaker's model MAP-adapted,
///   and its embedding averaged, from that speaker's *other* clips (leave-one-out:
///   the model had the clip been a query), the other speakers' full models (which
///   never saw it). Leave-one-out costs no refit: adapted means are a function of
///   the clips' summed statistics under the UBM.
/// - **never-enrolled trials**: the speakers are dealt into
///   [`OpenSetParams::speaker_folds`] groups; for each, a UBM is made without the
///   group (the model's UBM sample without their frames, a few EM iterations from
///   the model's UBM) and the other speakers' models from it, and the group's
///   trial clips are scored against those: voices the UBM, the embedding centre
///   and every speaker model have never seen — as a real never-enrolled query.
///   (Scored against the full model instead, whose UBM has seen them, they score
///   far lower than a never-enrolled voice does, and the threshold lets most
///   unknown voices through.)
///
/// At most [`OpenSetParams::max_trial_clips`] clips become trials, an equal share
/// per speaker. z-norm cohorts (`cohorts`: only when s-norm is tried) are the
/// other speakers' trial clips, the `top_k` highest scores. Frames are read a few
/// speakers, or [`CALIBRATION_BATCH`] clips, at a time: a pass for the UBM
/// sample, one for the target trials, and per fold one over its enrolled
/// speakers' clips and one over the trial clips it scores. One fold's speaker
/// models are held at a time, and each trial keeps its scores (one row per
/// source) and an index into the shared z-norm statistics: the calibration's
/// memory is a few rows per trial clip, not a copy of every model per fold.
///
/// Errors: [`Error::TooShort`] with fewer than 3 speakers; [`Error::Training`]
/// when no speaker has two clips or no fold has two enrolled speakers; those of
/// the frame source, the UBM and scoring.
pub fn held_out_trials(
    m: &GmmUbmModel,
    data: &TrainingSet<'_>,
    ubm_params: &UbmParams,
    params: &OpenSetParams,
    cohorts: bool,
) -> Result<HeldOutTrials> {
    let (seed, top_k) = (data.seed, params.cohort_top_k);
    let k = data.n_speakers();
    if k < 3 {
        return Err(Error::too_short(
            "open-set calibration",
            3.0,
            k as f64,
            "speaker",
        ));
    }
    if m.enrolled.len() != k {
        return Err(Error::shape(
            "speakers of the calibrated model",
            k,
            m.enrolled.len(),
        ));
    }
    let r = m.classifier.relevance_factor();
    let picked = trial_selection(data, params.max_trial_clips, seed);

    // Pass 1: the model's UBM sample, and each fold's UBM from it.
    let sampler = FrameSampler::new(k, ubm_params.max_frames, seed)?;
    data.for_each_speaker(|c, frames| {
        for f in frames {
            sampler.add(c, f.view())?;
        }
        Ok(())
    })?;
    let refit = GmmParams {
        seed,
        max_iter: params.ubm_refit_iter,
        ..ubm_params.ubm.clone()
    };
    let groups: Vec<Vec<usize>> = speaker_groups(k, params.speaker_folds, seed)
        .into_iter()
        .filter(|g| k - g.len() >= 2)
        .collect();
    if groups.is_empty() {
        return Err(Error::training(
            "open-set calibration",
            "no speaker fold leaves two enrolled speakers",
        ));
    }
    let ubms = groups
        .iter()
        .map(|g| {
            let sample = sampler.sample_without(g)?;
            Ubm::from_gmm(DiagGmm::fit_from(
                m.classifier.ubm().gmm(),
                sample.view(),
                &refit,
            )?)
        })
        .collect::<Result<Vec<_>>>()?;
    drop(sampler);

    // Pass 2: the target trials under the model. A row of the full models'
    // scores keeps its own speaker's entry until the z-norm statistics are
    // drawn (they never use it: a model's cohort is the other speakers' clips),
    // then takes the leave-one-out score.
    let targets = data.for_each_speaker(|c, frames| {
        let clips = data.speaker_clips(c);
        let trial: Vec<bool> = clips.iter().map(|&i| picked[i]).collect();
        speaker_trials(m, &clips, frames, &trial)
    })?;
    let mut t = HeldOutTrials::default();
    let mut labels = Vec::new();
    let mut own = Vec::new();
    for (c, s) in targets.into_iter().enumerate() {
        for (q, row) in s.gmm.outer_iter().enumerate() {
            t.gmm.push(row.to_vec());
            t.cosine.push(s.cosine.row(q).to_vec());
            t.clips.push(s.clips[q]);
            labels.push(Some(c));
            own.push(s.own[q]);
        }
    }
    t.z_sets.push(z_stats(&t.gmm, &t.cosine, &labels, top_k)?);
    // Keep the rows with a leave-one-out score (a speaker with one clip has
    // none), that score in place of the full model's.
    let rows = std::mem::take(&mut t.gmm)
        .into_iter()
        .zip(std::mem::take(&mut t.cosine))
        .zip(std::mem::take(&mut t.clips))
        .zip(labels.into_iter().zip(own));
    for (((mut g, mut cs), clip), (label, own)) in rows {
        if let (Some(c), Some((og, oc))) = (label, own) {
            g[c] = og;
            cs[c] = oc;
            t.gmm.push(g);
            t.cosine.push(cs);
            t.clips.push(clip);
            t.own.push(Some(c));
            t.z.push(0);
        }
    }
    if t.own.is_empty() {
        return Err(Error::training(
            "open-set calibration",
            "no speaker has two training clips, so there is no held-out target trial",
        ));
    }

    // Pass 3, one speaker fold at a time (so only one fold's speaker models are
    // ever held): the fold's speaker models from its UBM, then its group's trial
    // clips against them (and, for s-norm, the fold's own speakers' trial clips
    // as its cohorts).
    let trial_clips: Vec<usize> = (0..data.len()).filter(|&i| picked[i]).collect();
    for (group, ubm) in groups.into_iter().zip(ubms) {
        let known: Vec<usize> = (0..k).filter(|s| group.binary_search(s).is_err()).collect();
        let names: Vec<String> = known.iter().map(|&s| data.speakers[s].clone()).collect();
        let parts = data.for_each_speaker_of(&known, |_, frames| speaker_part(&ubm, r, frames))?;
        // The fold's models score their trials as the model's score queries.
        let model = GmmUbmModel::from_parts(ubm, &names, parts, r, m.classifier.top_c())?;
        let scored: Vec<usize> = trial_clips
            .iter()
            .copied()
            .filter(|&i| cohorts || group.binary_search(&data.labels[i]).is_ok())
            .collect();
        let (mut gmm, mut cos) = (Vec::with_capacity(scored.len()), Vec::new());
        for batch in scored.chunks(CALIBRATION_BATCH) {
            let frames = data.frames_of(batch)?;
            let views: Vec<ArrayView2<f32>> = frames.iter().map(|f| f.view()).collect();
            let (g, c) = score_clips(&model, &views)?;
            gmm.extend(g.outer_iter().map(|r| r.to_vec()));
            cos.extend(c.outer_iter().map(|r| r.to_vec()));
        }
        drop(model);
        let local: Vec<Option<usize>> = scored
            .iter()
            .map(|&i| known.binary_search(&data.labels[i]).ok())
            .collect();
        if cohorts {
            t.z_sets.push(z_stats(&gmm, &cos, &local, top_k)?);
        } else {
            t.z_sets.push(vec![None; known.len()]);
        }
        let set = t.z_sets.len() - 1;
        for (((g, c), &i), l) in gmm.into_iter().zip(cos).zip(&scored).zip(&local) {
            if l.is_none() {
                t.gmm.push(g);
                t.cosine.push(c);
                t.own.push(None);
                t.clips.push(i);
                t.z.push(set);
            }
        }
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
        let q = QueryRows::new(&t.gmm[n], &t.cosine[n], top_k);
        let z = |j: usize| match t.z_sets[t.z[n]].get(j) {
            Some(Some((g, c))) if norm.per_speaker() => (Some(*g), Some(*c)),
            _ => (None, None),
        };
        let s1 = stage1.as_ref();
        let (j, s) = best_of(source, norm, s1, &q, None, &z);
        match t.own[n] {
            Some(own) => {
                targets.push(method_score(source, norm, s1, &q, own, None, &z));
                enrolled.push((j == own, s));
            }
            None => {
                // A never-enrolled voice: every candidate is a non-target.
                for j in 0..q.gmm.len() {
                    nontargets.push(method_score(source, norm, s1, &q, j, None, &z));
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
            m,
            data,
            &models.params.settings.gmm_ubm,
            params,
            norms.iter().any(|n| n.per_speaker()),
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
            // Every speaker has a cohort: the other speakers' trial clips.
            models
                .speakers
                .iter()
                .cloned()
                .zip(t.speaker_z())
                .map(|(id, z)| {
                    z.map(|z| (id, z))
                        .ok_or_else(|| Error::too_short("z-norm cohort", 1.0, 0.0, "clip"))
                })
                .collect::<Result<_>>()?
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
            let q = QueryRows::new(&g, &cs, cal.cohort_top_k);
            let (j, s) = best_of(c.source, c.norm, c.stage1.as_ref(), &q, None, &z);
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

    /// The cohort statistics of the row without `j` and `exclude`, the `top_k`
    /// highest, by sorting the whole cohort: what [`RowCohort`] shortcuts.
    fn brute(row: &[f64], j: usize, exclude: Option<usize>, top_k: usize) -> Option<CohortStats> {
        let cohort: Vec<f64> = (0..row.len())
            .filter(|&k| k != j && Some(k) != exclude)
            .map(|k| row[k])
            .collect();
        match CohortStats::from_scores(&cohort, Some(top_k)) {
            Ok(t) if cohort.len() >= 2 => Some(t),
            _ => None,
        }
    }

    #[test]
    fn row_cohorts_equal_the_sorted_cohort_of_every_candidate() {
        let mut rng = StdRng::seed_from_u64(7);
        for len in [1usize, 2, 3, 5, 12, 13, 40, 300] {
            for top_k in [1usize, 2, 10, 64, 100] {
                // Ties on purpose: scores on a coarse grid.
                let row: Vec<f64> = (0..len)
                    .map(|_| (rand::Rng::random_range(&mut rng, -20i32..20) as f64) * 0.25)
                    .collect();
                let cohort = RowCohort::new(&row, top_k);
                for j in 0..len {
                    for exclude in [None, Some((j + 1) % len), Some(j)] {
                        let (a, b) = (
                            cohort.stats(&row, j, exclude),
                            brute(&row, j, exclude, top_k),
                        );
                        match (a, b) {
                            (Some(a), Some(b)) => {
                                assert!((a.mean - b.mean).abs() < 1e-12, "{len} {top_k} {j}");
                                assert!((a.std - b.std).abs() < 1e-12, "{len} {top_k} {j}");
                            }
                            (None, None) => {}
                            other => panic!("len {len} top_k {top_k} j {j}: {other:?}"),
                        }
                        assert_eq!(
                            normalised_score(ScoreNorm::Tnorm, &row, j, exclude, None, top_k),
                            cohort.normalised(ScoreNorm::Tnorm, &row, j, exclude, None)
                        );
                    }
                }
            }
        }
    }
}
