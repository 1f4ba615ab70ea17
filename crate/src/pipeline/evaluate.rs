//! Honest evaluation: train on one part of a data set, report on the other.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::extract::{clip_matrix, ClipFeatures, SplitFeatures};
use super::params::{ModelKind, PipelineParams};
use super::robust;
use super::train::{SpeakerModels, TrainEvent};
use crate::dataset::{Dataset, SkippedSpeaker, Split, SplitParams};
use crate::degrade::Condition;
use crate::error::{Error, Result};
use crate::eval::{accuracy, ClassificationReport, ConfusionMatrix};
use crate::similarity::{det_curve, eer, verification_trials, DetPoint, Eer, EnrolledSpeakers};

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
    /// Rows = true speaker, columns = predicted speaker.
    pub confusion: ConfusionMatrix,
    /// The predicted class of every test clip.
    pub predictions: Vec<usize>,
}

/// Speaker verification on the test clips against the enrolled training speakers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Which embedding: `"supervector"` or `"clip-vector"`.
    pub embedding: String,
    /// Equal error rate and its threshold.
    pub eer: Eer,
    /// The detection error trade-off.
    pub det: Vec<DetPoint>,
    /// Number of target and non-target trials.
    pub trials: (usize, usize),
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
    /// Seconds spent reading audio and extracting features.
    pub feature_seconds: f64,
    /// Seconds for the whole evaluation.
    pub total_seconds: f64,
    /// The condition the test clips were degraded by (`"clean"` when not).
    #[serde(default)]
    pub query_condition: String,
    /// Share of test clips whose most similar enrolled speaker (by the embedding
    /// `similar` ranks with) is their own: the top-1 of "who do you sound like".
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
}

/// What [`evaluate`] reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalEvent {
    /// Features of `done` of `total` clips extracted.
    Features {
        /// Clips done.
        done: usize,
        /// Clips in all.
        total: usize,
    },
    /// A training event.
    Train(TrainEvent),
}

/// Split `data` (seeded, per speaker, disjoint by construction), extract features,
/// train `params.models` on the training part and report on the test part: accuracy,
/// classification report and confusion matrix per model, verification EER.
pub fn evaluate(
    data: &Dataset,
    split_params: &SplitParams,
    params: &PipelineParams,
    on_event: &(dyn Fn(EvalEvent) + Sync),
) -> Result<Evaluation> {
    let t0 = Instant::now();
    params.validate()?;
    let split = data.split(split_params)?;
    evaluate_split(data, &split, params, &Condition::clean(), on_event, t0)
}

/// [`evaluate`] with the test clips degraded by `query_condition` (the models train
/// on the clean training clips): how the models do over a telephone line, in noise,
/// in a room. Each test clip is degraded with its own seed (from `params.seed`);
/// babble is mixed from test clips of other speakers, never from training clips or
/// the query's own speaker.
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
    params: &PipelineParams,
    query_condition: &Condition,
    on_event: &(dyn Fn(EvalEvent) + Sync),
) -> Result<Evaluation> {
    let t0 = Instant::now();
    params.validate()?;
    query_condition.validate()?;
    let split = data.split(split_params)?;
    evaluate_split(data, &split, params, query_condition, on_event, t0)
}

/// [`evaluate`] on a split made elsewhere (the tutorial uses it to show what the
/// original project's leaky split does). The split must be disjoint unless
/// `allow_overlap` — which only the leak demonstration should set.
pub fn evaluate_with_split(
    data: &Dataset,
    split: &Split,
    params: &PipelineParams,
    allow_overlap: bool,
    on_event: &(dyn Fn(EvalEvent) + Sync),
) -> Result<Evaluation> {
    if !allow_overlap {
        split.check_disjoint()?;
    }
    evaluate_split(
        data,
        split,
        params,
        &Condition::clean(),
        on_event,
        Instant::now(),
    )
}

