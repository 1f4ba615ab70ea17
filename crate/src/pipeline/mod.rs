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

mod enroll;
mod evaluate;
mod extract;
mod legacy;
mod params;
mod predict;
mod robust;
mod shard;
mod store;
mod stream;
mod train;
mod verdict;

pub use enroll::{check_speaker_id, EnrolReport, MAX_SPEAKER_ID};
pub use evaluate::{
    evaluate, evaluate_under, evaluate_with_split, Evaluation, ModelResult, Verification,
    NONTARGETS_PER_CLIP,
};
pub use extract::{
    clip_matrix, extract, extract_dataset, ClipFeatures, Extracted, SplitFeatures, SILENCE_PEAK,
};
pub use params::{ModelKind, ModelSettings, NarrowbandParams, PipelineParams, ValidParams};
pub use predict::{Guess, ModelScores, Prediction, RecordingPrediction, SegmentPrediction};
pub use robust::{default_augment, is_narrowband, robust_augment, upper_band_db};
pub use shard::{Merged, ShardClip, ShardModels, SharedUbm, SHARD_FILE, UBM_FILE};
pub use store::{HISTORY_FILE, MODELS_FILE};
pub use stream::{train_dataset, DatasetTraining, TEST_BATCH};
pub use train::{validation_split, ClipVectorEmbedding, SpeakerModels};
pub use verdict::{
    held_out_trials, normalised_score, HeldOutTrials, NormChoice, OpenSetCalibration,
    OpenSetParams, ScoreNorm, ScoreSource, CALIBRATION_BATCH, MIN_NORM_SPEAKERS,
};
