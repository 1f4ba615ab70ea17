//! Train/test split: seeded, stratified per speaker, disjoint by construction.
//!
//! Every speaker's clips are shuffled with a random generator seeded from the split's
//! seed *and the speaker's id*, so adding or removing a speaker never changes how the
//! others are split. Of a speaker's `n` clips, `round(test_fraction × n)` go to the
//! test part, clamped to `1..=n-1` so that every kept speaker is in both parts (the
//! test set is *stratified*: each speaker keeps its share). A clip is put in exactly
//! one part, so train and test cannot share a clip.
//!
//! **By session** ([`SplitParams::by_session`]): whole sessions (VoxCeleb videos,
//! second-level folders, synthetic recording sessions) go to one side. A speaker's
//! sessions are shuffled and moved to test one by one until the test part holds at
//! least its target number of clips, always leaving one session for training, so
//! the test share can be larger than asked when sessions are large. A clip without a
//! session counts as a session of its own. A speaker with a single session cannot
//! be split this way and is *skipped* (reported, not split by clip, which would break
//! the promise); a data set with no session at all is an error.
//!
//! Speakers with fewer than [`SplitParams::min_clips_per_speaker`] clips are never
//! silently dropped: they come back in [`Split::skipped`] with the reason, for the
//! caller to print.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::{Clip, Dataset};
use crate::error::{Error, Result};

/// How to split a data set into train and test clips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitParams {
    /// Share of each speaker's clips that go to test, in (0, 1). Default 0.3: the
    /// original project's 70/30 split.
    pub test_fraction: f64,
    /// Seed of the shuffle. Default 42: the original's `random_state=42`.
    pub seed: u64,
    /// Keep every session (video) on one side. Default `false`.
    pub by_session: bool,
    /// Speakers with fewer clips are skipped (reported in [`Split::skipped`]).
    /// At least 2 (one clip for each side). Default 2.
    pub min_clips_per_speaker: usize,
}

impl Default for SplitParams {
    fn default() -> Self {
        SplitParams {
            test_fraction: 0.3,
            seed: 42,
            by_session: false,
            min_clips_per_speaker: 2,
        }
    }
}

impl SplitParams {
    /// Check the parameters: `0 < test_fraction < 1`, `min_clips_per_speaker >= 2`.
    pub fn validate(&self) -> Result<()> {
        if !(self.test_fraction.is_finite() && self.test_fraction > 0.0 && self.test_fraction < 1.0)
        {
            return Err(Error::param(
                "test_fraction",
                format!("{} is not strictly between 0 and 1", self.test_fraction),
            ));
        }
        if self.min_clips_per_speaker < 2 {
            return Err(Error::param(
                "min_clips_per_speaker",
                format!(
                    "{} is below 2: a speaker needs a clip on each side",
                    self.min_clips_per_speaker
                ),
            ));
        }
        Ok(())
    }
}

/// Why a speaker was left out of a split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkipReason {
    /// Fewer clips than [`SplitParams::min_clips_per_speaker`].
    TooFewClips {
        /// The minimum asked for.
        needed: usize,
    },
    /// A session split was asked for and the speaker has a single session.
    TooFewSessions {
        /// How many sessions the speaker has.
        sessions: usize,
    },
}

/// A speaker left out of a split, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSpeaker {
    /// The speaker's id.
    pub speaker: String,
    /// How many clips the speaker has.
    pub clips: usize,
    /// Why the speaker was skipped.
    pub reason: SkipReason,
}

impl fmt::Display for SkippedSpeaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clips = if self.clips == 1 { "clip" } else { "clips" };
        match &self.reason {
            SkipReason::TooFewClips { needed } => write!(
                f,
                "{}: {} {clips}, fewer than the {needed} needed to have clips in both train and test",
                self.speaker, self.clips
            ),
            SkipReason::TooFewSessions { sessions } => write!(
                f,
                "{}: {} {clips} in {sessions} session, a session split needs at least 2 sessions",
                self.speaker, self.clips
            ),
        }
    }
}

/// A split of a data set: indices into [`Dataset::clips`], each sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Training clips.
    pub train: Vec<usize>,
    /// Test clips.
    pub test: Vec<usize>,
    /// Speakers in neither part, with the reason.
    pub skipped: Vec<SkippedSpeaker>,
}

