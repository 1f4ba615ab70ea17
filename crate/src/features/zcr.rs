//! Zero-crossing rate: how often the waveform changes sign, a cheap cue for
//! noisiness and voicing (unvoiced fricatives cross zero far more often than
//! vowels).
//!
//! Two definitions live here:
//! - [`zero_crossing_rate`]: librosa 0.11's framewise rate
//!   (`librosa.feature.zero_crossing_rate`).
//! - [`zcr_splits`]: the original project's "13 equal splits" rate, computed by
//!   pyAudioAnalysis `ShortTermFeatures.feature_extraction` (row 0 = ZCR) with
//!   window = step = one thirteenth of the clip.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::check_samples;
use crate::error::{Error, Result};

/// Parameters of [`zero_crossing_rate`]. Defaults are librosa 0.11's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZcrParams {
    /// Samples per frame. Default 2048 (librosa).
    pub frame_length: usize,
    /// Samples between frames. Default 512 (librosa).
    pub hop_length: usize,
    /// Centre frames on `t * hop_length` by padding `frame_length / 2` copies of the
    /// first/last sample on each side (`np.pad(mode='edge')`). Default `true`
    /// (librosa).
    pub center: bool,
    /// Samples with `|x| <= threshold` count as zero (positive sign). Default
    /// `1e-10` (librosa's `zero_crossings`).
    pub threshold: f32,
}

impl Default for ZcrParams {
    fn default() -> Self {
        ZcrParams {
            frame_length: 2048,
            hop_length: 512,
            center: true,
            threshold: 1e-10,
        }
    }
}

impl ZcrParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if self.frame_length == 0 {
            return Err(Error::param("frame_length", "must be a positive integer"));
        }
        if self.hop_length == 0 {
            return Err(Error::param("hop_length", "must be a positive integer"));
        }
        if !(self.threshold >= 0.0 && self.threshold.is_finite()) {
            return Err(Error::param("threshold", "must be a finite number >= 0"));
        }
        Ok(())
    }
}

/// Framewise zero-crossing rate, `1 x frames`, as
/// `librosa.feature.zero_crossing_rate(y, frame_length, hop_length, center)` in
/// librosa 0.11:
/// 1. with `center`, pad `frame_length / 2` copies of the edge samples each side;
/// 2. cut frames of `frame_length` every `hop_length` samples
///    (`librosa.util.frame`: `1 + (len - frame_length) / hop_length` frames);
/// 3. in each frame, sample `i >= 1` is a crossing when the sign bits of samples
///    `i - 1` and `i` differ, after values with `|x| <= 1e-10` are set to `+0`
///    (`zero_pos=True`); sample 0 of every frame is never a crossing (`pad=False`);
/// 4. the rate is the mean over the frame: crossings / `frame_length`.
///
/// librosa returns the mean as `float64`; here it is rounded to `f32` (counts over
/// `frame_length` are exact in `f64`, so the values are equal as `f32`).
///
/// Errors: empty or non-finite `y`, too short for one frame without `center`.
pub fn zero_crossing_rate(y: &[f32], params: &ZcrParams) -> Result<Array2<f32>> {
    params.validate()?;
    check_samples(y, "zero_crossing_rate input")?;
    let fl = params.frame_length;
    let pad = if params.center { fl / 2 } else { 0 };
    let padded_len = y.len() + 2 * pad;
    if padded_len < fl {
        return Err(Error::too_short(
            "zero_crossing_rate without centring (frame_length)",
            fl as f64,
            y.len() as f64,
            "sample",
        ));
    }
    let frames = 1 + (padded_len - fl) / params.hop_length;
    let th = params.threshold;
    let neg = |x: f32| !(-th <= x && x <= th) && x.is_sign_negative();
    // crossing[i] (i >= 1) over the padded signal, as prefix sums.
    let sample = |i: usize| y[i.saturating_sub(pad).min(y.len() - 1)];
    let mut prefix = vec![0u32; padded_len + 1];
    let mut prev = neg(sample(0));
    for i in 1..padded_len {
        let cur = neg(sample(i));
        prefix[i + 1] = prefix[i] + u32::from(cur != prev);
        prev = cur;
    }
    let mut out = Array2::zeros((1, frames));
    for t in 0..frames {
        let s = t * params.hop_length;
        // Crossings at positions s+1 .. s+fl-1 (the frame's first sample is never one).
        let count = prefix[s + fl] - prefix[s + 1];
        out[[0, t]] = (count as f64 / fl as f64) as f32;
    }
    Ok(out)
}

