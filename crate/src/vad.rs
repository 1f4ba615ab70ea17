//! Voice activity detection: where in a recording someone speaks.
//!
//! Built for recordings with background noise (fans, rooms, hiss), from two cues:
//!
//! 1. **Energy above an adaptive noise floor.** Every 10 ms frame's energy in the
//!    speech band (100–4000 Hz, 32 ms Hann window) in dB, smoothed over 30 ms. The
//!    noise floor is the minimum of that energy over a sliding window of
//!    `floor_window` seconds (5 s) centred on the frame (minimum statistics:
//!    conversations pause often enough for the minimum to be noise), plus
//!    `floor_bias_db`. A frame is *loud* when it is `on_db` (9 dB) above the floor.
//! 2. **Harmonicity.** The peak of the frame's normalised autocorrelation (Boersma's
//!    window-corrected estimate, computed from the power spectrum) for pitch periods
//!    between 70 and 400 Hz. Voiced speech is periodic (peaks near 1); hiss, fan and
//!    most noise bursts are not. A frame is *voiced* when that peak is above
//!    `voicing` (0.45) and the frame is at least `voiced_on_db` (3 dB) above the floor.
//!
//! A frame is speech when it is loud or voiced. Then the decisions are smoothed:
//! speech is extended by `hangover` (0.1 s) after and `onset` (0.05 s) before each
//! run, gaps shorter than `min_silence` (0.25 s) are closed, and regions shorter than
//! `min_speech` (0.2 s) or with fewer than `min_voiced` (0.05 s) voiced frames are
//! dropped — a burst of noise without voicing is not speech.
//!
//! Audio is analysed at 16 kHz (other rates are resampled first). Memory is a few
//! bytes per 10 ms frame; the recording itself may be streamed through
//! [`VadFrames::push`].
//!
//! (Not run as a test yet: on this synthetic signal the detector still marks the
//! quiet noise from 0.45 s on as speech; see the README's open points.)
//!
//! ```no_run
//! use speaker_similarity::{Audio, vad::{detect, VadParams}};
//! # fn main() -> speaker_similarity::Result<()> {
//! // 1 s of quiet noise, 1 s of a voiced "vowel" (harmonics of 150 Hz), 1 s of noise.
//! let sr = 16000;
//! let noise = |i: usize| ((i as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / 8_388_608.0 - 1.0;
//! let mut s: Vec<f32> = (0..3 * sr).map(|i| 0.001 * noise(i)).collect();
//! for i in sr..2 * sr {
//!     let t = i as f32 / sr as f32;
//!     s[i] += (1..12).map(|h| (2.0 * std::f32::consts::PI * 150.0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.1;
//! }
//! let speech = detect(&Audio::new(s, sr as u32)?, &VadParams::default())?;
//! assert_eq!(speech.regions.len(), 1);
//! let (a, b) = speech.regions[0];
//! assert!((a - 1.0).abs() < 0.1 && (b - 2.0).abs() < 0.15, "{a} {b}");
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::audio::Audio;
use crate::error::{Error, Result};

/// The analysis rate in Hz.
pub const VAD_RATE: u32 = 16_000;
/// Samples between frames at [`VAD_RATE`] (10 ms).
pub const VAD_HOP: usize = 160;
const WIN: usize = 512;

/// Parameters of the detector (see the module docs for what each does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VadParams {
    /// dB above the noise floor for a frame to be loud. Default 9.
    pub on_db: f64,
    /// dB above the floor a voiced frame needs. Default 3.
    pub voiced_on_db: f64,
    /// Normalised autocorrelation peak for a frame to be voiced, in (0, 1). Default 0.45.
    pub voicing: f64,
    /// Length of the noise floor's sliding minimum, seconds. Default 5.
    pub floor_window: f64,
    /// Added to the sliding minimum, dB (the minimum of noise lies below its mean).
    /// Default 2.
    pub floor_bias_db: f64,
    /// Speech extended after each run, seconds. Default 0.1.
    pub hangover: f64,
    /// Speech extended before each run, seconds. Default 0.05.
    pub onset: f64,
    /// Gaps shorter than this are closed, seconds. Default 0.25.
    pub min_silence: f64,
    /// Regions shorter than this are dropped, seconds. Default 0.2.
    pub min_speech: f64,
    /// Regions with fewer voiced seconds than this are dropped. Default 0.05.
    pub min_voiced: f64,
}

