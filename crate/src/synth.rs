//! The embedded default data: a seeded synthetic speaker corpus.
//!
//! Every command and notebook that is given no data uses this corpus, so the whole
//! project runs offline on a fresh clone. It is made with the *source–filter model*
//! of speech: the vocal folds make a buzz (the **source**), the throat and mouth shape
//! its spectrum (the **filter**), and the lips radiate it.
//!
//! - **Source.** A train of Rosenberg glottal pulses (a smooth opening phase, a
//!   faster closing phase, a closed phase; the *open quotient* and the opening/closing
//!   ratio are per speaker) at the speaker's pitch `f0`, following an intonation
//!   contour (declination over the utterance, pitch accents on some syllables).
//!   Every period is randomly a little longer or shorter (*jitter*) and louder or
//!   softer (*shimmer*); breath noise is mixed in (*breathiness*), and a one-pole
//!   low-pass gives the speaker's *spectral tilt*.
//! - **Filter.** A cascade of two-pole resonators (Klatt's formant synthesiser) at the
//!   formants F1–F4 of the vowel being spoken, from Peterson & Barney's (1952)
//!   averages for men, divided by the speaker's relative *vocal-tract length* (a
//!   shorter tract — women, children — has higher formants), each vowel shifted a
//!   little per speaker (an accent); a speaker-specific extra resonance (F5 region)
//!   and a nasal resonance in parallel. Formant frequencies glide between vowels.
//! - **Utterance.** Random syllables at the speaker's speaking rate: an optional
//!   consonant (a fricative: noise through a resonance at the speaker's sibilant
//!   frequency; or a stop: a short silence and a burst), a vowel with a smooth
//!   amplitude envelope, sometimes a pause; silence before and after.
//! - **Session.** Each speaker is recorded in several sessions; a session has its own
//!   channel (a high-pass, a gentle tilt, a peaking EQ, a gain), background noise (a
//!   colour, sometimes mains hum, a signal-to-noise ratio) and the speaker's mood of
//!   the day (pitch and vocal effort), so splitting by session is harder than by clip,
//!   as with VoxCeleb videos.
//!
//! Everything is seeded: the same [`SynthParams`] give bit-identical audio, whatever
//! the number of threads (each clip has its own generator seeded from
//! `(seed, speaker, clip)`; clips are rendered in parallel with rayon). Across
//! platforms, differences in the system's `cos`/`exp` may change the last bits.
//!
//! # How difficulty is controlled
//! The corpus should let the good models (per-frame GMM-UBM, MLP on standardised
//! features) score well while the original project's recipe (a 16-component GMM per
//! speaker fitted on one 52-dimensional vector per clip) visibly does worse. The knobs
//! of [`SynthParams`], from strongest to weakest:
//! - `confusable_fraction` / `confusable_spread`: that share of speaker pairs are
//!   near-twins — same sex, pitch and vocal-tract length within `spread` (relative),
//!   same tilt and rate — told apart only by the finer cues (glottal pulse shape,
//!   jitter, shimmer, breathiness, extra formant, accent). More twins, closer twins:
//!   harder.
//! - `session_variation`: scales the channel EQ, gain, pitch-of-the-day and effort
//!   differences between sessions (0 = the same channel and voice in every
//!   session; the background noise still differs, as `snr_db` sets it).
//! - `snr_db`: the background-noise range; lower is harder.
//! - `clip_variation`: scales the per-clip wander of pitch, rate and vocal-tract
//!   length within a speaker.
//! - `clips_per_speaker` and `clip_seconds`: less data per speaker starves clip-level
//!   models first (a 16-component GMM on ~14 vectors degenerates), short clips
//!   starve every model.
//!
//! Measured with `scripts/calibrate_synth.py` (librosa features and scikit-learn
//! models standing in for this crate's, on the default corpus written to disk;
//! 70/30 split by clip; accuracy on 72 test clips, 408 for dsp34):
//!
//! | model                                              | default | seed 7 | no twins | dsp34 |
//! |----------------------------------------------------|---------|--------|----------|-------|
//! | original: 16-comp. diag GMM per speaker, clip vectors | 0.44 | 0.46   | 0.43     | 0.49  |
//! | logistic regression, standardised clip vectors     | 0.75    | 0.69   | 0.72     | 0.94  |
//! | MLP 100-200-200-200, standardised clip vectors      | 0.68    | 0.57   | 0.75     | 0.91  |
//! | 16-comp. GMM per speaker, frame MFCC+Δ with CMVN    | 0.88    | 0.82   | 0.94     | 0.97  |
//!
//! Split by session, the clip-vector models fall to about 0.3 while the frame GMM
//! keeps 0.80: the channel is what the clip vectors learn.
//!
//! ```
//! use speaker_similarity::synth::{SynthCorpus, SynthParams};
//! # fn main() -> speaker_similarity::Result<()> {
//! let params = SynthParams { speakers: 4, clips_per_speaker: 3, ..SynthParams::default() };
//! let corpus = SynthCorpus::new(&params)?;
//! let data = corpus.dataset();
//! assert_eq!(data.len(), 12);
//! let audio = data.clips[0].load()?;
//! assert_eq!(audio.sample_rate, 16000);
//! assert!(audio.samples.iter().all(|s| s.abs() <= 1.0));
//! println!("{} speaks at {:.0} Hz", data.display_name("spk01"), corpus.profiles()[0].f0);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audio::{write_atomic, Audio};
use crate::dataset::layout::NAMES_FILE;
use crate::dataset::split::mix_seed;
use crate::dataset::{Clip, Dataset};
use crate::error::{Error, Result};