/// The original project's zero-crossing rate over `n_splits` equal parts of a clip.
///
/// The original called pyAudioAnalysis
/// `ShortTermFeatures.feature_extraction(s, 16000, win, win)` with
/// `win = int(16000 * (len(s) / 16000.0 / n_splits))` (≈ `len / n_splits`) and kept
/// row 0, the ZCR. pyAudioAnalysis first scales the int16 samples (`x / 2^15`),
/// removes the mean and divides by the peak (`dc_normalize`), so only the sign of
/// `x - mean(x)` matters; then for every frame at `pos = 0, win, 2 win, ...` while
/// `pos + win - 1 < len`:
///
/// `zcr = (sum |diff(sign(frame))| / 2) / (win - 1)`
///
/// with `np.sign` three-valued (a sample exactly at the mean has sign 0 and counts
/// as half a crossing on each side). Silence therefore gives 0.
///
/// The frame count follows that loop: `len / win`, which is `n_splits` for any
/// clip longer than `n_splits^2` samples and can be more for shorter ones (never
/// fewer). The rate `16000` only enters through the float rounding of `win`,
/// mirrored exactly; the caller resamples to 16 kHz first as the original did.
///
/// Errors: empty or non-finite `y`, `n_splits == 0`, or a clip so short that a split
/// has fewer than 2 samples (pyAudioAnalysis would loop forever or divide by zero).
pub fn zcr_splits(y: &[f32], n_splits: usize) -> Result<Vec<f32>> {
    if n_splits == 0 {
        return Err(Error::param("n_splits", "must be at least 1"));
    }
    check_samples(y, "zcr_splits input")?;
    zcr_splits_unchecked(y, n_splits)
}

/// [`zcr_splits`] on samples the caller has checked (non-empty, finite).
pub(crate) fn zcr_splits_unchecked(y: &[f32], n_splits: usize) -> Result<Vec<f32>> {
    let n = y.len();
    // extract_features.py: duration = len(s) / float(16000); window = duration / splits;
    // int(16000 * window).
    const RATE: f64 = 16000.0;
    let duration = n as f64 / RATE;
    let window = duration / n_splits as f64;
    let win = (RATE * window) as usize;
    if win < 2 {
        return Err(Error::too_short(
            format!("zcr_splits: each of {n_splits} splits of {n} samples"),
            2.0,
            win as f64,
            "sample",
        ));
    }
    let mean = super::dot::sum_f64(y) / n as f64;
    // sign(v - mean) in f64 equals comparisons of the f32 v with the nearest f32
    // values above and below the mean, which vectorise.
    let m32 = mean as f32;
    let hi = if m32 as f64 > mean {
        m32
    } else {
        m32.next_up()
    };
    let lo = if (m32 as f64) < mean {
        m32
    } else {
        m32.next_down()
    };
    let mut out = Vec::with_capacity(n / win);
    let mut pos = 0;
    while pos + win - 1 < n {
        let frame = &y[pos..pos + win];
        // sum |sign[i] - sign[i-1]| with sign = [v >= hi] - [v <= lo] equals the
        // number of changes of [v >= hi] plus the number of changes of [v <= lo].
        let twice = sign_changes(frame, hi, lo);
        out.push(((twice as f64 / 2.0) / (win as f64 - 1.0)) as f32);
        pos += win;
    }
    Ok(out)
}

