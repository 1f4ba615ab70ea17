//! Reproducible channel degradations: what a voice goes through between the speaker
//! and the file — a telephone line, background noise, other people talking, a
//! reverberant room. Used two ways:
//! - **mismatch evaluation**: train on clean clips, test on degraded copies
//!   (`speaker-similarity evaluate --query-condition telephone+white:15`);
//! - **multi-condition training**: enrol with degraded copies made with *other*
//!   settings than the test conditions (see `PipelineParams::augment`).
//!
//! Every degradation is a [`Step`]; a [`Condition`] is a chain of steps applied left
//! to right, written as text (`"telephone+babble:10"`, see [`Condition::parse`]). The
//! same audio, condition and seed always give the same samples.
//!
//! | step | text | what it does |
//! |---|---|---|
//! | [`Step::Telephone`] | `telephone`, `telephone:mulaw` | resample to 8 kHz, Butterworth band-pass 300-3400 Hz (4th-order high-pass and 4th-order low-pass, causal), optionally G.711 mu-law 8-bit companding |
//! | [`Step::BandPass`] | `band:LOW:HIGH[:ORDER]` | the same band-pass with other edges and order, at the clip's own rate |
//! | [`Step::Noise`] | `white:SNR_DB`, `pink:SNR_DB` | Gaussian white or pink (1/f) noise at an SNR |
//! | [`Step::Noise`] | `babble:SNR_DB[:TALKERS]` | a mix of `TALKERS` (default 4) clips from a babble pool, at an SNR |
//! | [`Step::Reverb`] | `reverb:RT60_S[:DRR_DB]` | convolution with a generated room impulse response |
//!
//! The SNR is the ratio of the clip's mean power (over all its samples, pauses
//! included) to the noise's mean power, in dB. The babble pool is given by the
//! caller and must hold other speakers than the clip's own.
//!
//! Lossy low-bitrate coding (AMR, Opus, GSM) is not here: no pure-Rust encoder crate
//! that fits the library's lean dependencies exists (the `opus` crate binds the C
//! libopus). G.711 mu-law, which is lossy 8-bit companding, is.
//!
//! ```
//! use speaker_similarity::{Audio, degrade::{self, Condition}};
//! # fn main() -> speaker_similarity::Result<()> {
//! let voice: Vec<f32> = (0..16000)
//!     .map(|i| (i as f32 * 0.03).sin() * 0.3 * (1.0 + (i as f32 * 0.001).sin()))
//!     .collect();
//! let clip = Audio::new(voice, 16000)?;
//! let other = Audio::new((0..16000).map(|i| (i as f32 * 0.05).sin() * 0.2).collect(), 16000)?;
//! let cond = Condition::parse("telephone+babble:10")?;
//! let phone = degrade::apply(&clip, &cond, 7, &[other.clone()])?;
//! assert_eq!(phone.sample_rate, 8000);
//! assert_eq!(phone, degrade::apply(&clip, &cond, 7, &[other])?); // same seed, same audio
//! assert_eq!(cond.to_string(), "telephone+babble:10");
//! # Ok(())
//! # }
//! ```

use std::f64::consts::PI;
use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use crate::audio::Audio;
use crate::error::{Error, Result};

/// A telephone channel: narrowband resampling, the voice band, optional companding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelephoneParams {
    /// Output sample rate. Default 8000 Hz (narrowband telephony).
    pub sample_rate: u32,
    /// The band-pass filter. Default 300-3400 Hz, order 4 (the ITU voice band).
    pub band: BandPassParams,
    /// G.711 mu-law 8-bit companding after the filter. Default `false`.
    pub mu_law: bool,
}

impl Default for TelephoneParams {
    fn default() -> Self {
        TelephoneParams {
            sample_rate: 8000,
            band: BandPassParams::default(),
            mu_law: false,
        }
    }
}

impl TelephoneParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        crate::audio::Audio::new(Vec::new(), self.sample_rate)?;
        self.band.validate_at(self.sample_rate)
    }
}

/// A Butterworth band-pass filter made of a high-pass and a low-pass of the same
/// order, each a cascade of second-order sections designed by the bilinear transform
/// with pre-warping (so the response is exactly -3 dB at each edge). Applied causally,
/// as a real channel would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandPassParams {
    /// Lower edge (-3 dB) in Hz. Default 300.
    pub low_hz: f64,
    /// Upper edge (-3 dB) in Hz. Default 3400.
    pub high_hz: f64,
    /// Order of the high-pass and of the low-pass (even, 2-8). Default 4.
    pub order: usize,
}