/// Parameters of the synthetic corpus. The defaults make the project's default data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthParams {
    /// Number of speakers, 2 to 10 000. Default 12.
    pub speakers: usize,
    /// Clips per speaker, at least 1. Default 20 (a 70/30 split leaves 14 for
    /// training, as few as the original's smallest VoxCeleb speakers had).
    pub clips_per_speaker: usize,
    /// Recording sessions per speaker, at least 1; the clips are spread evenly over
    /// them (a speaker with fewer clips than this has one session per clip).
    /// Default 4.
    pub sessions_per_speaker: usize,
    /// Sample rate in Hz, 8 000 to 48 000. Default 16 000 (VoxCeleb's, the
    /// original's `DEFAULT_SAMPLE_RATE`).
    pub sample_rate: u32,
    /// Range of clip lengths in seconds (uniform), within 0.3 to 30. Default
    /// (1.5, 3.0): around the original's 2 s crop.
    pub clip_seconds: (f64, f64),
    /// Seed of everything. Default 42.
    pub seed: u64,
    /// Range of the sessions' signal-to-noise ratios in dB (uniform), within
    /// -10 to 100. Default (12, 35).
    pub snr_db: (f64, f64),
    /// Share of speaker pairs made near-twins, in [0, 1]. Default 0.5 (3 of the
    /// default 12 speakers' 6 pairs).
    pub confusable_fraction: f64,
    /// How far apart twins are in pitch and vocal-tract length (relative), in
    /// [0, 0.5]. Default 0.04.
    pub confusable_spread: f64,
    /// Scale of the differences between a speaker's sessions (channel, noise
    /// colour, pitch and effort of the day), in [0, 3]. Default 1.
    pub session_variation: f64,
    /// Scale of the differences between a speaker's clips within a session, in
    /// [0, 3]. Default 1.
    pub clip_variation: f64,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            speakers: 12,
            clips_per_speaker: 20,
            sessions_per_speaker: 4,
            sample_rate: 16_000,
            clip_seconds: (1.5, 3.0),
            seed: 42,
            snr_db: (12.0, 35.0),
            confusable_fraction: 0.5,
            confusable_spread: 0.04,
            session_variation: 1.0,
            clip_variation: 1.0,
        }
    }
}

impl SynthParams {
    /// Check every parameter's range (documented on each field).
    pub fn validate(&self) -> Result<()> {
        if !(2..=10_000).contains(&self.speakers) {
            return Err(Error::param(
                "speakers",
                format!("{} is outside 2 to 10000", self.speakers),
            ));
        }
        if self.clips_per_speaker == 0 || self.clips_per_speaker > 100_000 {
            return Err(Error::param(
                "clips_per_speaker",
                format!("{} is outside 1 to 100000", self.clips_per_speaker),
            ));
        }
        if self.sessions_per_speaker == 0 || self.sessions_per_speaker > 100_000 {
            return Err(Error::param(
                "sessions_per_speaker",
                format!("{} is outside 1 to 100000", self.sessions_per_speaker),
            ));
        }
        if !(8_000..=48_000).contains(&self.sample_rate) {
            return Err(Error::param(
                "sample_rate",
                format!("{} Hz is outside 8000 to 48000 Hz", self.sample_rate),
            ));
        }
        let (lo, hi) = self.clip_seconds;
        if !(lo.is_finite()
            && hi.is_finite()
            && (0.3..=30.0).contains(&lo)
            && lo <= hi
            && hi <= 30.0)
        {
            return Err(Error::param(
                "clip_seconds",
                format!("({lo}, {hi}) is not a range within 0.3 to 30 s"),
            ));
        }
        let (lo, hi) = self.snr_db;
        if !(lo.is_finite() && hi.is_finite() && lo >= -10.0 && lo <= hi && hi <= 100.0) {
            return Err(Error::param(
                "snr_db",
                format!("({lo}, {hi}) is not a range within -10 to 100 dB"),
            ));
        }
        let check = |name: &'static str, v: f64, max: f64| {
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(())
            } else {
                Err(Error::param(name, format!("{v} is outside 0 to {max}")))
            }
        };
        check("confusable_fraction", self.confusable_fraction, 1.0)?;
        check("confusable_spread", self.confusable_spread, 0.5)?;
        check("session_variation", self.session_variation, 3.0)?;
        check("clip_variation", self.clip_variation, 3.0)?;
        Ok(())
    }
}

/// Vowels of the utterances: IPA symbol and F1, F2, F3 in Hz, Peterson & Barney
/// (1952), averages of the men.
pub const VOWELS: [(&str, [f64; 3]); 10] = [
    ("i", [270.0, 2290.0, 3010.0]),
    ("ɪ", [390.0, 1990.0, 2550.0]),
    ("ɛ", [530.0, 1840.0, 2480.0]),
    ("æ", [660.0, 1720.0, 2410.0]),
    ("ɑ", [730.0, 1090.0, 2440.0]),
    ("ɔ", [570.0, 840.0, 2410.0]),
    ("ʊ", [440.0, 1020.0, 2240.0]),
    ("u", [300.0, 870.0, 2240.0]),
    ("ʌ", [640.0, 1190.0, 2390.0]),
    ("ɝ", [490.0, 1350.0, 1690.0]),
];
const N_VOWELS: usize = VOWELS.len();
/// F4 of a reference (men's) vocal tract, Hz.
const F4: f64 = 3500.0;
/// Formant bandwidths F1–F4 in Hz before the speaker's bandwidth scale.
const BANDWIDTHS: [f64; 4] = [70.0, 100.0, 160.0, 250.0];

