//! Honest evaluation: train on one part of a data set, report on the other.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::params::{ModelKind, PipelineParams, ValidParams};
use super::robust::{self, Query, TestBabble};
use super::stream::{read_clip, Counter, DatasetTraining, TEST_BATCH};
use super::train::SpeakerModels;
use crate::dataset::{Dataset, SkippedSpeaker, Split, SplitParams};
use crate::degrade::Condition;
use crate::error::{Error, Result};
use crate::eval::{accuracy, ClassificationReport, ConfusionMatrix};
use crate::models::speaker::ParamGuard;
use crate::progress::ProgressFn;
use crate::similarity::{eer_and_det, verification_trials_sampled, DetPoint, Eer, Trial};

/// How one model did on the test clips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// The model.
    pub model: ModelKind,
    /// Share of test clips attributed to the right speaker.
    pub accuracy: f64,
    /// Seconds spent training it.
    pub train_seconds: f64,
    /// Precision, recall and F1 per speaker, as scikit-learn prints them.
    pub report: ClassificationReport,
    /// The predicted class of every test clip (the confusion matrix is made from
    /// these on demand, [`Evaluation::confusion`]: it has speakers² cells).
    pub predictions: Vec<usize>,
}

/// Speaker verification on the test clips against the enrolled training speakers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Which embedding: `"supervector"` or `"clip-vector"`.
    pub embedding: String,
    /// Equal error rate and its threshold.
    pub eer: Eer,
    /// The detection error trade-off, thinned to a few thousand points at most
    /// ([`eer_and_det`]).
    pub det: Vec<DetPoint>,
    /// Number of target and non-target trials.
    pub trials: (usize, usize),
    /// `Some(k)` when each test clip kept a seeded uniform sample of `k` of its
    /// non-target trials (more than `k + 1` speakers enrolled, see
    /// [`NONTARGETS_PER_CLIP`]); `None` when every trial was kept.
    #[serde(default)]
    pub nontargets_per_clip: Option<usize>,
}

/// At most this many non-target trials per test clip and embedding: the trials
/// then grow with the test clips, not with test clips × speakers. Each clip keeps
/// its target trial and a uniform sample (seeded by the pipeline seed and the
/// clip) of its non-target ones
/// ([`verification_trials_sampled`](crate::similarity::verification_trials_sampled));
/// with 51 speakers or fewer nothing is sampled and the EER is exact.
pub const NONTARGETS_PER_CLIP: usize = 50;

/// The seed of test clip `i`'s non-target sample (splitmix64 of the pipeline seed
/// and the clip's data set index): the same whatever batch or thread scores it.
fn clip_seed(seed: u64, i: usize) -> u64 {
    let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Speaker ids, in class order.
    pub speakers: Vec<String>,
    /// Clips used for training / testing (after unreadable ones were dropped).
    pub train_clips: usize,
    /// Clips used for testing.
    pub test_clips: usize,
    /// Speakers left out of the split, and why.
    pub skipped: Vec<SkippedSpeaker>,
    /// Clips that could not be used, with the reason.
    pub unusable: Vec<(PathBuf, String)>,
    /// One entry per model, in [`ModelKind`] order.
    pub models: Vec<ModelResult>,
    /// The most accurate model.
    pub best: ModelKind,
    /// Verification results per embedding.
    pub verification: Vec<Verification>,
    /// Models asked for but left out (baselines that cannot fit this data), with the
    /// reason.
    pub skipped_models: Vec<(ModelKind, String)>,
    /// True class of every test clip.
    pub y_true: Vec<usize>,
    /// Seconds spent reading audio and extracting features (the first pass over the
    /// training clips and the test clips; the frame models' own re-reading counts in
    /// their training time).
    pub feature_seconds: f64,
    /// Seconds for the whole evaluation.
    pub total_seconds: f64,
    /// The condition the test clips were degraded by (`"clean"` when not).
    #[serde(default)]
    pub query_condition: String,
    /// Share of test clips whose most similar enrolled speaker (by the embedding
    /// `similar` ranks with, narrowband queries by the narrowband models) is their
    /// own: the top-1 of "who do you sound like".
    #[serde(default)]
    pub similar_accuracy: Option<f64>,
    /// The trained models (for plots of the training history, similarity, ...).
    #[serde(skip)]
    pub trained: Option<Box<SpeakerModels>>,
}

impl Evaluation {
    /// The result of one model.
    pub fn result(&self, model: ModelKind) -> Option<&ModelResult> {
        self.models.iter().find(|r| r.model == model)
    }

    /// The confusion matrix of one model (rows = true speaker, columns =
    /// predicted), made from its predictions; `None` when the model was not
    /// evaluated.
    pub fn confusion(&self, model: ModelKind) -> Option<Result<ConfusionMatrix>> {
        self.result(model)
            .map(|r| ConfusionMatrix::new(&self.y_true, &r.predictions, &self.speakers))
    }
}