impl Default for BandPassParams {
    fn default() -> Self {
        BandPassParams {
            low_hz: 300.0,
            high_hz: 3400.0,
            order: 4,
        }
    }
}

impl BandPassParams {
    /// Check the fields against a sample rate (the upper edge must lie below Nyquist).
    pub fn validate_at(&self, sample_rate: u32) -> Result<()> {
        let nyq = sample_rate as f64 / 2.0;
        if !(self.low_hz.is_finite() && self.low_hz > 0.0) {
            return Err(Error::param(
                "low_hz",
                format!("{} Hz is not > 0", self.low_hz),
            ));
        }
        if !(self.high_hz.is_finite() && self.high_hz > self.low_hz && self.high_hz < nyq) {
            return Err(Error::param(
                "high_hz",
                format!(
                    "{} Hz must lie between the lower edge {} Hz and Nyquist {nyq} Hz",
                    self.high_hz, self.low_hz
                ),
            ));
        }
        if !(2..=8).contains(&self.order) || self.order % 2 != 0 {
            return Err(Error::param(
                "order",
                format!("{} must be 2, 4, 6 or 8", self.order),
            ));
        }
        Ok(())
    }
}

/// What kind of noise [`Step::Noise`] adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseKind {
    /// Gaussian white noise (flat spectrum).
    White,
    /// Pink noise (power falling 3 dB per octave), from white noise through Paul
    /// Kellet's economy filter.
    Pink,
    /// Babble: this many talkers from the babble pool, each at the same level.
    Babble {
        /// Number of clips mixed (1-32).
        talkers: usize,
    },
}

/// Additive noise at a signal-to-noise ratio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseParams {
    /// The noise.
    pub kind: NoiseKind,
    /// Signal-to-noise ratio in dB (clip power over noise power), -20..=80.
    pub snr_db: f64,
}

impl NoiseParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if !(self.snr_db.is_finite() && (-20.0..=80.0).contains(&self.snr_db)) {
            return Err(Error::param(
                "snr_db",
                format!("{} dB is outside -20..=80", self.snr_db),
            ));
        }
        if let NoiseKind::Babble { talkers } = self.kind {
            if !(1..=32).contains(&talkers) {
                return Err(Error::param("talkers", format!("{talkers} must be 1..=32")));
            }
        }
        Ok(())
    }
}

/// Reverberation: convolution with a generated room impulse response — a direct
/// path, then after `predelay_ms` a tail of Gaussian noise whose amplitude decays by
/// 60 dB in `rt60_s` seconds (the statistical model of a diffuse late field,
/// Polack 1988), scaled so the direct-to-reverberant energy ratio is `drr_db`. The
/// result keeps the clip's length and mean power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReverbParams {
    /// Reverberation time in seconds (0.05-3). No default: it is the condition.
    pub rt60_s: f64,
    /// Direct-to-reverberant energy ratio in dB (-20..=30). Default 0 (a speaker a
    /// couple of metres from the microphone in an ordinary room).
    pub drr_db: f64,
    /// Gap between the direct path and the tail in milliseconds (0-100). Default 5.
    pub predelay_ms: f64,
}

impl ReverbParams {
    /// A room with this RT60 and the default direct-to-reverberant ratio and predelay.
    pub fn with_rt60(rt60_s: f64) -> ReverbParams {
        ReverbParams {
            rt60_s,
            drr_db: 0.0,
            predelay_ms: 5.0,
        }
    }

    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if !(self.rt60_s.is_finite() && (0.05..=3.0).contains(&self.rt60_s)) {
            return Err(Error::param(
                "rt60_s",
                format!("{} s is outside 0.05..=3", self.rt60_s),
            ));
        }
        if !(self.drr_db.is_finite() && (-20.0..=30.0).contains(&self.drr_db)) {
            return Err(Error::param(
                "drr_db",
                format!("{} dB is outside -20..=30", self.drr_db),
            ));
        }
        if !(self.predelay_ms.is_finite() && (0.0..=100.0).contains(&self.predelay_ms)) {
            return Err(Error::param(
                "predelay_ms",
                format!("{} ms is outside 0..=100", self.predelay_ms),
            ));
        }
        Ok(())
    }
}

/// One degradation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// A telephone channel (changes the sample rate).
    Telephone(TelephoneParams),
    /// A band-pass filter at the clip's own rate.
    BandPass(BandPassParams),
    /// Additive noise.
    Noise(NoiseParams),
    /// Reverberation.
    Reverb(ReverbParams),
}

