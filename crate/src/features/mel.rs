//! The mel filterbank and the mel spectrogram, as `librosa.filters.mel` (Slaney mel
//! scale, `htk=False`, `norm='slaney'`) and `librosa.feature.melspectrogram`.
//!
//! The mel scale spaces frequencies the way pitch is perceived: linear below 1 kHz
//! (`mel = 3 f / 200`) and logarithmic above (`mel = 15 + 27 ln(f / 1000) / ln 6.4`),
//! the Slaney / Auditory Toolbox formula librosa uses by default. `n_mels + 2` points
//! are spaced evenly in mel between `fmin` and `fmax`; filter `m` is a triangle from
//! point `m` up to point `m + 1` and down to point `m + 2`, evaluated at each FFT
//! bin's frequency, and scaled by `2 / (f[m + 2] - f[m])` so every filter holds the
//! same area ("Slaney normalisation").
//!
//! Each triangle is non-zero on a short run of bins, so the bank is stored sparse:
//! a start bin and the weights of that run. Applying it costs about two
//! multiply-adds per FFT bin instead of `n_mels` per bin.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::dot::dot4_f32;
use crate::audio::Audio;
use crate::error::{Error, Result};

/// Slaney mel value of a frequency in Hz (`librosa.hz_to_mel(f, htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

/// Frequency in Hz of a Slaney mel value (`librosa.mel_to_hz(m, htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// The most mel bands a filterbank may have: far beyond any use (librosa's
/// default is 128), and small enough that a damaged setting (a model file's, say)
/// cannot ask for an allocation of petabytes.
pub const MAX_N_MELS: usize = 4096;

/// `n_mels` within `1..=MAX_N_MELS`.
fn check_n_mels(n_mels: usize) -> Result<()> {
    if !(1..=MAX_N_MELS).contains(&n_mels) {
        return Err(Error::param(
            "n_mels",
            format!("{n_mels} is outside 1..={MAX_N_MELS}"),
        ));
    }
    Ok(())
}

/// `n` frequencies evenly spaced on the Slaney mel scale from `fmin` to `fmax`
/// inclusive (`librosa.mel_frequencies(n, fmin=fmin, fmax=fmax)`).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    linspace(lo, hi, n).into_iter().map(mel_to_hz).collect()
}

/// Centre frequency of each FFT bin, `k * sr / n_fft` for `k = 0..=n_fft/2`
/// (`librosa.fft_frequencies`, i.e. `np.fft.rfftfreq(n_fft, 1/sr)`).
pub fn fft_frequencies(sample_rate: f64, n_fft: usize) -> Vec<f64> {
    let val = 1.0 / (n_fft as f64 * (1.0 / sample_rate));
    (0..=n_fft / 2).map(|k| k as f64 * val).collect()
}

/// `np.linspace(start, stop, n)` (endpoint included, last value exactly `stop`).
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![start],
        _ => {
            let step = (stop - start) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
            v[n - 1] = stop;
            v
        }
    }
}

/// One triangular filter: weights for FFT bins `start .. start + weights.len()`;
/// every other bin has weight 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelFilter {
    /// First FFT bin with a non-zero weight.
    pub start: usize,
    /// The non-zero run of weights (may be empty for a degenerate filter).
    pub weights: Vec<f32>,
}

/// A Slaney-normalised mel filterbank, stored sparse (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    sample_rate: f64,
    n_fft: usize,
    fmin: f64,
    fmax: f64,
    filters: Vec<MelFilter>,
    /// The same filters with each run widened by zero weights to a multiple of 4
    /// bins, so [`apply`](Self::apply) runs whole SIMD chunks (adding exact zeros
    /// changes no sum).
    padded: Vec<MelFilter>,
}

