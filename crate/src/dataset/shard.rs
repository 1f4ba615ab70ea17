//! Deterministic shards of a data set by speaker, for spreading per-speaker work
//! (features, MAP adaptation, enrolment, export) over several processes or machines.
//!
//! The speakers are sorted by id and dealt out in turn: speaker `i` of the sorted list
//! goes to shard `i % n`. Every clip of a speaker lands in the same shard, the shards
//! are disjoint and together hold the whole set, and their sizes differ by at most
//! one speaker. The same directory always gives the same shards.
//!
//! ```
//! use speaker_similarity::dataset::Shard;
//! use speaker_similarity::synth::{SynthCorpus, SynthParams};
//! # fn main() -> speaker_similarity::Result<()> {
//! let params = SynthParams { speakers: 5, clips_per_speaker: 2, ..SynthParams::default() };
//! let data = SynthCorpus::generate(&params)?;
//! let shard: Shard = "1/2".parse()?;
//! let part = data.shard(shard)?;
//! assert_eq!(part.speakers(), ["spk02", "spk04"]);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// Shard `index` of `count` (written `K/N`, `K` from 0 to `N - 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Which shard, from 0 to `count - 1`.
    pub index: usize,
    /// How many shards the data set is cut into (at least 1).
    pub count: usize,
}

impl Shard {
    /// The whole data set as one shard (`0/1`).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            return Err(Error::param(
                "shard",
                "the number of shards N in K/N must be at least 1",
            ));
        }
        if index >= count {
            return Err(Error::param(
                "shard",
                format!(
                    "shard {index}/{count}: K runs from 0 to N-1 = {}",
                    count - 1
                ),
            ));
        }
        Ok(Shard { index, count })
    }

    /// True when `speaker` (by its position in the sorted speaker list) is in this shard.
    pub fn holds(&self, speaker_rank: usize) -> bool {
        speaker_rank % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = || {
            Error::param(
                "shard",
                format!("{s:?} is not K/N with whole numbers, for instance 0/4"),
            )
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

impl Dataset {
    /// The clips of the speakers in `shard` (see the [module docs](self) for the rule).
    ///
    /// Unlike [`Dataset::from_clips`] a shard may hold a single speaker: per-speaker
    /// work does not need two. Errors: [`Error::Dataset`] when the shard holds no
    /// speaker (more shards than speakers).
    pub fn shard(&self, shard: Shard) -> Result<Dataset> {
        let speakers = self.speakers();
        let kept: BTreeSet<&str> = speakers
            .iter()
            .enumerate()
            .filter(|(rank, _)| shard.holds(*rank))
            .map(|(_, s)| s.as_str())
            .collect();
        if kept.is_empty() {
            return Err(Error::Dataset {
                path: self.root.clone(),
                reason: format!(
                    "shard {shard} holds no speaker: the data set has {} speakers, fewer than {} shards",
                    speakers.len(),
                    shard.count
                ),
            });
        }
        let clips = self
            .clips
            .iter()
            .filter(|c| kept.contains(c.speaker.as_str()))
            .cloned()
            .collect();
        let names = self
            .names
            .iter()
            .filter(|(id, _)| kept.contains(id.as_str()))
            .map(|(id, name)| (id.clone(), name.clone()))
            .collect();
        Ok(Dataset {
            root: self.root.clone(),
            layout: self.layout,
            clips,
            names,
            warnings: self.warnings.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{SynthCorpus, SynthParams};

    #[test]
    fn shards_are_disjoint_cover_the_set_and_balance() {
        let params = SynthParams {
            speakers: 7,
            clips_per_speaker: 3,
            ..SynthParams::default()
        };
        let data = SynthCorpus::generate(&params).unwrap();
        let parts: Vec<Dataset> = (0..3)
            .map(|k| data.shard(Shard::new(k, 3).unwrap()).unwrap())
            .collect();
        let mut all: Vec<String> = parts.iter().flat_map(|p| p.speakers()).collect();
        assert_eq!(
            parts.iter().map(|p| p.n_speakers()).collect::<Vec<_>>(),
            [3, 2, 2]
        );
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), data.len());
        all.sort();
        assert_eq!(all, data.speakers());
        assert_eq!(data.shard(Shard::WHOLE).unwrap().len(), data.len());
    }

    #[test]
    fn bad_shards_are_refused() {
        for bad in ["", "3", "a/2", "2/2", "0/0", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            " 1 / 4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
        let params = SynthParams {
            speakers: 2,
            clips_per_speaker: 2,
            ..SynthParams::default()
        };
        let data = SynthCorpus::generate(&params).unwrap();
        let err = data.shard(Shard::new(2, 3).unwrap()).unwrap_err();
        assert!(err.to_string().contains("holds no speaker"), "{err}");
    }
}