impl Step {
    /// Check the step's parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            Step::Telephone(p) => p.validate(),
            Step::BandPass(p) => {
                if !(p.low_hz.is_finite() && p.high_hz.is_finite()) {
                    return Err(Error::param("band", "edges must be numbers"));
                }
                // The rate is known only at apply time; check against the widest.
                p.validate_at(crate::audio::MAX_SAMPLE_RATE)
            }
            Step::Noise(p) => p.validate(),
            Step::Reverb(p) => p.validate(),
        }
    }

    /// Whether the step needs a babble pool.
    pub fn needs_babble(&self) -> bool {
        matches!(
            self,
            Step::Noise(NoiseParams {
                kind: NoiseKind::Babble { .. },
                ..
            })
        )
    }
}

fn num(v: f64) -> String {
    // Shortest text that parses back to the same number.
    format!("{v}")
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Telephone(p) => {
                if p.mu_law {
                    f.write_str("telephone:mulaw")
                } else {
                    f.write_str("telephone")
                }
            }
            Step::BandPass(p) => write!(f, "band:{}:{}:{}", num(p.low_hz), num(p.high_hz), p.order),
            Step::Noise(p) => match p.kind {
                NoiseKind::White => write!(f, "white:{}", num(p.snr_db)),
                NoiseKind::Pink => write!(f, "pink:{}", num(p.snr_db)),
                NoiseKind::Babble { talkers: 4 } => write!(f, "babble:{}", num(p.snr_db)),
                NoiseKind::Babble { talkers } => {
                    write!(f, "babble:{}:{talkers}", num(p.snr_db))
                }
            },
            Step::Reverb(p) => {
                if p.drr_db == 0.0 && p.predelay_ms == 5.0 {
                    write!(f, "reverb:{}", num(p.rt60_s))
                } else {
                    write!(f, "reverb:{}:{}", num(p.rt60_s), num(p.drr_db))
                }
            }
        }
    }
}

/// A chain of degradations applied left to right.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Condition {
    /// The steps; none means the clean clip.
    pub steps: Vec<Step>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("clean");
        }
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Condition {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Condition::parse(s)
    }
}

fn parse_num(step: &str, field: &str) -> Result<f64> {
    field
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            Error::param(
                "condition",
                format!("`{field}` in `{step}` is not a number"),
            )
        })
}

impl Condition {
    /// The clean condition (no step).
    pub fn clean() -> Condition {
        Condition::default()
    }