impl Split {
    /// Error unless no clip is in both parts (and none twice in one part). A split
    /// made by [`split`] always passes; [`leaky_original_split`] never does.
    pub fn check_disjoint(&self) -> Result<()> {
        let train: HashSet<usize> = self.train.iter().copied().collect();
        if train.len() != self.train.len() {
            return Err(Error::param(
                "split",
                "a clip is in the training part twice",
            ));
        }
        let shared = self.shared_clips();
        if let Some(first) = shared.first() {
            return Err(Error::param(
                "split",
                format!(
                    "train and test share {} clips (first: clip #{first}): test accuracy would measure memory, not recognition",
                    shared.len()
                ),
            ));
        }
        let test: HashSet<usize> = self.test.iter().copied().collect();
        if test.len() != self.test.len() {
            return Err(Error::param("split", "a clip is in the test part twice"));
        }
        Ok(())
    }

    /// Error unless no session (of the same speaker) has clips on both sides.
    /// Clips without a session are not checked.
    pub fn check_sessions_disjoint(&self, data: &Dataset) -> Result<()> {
        let key = |i: usize| -> Option<(&str, &str)> {
            let c = data.clips.get(i)?;
            Some((c.speaker.as_str(), c.session.as_deref()?))
        };
        let train: HashSet<(&str, &str)> = self.train.iter().filter_map(|&i| key(i)).collect();
        if let Some((spk, ses)) = self
            .test
            .iter()
            .filter_map(|&i| key(i))
            .find(|k| train.contains(k))
        {
            return Err(Error::param(
                "split",
                format!("session {ses} of speaker {spk} is in both train and test"),
            ));
        }
        Ok(())
    }

    /// Test clips that are also training clips (empty for a correct split).
    pub fn shared_clips(&self) -> Vec<usize> {
        let train: HashSet<usize> = self.train.iter().copied().collect();
        self.test
            .iter()
            .copied()
            .filter(|i| train.contains(i))
            .collect()
    }

    /// The training clips.
    pub fn train_clips<'a>(&'a self, data: &'a Dataset) -> impl Iterator<Item = &'a Clip> + 'a {
        self.train.iter().filter_map(|&i| data.clips.get(i))
    }

    /// The test clips.
    pub fn test_clips<'a>(&'a self, data: &'a Dataset) -> impl Iterator<Item = &'a Clip> + 'a {
        self.test.iter().filter_map(|&i| data.clips.get(i))
    }
}

/// 64-bit FNV-1a hash: stable across platforms and Rust versions (unlike
/// `std::hash`), so seeds derived from names never change.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Combine two numbers into a well-mixed seed (SplitMix64 finaliser).
pub(crate) fn mix_seed(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn speaker_rng(seed: u64, speaker: &str) -> StdRng {
    StdRng::seed_from_u64(mix_seed(seed, fnv1a(speaker.as_bytes())))
}

/// Clip indices per speaker, speakers sorted, indices in data-set order.
fn by_speaker(data: &Dataset) -> BTreeMap<&str, Vec<usize>> {
    let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in data.clips.iter().enumerate() {
        map.entry(c.speaker.as_str()).or_default().push(i);
    }
    map
}

/// `round(fraction × n)` clamped to `1..=n-1` (`n >= 2`).
fn test_count(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64).round() as usize).clamp(1, n - 1)
}

