//! The interface every speaker model implements: [`SpeakerModel`] (score, embed,
//! check, enrol; object-safe) and [`Trainable`] (its hyperparameters and `fit`).

use std::fmt::Debug;

use ndarray::{Array1, Array2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::clips::{ClipBatch, ClipFeatures, TrainingSet};
use super::hyperparams::{Hyperparams, Valid};
use crate::error::{Error, Result};
use crate::models::History;
use crate::progress::ProgressFn;
use crate::similarity::EnrolledSpeakers;

/// What a model's class scores measure (how to read and show them; calibration
/// turns any of them into log-likelihood ratios later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreUnit {
    /// A probability in [0, 1]; a row sums to 1 (the MLP's softmax).
    Probability,
    /// The log-likelihood of the clip vector under the speaker's model.
    LogLikelihood,
    /// The mean per-frame log-likelihood of the clip's frames under the speaker's
    /// model.
    FrameLogLikelihood,
    /// The mean per-frame log-likelihood ratio of the speaker's model against a
    /// background model.
    FrameLogLikelihoodRatio,
    /// No score, only a decision: 1 for the predicted speaker, 0 for the others
    /// (the smartcore baselines).
    Vote,
}

impl ScoreUnit {
    /// The score worth showing beside a guess (`None` for [`ScoreUnit::Vote`]).
    pub fn shown(self, value: f64) -> Option<f64> {
        match self {
            ScoreUnit::Vote => None,
            _ => Some(value),
        }
    }
}

/// A model's class scores for a batch of clips: one row per clip, one column per
/// speaker (in the model set's class order); higher = more like that speaker. The
/// predicted speaker of a clip is the first column holding its row's maximum.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// What the values measure.
    pub unit: ScoreUnit,
    /// Clips × speakers.
    pub values: Array2<f64>,
}

impl Scores {
    /// The best class of every clip and its score (first maximum; NaN never wins).
    pub fn best(&self) -> Vec<(usize, f64)> {
        self.values
            .outer_iter()
            .map(|r| {
                r.iter()
                    .copied()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (j, v)| if v > b.1 { (j, v) } else { b },
                    )
            })
            .collect()
    }

    /// The predicted class of every clip.
    pub fn predictions(&self) -> Vec<usize> {
        self.best().into_iter().map(|(c, _)| c).collect()
    }

    /// One-hot votes (the unit of models that only decide).
    pub fn votes(classes: &[usize], n_classes: usize) -> Scores {
        let mut values = Array2::zeros((classes.len(), n_classes));
        for (i, &c) in classes.iter().enumerate() {
            if c < n_classes {
                values[[i, c]] = 1.0;
            }
        }
        Scores {
            unit: ScoreUnit::Vote,
            values,
        }
    }
}

/// A speaker embedding a model offers: one vector per clip, speakers enrolled as
/// the mean embedding of their training clips, compared by cosine
/// ([`EnrolledSpeakers`]).
pub trait SpeakerEmbedding: Send + Sync {
    /// Its name in reports and JSON (`"supervector"`, `"clip-vector"`).
    fn name(&self) -> &'static str;
    /// The embedding of one clip, made exactly as the enrolled speakers' clips were.
    fn embed(&self, clip: &ClipFeatures) -> Result<Array1<f32>>;
    /// The enrolled speakers (the model set's speakers, in class order).
    fn enrolled(&self) -> &EnrolledSpeakers;
}

/// Whether a model can change its speaker set without training again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enrolment {
    /// Each speaker is a part of its own (a GMM, a MAP-adapted model, a mean
    /// embedding): [`SpeakerModel::enroll`] adds or replaces one speaker and
    /// [`SpeakerModel::remove`] drops one, leaving every other speaker's part exactly
    /// as it was.
    PerSpeaker,
    /// The speakers share parameters (one network, one decision function): any change
    /// of the speaker set means training the model again; `enroll` and `remove`
    /// answer [`Error::RetrainNeeded`].
    Retrain,
}

