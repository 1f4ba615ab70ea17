//! Test conversations: speaker turns built from single-speaker clips, with pauses,
//! optional overlapping speech and background noise, and their RTTM truth.
//!
//! A conversation of `speakers` people, drawn at random (seeded) from a data set's
//! speakers, alternates turns: each turn's speaker differs from the previous one's,
//! and a turn joins clips of that speaker (single words in dsp34 and fsdd) with short
//! gaps until it is `turn_seconds` long (drawn uniformly). Turns are separated by
//! pauses, or, with `overlap > 0`, start before the previous one ends.
//!
//! **Truth covers only speech.** Every clip is trimmed with this energy rule: 25 ms
//! frames every 10 ms; a frame is speech when its RMS is within `trim_db` (30 dB) of
//! the clip's loudest frame and above −60 dBFS; the clip's speech runs from the
//! first speech frame's start to the last one's end. Only trimmed speech is mixed,
//! so a turn starts at its first clip's speech and ends at its last clip's speech.
//!
//! **One truth turn per turn.** The gaps between the clips of a turn are short
//! pauses inside one person's speech (`gap_seconds`, 0.05–0.25 s by default, at most
//! [`MAX_GAP_SECONDS`]): they are bridged, and the turn's clips are written as one
//! truth turn from the first clip's trimmed start to the last clip's trimmed end, as
//! a human annotator (and a voice activity detector) would mark them. Pauses between
//! turns (`pause_seconds`) are not speech and stay out of the truth.
//!
//! Pass held-out clips (for instance the test side of the honest
//! [`split`](crate::dataset::split)) to evaluate a model on voices it never saw.
//!
//! ```
//! use speaker_similarity::diarize::mix::{mix, MixParams};
//! use speaker_similarity::synth::{SynthCorpus, SynthParams};
//! # fn main() -> speaker_similarity::Result<()> {
//! let data = SynthCorpus::generate(&SynthParams { speakers: 3, clips_per_speaker: 4, ..SynthParams::default() })?;
//! let conv = mix(&data.clips, &MixParams { speakers: 2, duration: 20.0, ..MixParams::default() })?;
//! assert_eq!(conv.speakers.len(), 2);
//! assert!(conv.audio.duration() >= 20.0);
//! assert!(conv.truth.iter().all(|t| conv.speakers.contains(&t.label)));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::rttm::{check_label, Turn};
use crate::audio::Audio;
use crate::dataset::Clip;
use crate::error::{Error, Result};

/// The longest gap between two clips of one turn, in seconds. A pause this short
/// belongs to the speaker's turn (the truth bridges it); a longer one would be a
/// pause between turns.
pub const MAX_GAP_SECONDS: f64 = 0.5;

/// Background noise added to a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseKind {
    /// White Gaussian noise.
    White,
    /// Pink (1/f) noise, more like room and fan noise.
    Pink,
}

/// Parameters of [`mix`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixParams {
    /// Number of speakers, 1 to 20. Default 3.
    pub speakers: usize,
    /// Length of the conversation in seconds: turns are added until it is reached.
    /// Default 60.
    pub duration: f64,
    /// Range of a turn's length in seconds (uniform). Default (1, 8).
    pub turn_seconds: (f64, f64),
    /// Range of the pauses between turns in seconds (uniform). Default (0.2, 1.0).
    pub pause_seconds: (f64, f64),
    /// Range of the gaps between the clips inside a turn in seconds: short pauses,
    /// bridged in the truth (within [0, [`MAX_GAP_SECONDS`]]). Default (0.05, 0.25).
    pub gap_seconds: (f64, f64),
    /// Target share of the speech time spoken by two people at once, in [0, 0.5).
    /// Half the turn changes overlap; the measured share is in
    /// [`Conversation::overlap_fraction`]. Default 0.
    pub overlap: f64,
    /// Background noise at this signal-to-noise ratio in dB (speech power over
    /// noise power), or none. Default `None`.
    pub snr_db: Option<f64>,
    /// Colour of the background noise. Default [`NoiseKind::Pink`].
    pub noise: NoiseKind,
    /// The trimming rule's range below the loudest frame, in dB. Default 30.
    pub trim_db: f64,
    /// Sample rate of the conversation (clips are resampled to it). Default 16 000.
    pub sample_rate: u32,
    /// Silence before the first and after the last turn, seconds. Default 0.5.
    pub margin_seconds: f64,
    /// Seed of every random choice. Default 0.
    pub seed: u64,
}