impl MelFilterbank {
    /// Build the bank as `librosa.filters.mel(sr=sample_rate, n_fft=n_fft,
    /// n_mels=n_mels, fmin=fmin, fmax=fmax)` (`fmax = None` means `sr / 2`), with
    /// weights rounded to `f32` as librosa's `dtype=np.float32` does.
    ///
    /// Like librosa, a bank whose filters fall between FFT bins (too many mels for
    /// the FFT size, or `fmax` above Nyquist) is allowed: those filters are empty
    /// and their band stays at the dB floor (librosa warns).
    ///
    /// ```
    /// use speaker_similarity::features::MelFilterbank;
    /// # fn main() -> speaker_similarity::Result<()> {
    /// let bank = MelFilterbank::new(16000.0, 2048, 128, 0.0, None)?;
    /// assert_eq!(bank.n_mels(), 128);
    /// assert_eq!(bank.to_dense().dim(), (128, 1025));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(
        sample_rate: f64,
        n_fft: usize,
        n_mels: usize,
        fmin: f64,
        fmax: Option<f64>,
    ) -> Result<Self> {
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            return Err(Error::param(
                "sample_rate",
                format!("{sample_rate} is not a positive number"),
            ));
        }
        super::stft::check_fft_params(n_fft, 1)?;
        check_n_mels(n_mels)?;
        let fmax = fmax.unwrap_or(sample_rate / 2.0);
        check_band(fmin, fmax)?;
        let fftfreqs = fft_frequencies(sample_rate, n_fft);
        let mel_f = mel_frequencies(n_mels + 2, fmin, fmax);
        let mut filters = Vec::with_capacity(n_mels);
        for i in 0..n_mels {
            let (f0, f1, f2) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
            let (d0, d1) = (f1 - f0, f2 - f1);
            let enorm = 2.0 / (f2 - f0);
            let mut start = None;
            let mut weights = Vec::new();
            for (k, &fk) in fftfreqs.iter().enumerate() {
                // librosa: max(0, min(-(f0 - fk) / d0, (f2 - fk) / d1)), stored as
                // float32, then multiplied in place by enorm (in f64, stored f32).
                let lower = -(f0 - fk) / d0;
                let upper = (f2 - fk) / d1;
                let w = 0.0f64.max(lower.min(upper)) as f32;
                let w = (w as f64 * enorm) as f32;
                if w > 0.0 {
                    if start.is_none() {
                        start = Some(k);
                    }
                    // A triangle is one contiguous run; fill any (impossible) gap.
                    let s = start.unwrap_or(k);
                    weights.resize(k - s, 0.0);
                    weights.push(w);
                }
            }
            filters.push(MelFilter {
                start: start.unwrap_or(0),
                weights,
            });
        }
        let n_bins = n_fft / 2 + 1;
        let padded = filters
            .iter()
            .map(|f| {
                let len = f.weights.len().next_multiple_of(4).min(n_bins);
                let start = f.start.min(n_bins - len);
                let mut weights = vec![0.0; len];
                weights[f.start - start..f.start - start + f.weights.len()]
                    .copy_from_slice(&f.weights);
                MelFilter { start, weights }
            })
            .collect();
        Ok(MelFilterbank {
            sample_rate,
            n_fft,
            fmin,
            fmax,
            filters,
            padded,
        })
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    /// Number of FFT bins the bank applies to, `1 + n_fft / 2`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// The FFT length the bank was built for.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// The sample rate the bank was built for.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Lowest and highest band edge in Hz.
    pub fn band(&self) -> (f64, f64) {
        (self.fmin, self.fmax)
    }

    /// The filters, sparse.
    pub fn filters(&self) -> &[MelFilter] {
        &self.filters
    }

    /// The dense `n_mels x (1 + n_fft / 2)` matrix, as `librosa.filters.mel` returns.
    pub fn to_dense(&self) -> Array2<f32> {
        let mut m = Array2::zeros((self.n_mels(), self.n_bins()));
        for (i, f) in self.filters.iter().enumerate() {
            for (j, &w) in f.weights.iter().enumerate() {
                m[[i, f.start + j]] = w;
            }
        }
        m
    }

    /// Mel energies of one power spectrum: `out[m] = sum_k W[m, k] power[k]`.
    /// `power` has `n_bins()` values and `out` `n_mels()`.
    #[inline(always)]
    pub(crate) fn apply(&self, power: &[f32], out: &mut [f32]) {
        for (o, f) in out.iter_mut().zip(&self.padded) {
            let end = (f.start + f.weights.len()).min(power.len());
            *o = if f.start < end {
                dot4_f32(&f.weights, &power[f.start..end])
            } else {
                0.0
            };
        }
    }
}

/// Check a band `fmin..fmax` in Hz.
pub(crate) fn check_band(fmin: f64, fmax: f64) -> Result<()> {
    if !(fmin.is_finite() && fmin >= 0.0) {
        return Err(Error::param("fmin", format!("{fmin} Hz is not >= 0")));
    }
    if !(fmax.is_finite() && fmax > fmin) {
        return Err(Error::param(
            "fmax",
            format!("{fmax} Hz is not above fmin = {fmin} Hz"),
        ));
    }
    Ok(())
}