/// The voice of one synthetic speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerProfile {
    /// Speaker id, `spk01`, `spk02`, …
    pub id: String,
    /// Invented display name.
    pub name: String,
    /// Female (higher pitch, shorter vocal tract) or male.
    pub female: bool,
    /// Mean pitch in Hz (85–155 male, 165–255 female).
    pub f0: f64,
    /// Vocal-tract length relative to an average man's (0.80–0.92 female, 0.93–1.15
    /// male); formants scale by its inverse.
    pub vtl: f64,
    /// Share of the glottal period the folds are open (0.45–0.75).
    pub open_quotient: f64,
    /// Opening time over closing time of the pulse (1.5–3.5).
    pub speed_quotient: f64,
    /// Relative standard deviation of the period (0.3–1.5 %).
    pub jitter: f64,
    /// Relative standard deviation of the pulse amplitude (2–10 %).
    pub shimmer: f64,
    /// Coefficient of the source's one-pole low-pass (0–0.6): higher is darker.
    pub tilt: f64,
    /// Breath noise in the source, relative to the pulses (0.01–0.15).
    pub breathiness: f64,
    /// Scale of the formant bandwidths (0.8–1.4).
    pub bandwidth_scale: f64,
    /// Speaker-specific extra resonance: frequency and bandwidth in Hz.
    pub extra_formant: (f64, f64),
    /// Nasal resonance in parallel: frequency in Hz and level (0–0.35).
    pub nasal: (f64, f64),
    /// Centre frequency of the speaker's fricatives in Hz.
    pub sibilant: f64,
    /// Syllables per second (3–5.5).
    pub speaking_rate: f64,
    /// Intonation range in semitones (1.5–5).
    pub pitch_range: f64,
    /// The speaker's accent: a factor on F1–F3 of every vowel (around 1 ± 4 %).
    pub vowel_shift: Vec<[f64; 3]>,
    /// The speaker this one is a near-twin of (see
    /// [`SynthParams::confusable_fraction`]).
    pub twin_of: Option<usize>,
}

/// One recording session: channel, noise and the speaker's state that day.
#[derive(Debug, Clone)]
struct Session {
    id: String,
    gain: f64,
    highpass_hz: f64,
    tilt: f64,
    peak: (f64, f64, f64),
    noise_colour: f64,
    hum: Option<(f64, f64)>,
    snr_db: f64,
    f0_factor: f64,
    effort: f64,
}