impl Default for MixParams {
    fn default() -> Self {
        MixParams {
            speakers: 3,
            duration: 60.0,
            turn_seconds: (1.0, 8.0),
            pause_seconds: (0.2, 1.0),
            gap_seconds: (0.05, 0.25),
            overlap: 0.0,
            snr_db: None,
            noise: NoiseKind::Pink,
            trim_db: 30.0,
            sample_rate: 16_000,
            margin_seconds: 0.5,
            seed: 0,
        }
    }
}

fn check_range(name: &'static str, (a, b): (f64, f64), lo: f64, hi: f64) -> Result<()> {
    if !(a.is_finite() && b.is_finite() && lo <= a && a <= b && b <= hi) {
        return Err(Error::param(
            name,
            format!("({a}, {b}) is not a range within [{lo}, {hi}]"),
        ));
    }
    Ok(())
}

impl MixParams {
    /// Check every field's range (documented on each field).
    pub fn validate(&self) -> Result<()> {
        if !(1..=20).contains(&self.speakers) {
            return Err(Error::param(
                "speakers",
                format!("{} is not within 1..=20", self.speakers),
            ));
        }
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= 86_400.0) {
            return Err(Error::param(
                "duration",
                format!("{} s is not within (0, 86400]", self.duration),
            ));
        }
        check_range("turn_seconds", self.turn_seconds, 0.1, 600.0)?;
        check_range("pause_seconds", self.pause_seconds, 0.0, 60.0)?;
        check_range("gap_seconds", self.gap_seconds, 0.0, MAX_GAP_SECONDS)?;
        if !(self.overlap.is_finite() && (0.0..0.5).contains(&self.overlap)) {
            return Err(Error::param(
                "overlap",
                format!("{} is not within [0, 0.5)", self.overlap),
            ));
        }
        if let Some(s) = self.snr_db {
            if !(s.is_finite() && (-20.0..=100.0).contains(&s)) {
                return Err(Error::param(
                    "snr_db",
                    format!("{s} dB is not within [-20, 100]"),
                ));
            }
        }
        if !(self.trim_db.is_finite() && self.trim_db > 0.0 && self.trim_db <= 120.0) {
            return Err(Error::param(
                "trim_db",
                format!("{} dB is not within (0, 120]", self.trim_db),
            ));
        }
        if !(8_000..=48_000).contains(&self.sample_rate) {
            return Err(Error::param(
                "sample_rate",
                format!("{} Hz is not within 8000..=48000", self.sample_rate),
            ));
        }
        if !(self.margin_seconds.is_finite() && (0.0..=60.0).contains(&self.margin_seconds)) {
            return Err(Error::param(
                "margin_seconds",
                format!("{} is not within [0, 60]", self.margin_seconds),
            ));
        }
        Ok(())
    }
}

/// A built conversation.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The mixed audio (mono, [`MixParams::sample_rate`]).
    pub audio: Audio,
    /// The truth: one turn per speaker turn (its clips' trimmed speech with the short
    /// gaps between them bridged), labelled with the speaker id, sorted by start.
    pub truth: Vec<Turn>,
    /// The speakers taking part, in order of first appearance.
    pub speakers: Vec<String>,
    /// Seconds of speech (union over speakers).
    pub speech_seconds: f64,
    /// Share of the speech time with two or more speakers at once.
    pub overlap_fraction: f64,
}

/// The speech span `[start, end)` of `samples` in samples under the trimming rule
/// of the module docs, or `None` when no frame qualifies.
pub fn speech_span(samples: &[f32], sample_rate: u32, trim_db: f64) -> Option<(usize, usize)> {
    let frame = (sample_rate as usize * 25 / 1000).max(1);
    let hop = (sample_rate as usize / 100).max(1);
    if samples.is_empty() {
        return None;
    }
    let mut db = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + frame).min(samples.len());
        let e: f64 = samples[start..end]
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum();
        db.push(10.0 * (e / (end - start) as f64 + 1e-20).log10());
        if end == samples.len() {
            break;
        }
        start += hop;
    }
    let loud = db.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let thr = (loud - trim_db).max(-60.0);
    let first = db.iter().position(|&d| d >= thr)?;
    let last = db.iter().rposition(|&d| d >= thr)?;
    Some((first * hop, (last * hop + frame).min(samples.len())))
}

