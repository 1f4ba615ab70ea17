//! The original project's per-clip feature vector: 52 numbers per clip.
//!
//! `extract_features.py` of the original (see `notes/original_recipe.md` §2):
//! - MFCC: `librosa.load(clip, duration=2, sr=16000)` — the FIRST 2 s only —
//!   then `librosa.feature.mfcc(n_mfcc=13, hop_length=256)` (n_fft 2048, 128 mels)
//!   averaged over frames: 13 values;
//! - delta: `librosa.feature.delta` (width 9, order 1) of that MFCC matrix,
//!   averaged over frames: 13 values;
//! - ZCR: pyAudioAnalysis over the WHOLE clip cut into 13 equal splits
//!   ([`zcr_splits`](super::zcr_splits)): 13 values;
//! - LPC: `librosa.lpc(whole clip, order=12)`: 13 values, the first always 1.
//!
//! Order: `[mfcc means, delta means, zcr splits, lpc]`. MFCC/delta use the first
//! `max_seconds` while ZCR and LPC use the whole clip, as the original did; set
//! [`ClipVectorParams::max_seconds`] to `None` to compute the MFCC part on the whole
//! clip too.
//!
//! Differences from the original, on purpose: librosa 0.11 pads STFT frames with
//! zeros where the original's librosa 0.8 reflected the signal (it moves the first
//! and last frames only); resampling (for audio not at 16 kHz) is done once, by
//! this crate's resampler, before the crop, instead of librosa's soxr and
//! pyAudioAnalysis' `scipy.signal.resample`; the LPC sums are accumulated more
//! precisely than librosa's `float32` loop.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::check_audio;
use super::delta::{check_delta, delta_row_mean, savgol_coeffs};
use super::extractor::{with_thread_extractor, FeatureExtractor};
use super::mfcc::MfccParams;
use super::zcr::zcr_splits_unchecked;
use crate::audio::Audio;
use crate::error::{Error, Result};

/// Parameters of [`clip_vector`]. Defaults reproduce the original project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipVectorParams {
    /// Resample to this rate first (`None` keeps the clip's rate). Default
    /// `Some(16000)` (the original's `DEFAULT_SAMPLE_RATE`).
    pub sample_rate: Option<u32>,
    /// Compute MFCC and delta on the first `max_seconds` only (`None`: the whole
    /// clip). Default `Some(2.0)` (the original's `librosa.load(duration=2)`).
    pub max_seconds: Option<f64>,
    /// MFCC coefficients. Default 13 (the original's `n_mfcc`).
    pub n_mfcc: usize,
    /// FFT length. Default 2048 (librosa's, which the original kept).
    pub n_fft: usize,
    /// Samples between MFCC frames. Default 256 (the original's `hop_length`).
    pub hop_length: usize,
    /// Mel bands. Default 128 (librosa's).
    pub n_mels: usize,
    /// Delta window in frames (odd, >= 3). Default 9 (librosa's).
    pub delta_width: usize,
    /// Equal splits for the zero-crossing rate. Default 13 (the original's `splits`).
    pub zcr_splits: usize,
    /// LPC order; gives `lpc_order + 1` values. Default 12 (the original's
    /// `n_mfcc - 1`).
    pub lpc_order: usize,
}

impl Default for ClipVectorParams {
    fn default() -> Self {
        ClipVectorParams {
            sample_rate: Some(16000),
            max_seconds: Some(2.0),
            n_mfcc: 13,
            n_fft: 2048,
            hop_length: 256,
            n_mels: 128,
            delta_width: 9,
            zcr_splits: 13,
            lpc_order: 12,
        }
    }
}

impl ClipVectorParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if let Some(r) = self.sample_rate {
            if r == 0 || r > crate::audio::MAX_SAMPLE_RATE {
                return Err(Error::param("sample_rate", format!("{r} Hz is not usable")));
            }
        }
        if let Some(s) = self.max_seconds {
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::param(
                    "max_seconds",
                    format!("{s} is not a positive number of seconds"),
                ));
            }
        }
        self.mfcc_params().validate()?;
        check_delta(usize::MAX, self.delta_width, 1)?;
        if self.zcr_splits == 0 {
            return Err(Error::param("zcr_splits", "must be at least 1"));
        }
        if self.lpc_order == 0 {
            return Err(Error::param("lpc_order", "must be at least 1"));
        }
        Ok(())
    }

    /// The MFCC part of these parameters.
    pub fn mfcc_params(&self) -> MfccParams {
        MfccParams {
            n_mfcc: self.n_mfcc,
            n_fft: self.n_fft,
            hop_length: self.hop_length,
            n_mels: self.n_mels,
            ..MfccParams::default()
        }
    }

    /// Length of the vector: `2 n_mfcc + zcr_splits + lpc_order + 1` (52 by default).
    pub fn dim(&self) -> usize {
        2 * self.n_mfcc + self.zcr_splits + self.lpc_order + 1
    }

    /// Column names: `mfcc_0.., delta_0.., zcr_0.., lpc_0..`.
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::with_capacity(self.dim());
        v.extend((0..self.n_mfcc).map(|i| format!("mfcc_{i}")));
        v.extend((0..self.n_mfcc).map(|i| format!("delta_{i}")));
        v.extend((0..self.zcr_splits).map(|i| format!("zcr_{i}")));
        v.extend((0..=self.lpc_order).map(|i| format!("lpc_{i}")));
        v
    }
}

