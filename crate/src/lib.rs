//! # speaker_similarity
//!
//! Which speaker — which celebrity — does this voice sound like? Audio in,
//! librosa-equal MFCC / delta / zero-crossing-rate / LPC features, Gaussian mixture
//! models (with a universal background model and MAP adaptation) and a neural
//! network trained per speaker set, honest evaluation, similarity ranking and plots.
//!
//! One module per pipeline stage:
//!
//! | module | what |
//! |---|---|
//! | [`audio`] | decode WAV/FLAC/MP3/OGG to mono, resample, crop, cut into segments |
//! | [`features`] | librosa 0.11 STFT, mel, MFCC, delta, ZCR, LPC; the 52-dim clip vector; frame features |
//! | [`dataset`] | speaker folders, VoxCeleb, FSDD; seeded honest splits; summaries |
//! | [`degrade`] | reproducible channels: telephone, white/pink/babble noise at an SNR, reverberation |
//! | [`synth`] | the built-in synthetic speaker corpus (runs everything offline) |
//! | [`models`] | diagonal GMM (EM), UBM + MAP adaptation, MLP, scaler, smartcore baselines |
//! | [`eval`] | accuracy, scikit-learn's classification report, confusion matrix |
//! | [`similarity`] | embeddings, cosine ranking, verification trials, EER, DET |
//! | [`plot`] | SVG charts (inline in Jupyter), PNG with the `png` feature |
//! | [`persist`] | saving and loading models, damaged files as typed errors |
//! | [`pipeline`] | all of it together: evaluate a data set, train, predict, model directories |
//! | [`error`] | the one error type |
//!
//! ## Example
//!
//! Train the frame-level speaker GMMs on a small synthetic corpus, recognise a clip,
//! and ask whom it sounds like:
//!
//! ```
//! use speaker_similarity::dataset::SplitParams;
//! use speaker_similarity::pipeline::{self, ModelKind, PipelineParams};
//! use speaker_similarity::synth::{SynthCorpus, SynthParams};
//! # fn main() -> speaker_similarity::Result<()> {
//! let data = SynthCorpus::generate(&SynthParams {
//!     speakers: 3,
//!     clips_per_speaker: 6,
//!     ..SynthParams::default()
//! })?;
//! let params = PipelineParams {
//!     models: vec![ModelKind::GmmFrame],
//!     ..PipelineParams::default()
//! };
//! let result = pipeline::evaluate(&data, &SplitParams::default(), &params, &|_| {})?;
//! assert_eq!(result.test_clips, 6);
//! println!("frame GMM accuracy: {:.3}", result.models[0].accuracy);
//!
//! let models = result.trained.expect("evaluate keeps the trained models");
//! let clip = data.clips[0].load()?;
//! let prediction = models.predict_audio(&clip, 2)?;
//! println!("{:?} sounds most like {}", data.clips[0].path, prediction.similar[0].speaker);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod audio;
pub mod dataset;
pub mod degrade;
pub mod error;
pub mod eval;
pub mod features;
pub mod models;
pub mod persist;
pub mod pipeline;
pub mod plot;
pub mod similarity;
pub mod synth;

pub use audio::Audio;
pub use error::{Error, Result};