/// Parameters of [`melspectrogram`]. Defaults are librosa's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelSpectrogramParams {
    /// FFT length in samples. Default 2048 (librosa).
    pub n_fft: usize,
    /// Samples between frames. Default 512 (librosa).
    pub hop_length: usize,
    /// Number of mel bands. Default 128 (librosa).
    pub n_mels: usize,
    /// Lowest band edge in Hz. Default 0 (librosa).
    pub fmin: f64,
    /// Highest band edge in Hz; `None` = half the sample rate. Default `None`
    /// (librosa).
    pub fmax: Option<f64>,
}

impl Default for MelSpectrogramParams {
    fn default() -> Self {
        MelSpectrogramParams {
            n_fft: 2048,
            hop_length: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
        }
    }
}

impl MelSpectrogramParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        super::stft::check_fft_params(self.n_fft, self.hop_length)?;
        check_n_mels(self.n_mels)?;
        if let Some(fmax) = self.fmax {
            check_band(self.fmin, fmax)?;
        } else if !(self.fmin.is_finite() && self.fmin >= 0.0) {
            return Err(Error::param(
                "fmin",
                format!("{} Hz is not >= 0", self.fmin),
            ));
        }
        Ok(())
    }
}

/// The mel power spectrogram, `n_mels` rows by frames, as
/// `librosa.feature.melspectrogram(y=audio.samples, sr=audio.sample_rate, ...)`
/// (power 2, Slaney mel, centred frames with zero padding).
///
/// ```
/// use speaker_similarity::{Audio, features::{melspectrogram, MelSpectrogramParams}};
/// # fn main() -> speaker_similarity::Result<()> {
/// let audio = Audio::new(vec![0.1; 8000], 16000)?;
/// let m = melspectrogram(&audio, &MelSpectrogramParams::default())?;
/// assert_eq!(m.dim(), (128, 16));
/// # Ok(())
/// # }
/// ```
pub fn melspectrogram(audio: &Audio, params: &MelSpectrogramParams) -> Result<Array2<f32>> {
    super::extractor::with_thread_extractor(|ex| ex.melspectrogram(audio, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9 * hz.max(1.0));
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        // librosa.mel_to_hz([1, 2, 3]) = [66.667, 133.333, 200.]
        assert!((mel_to_hz(3.0) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn filters_are_contiguous_triangles() {
        let bank = MelFilterbank::new(16000.0, 512, 40, 20.0, Some(7600.0)).unwrap();
        let dense = bank.to_dense();
        for (i, f) in bank.filters().iter().enumerate() {
            assert!(!f.weights.is_empty(), "filter {i} empty");
            assert!(f.weights.iter().all(|&w| w > 0.0));
            let nz = dense.row(i).iter().filter(|&&w| w > 0.0).count();
            assert_eq!(nz, f.weights.len());
        }
    }

    #[test]
    fn sparse_apply_equals_dense_product() {
        for (sr, n_fft, n_mels) in [(16000.0, 2048, 128), (16000.0, 256, 128), (8000.0, 512, 40)] {
            let bank = MelFilterbank::new(sr, n_fft, n_mels, 0.0, None).unwrap();
            let power: Vec<f32> = (0..bank.n_bins())
                .map(|k| ((k * 31 % 17) as f32 + 0.5) / 9.0)
                .collect();
            let mut out = vec![0.0f32; n_mels];
            bank.apply(&power, &mut out);
            let dense = bank.to_dense();
            for (m, &o) in out.iter().enumerate() {
                let want: f64 = dense
                    .row(m)
                    .iter()
                    .zip(&power)
                    .map(|(&w, &p)| w as f64 * p as f64)
                    .sum();
                assert!(
                    (o as f64 - want).abs() <= 1e-5 * want.abs().max(1e-6),
                    "{m}: {o} vs {want}"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(MelFilterbank::new(0.0, 512, 40, 0.0, None).is_err());
        assert!(MelFilterbank::new(16000.0, 512, 0, 0.0, None).is_err());
        assert!(MelFilterbank::new(16000.0, 512, 40, 500.0, Some(100.0)).is_err());
        assert!(MelFilterbank::new(16000.0, 1, 40, 0.0, None).is_err());
    }
}