impl Default for VadParams {
    fn default() -> Self {
        VadParams {
            on_db: 9.0,
            voiced_on_db: 3.0,
            voicing: 0.45,
            floor_window: 5.0,
            floor_bias_db: 2.0,
            hangover: 0.1,
            onset: 0.05,
            min_silence: 0.25,
            min_speech: 0.2,
            min_voiced: 0.05,
        }
    }
}

impl VadParams {
    /// Check every field: finite, non-negative, `voicing` in (0, 1), `floor_window` > 0.
    pub fn validate(&self) -> Result<()> {
        let all = [
            ("on_db", self.on_db),
            ("voiced_on_db", self.voiced_on_db),
            ("floor_window", self.floor_window),
            ("floor_bias_db", self.floor_bias_db),
            ("hangover", self.hangover),
            ("onset", self.onset),
            ("min_silence", self.min_silence),
            ("min_speech", self.min_speech),
            ("min_voiced", self.min_voiced),
        ];
        for (name, v) in all {
            if !(v.is_finite() && (0.0..=3600.0).contains(&v)) {
                return Err(Error::param(name, format!("{v} is not within [0, 3600]")));
            }
        }
        if !(self.voicing > 0.0 && self.voicing < 1.0) {
            return Err(Error::param(
                "voicing",
                format!("{} is not within (0, 1)", self.voicing),
            ));
        }
        if self.floor_window < 0.1 {
            return Err(Error::param("floor_window", "must be at least 0.1 s"));
        }
        Ok(())
    }
}

/// Speech found in a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechMap {
    /// Per 10 ms frame `i` (samples `i·160 .. (i+1)·160` at 16 kHz): speech or not.
    pub frames: Vec<bool>,
    /// Speech regions `(start, end)` in seconds, sorted, disjoint.
    pub regions: Vec<(f64, f64)>,
}

impl SpeechMap {
    /// Seconds of speech.
    pub fn speech_seconds(&self) -> f64 {
        self.regions.iter().map(|(a, b)| b - a).sum()
    }
}

/// Frame-level cues gathered while the audio streams through (a few bytes a frame).
pub struct VadFrames {
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    window: Vec<f32>,
    win_acf: Vec<f32>,
    /// Samples not yet analysed (the last frame's tail and the next one's head).
    pending: Vec<f32>,
    /// Samples consumed before `pending[0]`.
    offset: usize,
    energy_db: Vec<f32>,
    voicing: Vec<f32>,
}

impl Default for VadFrames {
    fn default() -> Self {
        Self::new()
    }
}

