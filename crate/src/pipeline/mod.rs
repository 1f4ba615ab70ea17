//! The whole pipeline in a few calls: features of a data set, every model trained
//! on its training part, an honest report on its test part, predictions for new
//! recordings, and the model directory the command line and web app share.
//!
//! ```no_run
//! use speaker_similarity::dataset::SplitParams;
//! use speaker_similarity::pipeline::{evaluate, PipelineParams};
//! use speaker_similarity::synth;
//! # fn main() -> speaker_similarity::Result<()> {
//! let data = synth::default_dataset();
//! let result = evaluate(&data, &SplitParams::default(), &PipelineParams::default(), &|_| {})?;
//! for r in &result.models {
//!     println!("{:10} {:.3}", r.model.name(), r.accuracy);
//! }
//! # Ok(())
//! # }
//! ```

mod evaluate;
mod extract;
mod params;
mod predict;
mod robust;
mod store;
mod train;

pub use evaluate::{
    evaluate, evaluate_under, evaluate_with_split, EvalEvent, Evaluation, ModelResult, Verification,
};
pub use extract::{
    clip_matrix, extract, extract_dataset, ClipFeatures, Extracted, SplitFeatures, SILENCE_PEAK,
};
pub use params::{ModelKind, NarrowbandParams, PipelineParams};
pub use predict::{Guess, Prediction, RecordingPrediction, SegmentPrediction};
pub use robust::{default_augment, is_narrowband, train_robust, upper_band_db};
pub use store::{HISTORY_FILE, MODELS_FILE};
pub use train::{validation_split, SpeakerModels, TrainEvent};