crate::simd::kernel! {
    /// `sum_i |s(x[i]) - s(x[i-1])|` with `s(v) = [v >= hi] - [v <= lo]`, `lo < hi`.
    fn sign_changes(x: &[f32], hi: f32, lo: f32) -> u64 {
        simd "avx2" sign_changes_simd => sign_changes_body,
        scalar sign_changes_scalar => sign_changes_body,
    }
}

#[inline(always)]
fn sign_changes_body(x: &[f32], hi: f32, lo: f32) -> u64 {
    if x.len() < 2 {
        return 0;
    }
    let mut total = 0u64;
    // u32 partial counts (at most 2 per pair) over blocks far below 2^31 pairs.
    for (a, b) in x[..x.len() - 1].chunks(1 << 20).zip(x[1..].chunks(1 << 20)) {
        let part: u32 = a
            .iter()
            .zip(b)
            .map(|(&p, &c)| u32::from((p >= hi) != (c >= hi)) + u32::from((p <= lo) != (c <= lo)))
            .sum();
        total += part as u64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_signal_crosses_every_sample() {
        let y: Vec<f32> = (0..64)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let p = ZcrParams {
            frame_length: 16,
            hop_length: 8,
            center: false,
            threshold: 1e-10,
        };
        let z = zero_crossing_rate(&y, &p).unwrap();
        assert_eq!(z.dim(), (1, 7));
        assert!(z.iter().all(|&v| v == 15.0 / 16.0));
        let s = zcr_splits(&y, 4).unwrap();
        assert_eq!(s, vec![1.0; 4]);
    }

    #[test]
    fn tiny_values_count_as_positive_zero() {
        let y = [1.0f32, -1e-12, 1.0, -0.5, -0.0, 2.0];
        let p = ZcrParams {
            frame_length: 6,
            hop_length: 1,
            center: false,
            threshold: 1e-10,
        };
        // Crossings: 1->-0.5 and -0.5->(-0.0 treated as +0).
        assert_eq!(zero_crossing_rate(&y, &p).unwrap()[[0, 0]], 2.0 / 6.0);
    }

    #[test]
    fn sign_change_paths_agree() {
        let x: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let (hi, lo) = (0.25f32.next_up(), 0.25f32.next_down());
        let sign = |v: f32| i64::from(v >= hi) - i64::from(v <= lo);
        let want: i64 = x.windows(2).map(|w| (sign(w[1]) - sign(w[0])).abs()).sum();
        assert_eq!(sign_changes_scalar(&x, hi, lo), want as u64);
        assert_eq!(sign_changes(&x, hi, lo), want as u64);
    }

    /// The AVX2 twin against the portable one on random signals with values on
    /// and next to the thresholds: equal counts (integers, tolerance 0).
    #[test]
    fn simd_twin_matches_scalar_twin() {
        use crate::simd::testing::{rng, uniform_f32};
        use rand::Rng;
        let mut rng = rng(13);
        for n in [0usize, 1, 2, 31, 1000, 70001] {
            let mut x = uniform_f32(&mut rng, n, -1.0, 1.0);
            let (hi, lo) = (0.01f32.next_up(), 0.01f32.next_down());
            for v in x.iter_mut() {
                match rng.random_range(0..8) {
                    0 => *v = hi,
                    1 => *v = lo,
                    2 => *v = 0.01,
                    _ => {}
                }
            }
            let want = sign_changes_scalar(&x, hi, lo);
            if let Some(got) = sign_changes_simd(&x, hi, lo) {
                assert_eq!(got, want, "n={n}");
            }
        }
    }

    #[test]
    fn silence_and_short_inputs() {
        assert_eq!(zcr_splits(&[0.0; 100], 13).unwrap(), vec![0.0; 14]);
        assert!(matches!(
            zcr_splits(&[0.1; 20], 13),
            Err(Error::TooShort { .. })
        ));
        assert!(zcr_splits(&[], 13).is_err());
        let z = zero_crossing_rate(&[0.5], &ZcrParams::default()).unwrap();
        assert_eq!(z.dim(), (1, 1));
        assert_eq!(z[[0, 0]], 0.0);
    }
}
