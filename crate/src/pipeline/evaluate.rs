//! Honest evaluation: train on one part of a data set, report on the other.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::extract::SplitFeatures;
use super::params::{ModelKind, PipelineParams, ValidParams};
use super::train::SpeakerModels;
use crate::dataset::{Dataset, SkippedSpeaker, Split, SplitParams};
use crate::error::{Error, Result};
use crate::eval::{accuracy, ClassificationReport, ConfusionMatrix};
use crate::models::speaker::ParamGuard;
use crate::progress::ProgressFn;
use crate::similarity::{det_curve, eer, verification_trials, DetPoint, Eer};

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

/// Split `data` (seeded, per speaker, disjoint by construction), extract features,
/// train `params.models` on the training part and report on the test part: accuracy,
/// classification report and confusion matrix per model, verification EER.
///
/// `params` are checked once, here (unless they are [`ValidParams`] already), and
/// travel on checked; `on_progress` receives the feature extraction's and the
/// training's [`Progress`](crate::progress::Progress).
pub fn evaluate(
    data: &Dataset,
    split_params: &SplitParams,
    params: &impl ParamGuard<PipelineParams>,
    on_progress: ProgressFn<'_>,
) -> Result<Evaluation> {
    let t0 = Instant::now();
    let params = params.checked()?;
    let split = data.split(split_params)?;
    evaluate_split(data, &split, &params, on_progress, t0)
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
    evaluate_split(data, split, &params, on_progress, t0)
}

fn evaluate_split(
    data: &Dataset,
    split: &Split,
    params: &ValidParams,
    on_progress: ProgressFn<'_>,
    t0: Instant,
) -> Result<Evaluation> {
    let features = SplitFeatures::extract(data, split, params, on_progress)?;
    let feature_seconds = t0.elapsed().as_secs_f64();
    let SplitFeatures {
        speakers,
        train: train_f,
        y_train: train_y,
        test: test_f,
        y_test: y_true,
        skipped,
        unusable,
        ..
    } = features;

    let trained = SpeakerModels::train(
        &train_f,
        &train_y,
        speakers.clone(),
        data.names.clone(),
        params,
        on_progress,
    )?;

    let mut models = Vec::new();
    for (model, predictions) in trained.predict_classes(&test_f)? {
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
        .ok_or_else(|| Error::training("evaluation", "no model was trained"))?;

    // Verification by every embedding the models offer, then the clip vectors.
    let mut verification = Vec::new();
    for embedding in trained.embeddings() {
        let queries: Vec<(String, Vec<f32>)> = test_f
            .iter()
            .zip(&y_true)
            .map(|(f, &c)| Ok((speakers[c].clone(), embedding.embed(f)?.to_vec())))
            .collect::<Result<_>>()?;
        let trials = verification_trials(embedding.enrolled(), &queries)?;
        let targets = trials.iter().filter(|t| t.target).count();
        verification.push(Verification {
            embedding: embedding.name().to_string(),
            eer: eer(&trials)?,
            det: det_curve(&trials)?,
            trials: (targets, trials.len() - targets),
        });
    }

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
        trained: Some(Box::new(trained)),
    })
}
