//! Per-frame features for Gaussian mixture speaker models: MFCC + delta for every
//! 10 ms frame, silence dropped, normalised per utterance.
//!
//! A speaker GMM models the distribution of short-time spectra, so it wants many
//! frames per clip rather than one average per clip. The defaults are the usual
//! speaker-recognition front end (as in Kaldi/SIDEKIT recipes and Reynolds-style
//! GMM-UBM systems):
//! - audio resampled to 16 kHz;
//! - 32 ms frames (`n_fft = 512`) every 10 ms (`hop_length = 160`), periodic Hann
//!   window, centred (librosa semantics);
//! - 40 mel bands between 20 Hz and 7600 Hz (below 20 Hz is rumble, above 7.6 kHz
//!   the 16 kHz anti-alias roll-off), 20 MFCCs, plus their deltas (width 9): 40
//!   dimensions;
//! - energy voice-activity detection: frames more than `vad_db` (40 dB) below the
//!   utterance's loudest frame are dropped (pauses, breath, background), keeping at
//!   least `vad_min_frames`;
//! - cepstral mean and variance normalisation (CMVN) over the kept frames, which
//!   removes the channel (microphone, room) as a constant offset in the cepstrum.

use std::borrow::Cow;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::check_audio;
use super::delta::{check_delta, delta_row, savgol_coeffs};
use super::extractor::{with_thread_extractor, FeatureExtractor};
use super::mfcc::MfccParams;
use crate::audio::Audio;
use crate::error::{Error, Result};

/// Parameters of [`frame_features`]. Defaults are a standard speaker-recognition
/// front end (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameFeatureParams {
    /// Resample to this rate first (`None` keeps the clip's rate). Default
    /// `Some(16000)`.
    pub sample_rate: Option<u32>,
    /// FFT length / frame length in samples. Default 512 (32 ms at 16 kHz).
    pub n_fft: usize,
    /// Samples between frames. Default 160 (10 ms at 16 kHz).
    pub hop_length: usize,
    /// Mel bands. Default 40.
    pub n_mels: usize,
    /// MFCCs per frame (including c0 unless `drop_c0`). Default 20.
    pub n_mfcc: usize,
    /// Lowest mel band edge in Hz. Default 20.
    pub fmin: f64,
    /// Highest mel band edge in Hz (`None` = Nyquist). Default `Some(7600.0)`.
    pub fmax: Option<f64>,
    /// dB range of the mel spectrogram as in `power_to_db`. Default `Some(80.0)`
    /// (librosa's).
    pub top_db: Option<f32>,
    /// Append deltas of the MFCCs. Default `true`.
    pub deltas: bool,
    /// Delta window in frames (odd, >= 3). Default 9 (librosa's).
    pub delta_width: usize,
    /// Drop c0 (the overall log energy, which mostly follows loudness). Default
    /// `false`: kept until the accuracy experiments decide.
    pub drop_c0: bool,
    /// Drop frames whose log energy is more than this many dB below the loudest
    /// frame; `None` keeps every frame. Default `Some(40.0)`.
    pub vad_db: Option<f32>,
    /// The voice-activity filter keeps at least this many frames (the loudest
    /// ones, in time order), or all frames when there are fewer. Default 10.
    pub vad_min_frames: usize,
    /// Per-utterance mean and variance normalisation of every column. Default `true`.
    pub cmvn: bool,
}

impl Default for FrameFeatureParams {
    fn default() -> Self {
        FrameFeatureParams {
            sample_rate: Some(16000),
            n_fft: 512,
            hop_length: 160,
            n_mels: 40,
            n_mfcc: 20,
            fmin: 20.0,
            fmax: Some(7600.0),
            top_db: Some(80.0),
            deltas: true,
            delta_width: 9,
            drop_c0: false,
            vad_db: Some(40.0),
            vad_min_frames: 10,
            cmvn: true,
        }
    }
}

impl FrameFeatureParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if let Some(r) = self.sample_rate {
            if r == 0 || r > crate::audio::MAX_SAMPLE_RATE {
                return Err(Error::param("sample_rate", format!("{r} Hz is not usable")));
            }
        }
        self.mfcc_params().validate()?;
        if self.drop_c0 && self.n_mfcc < 2 {
            return Err(Error::param(
                "n_mfcc",
                "must be at least 2 when drop_c0 is set",
            ));
        }
        if self.deltas {
            check_delta(usize::MAX, self.delta_width, 1)?;
        }
        if let Some(v) = self.vad_db {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(
                    "vad_db",
                    format!("{v} is not a number of dB >= 0"),
                ));
            }
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
            fmin: self.fmin,
            fmax: self.fmax,
            top_db: self.top_db,
            lifter: 0.0,
        }
    }

    /// Number of columns of the result.
    pub fn dim(&self) -> usize {
        let c = self.n_mfcc.saturating_sub(usize::from(self.drop_c0));
        if self.deltas {
            2 * c
        } else {
            c
        }
    }

    /// Column names: `mfcc_<k>` then `delta_<k>`.
    pub fn names(&self) -> Vec<String> {
        let first = usize::from(self.drop_c0);
        let mut v: Vec<String> = (first..self.n_mfcc).map(|k| format!("mfcc_{k}")).collect();
        if self.deltas {
            v.extend((first..self.n_mfcc).map(|k| format!("delta_{k}")));
        }
        v
    }
}