/// Split `data` (seeded, per speaker, disjoint by construction), extract features,
/// train `params.models` on the training part and report on the test part: accuracy,
/// classification report and confusion matrix per model, verification EER.
///
/// The data streams: the models train as [`train_dataset`](super::train_dataset)
/// trains them (clip vectors kept, frames read again a few speakers at a time, a
/// bounded UBM sample), and the test clips are read, scored and embedded
/// [`TEST_BATCH`](super::TEST_BATCH) at a time, so memory does not grow with the
/// number of clips beyond their clip vectors, predictions and trial scores.
/// The evaluation scores no open-set verdict; the trained models it keeps are
/// calibrated for them unless `params.calibrate` is off (the `evaluate`
/// command's choice: the calibration costs more than the GMM-UBM's training).
///
/// `params` are checked once, here (unless they are [`ValidParams`] already), and
/// travel on checked; `on_progress` receives the feature extraction's (one count
/// over the training clips, then the test clips) and the training's
/// [`Progress`](crate::progress::Progress).
pub fn evaluate(
    data: &Dataset,
    split_params: &SplitParams,
    params: &impl ParamGuard<PipelineParams>,
    on_progress: ProgressFn<'_>,
) -> Result<Evaluation> {
    let t0 = Instant::now();
    let params = params.checked()?;
    let split = data.split(split_params)?;
    evaluate_split(data, &split, &params, &Condition::clean(), on_progress, t0)
}

/// [`evaluate`] with the test clips degraded by `query_condition` (the models train
/// on the clean training clips): how the models do over a telephone line, in noise,
/// in a room. Each test clip is degraded with its own seed (from `params.seed`);
/// babble is mixed from test clips of other speakers (a bounded, seeded set of
/// them), never from training clips or the query's own speaker. Narrowband queries
/// are scored by the narrowband models when `params.narrowband` trained them.
/// Verification trials embed every query with the main models.
///
/// ```no_run
/// use speaker_similarity::{dataset::SplitParams, degrade::Condition, pipeline, synth};
/// # fn main() -> speaker_similarity::Result<()> {
/// let data = synth::default_dataset();
/// let cond = Condition::parse("telephone+white:15")?;
/// let e = pipeline::evaluate_under(&data, &SplitParams::default(),
///     &pipeline::PipelineParams::default(), &cond, &|_| {})?;
/// println!("GMM-UBM over the phone: {:.3}", e.result(pipeline::ModelKind::GmmUbm).unwrap().accuracy);
/// # Ok(())
/// # }
/// ```
pub fn evaluate_under(
    data: &Dataset,
    split_params: &SplitParams,
    params: &impl ParamGuard<PipelineParams>,
    query_condition: &Condition,
    on_progress: ProgressFn<'_>,
) -> Result<Evaluation> {
    let t0 = Instant::now();
    let params = params.checked()?;
    query_condition.validate()?;
    let split = data.split(split_params)?;
    evaluate_split(data, &split, &params, query_condition, on_progress, t0)
}

/// [`evaluate`] on a split made elsewhere (the tutorial uses it to show what the
/// original project's leaky split does). The split must be disjoint unless
/// `allow_overlap` — which only the leak demonstration should set.
pub fn evaluate_with_split(
    data: &Dataset,
    split: &Split,
    params: &impl ParamGuard<PipelineParams>,
    allow_overlap: bool,
    on_progress: ProgressFn<'_>,
) -> Result<Evaluation> {
    let t0 = Instant::now();
    let params = params.checked()?;
    if !allow_overlap {
        split.check_disjoint()?;
    }
    evaluate_split(data, split, &params, &Condition::clean(), on_progress, t0)
}