/// A trained speaker model: scores clips against its speakers.
///
/// Every model of the pipeline implements this trait and [`Trainable`], and is
/// registered with one line in [`crate::models::speaker`]'s table; the pipeline, the
/// command line and the web app reach it only through this interface (via
/// [`TrainedModel`](super::TrainedModel)).
///
/// Contract:
/// - [`scores`](Self::scores) gives clips × speakers with columns in the class
///   order of the speakers the model was fitted on; the predicted speaker is the
///   row's first maximum ([`Scores::best`]).
/// - [`validate`](Self::validate) checks a model read from disk against the model
///   set's speakers and clip-vector length, so scoring a loaded model cannot panic.
/// - Enrolment (next issues: per-speaker enrolment without retraining): a model
///   says through [`enrolment`](Self::enrolment) whether its speakers are separable
///   parts. If [`Enrolment::PerSpeaker`], [`enroll`](Self::enroll) fits the part of
///   one speaker from that speaker's clips alone (a GMM fitted on them; the UBM
///   MAP-adapted to them; the mean of their embeddings) and appends it as the last
///   class, or replaces it when the speaker is already enrolled, and
///   [`remove`](Self::remove) drops one speaker; the other speakers' parts and
///   scores stay bit-identical. If [`Enrolment::Retrain`], both answer an error that
///   says the model must be trained again, and the caller marks the model out of date
///   (or trains it again) rather than serving stale classes.
pub trait SpeakerModel: Debug + Send + Sync {
    /// Class scores of every clip of `clips` against every speaker.
    fn scores(&self, clips: &ClipBatch<'_>) -> Result<Scores>;

    /// The speaker embedding this model offers, if any.
    fn embedding(&self) -> Option<&dyn SpeakerEmbedding> {
        None
    }

    /// The training history (loss and accuracy per epoch), for iterative models.
    fn history(&self) -> Option<&History> {
        None
    }

    /// Check a loaded model against the set it belongs to: `speakers` in class order
    /// and the length of the clip vectors.
    fn validate(&self, speakers: &[String], clip_dim: usize) -> Result<()>;

    /// Whether speakers can be enrolled or removed one at a time.
    fn enrolment(&self) -> Enrolment {
        Enrolment::Retrain
    }

    /// Add (or replace) `speaker`, from its clips alone (see the trait's contract).
    fn enroll(&mut self, speaker: &str, clips: &[ClipFeatures]) -> Result<()> {
        let _ = (speaker, clips);
        Err(retrain_needed("enrol a speaker"))
    }

    /// Remove `speaker` (see the trait's contract).
    fn remove(&mut self, speaker: &str) -> Result<()> {
        let _ = speaker;
        Err(retrain_needed("remove a speaker"))
    }
}

/// The error of [`SpeakerModel::enroll`] and [`SpeakerModel::remove`] for models of
/// [`Enrolment::Retrain`].
pub fn retrain_needed(what: &str) -> Error {
    Error::RetrainNeeded {
        what: format!("this model cannot {what} on its own: its speakers share parameters"),
    }
}

/// The frames of one speaker's clips, stacked (the input of a per-speaker
/// enrolment); [`Error::NoSpeechFound`] when the clips hold no voiced frame.
pub fn stack_frames(speaker: &str, clips: &[ClipFeatures]) -> Result<Array2<f32>> {
    let views: Vec<_> = clips.iter().map(|c| c.frames.view()).collect();
    if views.iter().all(|v| v.nrows() == 0) {
        return Err(Error::NoSpeechFound {
            speech_seconds: 0.0,
            reason: format!("the clips of speaker {speaker:?} hold no voiced frame"),
        });
    }
    ndarray::concatenate(ndarray::Axis(0), &views)
        .map_err(|e| Error::shape("frame matrices", "equal column counts", e))
}

/// The seed of class `class` of a per-speaker model fitted with seed `seed` (the
/// same rule `fit` uses, so enrolling a speaker at its class position gives the
/// mixture a full training would).
pub fn class_seed(seed: u64, class: usize) -> u64 {
    seed.wrapping_add(class as u64)
}

/// How a speaker model is made: its hyperparameters and `fit`.
pub trait Trainable: SpeakerModel + Clone + Serialize + DeserializeOwned + Sized {
    /// The hyperparameters (a field of
    /// [`ModelSettings`](super::ModelSettings), validated once with the pipeline's
    /// parameters).
    type Params: Hyperparams;

    /// True for comparison models that may be left out (reported as skipped) when
    /// they cannot be fitted on the data, instead of failing the training.
    const OPTIONAL: bool = false;

    /// The default hyperparameters (documented on the model).
    fn default_params() -> Self::Params;

    /// Fit on labelled training clips. `on_progress` receives the model's own
    /// progress events (the MLP's epochs).
    fn fit(
        data: &TrainingSet<'_>,
        params: &Valid<Self::Params>,
        on_progress: ProgressFn<'_>,
    ) -> Result<Self>;
}
