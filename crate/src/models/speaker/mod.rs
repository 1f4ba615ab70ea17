//! Speaker models behind one interface, and the table that registers them.
//!
//! Every model the pipeline trains implements [`SpeakerModel`] (class scores for a
//! batch of clips, optionally an embedding, checks, enrolment) and [`Trainable`]
//! (validated hyperparameters, `fit` from labelled features), and is serialised
//! inside [`TrainedModel`]. [`SpeakerModels`](crate::pipeline::SpeakerModels) holds
//! a list of them; prediction, per-segment prediction, similarity, evaluation, the
//! command line and the web app all score through [`SpeakerModel::scores`].
//!
//! ## Adding a model
//!
//! Two places:
//! 1. its own file in this folder (`crate/src/models/speaker/my_model.rs`): a type
//!    implementing [`SpeakerModel`] and [`Trainable`] (with serde), its
//!    hyperparameters a type implementing [`Hyperparams`] (or [`NoParams`]);
//! 2. one line in the table below.
//!
//! The line makes the module, the [`ModelKind`] variant (name, aliases,
//! description, whether `main` includes it), the [`ModelSettings`] field that holds
//! its hyperparameters (`PipelineParams::settings.my_model`), the [`TrainedModel`]
//! variant that saves it, and its dispatch; training, evaluation, prediction,
//! saving, loading, `--models` and the web app's model list pick it up from there.
//!
//! ```
//! use speaker_similarity::dataset::SplitParams;
//! use speaker_similarity::models::speaker::{ClipBatch, ModelKind, ScoreUnit};
//! use speaker_similarity::pipeline::{self, PipelineParams, SplitFeatures};
//! use speaker_similarity::synth::{SynthCorpus, SynthParams};
//! # fn main() -> speaker_similarity::Result<()> {
//! assert_eq!("rf".parse::<ModelKind>()?, ModelKind::RandomForest);
//! let data = SynthCorpus::generate(&SynthParams { speakers: 3, clips_per_speaker: 6, ..SynthParams::default() })?;
//! let params = PipelineParams { models: vec![ModelKind::GmmFrame], ..PipelineParams::default() }.check()?;
//! let split = data.split(&SplitParams::default())?;
//! let f = SplitFeatures::extract(&data, &split, &params, &|_| {})?;
//! let e = pipeline::evaluate_with_split(&data, &split, &params, false, &|_| {})?;
//! let models = e.trained.expect("evaluate keeps the models");
//! // Any model, through the common interface: clips x speakers.
//! let scores = models.models[0].model().scores(&ClipBatch::new(&f.test)?)?;
//! assert_eq!(scores.unit, ScoreUnit::FrameLogLikelihood);
//! assert_eq!(scores.values.dim(), (f.test.len(), 3));
//! assert_eq!(scores.predictions(), e.models[0].predictions);
//! # Ok(())
//! # }
//! ```

#[macro_use]
mod registry;

mod clips;
mod frame_sample;
mod hyperparams;
mod model;
#[macro_use]
pub(crate) mod smartcore_baseline;

pub use clips::{clip_matrix, ClipBatch, ClipFeatures, FrameSource, TrainingSet};
pub(crate) use clips::{frames_by_class, stack_views, subsample_frames};
pub use frame_sample::FrameSampler;
pub use hyperparams::{Hyperparams, NoParams, ParamGuard, Valid};
pub use model::{
    class_seed, retrain_needed, stack_frames, Enrolment, ScoreUnit, Scores, SpeakerEmbedding,
    SpeakerModel, Trainable,
};

models! {
    /// Neural network on standardised 52-dim clip vectors (the original's model,
    /// with scaling and best-weight restore).
    Mlp => mlp: mlp::MlpModel, "mlp", ["nn"], main: true,
        "neural network on standardised 52-dim clip vectors";
    /// One 16-component GMM per speaker on raw 52-dim clip vectors: the original
    /// project's GMM recipe.
    GmmClip => gmm_clip: gmm_clip::GmmClipModel, "gmm-clip", [], main: true,
        "original recipe: 16-component GMM per speaker on clip vectors";
    /// One GMM per speaker on per-frame MFCC + delta (voice activity only): the
    /// classic text-independent speaker model.
    GmmFrame => gmm_frame: gmm_frame::GmmFrameModel, "gmm-frame", [], main: true,
        "GMM per speaker on frame MFCC+delta";
    /// Universal background model + MAP-adapted speaker models, scored by the
    /// log-likelihood ratio (Reynolds, Quatieri & Dunn 2000).
    GmmUbm => gmm_ubm: gmm_ubm::GmmUbmModel, "gmm-ubm", [], main: true,
        "UBM + MAP-adapted speaker GMMs, log-likelihood ratio";
    /// Baseline: RBF support vector classifier on standardised clip vectors.
    Svm => svm: svm::SvmModel, "svm", ["svc"], main: false,
        "baseline: RBF SVM on clip vectors";
    /// Baseline: random forest on clip vectors.
    RandomForest => random_forest: random_forest::RandomForestModel, "random-forest", ["rf"],
        main: false, "baseline: random forest on clip vectors";
    /// Baseline: 5 nearest neighbours on standardised clip vectors.
    Knn => knn: knn::KnnModel, "knn", [], main: false,
        "baseline: 5-nearest neighbours on clip vectors";
    /// Baseline: logistic regression on standardised clip vectors.
    Logistic => logistic: logistic::LogisticModel, "logistic", ["logistic-regression", "lr"],
        main: false, "baseline: logistic regression on clip vectors";
}