/// One speaker's trimmed clips, loaded on first use.
struct Pool<'a> {
    clips: Vec<&'a Clip>,
    loaded: Vec<Option<Vec<f32>>>,
    order: Vec<usize>,
    next: usize,
}

impl Pool<'_> {
    fn take(&mut self, rate: u32, trim_db: f64, rng: &mut StdRng) -> Result<Vec<f32>> {
        for _ in 0..2 * self.clips.len() {
            if self.next == self.order.len() {
                self.order.shuffle(rng);
                self.next = 0;
            }
            let i = self.order[self.next];
            self.next += 1;
            if self.loaded[i].is_none() {
                let a = self.clips[i].load()?;
                let a = if a.sample_rate != rate {
                    a.resample(rate)?
                } else {
                    a
                };
                let s = match speech_span(&a.samples, rate, trim_db) {
                    Some((s, e)) => a.samples[s..e].to_vec(),
                    None => Vec::new(),
                };
                self.loaded[i] = Some(s);
            }
            if let Some(s) = &self.loaded[i] {
                if !s.is_empty() {
                    return Ok(s.clone());
                }
            }
        }
        Err(Error::NoSpeechFound {
            speech_seconds: 0.0,
            reason: format!(
                "no clip of speaker {} holds speech under the trimming rule",
                self.clips[0].speaker
            ),
        })
    }
}

/// Build a conversation from `clips` (see the module docs). Errors: invalid
/// parameters, fewer speakers among the clips than asked for, speaker ids that are
/// not RTTM labels, clips that do not load.
pub fn mix(clips: &[Clip], params: &MixParams) -> Result<Conversation> {
    params.validate()?;
    let mut by_speaker: BTreeMap<&str, Vec<&Clip>> = BTreeMap::new();
    for c in clips {
        by_speaker.entry(c.speaker.as_str()).or_default().push(c);
    }
    if by_speaker.len() < params.speakers {
        return Err(Error::param(
            "speakers",
            format!(
                "{} asked for, the clips hold {} speakers",
                params.speakers,
                by_speaker.len()
            ),
        ));
    }
    let mut rng = StdRng::seed_from_u64(params.seed);
    let mut names: Vec<&str> = by_speaker.keys().copied().collect();
    names.shuffle(&mut rng);
    names.truncate(params.speakers);
    for n in &names {
        check_label(n)?;
    }
    let mut pools: Vec<Pool> = names
        .iter()
        .map(|n| {
            let clips = by_speaker[n].clone();
            let k = clips.len();
            Pool {
                clips,
                loaded: vec![None; k],
                order: (0..k).collect(),
                next: k,
            }
        })
        .collect();
    let rate = params.sample_rate;
    let sr = f64::from(rate);
    let u = |rng: &mut StdRng, (a, b): (f64, f64)| if b > a { rng.random_range(a..b) } else { a };

    // Turns as (speaker, start sample, pieces of (offset, samples)).
    let mut out: Vec<f32> = Vec::new();
    let mut truth: Vec<Turn> = Vec::new();
    // Sample spans of the mixed clips: the speech power behind the SNR.
    let mut clip_spans: Vec<(usize, usize)> = Vec::new();
    let mut cursor = (params.margin_seconds * sr) as usize;
    let mut prev: Option<usize> = None;
    let mut prev_turn: (usize, usize) = (0, 0);
    let mut order_seen: Vec<String> = Vec::new();
    let c = params.overlap / (1.0 + params.overlap);
    while (cursor as f64) / sr < params.duration {
        let spk = if names.len() == 1 {
            0
        } else {
            loop {
                let s = rng.random_range(0..names.len());
                if Some(s) != prev {
                    break s;
                }
            }
        };
        let target = u(&mut rng, params.turn_seconds);
        let max_len = (params.turn_seconds.1 * sr) as usize;
        let mut pieces: Vec<(usize, Vec<f32>)> = Vec::new();
        let mut len = 0usize;
        loop {
            let s = pools[spk].take(rate, params.trim_db, &mut rng)?;
            let gap = if pieces.is_empty() {
                0
            } else {
                (u(&mut rng, params.gap_seconds) * sr) as usize
            };
            if !pieces.is_empty() && len + gap + s.len() > max_len {
                break;
            }
            pieces.push((len + gap, s));
            len = pieces.last().map_or(0, |(o, s)| o + s.len());
            if len as f64 / sr >= target {
                break;
            }
        }
        // Where the turn starts: after a pause, or overlapping the previous turn.
        let mut start = cursor + (u(&mut rng, params.pause_seconds) * sr) as usize;
        if prev.is_some() && params.overlap > 0.0 && rng.random_bool(0.5) {
            let (ps, pe) = prev_turn;
            let want = (2.0 * c * len as f64) as usize;
            let o = want.min((pe - ps) * 4 / 5).min(len * 4 / 5);
            start = pe - o;
        }
        if out.len() < start + len {
            out.resize(start + len, 0.0);
        }
        for (off, s) in &pieces {
            let at = start + off;
            for (o, &x) in out[at..at + s.len()].iter_mut().zip(s) {
                *o += x;
            }
            clip_spans.push((at, at + s.len()));
        }
        // The first piece starts at offset 0 and the last one ends at `len`: one
        // truth turn over the trimmed speech, the gaps inside it bridged.
        truth.push(Turn::new(
            start as f64 / sr,
            (start + len) as f64 / sr,
            names[spk],
        )?);
        if !order_seen.iter().any(|n| n == names[spk]) {
            order_seen.push(names[spk].to_string());
        }
        prev = Some(spk);
        prev_turn = (start, start + len);
        cursor = cursor.max(start + len);
    }
    out.resize(cursor + (params.margin_seconds * sr) as usize, 0.0);
    truth.sort_by(|a, b| a.start.total_cmp(&b.start));

    let (speech, overlapped) = speech_and_overlap(&truth);
    if let Some(snr) = params.snr_db {
        add_noise(&mut out, &clip_spans, snr, params.noise, &mut rng);
    }
    // Keep within [-1, 1] (sums of overlapping clips and noise may exceed it).
    let peak = out.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if peak > 0.99 {
        let g = 0.99 / peak;
        out.iter_mut().for_each(|x| *x *= g);
    }
    Ok(Conversation {
        audio: Audio::new(out, rate)?,
        truth,
        speakers: order_seen,
        speech_seconds: speech,
        overlap_fraction: if speech > 0.0 {
            overlapped / speech
        } else {
            0.0
        },
    })
}

