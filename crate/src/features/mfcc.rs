//! MFCCs: `librosa.feature.mfcc` — the DCT-II (orthonormal) of the dB mel
//! spectrogram, first `n_mfcc` coefficients, optional liftering — and the pieces
//! it is made of: [`power_to_db`] and the DCT matrix.

use ndarray::{Array2, AsArray, Ix2};
use serde::{Deserialize, Serialize};

use super::mel::{check_band, MelSpectrogramParams};
use crate::audio::Audio;
use crate::error::{Error, Result};

/// Power to decibels, as `librosa.power_to_db(S, ref=ref_value, amin=amin,
/// top_db=top_db)`: `10 log10(max(amin, S)) - 10 log10(max(amin, |ref|))`, then
/// (when `top_db` is given) every value is raised to at least `max - top_db`, the
/// maximum taken over the whole array. Computed in `f32` as librosa does for
/// `float32` input. Silence (all zeros) gives `10 log10(amin)` everywhere
/// (-100 dB for the default `amin = 1e-10`).
///
/// Errors: `amin <= 0` or `top_db < 0` (librosa's `ParameterError`s).
///
/// ```
/// use ndarray::array;
/// use speaker_similarity::features::power_to_db;
/// # fn main() -> speaker_similarity::Result<()> {
/// let db = power_to_db(&array![[1.0f32, 0.1], [1e-12, 0.0]], 1.0, 1e-10, Some(80.0))?;
/// assert_eq!(db, array![[0.0f32, -10.0], [-80.0, -80.0]]);
/// # Ok(())
/// # }
/// ```
pub fn power_to_db<'a>(
    s: impl AsArray<'a, f32, Ix2>,
    ref_value: f32,
    amin: f32,
    top_db: Option<f32>,
) -> Result<Array2<f32>> {
    check_db_params(amin, top_db)?;
    let s = s.into();
    let mut out = s.to_owned();
    match out.as_slice_mut() {
        Some(slice) => power_to_db_in_place(slice, ref_value, amin, top_db, false),
        None => {
            let mut v: Vec<f32> = out.iter().copied().collect();
            power_to_db_in_place(&mut v, ref_value, amin, top_db, false);
            for (o, x) in out.iter_mut().zip(v) {
                *o = x;
            }
        }
    }
    Ok(out)
}

pub(crate) fn check_db_params(amin: f32, top_db: Option<f32>) -> Result<()> {
    if !(amin > 0.0 && amin.is_finite()) {
        return Err(Error::param("amin", "must be strictly positive"));
    }
    if let Some(t) = top_db {
        if t.is_nan() || t < 0.0 {
            return Err(Error::param("top_db", "must be non-negative"));
        }
    }
    Ok(())
}

/// [`power_to_db`] on a flat buffer (the whole array: `top_db` is relative to its
/// maximum), with libm's `log10` (`fast = false`) or the vectorised
/// [`log10_fast`](super::dot::log10_fast) (within 2 ulp of it; used by the MFCC
/// path, where it is a tenth of the running time otherwise).
#[inline(always)]
pub(crate) fn power_to_db_in_place(
    s: &mut [f32],
    ref_value: f32,
    amin: f32,
    top_db: Option<f32>,
    fast: bool,
) {
    let ref_db = 10.0f32 * amin.max(ref_value.abs()).log10();
    if fast {
        for v in s.iter_mut() {
            *v = 10.0f32 * super::dot::log10_fast(amin.max(*v)) - ref_db;
        }
    } else {
        for v in s.iter_mut() {
            *v = 10.0f32 * amin.max(*v).log10() - ref_db;
        }
    }
    let max = super::dot::max_f32(s);
    if let Some(top) = top_db {
        let floor = max - top;
        for v in s.iter_mut() {
            *v = v.max(floor);
        }
    }
}

/// The orthonormal DCT-II matrix, `n_out x n_in`, row-major:
/// `D[k][n] = s_k cos(pi k (2n + 1) / (2 n_in))` with `s_0 = sqrt(1/n_in)` and
/// `s_k = sqrt(2/n_in)`, as `scipy.fft.dct(x, type=2, norm='ortho')[:n_out]`.
pub fn dct_ortho_matrix(n_in: usize, n_out: usize) -> Array2<f32> {
    let mut m = Array2::zeros((n_out, n_in));
    let n = n_in as f64;
    for k in 0..n_out {
        let s = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..n_in {
            let arg = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
            m[[k, i]] = (s * arg.cos()) as f32;
        }
    }
    m
}