/// Column names of the default clip vector: `mfcc_0..mfcc_12, delta_0..delta_12,
/// zcr_0..zcr_12, lpc_0..lpc_12`.
pub fn clip_vector_names() -> Vec<String> {
    ClipVectorParams::default().names()
}

/// The original project's 52-number clip vector with the default parameters:
/// `[mfcc means (13), delta means (13), zcr splits (13), lpc (13)]`. See the module
/// docs for what each part is.
///
/// Errors: empty or non-finite audio; a clip too short for `delta_width` MFCC
/// frames after the crop ([`Error::TooShort`]; 2048 samples at 16 kHz with the
/// defaults), as librosa raises.
///
/// ```
/// use speaker_similarity::{Audio, features::clip_vector};
/// # fn main() -> speaker_similarity::Result<()> {
/// let tone: Vec<f32> = (0..32000).map(|i| (i as f32 * 0.1).sin() * 0.3).collect();
/// let v = clip_vector(&Audio::new(tone, 16000)?)?;
/// assert_eq!(v.len(), 52);
/// assert_eq!(v[39], 1.0); // lpc_0
/// # Ok(())
/// # }
/// ```
pub fn clip_vector(audio: &Audio) -> Result<Vec<f32>> {
    clip_vector_with(audio, &ClipVectorParams::default())
}

/// [`clip_vector`] with explicit parameters.
pub fn clip_vector_with(audio: &Audio, params: &ClipVectorParams) -> Result<Vec<f32>> {
    with_thread_extractor(|ex| ex.clip_vector(audio, params))
}

impl FeatureExtractor {
    /// The clip vector (see [`clip_vector`]).
    pub fn clip_vector(&mut self, audio: &Audio, params: &ClipVectorParams) -> Result<Vec<f32>> {
        params.validate()?;
        check_audio(audio)?;
        let audio: Cow<'_, Audio> = match params.sample_rate {
            Some(r) if r != audio.sample_rate => Cow::Owned(audio.resample(r)?),
            _ => Cow::Borrowed(audio),
        };
        let y = &audio.samples;
        // librosa.load(duration=d) reads int(d * sr) samples.
        let head = match params.max_seconds {
            Some(s) => &y[..((s * audio.sample_rate as f64) as usize).min(y.len())],
            None => &y[..],
        };
        let mut out = Vec::with_capacity(params.dim());

        let mp = params.mfcc_params();
        let mut m = Vec::new();
        let frames = self.mfcc_into(head, audio.sample_rate, &mp, false, &mut m)?;
        check_delta(frames, params.delta_width, 1).map_err(|e| {
            e.within(format_args!(
                "{} samples at {} Hz give {frames} MFCC frames with hop_length={}",
                head.len(),
                audio.sample_rate,
                params.hop_length
            ))
        })?;
        let coeffs = savgol_coeffs(params.delta_width, 1, 1)?;
        let mut delta_means = Vec::with_capacity(params.n_mfcc);
        for row in m.chunks_exact(frames) {
            out.push(mean(row));
            delta_means.push(delta_row_mean(row, &coeffs));
        }
        out.extend(delta_means);

        let z = zcr_splits_unchecked(y, params.zcr_splits)?;
        // zcr_splits gives at least n_splits values (more only for clips shorter than
        // n_splits^2 samples); the vector keeps a fixed length.
        out.extend(z.iter().take(params.zcr_splits));

        out.extend(self.lpc_unchecked(y, params.lpc_order)?);
        Ok(out)
    }
}

/// Mean in `f64`, rounded to `f32` (numpy's `mean` of `float32` sums pairwise in
/// `float32`; the difference is below 1e-6 relative).
fn mean(v: &[f32]) -> f32 {
    (v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64) as f32
}
