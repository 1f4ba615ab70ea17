//! # speaker_similarity
//!
//! Which speaker — which celebrity — does this voice sound like? Audio in,
//! librosa-equal MFCC / delta / zero-crossing-rate / LPC features, Gaussian mixture
//! models (with a universal background model and MAP adaptation) and a neural
//! network trained per speaker set, honest evaluation, similarity ranking and plots.
#![warn(missing_docs)]

pub mod audio;
pub mod dataset;
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