fn evaluate_split(
    data: &Dataset,
    split: &Split,
    params: &ValidParams,
    query_condition: &Condition,
    on_progress: ProgressFn<'_>,
    t0: Instant,
) -> Result<Evaluation> {
    // One progress count over both passes: the training clips, then the test clips.
    let counter = Counter::new(split.train.len() + split.test.len(), on_progress);
    let DatasetTraining {
        models: trained,
        train_clips,
        skipped: dropped,
        unusable: train_unusable,
        ..
    } = robust::train_robust(data, &split.train, params, &counter, on_progress)?;
    let mut skipped = split.skipped.clone();
    skipped.extend(dropped);
    let speakers = trained.speakers.clone();
    let mut feature_seconds =
        t0.elapsed().as_secs_f64() - trained.train_seconds.values().sum::<f64>();

    // Test clips are read, scored and embedded a batch at a time; only the
    // predictions and the trial scores stay.
    let t_test = Instant::now();
    let kinds = trained.kinds();
    let embeddings = trained.embeddings();
    let mut predictions: Vec<Vec<usize>> = vec![Vec::new(); kinds.len()];
    let mut trials: Vec<Vec<Trial>> = vec![Vec::new(); embeddings.len()];
    let mut y_true = Vec::new();
    let mut unusable = train_unusable;
    let mut score_seconds = 0.0;
    let mut similar = Vec::new();
    // Clean queries of a model set without narrowband models are the clean
    // features; otherwise each clip is degraded (or not) and routed.
    let plain = query_condition.is_clean() && trained.narrowband.is_none();
    let babble = TestBabble::new(data, &split.test, &speakers, query_condition, params.seed);
    for batch in split.test.chunks(TEST_BATCH) {
        let read: Vec<(usize, Result<Query>)> = batch
            .par_iter()
            .map(|&i| {
                let r = if plain {
                    read_clip(data, i, params, None).map(|main| Query { main, narrow: None })
                } else {
                    match speakers.binary_search(&data.clips[i].speaker) {
                        Ok(c) => {
                            robust::degraded_query(data, i, c, query_condition, &babble, &trained)
                                .map_err(|e| e.within(format_args!("under {query_condition}")))
                        }
                        Err(_) => Err(Error::param("clips", "speaker not enrolled")),
                    }
                };
                counter.tick();
                (i, r)
            })
            .collect();
        let t_score = Instant::now();
        let mut feats = Vec::with_capacity(read.len());
        let mut ys = Vec::with_capacity(read.len());
        let mut seeds = Vec::with_capacity(read.len());
        let mut queries = Vec::with_capacity(read.len());
        for (i, r) in read {
            match (r, speakers.binary_search(&data.clips[i].speaker)) {
                (Ok(q), Ok(c)) => {
                    feats.push(q.main.clone());
                    queries.push(q);
                    ys.push(c);
                    seeds.push(clip_seed(params.seed, i));
                }
                (Err(e), Ok(_)) => unusable.push((i, data.clips[i].path.clone(), e.to_string())),
                (_, Err(_)) => {}
            }
        }
        if feats.is_empty() {
            continue;
        }
        // In ModelKind order, as `kinds`.
        for (all, (_, p)) in predictions
            .iter_mut()
            .zip(robust::predict_queries(&trained, &queries)?)
        {
            all.extend(p);
        }
        similar.extend(robust::similar_top1(&trained, &queries)?);
        drop(queries);
        // Verification by every embedding the models offer, then the clip vectors.
        for (embedding, t) in embeddings.iter().zip(trials.iter_mut()) {
            let queries: Vec<(String, Vec<f32>)> = feats
                .par_iter()
                .zip(&ys)
                .map(|(f, &c)| Ok((speakers[c].clone(), embedding.embed(f)?.to_vec())))
                .collect::<Result<_>>()?;
            t.extend(verification_trials_sampled(
                embedding.enrolled(),
                &queries,
                &seeds,
                NONTARGETS_PER_CLIP,
            )?);
        }
        y_true.extend(ys);
        score_seconds += t_score.elapsed().as_secs_f64();
    }
    feature_seconds += t_test.elapsed().as_secs_f64() - score_seconds;
    if y_true.is_empty() {
        return Err(Error::Dataset {
            path: data.root.clone(),
            reason: "no usable test clip".into(),
        });
    }
    // Each unusable clip once (a clip in both parts of a leaky split), by index.
    unusable.sort_by_key(|(i, _, _)| *i);
    unusable.dedup_by_key(|(i, _, _)| *i);
    let unusable: Vec<(PathBuf, String)> = unusable.into_iter().map(|(_, p, r)| (p, r)).collect();

    let mut models = Vec::new();
    for (model, predictions) in kinds.iter().copied().zip(predictions) {
        models.push(ModelResult {
            model,
            accuracy: accuracy(&y_true, &predictions)?,
            train_seconds: trained.train_seconds.get(&model).copied().unwrap_or(0.0),
            report: ClassificationReport::new(&y_true, &predictions, &speakers)?,
            predictions,
        });
    }
    let best = models
        .iter()
        .max_by(|a, b| {
            a.accuracy
                .total_cmp(&b.accuracy)
                .then(b.model.cmp(&a.model))
        })
        .map(|r| r.model)
        .ok_or_else(|| Error::training("evaluation", "no model was trained"))?;

    let mut verification = Vec::new();
    for (embedding, t) in embeddings.iter().zip(trials) {
        let targets = t.iter().filter(|t| t.target).count();
        let n = t.len();
        let (eer, det) = eer_and_det(t)?;
        let sampled = embedding.enrolled().len() > NONTARGETS_PER_CLIP + 1;
        verification.push(Verification {
            embedding: embedding.name().to_string(),
            eer,
            det,
            trials: (targets, n - targets),
            nontargets_per_clip: sampled.then_some(NONTARGETS_PER_CLIP),
        });
    }
    drop(embeddings);

    let similar_accuracy = Some(accuracy(&y_true, &similar)?);
    Ok(Evaluation {
        speakers,
        train_clips: train_clips.len(),
        test_clips: y_true.len(),
        skipped,
        unusable,
        models,
        best,
        verification,
        skipped_models: trained.skipped_models.clone(),
        y_true,
        feature_seconds,
        total_seconds: t0.elapsed().as_secs_f64(),
        query_condition: query_condition.to_string(),
        similar_accuracy,
        trained: Some(Box::new(trained)),
    })
}