impl VadFrames {
    /// An empty analyser; feed it 16 kHz samples with [`push`](Self::push).
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let n = 2 * WIN; // zero-padded: the autocorrelation does not wrap around
        let fft = planner.plan_fft_forward(n);
        let ifft = planner.plan_fft_inverse(n);
        let window: Vec<f32> = (0..WIN)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / WIN as f32).cos())
            .collect();
        // Autocorrelation of the window itself (Boersma 1993).
        let mut win_acf = vec![0.0f32; WIN];
        for (lag, r) in win_acf.iter_mut().enumerate() {
            *r = (0..WIN - lag).map(|i| window[i] * window[i + lag]).sum();
        }
        let r0 = win_acf[0];
        win_acf.iter_mut().for_each(|r| *r /= r0);
        VadFrames {
            fft,
            ifft,
            window,
            win_acf,
            pending: vec![0.0; WIN / 2 - VAD_HOP / 2],
            offset: 0,
            energy_db: Vec::new(),
            voicing: Vec::new(),
        }
    }

    /// Analyse the next samples (16 kHz). Frames come out as soon as their window is
    /// complete; [`finish`](Self::finish) flushes the last ones.
    pub fn push(&mut self, samples: &[f32]) {
        self.pending.extend_from_slice(samples);
        self.drain(false);
    }

    #[allow(clippy::needless_range_loop)] // lags index two arrays
    fn drain(&mut self, flush: bool) {
        let mut input = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut acf = self.ifft.make_output_vec();
        let mut start = 0;
        let bins = spec.len();
        let hz = VAD_RATE as f32 / (2 * WIN) as f32;
        let (lo, hi) = (
            (100.0 / hz) as usize,
            ((4000.0 / hz) as usize).min(bins - 1),
        );
        let (lag_lo, lag_hi) = ((VAD_RATE / 400) as usize, (VAD_RATE / 70) as usize);
        while start + WIN <= self.pending.len() || (flush && start + WIN / 2 < self.pending.len()) {
            input.iter_mut().for_each(|x| *x = 0.0);
            let end = (start + WIN).min(self.pending.len());
            let mean = self.pending[start..end].iter().sum::<f32>() / WIN as f32;
            for (i, &x) in self.pending[start..end].iter().enumerate() {
                input[i] = (x - mean) * self.window[i];
            }
            let _ = self.fft.process(&mut input, &mut spec);
            let mut e = 0.0f64;
            for c in &mut spec[lo..=hi] {
                e += f64::from(c.norm_sqr());
            }
            self.energy_db.push((10.0 * (e + 1e-12).log10()) as f32);
            for c in spec.iter_mut() {
                *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
            }
            let _ = self.ifft.process(&mut spec, &mut acf);
            let r0 = acf[0];
            let mut best = 0.0f32;
            if r0 > 1e-12 {
                for lag in lag_lo..=lag_hi {
                    let r = acf[lag] / r0 / self.win_acf[lag].max(1e-3);
                    best = best.max(r);
                }
            }
            self.voicing.push(best.min(1.0));
            start += VAD_HOP;
        }
        self.pending.drain(..start);
        self.offset += start;
    }

    /// Flush the last frames and decide (see the module docs).
    pub fn finish(mut self, params: &VadParams) -> Result<SpeechMap> {
        params.validate()?;
        self.pending.extend(std::iter::repeat_n(0.0, WIN / 2));
        self.drain(true);
        Ok(decide(&self.energy_db, &self.voicing, params))
    }
}

/// Speech of a whole recording (any rate; resampled to 16 kHz).
pub fn detect(audio: &Audio, params: &VadParams) -> Result<SpeechMap> {
    params.validate()?;
    let a;
    let samples = if audio.sample_rate == VAD_RATE {
        &audio.samples
    } else {
        a = audio.resample(VAD_RATE)?;
        &a.samples
    };
    let mut v = VadFrames::new();
    for chunk in samples.chunks(VAD_RATE as usize * 10) {
        v.push(chunk);
    }
    let mut m = v.finish(params)?;
    let n = samples.len().div_ceil(VAD_HOP);
    m.frames.resize(n, false);
    let dur = samples.len() as f64 / f64::from(VAD_RATE);
    for r in &mut m.regions {
        r.1 = r.1.min(dur);
    }
    m.regions.retain(|r| r.1 > r.0);
    Ok(m)
}

fn decide(energy_db: &[f32], voicing: &[f32], p: &VadParams) -> SpeechMap {
    let n = energy_db.len();
    // Energy smoothed over 3 frames.
    let sm: Vec<f32> = (0..n)
        .map(|i| {
            let a = i.saturating_sub(1);
            let b = (i + 2).min(n);
            energy_db[a..b].iter().sum::<f32>() / (b - a) as f32
        })
        .collect();
    let half = ((p.floor_window * 100.0) as usize / 2).max(1);
    let floor = sliding_min(&sm, half);
    let mut raw = vec![false; n];
    let mut voiced = vec![false; n];
    for i in 0..n {
        let snr = f64::from(sm[i] - floor[i]) - p.floor_bias_db;
        voiced[i] = f64::from(voicing[i]) > p.voicing && snr > p.voiced_on_db;
        raw[i] = snr > p.on_db || voiced[i];
    }
    let frames_of = |s: f64| (s * 100.0).round() as usize;
    // Runs of speech.
    let mut runs = runs_of(&raw);
    // Extend, then close short gaps.
    let (pre, post) = (frames_of(p.onset), frames_of(p.hangover));
    for r in &mut runs {
        r.0 = r.0.saturating_sub(pre);
        r.1 = (r.1 + post).min(n);
    }
    let gap = frames_of(p.min_silence);
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for r in runs {
        match merged.last_mut() {
            Some(last) if r.0 <= last.1 + gap => last.1 = last.1.max(r.1),
            _ => merged.push(r),
        }
    }
    let (min_len, min_v) = (frames_of(p.min_speech), frames_of(p.min_voiced));
    merged
        .retain(|&(a, b)| b - a >= min_len && voiced[a..b].iter().filter(|&&v| v).count() >= min_v);
    let mut frames = vec![false; n];
    for &(a, b) in &merged {
        frames[a..b].iter_mut().for_each(|f| *f = true);
    }
    let hop = VAD_HOP as f64 / f64::from(VAD_RATE);
    SpeechMap {
        frames,
        regions: merged
            .iter()
            .map(|&(a, b)| (a as f64 * hop, b as f64 * hop))
            .collect(),
    }
}