fn evaluate_split(
    data: &Dataset,
    split: &Split,
    params: &PipelineParams,
    query_condition: &Condition,
    on_event: &(dyn Fn(EvalEvent) + Sync),
    t0: Instant,
) -> Result<Evaluation> {
    let mut y_kept: Vec<usize> = Vec::new();
    let features = SplitFeatures::extract(data, split, params, &|done, total| {
        on_event(EvalEvent::Features { done, total })
    })?;
    let feature_seconds = t0.elapsed().as_secs_f64();
    let SplitFeatures {
        speakers,
        train: train_f,
        y_train: train_y,
        train_clips,
        test: clean_test_f,
        y_test: clean_y,
        test_clips,
        skipped,
        mut unusable,
    } = features;

    let trained = robust::train_robust(
        data,
        &train_clips,
        &train_f,
        &train_y,
        speakers.clone(),
        data.names.clone(),
        params,
        &mut |e| on_event(EvalEvent::Train(e)),
    )?;

    // The queries: the clean test features as extracted, or degraded (and routed
    // to the narrowband models) copies.
    let queries: Vec<robust::Query> = if query_condition.is_clean() && trained.narrowband.is_none()
    {
        clean_test_f
            .into_iter()
            .map(|main| robust::Query { main, narrow: None })
            .collect()
    } else {
        drop(clean_test_f);
        let mut qs = Vec::new();
        let mut y = Vec::new();
        for (j, q) in robust::degraded_queries(
            data,
            &test_clips,
            &clean_y,
            query_condition,
            &trained,
            &|_, _| {},
        )? {
            match q {
                Ok(q) => {
                    qs.push(q);
                    y.push(clean_y[j]);
                }
                Err(e) => unusable.push((
                    robust::clip_path(data, test_clips[j]),
                    format!("under {query_condition}: {e}"),
                )),
            }
        }
        if qs.is_empty() {
            return Err(Error::Dataset {
                path: data.root.clone(),
                reason: format!("no test clip is usable under {query_condition}"),
            });
        }
        y_kept = y;
        qs
    };
    let y_true = if y_kept.is_empty() { clean_y } else { y_kept };
    let test_f: Vec<ClipFeatures> = queries.iter().map(|q| q.main.clone()).collect();
    let similar_top1 = robust::similar_top1(&trained, &queries)?;
    let similar_accuracy = Some(accuracy(&y_true, &similar_top1)?);

    let mut models = Vec::new();
    for (model, predictions) in robust::predict_queries(&trained, &queries)? {
        models.push(ModelResult {
            model,
            accuracy: accuracy(&y_true, &predictions)?,
            train_seconds: trained.train_seconds.get(&model).copied().unwrap_or(0.0),
            report: ClassificationReport::new(&y_true, &predictions, &speakers)?,
            confusion: ConfusionMatrix::new(&y_true, &predictions, &speakers)?,
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
        .ok_or_else(|| Error::Training("no model was trained".into()))?;

    let mut verification = Vec::new();
    let mut verify = |name: &str,
                      enrolled: &EnrolledSpeakers,
                      embed: &dyn Fn(&ClipFeatures) -> Result<Vec<f32>>|
     -> Result<()> {
        let queries: Vec<(String, Vec<f32>)> = test_f
            .iter()
            .zip(&y_true)
            .map(|(f, &c)| Ok((speakers[c].clone(), embed(f)?)))
            .collect::<Result<_>>()?;
        let trials = verification_trials(enrolled, &queries)?;
        let targets = trials.iter().filter(|t| t.target).count();
        verification.push(Verification {
            embedding: name.to_string(),
            eer: eer(&trials)?,
            det: det_curve(&trials)?,
            trials: (targets, trials.len() - targets),
        });
        Ok(())
    };
    if let (Some(enrolled), Some(g)) = (&trained.enrolled_supervectors, &trained.gmm_ubm) {
        verify("supervector", enrolled, &|f| {
            Ok(super::train::supervector_offset(g, f)?.to_vec())
        })?;
    }
    verify("clip-vector", &trained.enrolled_clip_vectors, &|f| {
        let x = clip_matrix([f])?;
        Ok(trained.clip_scaler.transform(x.view())?.row(0).to_vec())
    })?;

    Ok(Evaluation {
        speakers,
        train_clips: train_f.len(),
        test_clips: test_f.len(),
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
