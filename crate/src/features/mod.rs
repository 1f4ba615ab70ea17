//! Audio features, computed as librosa 0.11 computes them.
//!
//! # What the features are
//!
//! **MFCC** (mel-frequency cepstral coefficients) describe the short-time spectral
//! envelope — the shape of the vocal tract — in a few numbers per frame:
//! 1. cut the signal into overlapping frames (2048 samples every 512 by default),
//!    weight each by a Hann window and take its power spectrum ([`stft_power`]);
//! 2. sum the power in triangular bands spaced on the mel scale, which follows
//!    perceived pitch: narrow bands at low frequencies, wide ones high up
//!    ([`MelFilterbank`], [`melspectrogram`]);
//! 3. take decibels, clipping everything more than 80 dB below the loudest value
//!    ([`power_to_db`]);
//! 4. take the DCT-II of each frame's dB mel spectrum and keep the first
//!    coefficients ([`mfcc`]): c0 is the overall level, c1 the spectral tilt,
//!    higher ones finer ripples. The DCT decorrelates the bands, which is why
//!    diagonal-covariance GMMs work on MFCCs.
//!
//! **Delta** features ([`delta`]) are the local slope of each coefficient over
//! time, from a least-squares fit over 9 frames (Savitzky-Golay): how the spectrum
//! moves, not only where it is.
//!
//! **ZCR** (zero-crossing rate, [`zero_crossing_rate`], [`zcr_splits`]) is the
//! fraction of samples at which the waveform changes sign: high for hiss and
//! fricatives (s, f), low for voiced vowels.
//!
//! **LPC** (linear prediction coefficients, [`lpc`]) fit an all-pole filter that
//! predicts each sample from the previous `p`; its poles sit at the formants, the
//! resonances of the speaker's vocal tract. Estimated by Burg's method.
//!
//! # What to call
//! - [`clip_vector`]: the original project's 52 numbers per clip (MFCC means,
//!   delta means, 13 ZCR splits, 13 LPC), for the neural network and classic
//!   classifiers; [`clip_vector_names`] labels them; [`clip_vectors_par`] and
//!   [`clip_vectors_from_files`] do many clips in parallel.
//! - [`frame_features`]: per-frame MFCC + delta with voice-activity filtering and
//!   CMVN, for Gaussian mixture speaker models.
//! - The building blocks above, each equal to its librosa function (the parity
//!   tests in `crate/tests/features_parity.rs` state the tolerances).
//!
//! Free functions reuse FFT plans and filterbanks through a per-thread
//! [`FeatureExtractor`]; create one yourself to manage that state explicitly.
//!
//! ```
//! use speaker_similarity::{Audio, features};
//! # fn main() -> speaker_similarity::Result<()> {
//! let tone: Vec<f32> = (0..32000)
//!     .map(|i| (2.0 * std::f32::consts::PI * 220.0 * i as f32 / 16000.0).sin() * 0.5)
//!     .collect();
//! let audio = Audio::new(tone, 16000)?;
//! let m = features::mfcc(&audio, &features::MfccParams::default())?; // 20 x 63
//! let d = features::delta(&m, 9, 1)?;
//! assert_eq!(d.dim(), m.dim());
//! let v = features::clip_vector(&audio)?;
//! assert_eq!(v.len(), features::clip_vector_names().len());
//! # Ok(())
//! # }
//! ```

mod batch;
mod clip;
mod delta;
mod dot;
mod extractor;
mod frames;
mod lpc;
mod mel;
mod mfcc;
mod stft;
mod zcr;

pub use batch::{
    clip_vectors_from_files, clip_vectors_par, frame_features_from_files, frame_features_par,
};
pub use clip::{clip_vector, clip_vector_names, clip_vector_with, ClipVectorParams};
pub use delta::{delta, savgol_coeffs};
pub use extractor::FeatureExtractor;
pub(crate) use frames::normal_quantile;
pub use frames::{frame_features, frame_features_with, FrameFeatureParams};
pub use lpc::lpc;
pub use mel::{
    fft_frequencies, hz_to_mel, mel_frequencies, mel_to_hz, melspectrogram, MelFilter,
    MelFilterbank, MelSpectrogramParams,
};
pub use mfcc::{dct_ortho_matrix, mfcc, power_to_db, MfccParams};
pub use stft::{hann_window, n_frames, stft_power, MAX_N_FFT};
pub use zcr::{zcr_splits, zero_crossing_rate, ZcrParams};

use crate::audio::Audio;
use crate::error::{Error, Result};

/// Error unless `y` has samples and all are finite.
pub(crate) fn check_samples(y: &[f32], what: &str) -> Result<()> {
    if y.is_empty() {
        return Err(Error::too_short(what, 1.0, 0.0, "sample"));
    }
    if dot::all_finite(y) {
        Ok(())
    } else {
        crate::audio::check_finite(y, what)
    }
}

/// [`check_samples`] plus a usable sample rate.
pub(crate) fn check_audio(audio: &Audio) -> Result<()> {
    if audio.sample_rate == 0 || audio.sample_rate > crate::audio::MAX_SAMPLE_RATE {
        return Err(Error::param(
            "sample_rate",
            format!("{} Hz is not usable", audio.sample_rate),
        ));
    }
    check_samples(&audio.samples, "audio")
}