    /// Parse a condition: steps joined by `+`, each one of `clean`, `telephone`,
    /// `telephone:mulaw`, `band:LOW_HZ:HIGH_HZ[:ORDER]`, `white:SNR_DB`,
    /// `pink:SNR_DB`, `babble:SNR_DB[:TALKERS]`, `reverb:RT60_S[:DRR_DB]`.
    ///
    /// ```
    /// use speaker_similarity::degrade::{Condition, Step};
    /// let c = Condition::parse("telephone+white:15").unwrap();
    /// assert_eq!(c.steps.len(), 2);
    /// assert!(matches!(c.steps[0], Step::Telephone(_)));
    /// assert!(Condition::parse("white:loud").is_err());
    /// assert_eq!(Condition::parse("clean").unwrap(), Condition::clean());
    /// ```
    ///
    /// Errors: [`Error::InvalidParameter`] naming the step that is unknown or out of
    /// range.
    pub fn parse(text: &str) -> Result<Condition> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::param("condition", "empty condition"));
        }
        let mut steps = Vec::new();
        for raw in text.split('+') {
            let part = raw.trim().to_ascii_lowercase();
            let fields: Vec<&str> = part.split(':').collect();
            let arity = |lo: usize, hi: usize| -> Result<()> {
                if fields.len() < lo || fields.len() > hi {
                    Err(Error::param(
                        "condition",
                        format!("`{part}` has {} value(s)", fields.len() - 1),
                    ))
                } else {
                    Ok(())
                }
            };
            let step = match fields[0] {
                "clean" if fields.len() == 1 => continue,
                "telephone" | "phone" => {
                    arity(1, 2)?;
                    let mu_law = match fields.get(1) {
                        None => false,
                        Some(&"mulaw") | Some(&"mu-law") | Some(&"ulaw") => true,
                        Some(other) => {
                            return Err(Error::param(
                                "condition",
                                format!("`telephone:{other}`: only `telephone:mulaw` exists"),
                            ))
                        }
                    };
                    Step::Telephone(TelephoneParams {
                        mu_law,
                        ..TelephoneParams::default()
                    })
                }
                "band" => {
                    arity(3, 4)?;
                    let order = match fields.get(3) {
                        Some(o) => o.trim().parse::<usize>().map_err(|_| {
                            Error::param("condition", format!("order `{o}` in `{part}`"))
                        })?,
                        None => 4,
                    };
                    Step::BandPass(BandPassParams {
                        low_hz: parse_num(&part, fields[1])?,
                        high_hz: parse_num(&part, fields[2])?,
                        order,
                    })
                }
                "white" | "pink" => {
                    arity(2, 2)?;
                    Step::Noise(NoiseParams {
                        kind: if fields[0] == "white" {
                            NoiseKind::White
                        } else {
                            NoiseKind::Pink
                        },
                        snr_db: parse_num(&part, fields[1])?,
                    })
                }
                "babble" => {
                    arity(2, 3)?;
                    let talkers = match fields.get(2) {
                        Some(t) => t.trim().parse::<usize>().map_err(|_| {
                            Error::param("condition", format!("talkers `{t}` in `{part}`"))
                        })?,
                        None => 4,
                    };
                    Step::Noise(NoiseParams {
                        kind: NoiseKind::Babble { talkers },
                        snr_db: parse_num(&part, fields[1])?,
                    })
                }
                "reverb" => {
                    arity(2, 3)?;
                    let mut p = ReverbParams::with_rt60(parse_num(&part, fields[1])?);
                    if let Some(d) = fields.get(2) {
                        p.drr_db = parse_num(&part, d)?;
                    }
                    Step::Reverb(p)
                }
                other => {
                    return Err(Error::param(
                        "condition",
                        format!(
                            "unknown step `{other}`; use telephone, telephone:mulaw, \
                             band:LOW:HIGH, white:SNR_DB, pink:SNR_DB, babble:SNR_DB, \
                             reverb:RT60_S (joined by +)"
                        ),
                    ))
                }
            };
            step.validate()?;
            steps.push(step);
        }
        Ok(Condition { steps })
    }

    /// Whether any step mixes in babble (and so needs a pool of other speakers).
    pub fn needs_babble(&self) -> bool {
        self.steps.iter().any(Step::needs_babble)
    }

    /// Whether the condition is the clean clip.
    pub fn is_clean(&self) -> bool {
        self.steps.is_empty()
    }

    /// Check every step.
    pub fn validate(&self) -> Result<()> {
        self.steps.iter().try_for_each(Step::validate)
    }
}

/// Degrade `audio` by `condition`. `seed` makes the noise and room reproducible (the
/// same inputs give the same samples); `babble_pool` holds clips of *other* speakers
/// for babble steps (ignored otherwise; resampled to the clip's rate as needed).
///
/// Errors: invalid parameters; a babble step with an empty pool; a band edge above
/// the clip's Nyquist frequency; empty audio.
pub fn apply(
    audio: &Audio,
    condition: &Condition,
    seed: u64,
    babble_pool: &[Audio],
) -> Result<Audio> {
    condition.validate()?;
    if audio.is_empty() {
        return Err(Error::param("audio", "the clip holds no samples"));
    }
    let mut out = audio.clone();
    for (i, step) in condition.steps.iter().enumerate() {
        // One independent stream per step, so adding a step does not change the
        // noise of the others.
        let mut rng = StdRng::seed_from_u64(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(i as u64 + 1),
        );
        out = apply_step(&out, step, &mut rng, babble_pool)?;
    }
    Ok(out)
}

fn apply_step(
    audio: &Audio,
    step: &Step,
    rng: &mut StdRng,
    babble_pool: &[Audio],
) -> Result<Audio> {
    match step {
        Step::Telephone(p) => telephone(audio, p),
        Step::BandPass(p) => {
            let mut a = audio.clone();
            band_pass(&mut a.samples, a.sample_rate, p)?;
            Ok(a)
        }
        Step::Noise(p) => {
            let noise = match p.kind {
                NoiseKind::White => white(audio.len(), rng),
                NoiseKind::Pink => pink(audio.len(), rng),
                NoiseKind::Babble { talkers } => {
                    babble(audio.len(), audio.sample_rate, talkers, babble_pool, rng)?
                }
            };
            add_at_snr(audio, &noise, p.snr_db)
        }
        Step::Reverb(p) => reverb(audio, p, rng),
    }
}

