//! What a data set holds: speakers, clips per speaker, durations, sample rates — the
//! original notebook's exploration step, read from file headers in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::Dataset;
use crate::audio::AudioInfo;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn, Stage};

/// One speaker's line of a [`DatasetSummary`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerSummary {
    /// The speaker's id.
    pub speaker: String,
    /// The display name (the id when none is known).
    pub name: String,
    /// Number of clips (readable or not).
    pub clips: usize,
    /// Number of distinct sessions (0 when the layout has none).
    pub sessions: usize,
    /// Total length of the readable clips, in seconds.
    pub seconds: f64,
}

/// Counts and lengths of a data set, as [`Dataset::summary`] returns.
#[derive(Debug)]
pub struct DatasetSummary {
    /// Number of speakers.
    pub speakers: usize,
    /// Number of clips.
    pub clips: usize,
    /// One line per speaker, sorted by id.
    pub per_speaker: Vec<SpeakerSummary>,
    /// Length in seconds of every readable clip, in clip order (for a histogram).
    pub durations: Vec<f64>,
    /// Number of readable clips at each sample rate.
    pub sample_rates: BTreeMap<u32, usize>,
    /// Clips whose header could not be read: index into [`Dataset::clips`] and error.
    pub failures: Vec<(usize, Error)>,
}

impl DatasetSummary {
    /// Total length of the readable clips in seconds.
    pub fn total_seconds(&self) -> f64 {
        self.durations.iter().sum()
    }

    /// Shortest, mean, median and longest clip length in seconds (`None` when no
    /// clip was readable).
    pub fn duration_stats(&self) -> Option<(f64, f64, f64, f64)> {
        if self.durations.is_empty() {
            return None;
        }
        let mut d = self.durations.clone();
        d.sort_by(f64::total_cmp);
        let n = d.len();
        let median = if n % 2 == 1 {
            d[n / 2]
        } else {
            0.5 * (d[n / 2 - 1] + d[n / 2])
        };
        Some((d[0], d.iter().sum::<f64>() / n as f64, median, d[n - 1]))
    }
}

/// Read every clip's header (in parallel; `on_progress` receives
/// [`Progress::Items`] of [`Stage::Scan`]) and count.
pub fn summarize(data: &Dataset, on_progress: ProgressFn<'_>) -> DatasetSummary {
    let done = AtomicUsize::new(0);
    let total = data.clips.len();
    let infos: Vec<Result<AudioInfo>> = data
        .clips
        .par_iter()
        .map(|c| {
            let info = c.info();
            on_progress(Progress::Items {
                stage: Stage::Scan,
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total,
            });
            info
        })
        .collect();
    let mut durations = Vec::with_capacity(infos.len());
    let mut sample_rates = BTreeMap::new();
    let mut failures = Vec::new();
    let mut seconds: BTreeMap<&str, f64> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut sessions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (i, (clip, info)) in data.clips.iter().zip(infos).enumerate() {
        let spk = clip.speaker.as_str();
        *counts.entry(spk).or_default() += 1;
        let s = sessions.entry(spk).or_default();
        if let Some(ses) = &clip.session {
            s.insert(ses.as_str());
        }
        match info {
            Ok(info) => {
                let d = info.duration();
                durations.push(d);
                *seconds.entry(spk).or_default() += d;
                *sample_rates.entry(info.sample_rate).or_default() += 1;
            }
            Err(e) => failures.push((i, e)),
        }
    }
    let per_speaker: Vec<SpeakerSummary> = counts
        .iter()
        .map(|(&spk, &n)| SpeakerSummary {
            speaker: spk.to_string(),
            name: data.display_name(spk).to_string(),
            clips: n,
            sessions: sessions.get(spk).map_or(0, BTreeSet::len),
            seconds: seconds.get(spk).copied().unwrap_or(0.0),
        })
        .collect();
    DatasetSummary {
        speakers: per_speaker.len(),
        clips: data.clips.len(),
        per_speaker,
        durations,
        sample_rates,
        failures,
    }
}

impl fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} speakers, {} clips, {:.1} s of audio",
            self.speakers,
            self.clips,
            self.total_seconds()
        )?;
        if let Some((min, mean, median, max)) = self.duration_stats() {
            writeln!(
                f,
                "clip length: min {min:.2} s, mean {mean:.2} s, median {median:.2} s, max {max:.2} s"
            )?;
        }
        let rates: Vec<String> = self
            .sample_rates
            .iter()
            .map(|(r, n)| format!("{r} Hz ({n} clips)"))
            .collect();
        writeln!(f, "sample rates: {}", rates.join(", "))?;
        if !self.failures.is_empty() {
            writeln!(f, "unreadable clips: {}", self.failures.len())?;
        }
        let show_names = self.per_speaker.iter().any(|s| s.name != s.speaker);
        let id_w = self
            .per_speaker
            .iter()
            .map(|s| s.speaker.chars().count())
            .max()
            .unwrap_or(0)
            .max("speaker".len());
        let name_w = self
            .per_speaker
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("name".len());
        writeln!(f)?;
        write!(f, "{:<id_w$}", "speaker")?;
        if show_names {
            write!(f, "  {:<name_w$}", "name")?;
        }
        writeln!(f, "  {:>5}  {:>8}  {:>9}", "clips", "sessions", "seconds")?;
        for s in &self.per_speaker {
            write!(f, "{:<id_w$}", s.speaker)?;
            if show_names {
                write!(f, "  {:<name_w$}", s.name)?;
            }
            writeln!(f, "  {:>5}  {:>8}  {:>9.1}", s.clips, s.sessions, s.seconds)?;
        }
        Ok(())
    }
}