/// Seconds of speech (union of the turns) and of overlapped speech (two or more).
pub fn speech_and_overlap(turns: &[Turn]) -> (f64, f64) {
    let mut ev: Vec<(f64, i32)> = turns
        .iter()
        .flat_map(|t| [(t.start, 1), (t.end, -1)])
        .collect();
    ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut speech, mut ovl, mut n, mut last) = (0.0, 0.0, 0i32, 0.0);
    for (t, d) in ev {
        if n >= 1 {
            speech += t - last;
        }
        if n >= 2 {
            ovl += t - last;
        }
        n += d;
        last = t;
    }
    (speech, ovl)
}

fn add_noise(
    out: &mut [f32],
    clip_spans: &[(usize, usize)],
    snr_db: f64,
    kind: NoiseKind,
    rng: &mut StdRng,
) {
    // Speech power over the mixed clips' samples (not the bridged gaps).
    let (mut p, mut n) = (0.0f64, 0usize);
    for &(a, b) in clip_spans {
        let (a, b) = (a.min(out.len()), b.min(out.len()));
        p += out[a..b]
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>();
        n += b - a;
    }
    if n == 0 {
        return;
    }
    let target = p / n as f64 / 10f64.powf(snr_db / 10.0);
    let mut noise: Vec<f32> = (0..out.len())
        .map(|_| {
            let v: f64 = StandardNormal.sample(rng);
            v as f32
        })
        .collect();
    if kind == NoiseKind::Pink {
        // Paul Kellet's economy pink filter.
        let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
        for x in noise.iter_mut() {
            b0 = 0.99765 * b0 + *x * 0.0990460;
            b1 = 0.96300 * b1 + *x * 0.2965164;
            b2 = 0.57000 * b2 + *x * 1.0526913;
            *x = b0 + b1 + b2 + *x * 0.1848;
        }
    }
    let np = noise
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / noise.len() as f64;
    let g = (target / np.max(1e-30)).sqrt() as f32;
    for (o, x) in out.iter_mut().zip(noise) {
        *o += g * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_rule_finds_the_tone() {
        let sr = 16000;
        let mut s = vec![0.0f32; 16000];
        for (i, x) in s.iter_mut().enumerate().take(12000).skip(4000) {
            *x = 0.5 * (i as f32 * 0.1).sin();
        }
        let (a, b) = speech_span(&s, sr, 30.0).unwrap();
        // Within one hop of the true edges.
        assert!((a as i64 - 4000).abs() <= 400, "{a}");
        assert!((b as i64 - 12000).abs() <= 400, "{b}");
        assert_eq!(speech_span(&[0.0; 100], sr, 30.0), None);
    }

    #[test]
    fn a_turn_is_one_truth_turn_over_its_clips() {
        use crate::synth::{SynthCorpus, SynthParams};
        let data = SynthCorpus::generate(&SynthParams {
            speakers: 4,
            clips_per_speaker: 6,
            seed: 3,
            ..SynthParams::default()
        })
        .unwrap();
        let p = MixParams {
            speakers: 3,
            duration: 40.0,
            seed: 5,
            ..MixParams::default()
        };
        let conv = mix(&data.clips, &p).unwrap();
        let sr = f64::from(p.sample_rate);
        let x = &conv.audio.samples;
        // Synthetic clips last about a second: 1-8 s turns join several of them.
        assert!(conv.truth.len() >= 5, "{} turns", conv.truth.len());
        let mean =
            conv.truth.iter().map(|t| t.end - t.start).sum::<f64>() / conv.truth.len() as f64;
        assert!(mean > 1.5, "mean truth turn {mean} s: clips not joined");
        let longest_silence = |a: usize, b: usize| {
            let (mut run, mut best) = (0usize, 0usize);
            for &v in &x[a..b] {
                run = if v == 0.0 { run + 1 } else { 0 };
                best = best.max(run);
            }
            best
        };
        for w in conv.truth.windows(2) {
            // No overlap asked: turns alternate speakers, separated by a pause between
            // turns (at least its 0.2 s minimum), which the truth leaves out.
            assert_ne!(w[0].label, w[1].label);
            assert!(w[1].start - w[0].end >= p.pause_seconds.0 - 1e-9, "{w:?}");
            let (a, b) = ((w[0].end * sr) as usize, (w[1].start * sr) as usize);
            assert!(longest_silence(a, b) as f64 >= (p.pause_seconds.0 * sr) - 2.0);
        }
        for t in &conv.truth {
            let (a, b) = (
                (t.start * sr).round() as usize,
                (t.end * sr).round() as usize,
            );
            // Inside a turn only the short gaps between clips are silent (bridged) ...
            let gap = longest_silence(a, b) as f64 / sr;
            assert!(
                gap <= p.gap_seconds.1 + 1e-3,
                "{t:?}: {gap} s of silence inside"
            );
            // ... and its ends are trimmed speech, not silence.
            let hop = (sr / 100.0) as usize;
            assert!(
                x[a..a + hop].iter().any(|&v| v != 0.0),
                "{t:?} starts silent"
            );
            assert!(x[b - hop..b].iter().any(|&v| v != 0.0), "{t:?} ends silent");
        }
        let (speech, _) = speech_and_overlap(&conv.truth);
        assert!((speech - conv.speech_seconds).abs() < 1e-9);
        // A gap longer than a short pause is a parameter error.
        let long_gaps = MixParams {
            gap_seconds: (0.1, MAX_GAP_SECONDS + 0.1),
            ..p
        };
        assert!(matches!(
            mix(&data.clips, &long_gaps),
            Err(Error::InvalidParameter {
                name: "gap_seconds",
                ..
            })
        ));
    }

    #[test]
    fn overlap_accounting() {
        let t = vec![
            Turn::new(0.0, 2.0, "a").unwrap(),
            Turn::new(1.0, 3.0, "b").unwrap(),
            Turn::new(4.0, 5.0, "a").unwrap(),
        ];
        let (s, o) = speech_and_overlap(&t);
        assert!((s - 4.0).abs() < 1e-12 && (o - 1.0).abs() < 1e-12);
    }
}