/// The telephone channel of [`TelephoneParams`].
pub fn telephone(audio: &Audio, params: &TelephoneParams) -> Result<Audio> {
    params.validate()?;
    let mut a = audio.resample(params.sample_rate)?;
    band_pass(&mut a.samples, a.sample_rate, &params.band)?;
    if params.mu_law {
        for v in a.samples.iter_mut() {
            *v = mu_law_decode(mu_law_encode(*v));
        }
    }
    Ok(a)
}

/// One second-order section `b0 b1 b2 a1 a2` (a0 = 1).
#[derive(Debug, Clone, Copy)]
struct Biquad([f64; 5]);

impl Biquad {
    /// RBJ-cookbook low-pass or high-pass at `f0` with quality `q`: the bilinear
    /// transform of the analog section, pre-warped at `f0`.
    fn new(high: bool, f0: f64, q: f64, rate: f64) -> Biquad {
        let w0 = 2.0 * PI * f0 / rate;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b1) = if high {
            ((1.0 + c) / 2.0, -(1.0 + c))
        } else {
            ((1.0 - c) / 2.0, 1.0 - c)
        };
        Biquad([b0 / a0, b1 / a0, b0 / a0, -2.0 * c / a0, (1.0 - alpha) / a0])
    }

    fn run(&self, x: &mut [f32]) {
        let [b0, b1, b2, a1, a2] = self.0;
        let (mut z1, mut z2) = (0.0f64, 0.0f64);
        // Transposed direct form II.
        for v in x.iter_mut() {
            let xi = *v as f64;
            let y = b0 * xi + z1;
            z1 = b1 * xi - a1 * y + z2;
            z2 = b2 * xi - a2 * y;
            *v = y as f32;
        }
    }

    fn gain_at(&self, f: f64, rate: f64) -> f64 {
        let [b0, b1, b2, a1, a2] = self.0;
        let w = 2.0 * PI * f / rate;
        let (z1r, z1i) = (w.cos(), -w.sin());
        let (z2r, z2i) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let nr = b0 + b1 * z1r + b2 * z2r;
        let ni = b1 * z1i + b2 * z2i;
        let dr = 1.0 + a1 * z1r + a2 * z2r;
        let di = a1 * z1i + a2 * z2i;
        ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt()
    }
}

/// The sections of a Butterworth band-pass: high-pass then low-pass, each of
/// `order / 2` sections with the Butterworth pole qualities.
fn band_sections(rate: u32, p: &BandPassParams) -> Vec<Biquad> {
    let n = p.order;
    let mut out = Vec::with_capacity(n);
    for high in [true, false] {
        let f0 = if high { p.low_hz } else { p.high_hz };
        for k in 0..n / 2 {
            let q = 1.0 / (2.0 * ((2 * k + 1) as f64 * PI / (2 * n) as f64).sin());
            out.push(Biquad::new(high, f0, q, rate as f64));
        }
    }
    out
}

/// Filter `samples` (at `rate` Hz) in place by the band-pass of `params`, causally.
///
/// Errors: parameters invalid at this rate (an upper edge at or above Nyquist).
pub fn band_pass(samples: &mut [f32], rate: u32, params: &BandPassParams) -> Result<()> {
    params.validate_at(rate)?;
    for s in band_sections(rate, params) {
        s.run(samples);
    }
    Ok(())
}

/// The magnitude response (linear gain) of the band-pass of `params` at `freq_hz`.
///
/// ```
/// use speaker_similarity::degrade::{band_pass_gain, BandPassParams};
/// let p = BandPassParams::default();
/// let db = |f| 20.0 * band_pass_gain(&p, 8000, f).unwrap().log10();
/// assert!((db(300.0) + 3.01).abs() < 0.05); // -3 dB at each edge
/// assert!(db(1000.0).abs() < 0.05);         // flat in the band
/// assert!(db(100.0) < -35.0);               // 4th order: 24 dB per octave
/// ```
pub fn band_pass_gain(params: &BandPassParams, rate: u32, freq_hz: f64) -> Result<f64> {
    params.validate_at(rate)?;
    Ok(band_sections(rate, params)
        .iter()
        .map(|s| s.gain_at(freq_hz, rate as f64))
        .product())
}

/// G.711 mu-law (mu = 255) encoding of a sample in [-1, 1] to 8 bits.
pub fn mu_law_encode(x: f32) -> u8 {
    let mu = 255.0f32;
    let x = x.clamp(-1.0, 1.0);
    let y = x.signum() * (1.0 + mu * x.abs()).ln() / (1.0 + mu).ln();
    (((y + 1.0) / 2.0 * 255.0).round()).clamp(0.0, 255.0) as u8
}

