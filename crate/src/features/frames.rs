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
    /// With `cmvn`, normalise each frame by the mean and deviation of a centred
    /// sliding window of this many frames (odd, >= 3) instead of the whole
    /// utterance; a clip shorter than the window uses all of it. Default `None`.
    #[serde(default)]
    pub cmvn_window: Option<usize>,
    /// Feature warping (Pelecanos & Sridharan 2001): each column's value replaced by
    /// the standard-normal quantile of its rank among the frames of a centred
    /// window of this many frames (odd, >= 3; the whole clip when shorter), so every
    /// coefficient has a normal distribution whatever the channel did to it. Used
    /// instead of `cmvn` when set. Default `None` (300 frames = 3 s is the usual).
    #[serde(default)]
    pub warp_window: Option<usize>,
    /// Keep only frames at least this many dB above the clip's noise floor (its
    /// 10th-percentile frame energy), besides `vad_db`; at least `vad_min_frames`
    /// (the loudest) stay. In noise, this keeps the frames where the voice stands
    /// out. Default `None`.
    #[serde(default)]
    pub floor_db: Option<f32>,
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
            cmvn_window: None,
            warp_window: None,
            floor_db: None,
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
        if let Some(v) = self.floor_db {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(
                    "floor_db",
                    format!("{v} is not a number of dB >= 0"),
                ));
            }
        }
        for (name, w) in [
            ("cmvn_window", self.cmvn_window),
            ("warp_window", self.warp_window),
        ] {
            if let Some(w) = w {
                if w < 3 || w % 2 == 0 {
                    return Err(Error::param(
                        name,
                        format!("{w} frames: must be odd and >= 3"),
                    ));
                }
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
        let want_energy = params.vad_db.is_some() || params.floor_db.is_some();
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
        let mut keep = match params.vad_db {
            Some(db) => vad_keep(&self.energy_buf, db, params.vad_min_frames),
            None => (0..frames).collect(),
        };
        if let Some(db) = params.floor_db {
            keep = floor_keep(&self.energy_buf, &keep, db, params.vad_min_frames);
        }
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
        if let Some(w) = params.warp_window {
            warp(&mut out, w);
        } else if params.cmvn {
            match params.cmvn_window {
                Some(w) if w < out.nrows() => sliding_cmvn(&mut out, w),
                _ => cmvn(&mut out),
            }
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

/// Of the frames `kept`, those whose energy is at least `above_db` over the noise
/// floor (the 10th percentile of all frames' energies in dB); at least `min_frames`
/// of the loudest kept ones, in time order.
pub(crate) fn floor_keep(
    energy: &[f32],
    kept: &[usize],
    above_db: f32,
    min_frames: usize,
) -> Vec<usize> {
    if energy.is_empty() {
        return kept.to_vec();
    }
    let db: Vec<f32> = energy
        .iter()
        .map(|&e| 10.0 * e.max(1e-10).log10())
        .collect();
    let mut sorted = db.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[(sorted.len() - 1) / 10];
    let mut keep: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&t| db.get(t).is_some_and(|&d| d >= floor + above_db))
        .collect();
    let need = min_frames.min(kept.len());
    if keep.len() < need {
        let mut order = kept.to_vec();
        order.sort_by(|&a, &b| db[b].total_cmp(&db[a]).then(a.cmp(&b)));
        keep = order[..need].to_vec();
        keep.sort_unstable();
    }
    keep
}

/// [`cmvn`] over a centred window of `w` frames (clamped at the clip's ends, so
/// every window holds `w` frames).
pub(crate) fn sliding_cmvn(x: &mut Array2<f32>, w: usize) {
    let n = x.nrows();
    if n == 0 {
        return;
    }
    let w = w.min(n);
    for mut col in x.columns_mut() {
        let v: Vec<f64> = col.iter().map(|&a| a as f64).collect();
        // Prefix sums of values and squares.
        let mut s1 = vec![0.0; n + 1];
        let mut s2 = vec![0.0; n + 1];
        for t in 0..n {
            s1[t + 1] = s1[t] + v[t];
            s2[t + 1] = s2[t] + v[t] * v[t];
        }
        for (t, out) in col.iter_mut().enumerate() {
            let lo = t.saturating_sub(w / 2).min(n - w);
            let hi = lo + w;
            let m = (s1[hi] - s1[lo]) / w as f64;
            let var = ((s2[hi] - s2[lo]) / w as f64 - m * m).max(0.0);
            let sd = var.sqrt();
            let scale = if sd > 1e-8 { 1.0 / sd } else { 1.0 };
            *out = ((v[t] - m) * scale) as f32;
        }
    }
}

/// Feature warping over a centred window of `w` frames (the whole clip when
/// shorter): value -> standard-normal quantile of its rank, `(rank + 0.5) / N`
/// with ties sharing their mean rank.
pub(crate) fn warp(x: &mut Array2<f32>, w: usize) {
    let n = x.nrows();
    if n == 0 {
        return;
    }
    let w = w.min(n);
    for mut col in x.columns_mut() {
        let v: Vec<f32> = col.to_vec();
        for (t, out) in col.iter_mut().enumerate() {
            let lo = t.saturating_sub(w / 2).min(n - w);
            let window = &v[lo..lo + w];
            let below = window.iter().filter(|&&a| a < v[t]).count();
            let equal = window.iter().filter(|&&a| a == v[t]).count();
            let rank = below as f64 + (equal as f64 - 1.0) / 2.0;
            *out = normal_quantile((rank + 0.5) / w as f64) as f32;
        }
    }
}

/// The standard normal quantile function (inverse CDF) for p in (0, 1), by
/// Acklam's rational approximation (relative error below 1.2e-9).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383577518672690e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
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
    fn normal_quantile_matches_scipy() {
        // scipy.stats.norm.ppf at these points.
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.01, -2.3263478740408408),
            (0.8413447460685429, 1.0),
            (1e-6, -4.753424308822899),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-8, "{p}");
        }
    }

    #[test]
    fn warping_gives_normal_quantiles_of_ranks() {
        // Any monotone channel (here exp and a gain) leaves warped features unchanged.
        let x = ndarray::array![[3.0f32], [1.0], [2.0], [5.0]];
        let mut a = x.clone();
        warp(&mut a, 301);
        let mut b = x.mapv(|v| 7.0 * v.exp());
        warp(&mut b, 301);
        assert_eq!(a, b);
        let want = [0.625, 0.125, 0.375, 0.875].map(|p| normal_quantile(p) as f32);
        assert_eq!(a.column(0).to_vec(), want.to_vec());
    }

    #[test]
    fn sliding_cmvn_equals_cmvn_of_each_window() {
        let x = Array2::from_shape_fn((9, 2), |(i, j)| ((i * 7 + j * 3) % 5) as f32 + i as f32);
        let mut s = x.clone();
        sliding_cmvn(&mut s, 5);
        for t in [0usize, 4, 8] {
            let lo = t.saturating_sub(2).min(4);
            let mut w = x.slice(ndarray::s![lo..lo + 5, ..]).to_owned();
            cmvn(&mut w);
            for j in 0..2 {
                assert!((w[[t - lo, j]] - s[[t, j]]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn floor_keep_drops_frames_near_the_noise_floor() {
        // 10 frames at the floor (1e-4), 5 loud ones.
        let mut e = vec![1e-4f32; 10];
        e.extend([1e-2, 1e-3, 1e-1, 3e-4, 1e-2]);
        let all: Vec<usize> = (0..15).collect();
        assert_eq!(floor_keep(&e, &all, 6.0, 0), vec![10, 11, 12, 14]);
        assert_eq!(floor_keep(&e, &all, 6.0, 5), vec![10, 11, 12, 13, 14]);
    }

    #[test]
    fn cmvn_standardises_columns() {
        let mut x = ndarray::array![[1.0f32, 5.0], [3.0, 5.0]];
        cmvn(&mut x);
        assert_eq!(x, ndarray::array![[-1.0f32, 0.0], [1.0, 0.0]]);
    }
}