/// Per-frame features with the default parameters: rows = frames kept by the
/// voice-activity filter, columns = 20 MFCCs then 20 deltas, CMVN-normalised.
///
/// Errors: empty or non-finite audio; fewer frames than the delta width
/// ([`Error::TooShort`]: 1280 samples = 80 ms at 16 kHz with the defaults).
///
/// ```
/// use speaker_similarity::{Audio, features::frame_features};
/// # fn main() -> speaker_similarity::Result<()> {
/// let tone: Vec<f32> = (0..16000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
/// let f = frame_features(&Audio::new(tone, 16000)?)?;
/// assert_eq!(f.ncols(), 40);
/// assert_eq!(f.nrows(), 101);
/// # Ok(())
/// # }
/// ```
pub fn frame_features(audio: &Audio) -> Result<Array2<f32>> {
    frame_features_with(audio, &FrameFeatureParams::default())
}

/// [`frame_features`] with explicit parameters.
pub fn frame_features_with(audio: &Audio, params: &FrameFeatureParams) -> Result<Array2<f32>> {
    with_thread_extractor(|ex| ex.frame_features(audio, params))
}

impl FeatureExtractor {
    /// Per-frame features (see [`frame_features`]).
    pub fn frame_features(
        &mut self,
        audio: &Audio,
        params: &FrameFeatureParams,
    ) -> Result<Array2<f32>> {
        params.validate()?;
        check_audio(audio)?;
        let audio: Cow<'_, Audio> = match params.sample_rate {
            Some(r) if r != audio.sample_rate => Cow::Owned(audio.resample(r)?),
            _ => Cow::Borrowed(audio),
        };
        let mp = params.mfcc_params();
        let mut m = Vec::new();
        let want_energy = params.vad_db.is_some();
        let frames = self.mfcc_into(&audio.samples, audio.sample_rate, &mp, want_energy, &mut m)?;
        let n_mfcc = params.n_mfcc;
        let mut d = Vec::new();
        if params.deltas {
            check_delta(frames, params.delta_width, 1).map_err(|e| match e {
                Error::TooShort { reason } => Error::TooShort {
                    reason: format!(
                        "{reason} ({} samples at {} Hz give {frames} frames with hop_length={})",
                        audio.samples.len(),
                        audio.sample_rate,
                        params.hop_length
                    ),
                },
                other => other,
            })?;
            let coeffs = savgol_coeffs(params.delta_width, 1, 1)?;
            d = vec![0.0f32; m.len()];
            for (row, out) in m.chunks_exact(frames).zip(d.chunks_exact_mut(frames)) {
                delta_row(row, &coeffs, out);
            }
        }
        let keep = match params.vad_db {
            Some(db) => vad_keep(&self.energy_buf, db, params.vad_min_frames),
            None => (0..frames).collect(),
        };
        let first = usize::from(params.drop_c0);
        let cols = params.dim();
        let mut out = Array2::zeros((keep.len(), cols));
        for (r, &t) in keep.iter().enumerate() {
            let mut c = 0;
            for k in first..n_mfcc {
                out[[r, c]] = m[k * frames + t];
                c += 1;
            }
            if params.deltas {
                for k in first..n_mfcc {
                    out[[r, c]] = d[k * frames + t];
                    c += 1;
                }
            }
        }
        if params.cmvn {
            cmvn(&mut out);
        }
        Ok(out)
    }
}

/// Indices (ascending) of frames whose energy in dB is within `range_db` of the
/// loudest frame; at least `min_frames` (the loudest) when available.
pub(crate) fn vad_keep(energy: &[f32], range_db: f32, min_frames: usize) -> Vec<usize> {
    let db: Vec<f32> = energy
        .iter()
        .map(|&e| 10.0 * e.max(1e-10).log10())
        .collect();
    let max = db.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut keep: Vec<usize> = (0..db.len()).filter(|&t| db[t] >= max - range_db).collect();
    let need = min_frames.min(db.len());
    if keep.len() < need {
        let mut order: Vec<usize> = (0..db.len()).collect();
        order.sort_by(|&a, &b| db[b].total_cmp(&db[a]).then(a.cmp(&b)));
        keep = order[..need].to_vec();
        keep.sort_unstable();
    }
    keep
}

/// Subtract each column's mean and divide by its standard deviation (population,
/// `ddof = 0`); a constant column (std below 1e-8) is only centred.
pub(crate) fn cmvn(x: &mut Array2<f32>) {
    let n = x.nrows();
    if n == 0 {
        return;
    }
    for mut col in x.columns_mut() {
        let mean = col.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = col.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let sd = var.sqrt();
        let scale = if sd > 1e-8 { 1.0 / sd } else { 1.0 };
        for v in col.iter_mut() {
            *v = ((*v as f64 - mean) * scale) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vad_keeps_loud_frames_and_a_minimum() {
        let e = [1.0, 1e-6, 0.5, 1e-9, 2.0];
        assert_eq!(vad_keep(&e, 40.0, 0), vec![0, 2, 4]);
        assert_eq!(vad_keep(&e, 40.0, 4), vec![0, 1, 2, 4]);
        assert_eq!(vad_keep(&e, 40.0, 10), vec![0, 1, 2, 3, 4]);
        assert_eq!(vad_keep(&[0.0; 3], 40.0, 1), vec![0, 1, 2]);
    }

    #[test]
    fn cmvn_standardises_columns() {
        let mut x = ndarray::array![[1.0f32, 5.0], [3.0, 5.0]];
        cmvn(&mut x);
        assert_eq!(x, ndarray::array![[-1.0f32, 0.0], [1.0, 0.0]]);
    }
}