/// Decoding of [`mu_law_encode`].
pub fn mu_law_decode(code: u8) -> f32 {
    let mu = 255.0f32;
    let y = code as f32 / 255.0 * 2.0 - 1.0;
    y.signum() * ((1.0 + mu).powf(y.abs()) - 1.0) / mu
}

fn white(n: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let v: f64 = StandardNormal.sample(rng);
            v as f32
        })
        .collect()
}

fn pink(n: usize, rng: &mut StdRng) -> Vec<f32> {
    // Paul Kellet's economy pink filter (within 0.05 dB of 1/f above 9 Hz at 44.1
    // kHz; the slope is what matters here).
    let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    (0..n)
        .map(|_| {
            let w: f64 = StandardNormal.sample(rng);
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            (b0 + b1 + b2 + w * 0.1848) as f32
        })
        .collect()
}

fn mean_power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64
}

fn babble(
    n: usize,
    rate: u32,
    talkers: usize,
    pool: &[Audio],
    rng: &mut StdRng,
) -> Result<Vec<f32>> {
    let usable: Vec<&Audio> = pool
        .iter()
        .filter(|a| !a.is_empty() && mean_power(&a.samples) > 1e-12)
        .collect();
    if usable.is_empty() {
        return Err(Error::param(
            "babble_pool",
            "babble needs clips of other speakers, and the pool is empty or silent",
        ));
    }
    let mut mix = vec![0.0f32; n];
    for _ in 0..talkers {
        let clip = usable[rng.random_range(0..usable.len())];
        let clip = if clip.sample_rate == rate {
            std::borrow::Cow::Borrowed(clip)
        } else {
            std::borrow::Cow::Owned(clip.resample(rate)?)
        };
        let s = &clip.samples;
        if s.is_empty() {
            continue;
        }
        let gain = (1.0 / mean_power(s).max(1e-12)).sqrt() as f32;
        let offset = rng.random_range(0..s.len());
        // Loop the clip to the length, from a random point.
        for (i, m) in mix.iter_mut().enumerate() {
            *m += gain * s[(offset + i) % s.len()];
        }
    }
    Ok(mix)
}

/// Add `noise` (same length as `audio`) scaled so the SNR is `snr_db`. A silent
/// clip stays silent (its SNR is undefined); a silent noise adds nothing.
fn add_at_snr(audio: &Audio, noise: &[f32], snr_db: f64) -> Result<Audio> {
    let ps = mean_power(&audio.samples);
    let pn = mean_power(noise);
    let mut out = audio.clone();
    if ps <= 0.0 || pn <= 0.0 {
        return Ok(out);
    }
    let gain = (ps / pn / 10f64.powf(snr_db / 10.0)).sqrt() as f32;
    for (o, &n) in out.samples.iter_mut().zip(noise) {
        *o += gain * n;
    }
    Ok(out)
}

/// The room impulse response of [`ReverbParams`] at `rate` Hz: a direct path of
/// amplitude 1 at sample 0, then the decaying noise tail (1.2 RT60 long).
///
/// Errors: invalid parameters.
pub fn room_impulse_response(params: &ReverbParams, rate: u32, seed: u64) -> Result<Vec<f32>> {
    params.validate()?;
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(rir(params, rate, &mut rng))
}

fn rir(p: &ReverbParams, rate: u32, rng: &mut StdRng) -> Vec<f32> {
    let sr = rate as f64;
    let pre = (p.predelay_ms / 1000.0 * sr).round() as usize;
    let tail = ((1.2 * p.rt60_s) * sr).ceil() as usize;
    let mut h = vec![0.0f64; 1 + pre + tail];
    h[0] = 1.0;
    // Amplitude decays 60 dB (a factor 1000) in rt60: exp(-3 ln 10 t / rt60).
    let k = 3.0 * 10f64.ln() / p.rt60_s;
    let mut tail_energy = 0.0;
    for (j, v) in h[1 + pre..].iter_mut().enumerate() {
        let t = (j + 1) as f64 / sr;
        let g: f64 = StandardNormal.sample(rng);
        *v = g * (-k * t).exp();
        tail_energy += *v * *v;
    }
    // Direct energy 1; tail energy 10^(-drr/10).
    let scale = (10f64.powf(-p.drr_db / 10.0) / tail_energy.max(1e-300)).sqrt();
    for v in h[1 + pre..].iter_mut() {
        *v *= scale;
    }
    h.into_iter().map(|v| v as f32).collect()
}