fn uni(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

fn gauss(rng: &mut StdRng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

const TAG_SPEAKER: u64 = 0x5350_4b52;
const TAG_PAIRS: u64 = 0x5041_4952;
const TAG_SESSION: u64 = 0x5345_5353;
const TAG_CLIP: u64 = 0x434c_4950;

const FEMALE_NAMES: [&str; 16] = [
    "Ada", "Beatrice", "Clara", "Delia", "Edith", "Flora", "Greta", "Hazel", "Iris", "June",
    "Lena", "Mira", "Nora", "Opal", "Rosa", "Vera",
];
const MALE_NAMES: [&str; 16] = [
    "Basil", "Cyrus", "Dexter", "Felix", "Gideon", "Hugo", "Ivo", "Jasper", "Leon", "Milo", "Otto",
    "Rufus", "Silas", "Tobias", "Victor", "Wendell",
];
const SURNAMES: [&str; 16] = [
    "Voicewell",
    "Tonebridge",
    "Harmon",
    "Cadence",
    "Lyrick",
    "Sonnet",
    "Timbrell",
    "Resonaut",
    "Pitchford",
    "Formanti",
    "Vowelsby",
    "Chorley",
    "Melodine",
    "Echols",
    "Baritonne",
    "Altmann",
];

/// A unique invented name for the `k`-th speaker of a sex.
fn invented_name(female: bool, k: usize) -> String {
    let first = if female { FEMALE_NAMES } else { MALE_NAMES };
    let round = k / 16;
    // 3 is invertible mod 16, so (k % 16, last) pairs never repeat within 256.
    let last = SURNAMES[(k + 3 * round + if female { 0 } else { 7 }) % 16];
    let base = format!("{} {}", first[k % 16], last);
    if k < 256 {
        base
    } else {
        format!("{base} {}", k / 256 + 1)
    }
}

fn draw_profile(seed: u64, index: usize, width: usize) -> SpeakerProfile {
    let mut rng = StdRng::seed_from_u64(mix_seed(seed, TAG_SPEAKER ^ ((index as u64) << 20)));
    // Pairs (0,1), (2,3) … share a sex, half the pairs female.
    let female = (index / 2) % 2 == 1;
    let (f0, vtl) = if female {
        (uni(&mut rng, 165.0, 255.0), uni(&mut rng, 0.80, 0.92))
    } else {
        (uni(&mut rng, 85.0, 155.0), uni(&mut rng, 0.93, 1.15))
    };
    let vowel_shift = (0..N_VOWELS)
        .map(|_| {
            [
                (0.04 * gauss(&mut rng)).clamp(-0.1, 0.1).exp(),
                (0.04 * gauss(&mut rng)).clamp(-0.1, 0.1).exp(),
                (0.03 * gauss(&mut rng)).clamp(-0.1, 0.1).exp(),
            ]
        })
        .collect();
    SpeakerProfile {
        id: format!("spk{:0width$}", index + 1),
        name: String::new(),
        female,
        f0,
        vtl,
        open_quotient: uni(&mut rng, 0.45, 0.75),
        speed_quotient: uni(&mut rng, 1.5, 3.5),
        jitter: uni(&mut rng, 0.003, 0.015),
        shimmer: uni(&mut rng, 0.02, 0.10),
        tilt: uni(&mut rng, 0.0, 0.6),
        breathiness: uni(&mut rng, 0.01, 0.15),
        bandwidth_scale: uni(&mut rng, 0.8, 1.4),
        extra_formant: (
            uni(&mut rng, 3900.0, 4800.0) / vtl,
            uni(&mut rng, 150.0, 450.0),
        ),
        nasal: (uni(&mut rng, 220.0, 330.0), uni(&mut rng, 0.0, 0.35)),
        sibilant: uni(&mut rng, 3500.0, 6500.0) / vtl.sqrt(),
        speaking_rate: uni(&mut rng, 3.0, 5.5),
        pitch_range: uni(&mut rng, 1.5, 5.0),
        vowel_shift,
        twin_of: None,
    }
}

/// Make `twin` a near-copy of `of` in the coarse traits (sex, pitch, tract length,
/// tilt, rate, intonation, half of the accent); the fine traits stay its own.
fn make_twin(
    of: &SpeakerProfile,
    twin: &mut SpeakerProfile,
    of_index: usize,
    spread: f64,
    rng: &mut StdRng,
) {
    let sign = |rng: &mut StdRng| if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    twin.female = of.female;
    twin.f0 = of.f0 * (1.0 + sign(rng) * spread * uni(rng, 0.5, 1.0));
    twin.vtl = of.vtl * (1.0 + sign(rng) * 0.5 * spread * uni(rng, 0.5, 1.0));
    twin.tilt = (of.tilt + 0.05 * gauss(rng)).clamp(0.0, 0.6);
    twin.speaking_rate = of.speaking_rate * (1.0 + 0.05 * gauss(rng));
    twin.pitch_range = of.pitch_range * (1.0 + 0.1 * gauss(rng));
    for (t, o) in twin.vowel_shift.iter_mut().zip(&of.vowel_shift) {
        for k in 0..3 {
            t[k] = (t[k] * o[k]).sqrt();
        }
    }
    twin.twin_of = Some(of_index);
}

fn draw_session(seed: u64, speaker: usize, session: usize, params: &SynthParams) -> Session {
    let mut rng = StdRng::seed_from_u64(mix_seed(
        mix_seed(seed, TAG_SESSION ^ ((speaker as u64) << 20)),
        session as u64,
    ));
    let v = params.session_variation;
    let sr = params.sample_rate as f64;
    let peak_f = (300.0f64.ln() + rng.random::<f64>() * (3500.0f64 / 300.0).ln()).exp();
    Session {
        id: format!("s{}", session + 1),
        gain: 10f64.powf((3.0 * v * gauss(&mut rng)).clamp(-9.0, 9.0) / 20.0),
        highpass_hz: (60.0 + v * uni(&mut rng, 0.0, 120.0)).min(0.1 * sr),
        tilt: (0.3 * v * gauss(&mut rng)).clamp(-0.6, 0.6),
        peak: (
            peak_f.min(0.4 * sr),
            (4.0 * v * gauss(&mut rng)).clamp(-9.0, 9.0),
            uni(&mut rng, 0.7, 2.0),
        ),
        noise_colour: uni(&mut rng, 0.0, 0.95),
        hum: rng.random_bool(0.3).then(|| {
            (
                if rng.random_bool(0.5) { 50.0 } else { 60.0 },
                uni(&mut rng, 0.1, 0.5),
            )
        }),
        snr_db: uni(&mut rng, params.snr_db.0, params.snr_db.1),
        f0_factor: (0.04 * v * gauss(&mut rng)).clamp(-0.15, 0.15).exp(),
        effort: (0.08 * v * gauss(&mut rng)).clamp(-0.25, 0.25),
    }
}

/// A generated corpus: the speakers' voices and their sessions. Render clips with
/// [`SynthCorpus::dataset`] or [`SynthCorpus::clip`].
#[derive(Debug, Clone)]
pub struct SynthCorpus {
    params: SynthParams,
    profiles: Vec<SpeakerProfile>,
    sessions: Vec<Vec<Session>>,
}

impl SynthCorpus {
    /// Draw the speakers and sessions (cheap; no audio yet).
    pub fn new(params: &SynthParams) -> Result<SynthCorpus> {
        params.validate()?;
        let width = params.speakers.to_string().len().max(2);
        let mut profiles: Vec<SpeakerProfile> = (0..params.speakers)
            .map(|i| draw_profile(params.seed, i, width))
            .collect();
        // Near-twins: a seeded choice of the pairs (0,1), (2,3), …
        let n_pairs = params.speakers / 2;
        let n_twins = (params.confusable_fraction * n_pairs as f64).round() as usize;
        let mut rng = StdRng::seed_from_u64(mix_seed(params.seed, TAG_PAIRS));
        let mut pairs: Vec<usize> = (0..n_pairs).collect();
        pairs.shuffle(&mut rng);
        let mut chosen = pairs[..n_twins.min(n_pairs)].to_vec();
        chosen.sort_unstable();
        for p in chosen {
            let (a, b) = (2 * p, 2 * p + 1);
            let of = profiles[a].clone();
            make_twin(&of, &mut profiles[b], a, params.confusable_spread, &mut rng);
        }
        let (mut nf, mut nm) = (0, 0);
        for p in &mut profiles {
            let k = if p.female { &mut nf } else { &mut nm };
            p.name = invented_name(p.female, *k);
            *k += 1;
        }
        let sessions = (0..params.speakers)
            .map(|s| {
                (0..params.sessions_per_speaker.min(params.clips_per_speaker))
                    .map(|k| draw_session(params.seed, s, k, params))
                    .collect()
            })
            .collect();
        Ok(SynthCorpus {
            params: params.clone(),
            profiles,
            sessions,
        })
    }

    /// Generate the whole corpus as an in-memory [`Dataset`] (rendered in parallel).
    pub fn generate(params: &SynthParams) -> Result<Dataset> {
        Ok(SynthCorpus::new(params)?.dataset())
    }

    /// The parameters.
    pub fn params(&self) -> &SynthParams {
        &self.params
    }

    /// The speakers' voices, in speaker order (`spk01` first).
    pub fn profiles(&self) -> &[SpeakerProfile] {
        &self.profiles
    }

    /// Sessions actually recorded per speaker: no session without a clip.
    fn n_sessions(&self) -> usize {
        self.params
            .sessions_per_speaker
            .min(self.params.clips_per_speaker)
    }

    /// The session index of clip `clip` (clips spread evenly, in order).
    fn session_of(&self, clip: usize) -> usize {
        clip * self.n_sessions() / self.params.clips_per_speaker
    }

    /// Render clip `clip` of speaker `speaker` (0-based indices).
    pub fn clip(&self, speaker: usize, clip: usize) -> Result<Clip> {
        if speaker >= self.profiles.len() {
            return Err(Error::param(
                "speaker",
                format!("{speaker} is not below {}", self.profiles.len()),
            ));
        }
        if clip >= self.params.clips_per_speaker {
            return Err(Error::param(
                "clip",
                format!("{clip} is not below {}", self.params.clips_per_speaker),
            ));
        }
        Ok(self.render(speaker, clip))
    }

    fn render(&self, speaker: usize, clip: usize) -> Clip {
        let profile = &self.profiles[speaker];
        let session = &self.sessions[speaker][self.session_of(clip)];
        let width = self.params.clips_per_speaker.to_string().len().max(3);
        let mut rng = StdRng::seed_from_u64(mix_seed(
            mix_seed(self.params.seed, TAG_CLIP ^ ((speaker as u64) << 20)),
            clip as u64,
        ));
        let samples = render_clip(profile, session, &self.params, &mut rng);
        let file = format!("{}-{}-{:0width$}.wav", profile.id, session.id, clip + 1);
        let path = PathBuf::from(&profile.id).join(&session.id).join(file);
        let audio = Audio {
            samples,
            sample_rate: self.params.sample_rate,
        };
        Clip::in_memory(path, profile.id.clone(), Some(session.id.clone()), audio)
    }

    /// Every clip as an in-memory [`Dataset`], sorted by speaker, session and clip.
    pub fn dataset(&self) -> Dataset {
        let n = self.params.clips_per_speaker;
        let clips: Vec<Clip> = (0..self.profiles.len() * n)
            .into_par_iter()
            .map(|k| self.render(k / n, k % n))
            .collect();
        let names: BTreeMap<String, String> = self
            .profiles
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect();
        Dataset {
            root: PathBuf::from(format!("<synthetic seed={}>", self.params.seed)),
            layout: None,
            clips,
            names,
            warnings: Vec::new(),
        }
    }
}

/// The default synthetic corpus ([`SynthParams::default`]): what every command and
/// notebook uses when given no data.
pub fn default_dataset() -> Dataset {
    // The default parameters are valid (checked by a test).
    SynthCorpus::generate(&SynthParams::default()).expect("default synth parameters are valid")
}

/// SplitMix64: a small, fast generator for sample-level noise (millions of draws
/// per corpus), seeded from the clip's [`StdRng`].
struct FastRng(u64);

impl FastRng {
    /// An approximately normal draw (mean 0, variance 1): the Irwin–Hall sum of
    /// four 16-bit uniforms from one 64-bit draw — plenty for noise, and several
    /// times cheaper than an exact draw.
    #[inline]
    fn gauss(&mut self) -> f64 {
        use rand::RngCore;
        let x = self.next_u64();
        let sum = (x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48);
        // Four uniforms on 0..=65535: mean 131070, standard deviation ≈ 65536/√3.
        const SCALE: f64 = 1.732_050_807_568_877_2 / 65_536.0;
        (sum as f64 - 131_070.0) * SCALE
    }
}

impl rand::RngCore for FastRng {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Klatt's two-pole resonator with unity gain at 0 Hz.
#[derive(Debug, Clone, Copy, Default)]
struct Resonator {
    a: f64,
    b: f64,
    c: f64,
    y1: f64,
    y2: f64,
    on: bool,
}

impl Resonator {
    fn set(&mut self, freq: f64, bw: f64, sr: f64) {
        if !(freq > 0.0 && freq < 0.45 * sr) {
            self.on = false;
            return;
        }
        self.on = true;
        let r = (-PI * bw / sr).exp();
        self.c = -r * r;
        self.b = 2.0 * r * (2.0 * PI * freq / sr).cos();
        self.a = 1.0 - self.b - self.c;
    }

    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        if !self.on {
            return x;
        }
        let y = self.a * x + self.b * self.y1 + self.c * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// A biquad (direct form I), here a peaking EQ from the RBJ audio-EQ cookbook.
#[derive(Debug, Clone, Copy, Default)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    x: [f64; 2],
    y: [f64; 2],
}

impl Biquad {
    fn peaking(freq: f64, gain_db: f64, q: f64, sr: f64) -> Biquad {
        let amp = 10f64.powf(gain_db / 40.0);
        let w0 = 2.0 * PI * freq / sr;
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha / amp;
        Biquad {
            b: [
                (1.0 + alpha * amp) / a0,
                -2.0 * w0.cos() / a0,
                (1.0 - alpha * amp) / a0,
            ],
            a: [-2.0 * w0.cos() / a0, (1.0 - alpha / amp) / a0],
            ..Biquad::default()
        }
    }

    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// Control tracks of an utterance, one value per sample.
struct Plan {
    /// Voicing amplitude (0 = unvoiced).
    voice: Vec<f32>,
    /// Frication amplitude.
    fric: Vec<f32>,
    /// Intonation in semitones around the clip's pitch.
    semis: Vec<f32>,
    /// Vowel whose formants are the target.
    vowel: Vec<u8>,
}

/// Raised-cosine ramp 0→1 over `len` samples, evaluated at `i`.
#[inline]
fn ramp(i: usize, len: usize) -> f64 {
    if i >= len {
        1.0
    } else {
        0.5 - 0.5 * (PI * i as f64 / len as f64).cos()
    }
}

fn plan_utterance(n: usize, sr: f64, rate: f64, pitch_range: f64, rng: &mut StdRng) -> Plan {
    let mut p = Plan {
        voice: vec![0.0; n],
        fric: vec![0.0; n],
        semis: vec![0.0; n],
        vowel: vec![0; n],
    };
    let secs = |s: f64| (s * sr) as usize;
    // Silence before and after, never more than a sixth of the clip each.
    let lead = secs(uni(rng, 0.04, 0.15)).min(n / 6);
    let end = n.saturating_sub(secs(uni(rng, 0.04, 0.15)).min(n / 6));
    let mut t = lead;
    let mut prev_vowel = rng.random_range(0..N_VOWELS);
    p.vowel[..lead].fill(prev_vowel as u8);
    let mut filled = lead;
    while t + secs(0.1) < end {
        let syllable = (1.0 / rate * (0.2 * gauss(rng)).exp()).clamp(0.12, 0.45);
        let mut v = rng.random_range(0..N_VOWELS - 1);
        if v >= prev_vowel {
            v += 1; // never the same vowel twice in a row
        }
        let kind = rng.random::<f64>();
        let cons = if kind < 0.3 {
            secs(uni(rng, 0.05, 0.10)) // fricative
        } else if kind < 0.5 {
            secs(uni(rng, 0.03, 0.05)) // stop: closure then burst
        } else {
            0
        };
        let want = secs(syllable).saturating_sub(cons).max(secs(0.07));
        let vowel_len = want.min(end.saturating_sub(t + cons));
        if vowel_len < secs(0.04) {
            break;
        }
        // Consonant.
        if kind < 0.3 {
            let amp = uni(rng, 0.6, 1.0) as f32;
            let edge = secs(0.012);
            for i in 0..cons {
                let env = ramp(i, edge) * ramp(cons - i, edge);
                p.fric[t + i] = amp * env as f32;
            }
        } else if kind < 0.5 {
            let burst = secs(0.012).min(cons);
            for i in 0..burst {
                let k = t + cons - burst + i;
                p.fric[k] = (0.8 * (-(i as f64) / (0.25 * burst as f64)).exp()) as f32;
            }
        }
        // Vowel, with the consonant co-articulated towards it.
        let v_start = t + cons;
        p.vowel[filled..v_start + vowel_len].fill(v as u8);
        filled = v_start + vowel_len;
        let amp = uni(rng, 0.6, 1.0);
        let (att, rel) = (secs(0.02), secs(0.03));
        let accent = if rng.random_bool(0.45) {
            uni(rng, 0.5, 1.0)
        } else {
            uni(rng, 0.0, 0.25)
        } * 0.5
            * pitch_range;
        for i in 0..vowel_len {
            let env = amp * ramp(i, att) * ramp(vowel_len - i, rel);
            p.voice[v_start + i] = env as f32;
            let x = (i as f64 + 0.5) / vowel_len as f64;
            let bump = 4.0 * x * (1.0 - x);
            p.semis[v_start + i] = (accent * bump) as f32;
        }
        prev_vowel = v;
        t = v_start + vowel_len;
        if rng.random_bool(0.18) {
            t += secs(uni(rng, 0.06, 0.22));
        }
    }
    p.vowel[filled..].fill(prev_vowel as u8);
    // Declination: from +0.35 to -0.35 of the range over the clip.
    let inv = 1.0 / n.max(1) as f64;
    for (i, s) in p.semis.iter_mut().enumerate() {
        *s += (pitch_range * 0.35 * (1.0 - 2.0 * i as f64 * inv)) as f32;
    }
    p
}

/// Root mean square of `x` where `mask` is above 0.1 (of all of `x` when none is).
fn active_rms(x: &[f64], mask: &[f32]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for (v, m) in x.iter().zip(mask) {
        if *m > 0.1 {
            s += v * v;
            n += 1;
        }
    }
    if n == 0 {
        s = x.iter().map(|v| v * v).sum();
        n = x.len().max(1);
    }
    (s / n as f64).sqrt()
}

/// Render one clip: source, formant filter, consonants, channel, noise.
fn render_clip(
    profile: &SpeakerProfile,
    session: &Session,
    params: &SynthParams,
    rng: &mut StdRng,
) -> Vec<f32> {
    let sr = params.sample_rate as f64;
    let cv = params.clip_variation;
    let seconds = uni(rng, params.clip_seconds.0, params.clip_seconds.1);
    let n = ((seconds * sr).round() as usize).max(1);

    // This clip's voice: the speaker's, as on that day, with a little wander.
    let f0 = profile.f0 * session.f0_factor * (0.03 * cv * gauss(rng)).clamp(-0.1, 0.1).exp();
    let rate = profile.speaking_rate * (0.08 * cv * gauss(rng)).clamp(-0.25, 0.25).exp();
    let vtl = profile.vtl * (0.01 * cv * gauss(rng)).clamp(-0.04, 0.04).exp();
    let tilt = (profile.tilt + session.effort + 0.03 * cv * gauss(rng)).clamp(0.0, 0.85);
    let plan = plan_utterance(n, sr, rate, profile.pitch_range, rng);

    // Formant targets per vowel for this clip.
    let targets: Vec<[f64; 4]> = (0..N_VOWELS)
        .map(|v| {
            let (_, f) = VOWELS[v];
            let s = profile.vowel_shift[v];
            [
                f[0] * s[0] / vtl,
                f[1] * s[1] / vtl,
                f[2] * s[2] / vtl,
                F4 / vtl,
            ]
        })
        .collect();
    let bws: [f64; 4] = BANDWIDTHS.map(|b| b * profile.bandwidth_scale);

    let mut formants = [Resonator::default(); 4];
    let mut extra = Resonator::default();
    extra.set(profile.extra_formant.0, profile.extra_formant.1, sr);
    let mut nasal = Resonator::default();
    nasal.set(profile.nasal.0, 100.0, sr);
    // Frication: two resonators at the sibilant frequency make a band of noise.
    let mut sibilant = [Resonator::default(); 2];
    let sib_f = profile.sibilant.min(0.42 * sr);
    for r in &mut sibilant {
        r.set(sib_f, 0.35 * sib_f, sr);
    }
    // Sample-level noise comes from a fast generator seeded by the clip's.
    let mut noise = FastRng(rng.random::<u64>());

    const BLOCK: usize = 16;
    let alpha = 1.0 - (-(BLOCK as f64) / (0.025 * sr)).exp();
    let mut track = targets[plan.vowel[0] as usize];

    let oq = profile.open_quotient;
    let tp = oq * profile.speed_quotient / (1.0 + profile.speed_quotient);
    let tn = oq - tp;
    let mut pos = 0.0f64;
    let mut period = sr / f0;
    let mut pulse_amp = 1.0;
    let mut tilt_state = 0.0;
    let mut prev_voiced = 0.0;
    let mut prev_fric = 0.0;
    let mut voiced = vec![0.0f64; n];
    let mut fric = vec![0.0f64; n];

    for i in 0..n {
        if i % BLOCK == 0 {
            let target = &targets[plan.vowel[i] as usize];
            for k in 0..4 {
                track[k] += alpha * (target[k] - track[k]);
                formants[k].set(track[k], bws[k], sr);
            }
        }
        // Glottal source: a new period draws its jitter and shimmer.
        if pos >= period {
            pos -= period;
            let f = f0 * 2f64.powf(plan.semis[i] as f64 / 12.0);
            period = sr / f * (1.0 + profile.jitter * gauss(rng)).clamp(0.8, 1.2);
            pulse_amp = (1.0 + profile.shimmer * gauss(rng)).clamp(0.3, 1.7);
        }
        let v = plan.voice[i] as f64;
        let u = if v > 0.0 {
            let ph = pos / period;
            let g = if ph < tp {
                0.5 - 0.5 * (PI * ph / tp).cos()
            } else if ph < oq {
                (0.5 * PI * (ph - tp) / tn).cos()
            } else {
                0.0
            };
            let breath = profile.breathiness * (0.3 + g) * noise.gauss();
            (pulse_amp * g + breath) * v
        } else {
            0.0
        };
        pos += 1.0;
        tilt_state = (1.0 - tilt) * u + tilt * tilt_state;
        let mut y = tilt_state;
        for r in &mut formants {
            y = r.tick(y);
        }
        y = extra.tick(y);
        y += profile.nasal.1 * nasal.tick(tilt_state);
        // Lip radiation: a first difference.
        voiced[i] = y - prev_voiced;
        prev_voiced = y;

        let a = plan.fric[i];
        let e = if a > 0.0 {
            a as f64 * noise.gauss()
        } else {
            0.0
        };
        let e = sibilant[0].tick(e);
        let f = sibilant[1].tick(e);
        fric[i] = f - prev_fric;
        prev_fric = f;
    }

    // Mix voiced and frication at fixed levels.
    let rv = active_rms(&voiced, &plan.voice).max(1e-12);
    let rf = active_rms(&fric, &plan.fric).max(1e-12);
    let mut x: Vec<f64> = voiced
        .iter()
        .zip(&fric)
        .map(|(v, f)| 0.08 * v / rv + 0.02 * f / rf)
        .collect();

    // The session's channel: high-pass, tilt, peaking EQ, gain.
    let hp = (-2.0 * PI * session.highpass_hz / sr).exp();
    let (mut hx, mut hy, mut lp) = (0.0, 0.0, 0.0);
    let mut peak = Biquad::peaking(session.peak.0, session.peak.1, session.peak.2, sr);
    for s in x.iter_mut() {
        hy = hp * (hy + *s - hx);
        hx = *s;
        lp = 0.7 * lp + 0.3 * hy;
        let t = hy + session.tilt * (lp - hy);
        *s = peak.tick(t) * session.gain;
    }

    // Background noise at the session's SNR (re active speech), coloured, maybe hum.
    let mask: Vec<f32> = plan
        .voice
        .iter()
        .zip(&plan.fric)
        .map(|(v, f)| v.max(*f))
        .collect();
    // (A clip too short to hold a syllable is noise at the nominal speech level.)
    let speech = match active_rms(&x, &mask) {
        r if r > 1e-9 => r,
        _ => 0.08 * session.gain,
    };
    let snr = session.snr_db + 2.0 * cv * gauss(rng);
    let noise_rms = speech / 10f64.powf(snr / 20.0);
    let c = session.noise_colour;
    let norm = ((1.0 + c) / (1.0 - c)).sqrt();
    let hum_phase = uni(rng, 0.0, 2.0 * PI);
    // Hum: a phasor rotated sample by sample; harmonics 2 and 3 from it.
    let (hum_hz, hum_level) = session.hum.unwrap_or((50.0, 0.0));
    let (dc, ds) = (
        (2.0 * PI * hum_hz / sr).cos(),
        (2.0 * PI * hum_hz / sr).sin(),
    );
    let (mut hc, mut hs) = (hum_phase.cos(), hum_phase.sin());
    let mut state = 0.0;
    for s in x.iter_mut() {
        state = (1.0 - c) * noise.gauss() + c * state;
        let mut z = state * norm;
        if hum_level > 0.0 {
            let (s2, s3) = (2.0 * hs * hc, hs * (3.0 - 4.0 * hs * hs));
            z += hum_level * 2.0 * (hs + 0.5 * s2 + 0.25 * s3);
            (hc, hs) = (hc * dc - hs * ds, hs * dc + hc * ds);
            // Keep the phasor on the unit circle.
            let r = 1.5 - 0.5 * (hc * hc + hs * hs);
            (hc, hs) = (hc * r, hs * r);
        }
        *s += noise_rms * z;
    }

    let peak_abs = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = if peak_abs > 0.99 {
        0.99 / peak_abs
    } else {
        1.0
    };
    x.iter().map(|v| (v * scale) as f32).collect()
}

/// Write a data set as a folders-layout directory: `out_dir/<speaker>/<session>/<clip>.wav`
/// (`out_dir/<speaker>/<clip>.wav` for clips without a session), 16-bit PCM, each
/// file written atomically, in parallel, plus a `speakers.tsv` of display names that
/// [`Dataset::open`] reads back. Works for any data set (file clips are decoded and
/// re-encoded). Returns the number of clips written.
///
/// An existing non-empty `out_dir` is refused unless `overwrite` is set; with it,
/// files of the same names are replaced and other files are left alone.
pub fn write_corpus(data: &Dataset, out_dir: impl AsRef<Path>, overwrite: bool) -> Result<usize> {
    let out = out_dir.as_ref();
    if out.as_os_str().is_empty() {
        return Err(Error::param(
            "out_dir",
            "the output directory is an empty path",
        ));
    }
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::Dataset {
                path: out.to_path_buf(),
                reason: "exists and is not a directory".into(),
            });
        }
        let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        if entries.next().is_some() && !overwrite {
            return Err(Error::Dataset {
                path: out.to_path_buf(),
                reason: "the directory is not empty; refusing to overwrite it (choose an empty or new directory, or ask to overwrite)".into(),
            });
        }
    }
    // Plan every target path first: safe names, no two clips on one file.
    let safe = |s: &str| -> String {
        let t: String = s
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | '\0') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let t = t.trim_start_matches('.').to_string();
        if t.is_empty() {
            "_".into()
        } else {
            t
        }
    };
    let mut used: HashSet<PathBuf> = HashSet::new();
    let mut targets = Vec::with_capacity(data.clips.len());
    for (i, clip) in data.clips.iter().enumerate() {
        let mut dir = out.join(safe(&clip.speaker));
        if let Some(s) = &clip.session {
            dir = dir.join(safe(s));
        }
        let stem = clip
            .path
            .file_stem()
            .map(|s| safe(&s.to_string_lossy()))
            .unwrap_or_else(|| format!("clip{i}"));
        let mut target = dir.join(format!("{stem}.wav"));
        if !used.insert(target.clone()) {
            target = dir.join(format!("{stem}-{i}.wav"));
            used.insert(target.clone());
        }
        targets.push(target);
    }
    // The whole corpus is written in a staging directory beside `out` and swapped
    // in at once: a process killed at any point leaves `out` as it was (or whole
    // and new). With `overwrite`, the files of the old corpus that are not
    // replaced are carried over first (hard links, else copies).
    let stage = crate::atomic_dir::staging(out)?;
    let written = (|| -> Result<()> {
        let names_file = out.join(NAMES_FILE);
        if out.is_dir() {
            let replaced: HashSet<&Path> = targets
                .iter()
                .map(PathBuf::as_path)
                .chain((!data.names.is_empty()).then_some(names_file.as_path()))
                .collect();
            carry_over(out, &stage, &replaced)?;
        }
        let staged = |t: &Path| stage.join(t.strip_prefix(out).unwrap_or(t));
        let dirs: std::collections::BTreeSet<PathBuf> = targets
            .iter()
            .filter_map(|t| t.parent())
            .map(staged)
            .collect();
        for d in &dirs {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        data.clips
            .par_iter()
            .zip(targets.par_iter())
            .try_for_each(|(clip, target)| clip.load()?.write_wav(staged(target)))?;
        if !data.names.is_empty() {
            let mut tsv = String::from("id\tname\n");
            for (id, name) in &data.names {
                tsv.push_str(&format!(
                    "{}\t{}\n",
                    safe(id),
                    name.replace(['\t', '\n'], " ")
                ));
            }
            write_atomic(&staged(&names_file), tsv.as_bytes())?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(e);
    }
    crate::atomic_dir::commit(&stage, out)?;
    Ok(data.clips.len())
}

/// Link (or copy) every file under `from` into the same place under `to`, except
/// the paths in `skip`.
fn carry_over(from: &Path, to: &Path, skip: &HashSet<&Path>) -> Result<()> {
    let mut stack = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            let path = e.path();
            let rel = path.strip_prefix(from).unwrap_or(&path);
            let dest = to.join(rel);
            let kind = e.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                std::fs::create_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
                stack.push(path);
            } else if kind.is_file()
                && !skip.contains(path.as_path())
                && std::fs::hard_link(&path, &dest).is_err()
            {
                std::fs::copy(&path, &dest).map_err(|e| Error::io(&dest, e))?;
            }
        }
    }
    Ok(())
}