/// Parameters of [`mfcc`]. Defaults are librosa 0.11's (`librosa.feature.mfcc`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfccParams {
    /// Coefficients kept (rows of the result). Default 20 (librosa; the original
    /// project used 13).
    pub n_mfcc: usize,
    /// FFT length in samples. Default 2048 (librosa).
    pub n_fft: usize,
    /// Samples between frames. Default 512 (librosa; the original used 256).
    pub hop_length: usize,
    /// Mel bands. Default 128 (librosa).
    pub n_mels: usize,
    /// Lowest mel band edge in Hz. Default 0 (librosa).
    pub fmin: f64,
    /// Highest mel band edge in Hz; `None` = half the sample rate. Default `None`
    /// (librosa).
    pub fmax: Option<f64>,
    /// Dynamic range of the dB mel spectrogram: values below `max - top_db` are
    /// raised to it. Default `Some(80.0)` (librosa's `power_to_db`).
    pub top_db: Option<f32>,
    /// Cepstral liftering `1 + (L/2) sin(pi (k+1) / L)`; 0 disables. Default 0
    /// (librosa).
    pub lifter: f32,
}

impl Default for MfccParams {
    fn default() -> Self {
        MfccParams {
            n_mfcc: 20,
            n_fft: 2048,
            hop_length: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            top_db: Some(80.0),
            lifter: 0.0,
        }
    }
}

impl MfccParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        self.mel_params().validate()?;
        if self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return Err(Error::param(
                "n_mfcc",
                format!("{} is outside 1..={} (n_mels)", self.n_mfcc, self.n_mels),
            ));
        }
        check_db_params(1e-10, self.top_db)?;
        if !(self.lifter >= 0.0 && self.lifter.is_finite()) {
            return Err(Error::param(
                "lifter",
                format!("{} must be a non-negative number", self.lifter),
            ));
        }
        Ok(())
    }

    /// The mel spectrogram part of these parameters.
    pub fn mel_params(&self) -> MelSpectrogramParams {
        MelSpectrogramParams {
            n_fft: self.n_fft,
            hop_length: self.hop_length,
            n_mels: self.n_mels,
            fmin: self.fmin,
            fmax: self.fmax,
        }
    }

    /// Check the band against a sample rate (`fmax` defaults to its half).
    pub(crate) fn check_rate(&self, sample_rate: u32) -> Result<()> {
        check_band(self.fmin, self.fmax.unwrap_or(sample_rate as f64 / 2.0))
    }
}

/// MFCCs of a clip, `n_mfcc` rows (coefficients) by frames, as
/// `librosa.feature.mfcc(y=audio.samples, sr=audio.sample_rate, ...)`.
///
/// Errors: empty audio ([`Error::TooShort`]), a NaN/infinite sample
/// ([`Error::NonFinite`]), invalid parameters.
///
/// ```
/// use speaker_similarity::{Audio, features::{mfcc, MfccParams}};
/// # fn main() -> speaker_similarity::Result<()> {
/// let tone: Vec<f32> = (0..16000).map(|i| (i as f32 * 0.1727).sin() * 0.5).collect();
/// let m = mfcc(&Audio::new(tone, 16000)?, &MfccParams::default())?;
/// assert_eq!(m.dim(), (20, 32));
/// # Ok(())
/// # }
/// ```
pub fn mfcc(audio: &Audio, params: &MfccParams) -> Result<Array2<f32>> {
    super::extractor::with_thread_extractor(|ex| ex.mfcc(audio, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn dct_is_orthonormal() {
        let d = dct_ortho_matrix(16, 16);
        let p = d.dot(&d.t());
        for i in 0..16 {
            for j in 0..16 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((p[[i, j]] - want).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn db_of_silence_is_the_amin_floor() {
        let db = power_to_db(&Array2::<f32>::zeros((3, 4)), 1.0, 1e-10, Some(80.0)).unwrap();
        assert!(db.iter().all(|&v| v == -100.0));
    }

    #[test]
    fn db_rejects_bad_parameters() {
        let s = array![[1.0f32]];
        assert!(power_to_db(&s, 1.0, 0.0, None).is_err());
        assert!(power_to_db(&s, 1.0, 1e-10, Some(-1.0)).is_err());
        assert!(power_to_db(s.t(), 1.0, 1e-10, None).is_ok());
    }
}