fn reverb(audio: &Audio, p: &ReverbParams, rng: &mut StdRng) -> Result<Audio> {
    let h = rir(p, audio.sample_rate, rng);
    let x = &audio.samples;
    let n = x.len();
    let len = (n + h.len() - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(len);
    let inv = planner.plan_fft_inverse(len);
    let mut a = vec![0.0f32; len];
    a[..n].copy_from_slice(x);
    let mut b = vec![0.0f32; len];
    b[..h.len()].copy_from_slice(&h);
    let mut fa = fwd.make_output_vec();
    let mut fb = fwd.make_output_vec();
    let fft_err = |e: realfft::FftError| Error::Shape(format!("reverb FFT: {e}"));
    fwd.process(&mut a, &mut fa).map_err(fft_err)?;
    fwd.process(&mut b, &mut fb).map_err(fft_err)?;
    for (u, v) in fa.iter_mut().zip(&fb) {
        *u *= *v;
    }
    let mut y = vec![0.0f32; len];
    inv.process(&mut fa, &mut y).map_err(fft_err)?;
    y.truncate(n);
    // Inverse FFT is unnormalised; then keep the clip's mean power.
    let ps = mean_power(x);
    let py = mean_power(&y);
    let g = if py > 0.0 {
        (ps / py).sqrt() as f32
    } else {
        0.0
    };
    for v in y.iter_mut() {
        *v *= g;
    }
    Audio::new(y, audio.sample_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(seconds: f64, rate: u32, seed: u64) -> Audio {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = (seconds * rate as f64) as usize;
        let f0 = 120.0 + rng.random_range(0.0..80.0);
        let s = (0..n)
            .map(|i| {
                let t = i as f64 / rate as f64;
                let env = (PI * t / seconds).sin();
                let v: f64 = (1..20)
                    .map(|h| (2.0 * PI * f0 * h as f64 * t).sin() / h as f64)
                    .sum();
                (0.2 * env * v) as f32
            })
            .collect();
        Audio::new(s, rate).unwrap()
    }

    fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
        let noise: Vec<f32> = clean.iter().zip(noisy).map(|(a, b)| b - a).collect();
        10.0 * (mean_power(clean) / mean_power(&noise)).log10()
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "telephone",
            "telephone:mulaw",
            "white:15",
            "pink:-2.5",
            "babble:10",
            "babble:10:6",
            "reverb:0.6",
            "reverb:0.3:5",
            "band:200:3700:2",
            "telephone+white:15",
            "telephone+babble:10+reverb:0.8",
        ] {
            let c = Condition::parse(s).unwrap();
            assert_eq!(c.to_string(), s);
            assert_eq!(Condition::parse(&c.to_string()).unwrap(), c);
        }
        assert!(Condition::parse("clean").unwrap().is_clean());
        for bad in [
            "",
            "phone:x",
            "white",
            "white:1:2",
            "babble:10:0",
            "reverb:9",
            "white:200",
            "band:3000:300",
            "hiss:10",
            "white:nan",
            "band:300:3400:3",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn noise_lands_at_the_requested_snr() {
        let clip = voice(1.0, 16000, 1);
        let other = voice(1.3, 16000, 2);
        for (cond, want) in [("white:15", 15.0), ("pink:5", 5.0), ("babble:10", 10.0)] {
            let c = Condition::parse(cond).unwrap();
            let y = apply(&clip, &c, 3, std::slice::from_ref(&other)).unwrap();
            let got = snr_db(&clip.samples, &y.samples);
            assert!((got - want).abs() < 1e-3, "{cond}: {got}");
        }
    }

    #[test]
    fn same_seed_same_audio_other_seed_other_audio() {
        let clip = voice(0.5, 16000, 1);
        let c = Condition::parse("white:10+reverb:0.4").unwrap();
        let a = apply(&clip, &c, 5, &[]).unwrap();
        assert_eq!(a, apply(&clip, &c, 5, &[]).unwrap());
        assert_ne!(a, apply(&clip, &c, 6, &[]).unwrap());
    }

    #[test]
    fn babble_without_pool_is_an_error() {
        let clip = voice(0.5, 16000, 1);
        let c = Condition::parse("babble:10").unwrap();
        assert!(matches!(
            apply(&clip, &c, 1, &[]),
            Err(Error::InvalidParameter {
                name: "babble_pool",
                ..
            })
        ));
    }

    #[test]
    fn butterworth_response_matches_its_design() {
        // Analog Butterworth magnitudes at pre-warped frequencies: the bilinear
        // transform maps f to tan(pi f / fs); each half is 1/sqrt(1 + (w/wc)^(2n)).
        let p = BandPassParams::default();
        let fs = 8000.0;
        let warp = |f: f64| (PI * f / fs).tan();
        for f in [
            50.0, 150.0, 300.0, 600.0, 1000.0, 2000.0, 3000.0, 3400.0, 3800.0,
        ] {
            let hp = 1.0 / (1.0 + (warp(p.low_hz) / warp(f)).powi(8)).sqrt();
            let lp = 1.0 / (1.0 + (warp(f) / warp(p.high_hz)).powi(8)).sqrt();
            let got = band_pass_gain(&p, 8000, f).unwrap();
            assert!(
                ((got - hp * lp) / (hp * lp)).abs() < 1e-9,
                "{f}: {got} vs {}",
                hp * lp
            );
        }
        // And the time-domain filter does what the response says: a 1 kHz tone
        // passes, a 100 Hz tone is cut by the high-pass.
        let tone = |f: f64| -> Vec<f32> {
            (0..8000)
                .map(|i| (2.0 * PI * f * i as f64 / fs).sin() as f32)
                .collect()
        };
        for (f, want_db) in [
            (1000.0, 0.0),
            (
                100.0,
                20.0 * band_pass_gain(&p, 8000, 100.0).unwrap().log10(),
            ),
        ] {
            let mut x = tone(f);
            band_pass(&mut x, 8000, &p).unwrap();
            let got = 10.0 * (mean_power(&x[4000..]) / 0.5).log10();
            assert!((got - want_db).abs() < 0.1, "{f} Hz: {got} dB vs {want_db}");
        }
        // An edge at or above Nyquist is an error, not a broken filter.
        assert!(band_pass(&mut [0.0; 4], 6000, &p).is_err());
    }

    #[test]
    fn telephone_is_narrowband_at_8k() {
        let clip = voice(1.0, 16000, 4);
        let t = apply(&clip, &Condition::parse("telephone:mulaw").unwrap(), 1, &[]).unwrap();
        assert_eq!(t.sample_rate, 8000);
        assert_eq!(t.len(), 8000);
        // mu-law quantisation: every sample is one of 256 levels.
        let mut levels: Vec<u32> = t.samples.iter().map(|v| v.to_bits()).collect();
        levels.sort_unstable();
        levels.dedup();
        assert!(levels.len() <= 256);
        for c in [0u8, 1, 77, 128, 200, 255] {
            assert_eq!(mu_law_encode(mu_law_decode(c)), c);
        }
    }

    #[test]
    fn room_response_decays_at_its_rt60() {
        // Schroeder backward integration: the energy decay curve falls 60 dB in RT60;
        // measured as usual from -5 to -25 dB (T20) and extrapolated.
        let p = ReverbParams {
            rt60_s: 0.5,
            drr_db: -10.0,
            predelay_ms: 0.0,
        };
        let fs = 16000;
        let h = room_impulse_response(&p, fs, 9).unwrap();
        let tail: Vec<f64> = h[1..].iter().map(|&v| (v as f64).powi(2)).collect();
        let total: f64 = tail.iter().sum();
        let direct = (h[0] as f64).powi(2);
        assert!((10.0 * (direct / total).log10() - p.drr_db).abs() < 1e-3);
        let mut edc = vec![0.0; tail.len()];
        let mut acc = 0.0;
        for i in (0..tail.len()).rev() {
            acc += tail[i];
            edc[i] = 10.0 * (acc / total).log10();
        }
        let t5 = edc.iter().position(|&d| d <= -5.0).unwrap() as f64;
        let t25 = edc.iter().position(|&d| d <= -25.0).unwrap() as f64;
        let rt60 = 3.0 * (t25 - t5) / fs as f64;
        assert!((rt60 - 0.5).abs() < 0.05, "measured RT60 {rt60}");
        // The reverberant clip keeps length and power.
        let clip = voice(0.8, fs, 3);
        let y = apply(&clip, &Condition::parse("reverb:0.5").unwrap(), 2, &[]).unwrap();
        assert_eq!(y.len(), clip.len());
        assert!((mean_power(&y.samples) / mean_power(&clip.samples) - 1.0).abs() < 1e-3);
    }
}