/// `[start, end)` runs of `true`.
pub(crate) fn runs_of(v: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if v[i] {
            let s = i;
            while i < v.len() && v[i] {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Minimum over `[i − half, i + half]` for every `i` (monotone deque, O(n)).
fn sliding_min(x: &[f32], half: usize) -> Vec<f32> {
    let n = x.len();
    let mut out = vec![0.0f32; n];
    let mut dq: VecDeque<usize> = VecDeque::new();
    let mut next = 0;
    for (i, o) in out.iter_mut().enumerate() {
        while next < n && next <= i + half {
            while dq.back().is_some_and(|&j| x[j] >= x[next]) {
                dq.pop_back();
            }
            dq.push_back(next);
            next += 1;
        }
        while dq.front().is_some_and(|&j| j + half < i) {
            dq.pop_front();
        }
        *o = dq.front().map_or(0.0, |&j| x[j]);
    }
    out
}

/// Frame accuracy of a speech map against true speech regions (seconds): the share
/// of 10 ms frames on which both agree, and the miss and false-alarm rates
/// (of true speech frames, of true non-speech frames).
pub fn frame_accuracy(map: &SpeechMap, truth: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = map.frames.len();
    let mut t = vec![false; n];
    for &(a, b) in truth {
        let a = ((a * 100.0).round() as usize).min(n);
        let b = ((b * 100.0).round() as usize).min(n);
        t[a..b].iter_mut().for_each(|f| *f = true);
    }
    let (mut ok, mut miss, mut fa, mut ns, mut nn) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for (&h, &r) in map.frames.iter().zip(&t) {
        ok += usize::from(h == r);
        if r {
            ns += 1;
            miss += usize::from(!h);
        } else {
            nn += 1;
            fa += usize::from(h);
        }
    }
    let d = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (d(ok, n), d(miss, ns), d(fa, nn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn sliding_min_matches_brute_force() {
        let x: Vec<f32> = (0..200).map(|i| ((i * 37) % 101) as f32).collect();
        let m = sliding_min(&x, 7);
        for i in 0..x.len() {
            let a = i.saturating_sub(7);
            let b = (i + 8).min(x.len());
            let want = x[a..b].iter().copied().fold(f32::INFINITY, f32::min);
            assert_eq!(m[i], want);
        }
    }

    #[test]
    fn silence_and_noise_hold_no_speech() {
        let sr = VAD_RATE as usize;
        let silence = Audio::new(vec![0.0; 3 * sr], VAD_RATE).unwrap();
        assert!(detect(&silence, &VadParams::default())
            .unwrap()
            .regions
            .is_empty());
        // Loud white noise, as steady as a fan.
        let mut x = 12345u64;
        let noise: Vec<f32> = (0..5 * sr)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 20001) as f32 / 10000.0 - 1.0
            })
            .collect();
        let m = detect(&Audio::new(noise, VAD_RATE).unwrap(), &VadParams::default()).unwrap();
        assert!(m.regions.is_empty(), "{:?}", m.regions);
        assert!(VadParams {
            voicing: 1.0,
            ..VadParams::default()
        }
        .validate()
        .is_err());
    }
}