/// Split `data` into train and test clips (rules in the module documentation).
///
/// Errors: invalid parameters; a session split of a data set without sessions; no
/// speaker with enough clips (or sessions) to split.
pub fn split(data: &Dataset, params: &SplitParams) -> Result<Split> {
    params.validate()?;
    if params.by_session && !data.has_sessions() {
        return Err(Error::param(
            "by_session",
            format!(
                "the data set ({} layout) has no sessions; split by clip instead",
                data.layout
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "in-memory".into())
            ),
        ));
    }
    let mut out = Split {
        train: Vec::new(),
        test: Vec::new(),
        skipped: Vec::new(),
    };
    for (speaker, clips) in by_speaker(data) {
        let n = clips.len();
        if n < params.min_clips_per_speaker {
            out.skipped.push(SkippedSpeaker {
                speaker: speaker.to_string(),
                clips: n,
                reason: SkipReason::TooFewClips {
                    needed: params.min_clips_per_speaker,
                },
            });
            continue;
        }
        let mut rng = speaker_rng(params.seed, speaker);
        let target = test_count(params.test_fraction, n);
        if !params.by_session {
            let mut order = clips;
            order.shuffle(&mut rng);
            out.test.extend_from_slice(&order[..target]);
            out.train.extend_from_slice(&order[target..]);
            continue;
        }
        // Group by session; a clip without one is a session of its own.
        let mut sessions: BTreeMap<(bool, &str), Vec<usize>> = BTreeMap::new();
        for &i in &clips {
            let c = &data.clips[i];
            let key = match &c.session {
                Some(s) => (true, s.as_str()),
                None => (false, c.path.to_str().unwrap_or("")),
            };
            sessions.entry(key).or_default().push(i);
        }
        if sessions.len() < 2 {
            out.skipped.push(SkippedSpeaker {
                speaker: speaker.to_string(),
                clips: n,
                reason: SkipReason::TooFewSessions {
                    sessions: sessions.len(),
                },
            });
            continue;
        }
        let mut groups: Vec<Vec<usize>> = sessions.into_values().collect();
        groups.shuffle(&mut rng);
        let mut taken = 0;
        let mut in_test = 0;
        for g in &groups {
            if in_test >= target || taken == groups.len() - 1 {
                break;
            }
            in_test += g.len();
            taken += 1;
        }
        for (k, g) in groups.iter().enumerate() {
            if k < taken {
                out.test.extend_from_slice(g);
            } else {
                out.train.extend_from_slice(g);
            }
        }
    }
    if out.train.is_empty() {
        return Err(Error::Dataset {
            path: data.root.clone(),
            reason: format!(
                "no speaker can be split: {}",
                out.skipped
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    out.train.sort_unstable();
    out.test.sort_unstable();
    Ok(out)
}

/// **WRONG ON PURPOSE.** The original Python project's split, bug included, for the
/// tutorial to show what a leaking test set does to accuracy. Never use it to
/// evaluate a model.
///
/// Per speaker the clips are shuffled (seeded), the first
/// `round(train_fraction × n)` go to train — and the *first* `n − round(train_fraction × n)`
/// go to test, instead of the last ones:
///
/// ```python
/// train = speaker[:train_indices]
/// test  = speaker[:len(speaker) - train_indices]      # <-- bug: a prefix of train
/// ```
///
/// With `train_fraction` above 0.5 the test part is a prefix of the training part:
/// **every test clip is also a training clip**, and the original's 98% GMM
/// "accuracy" came from that. [`Split::check_disjoint`] rejects the result.
/// Rounding is half-to-even, as Python's `round`; the shuffle is this crate's
/// (pandas' `sample(random_state=42)` order cannot be reproduced).
pub fn leaky_original_split(data: &Dataset, train_fraction: f64, seed: u64) -> Result<Split> {
    if !(train_fraction.is_finite() && train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(Error::param(
            "train_fraction",
            format!("{train_fraction} is not strictly between 0 and 1"),
        ));
    }
    let mut out = Split {
        train: Vec::new(),
        test: Vec::new(),
        skipped: Vec::new(),
    };
    for (speaker, mut clips) in by_speaker(data) {
        let n = clips.len();
        clips.shuffle(&mut speaker_rng(seed, speaker));
        let n_train = ((train_fraction * n as f64).round_ties_even() as usize).min(n);
        out.train.extend_from_slice(&clips[..n_train]);
        // The original's bug, reproduced: a prefix of the same shuffled list.
        out.test.extend_from_slice(&clips[..n - n_train]);
    }
    out.train.sort_unstable();
    out.test.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_clamped() {
        assert_eq!(test_count(0.3, 2), 1);
        assert_eq!(test_count(0.01, 10), 1);
        assert_eq!(test_count(0.99, 10), 9);
        assert_eq!(test_count(0.3, 20), 6);
    }

    #[test]
    fn seeds_are_stable() {
        // Fixed values: a change here changes every split ever made.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(mix_seed(1, 2), mix_seed(2, 1));
    }
}
