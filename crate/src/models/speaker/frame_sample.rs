//! A bounded, seeded sample of training frames for a universal background model,
//! drawn while the frames stream past, so the full frame set is never held.
//!
//! Every frame gets a key: a seeded 64-bit hash of its values. Each speaker keeps
//! the `max / speakers` frames of smallest key (a bottom-k sample: uniform without
//! replacement within the speaker), so every speaker is drawn from equally, at most
//! `max` frames are held at any time, and the sample depends only on the seed and
//! the frames — not on the order or the threads they arrive from. The sample's rows
//! come out ordered by key.
//!
//! ```
//! use ndarray::Array2;
//! use speaker_similarity::models::speaker::FrameSampler;
//! # fn main() -> speaker_similarity::Result<()> {
//! let sampler = FrameSampler::new(2, 10, 42)?;
//! let a = Array2::from_shape_fn((50, 3), |(i, j)| (i * 3 + j) as f32);
//! let b = Array2::from_shape_fn((50, 3), |(i, j)| -((i * 3 + j) as f32));
//! sampler.add(0, a.view())?;
//! sampler.add(1, b.view())?;
//! let sample = sampler.finish()?;
//! assert_eq!(sample.dim(), (10, 3));
//! # Ok(())
//! # }
//! ```

use std::collections::BinaryHeap;
use std::sync::Mutex;

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};

/// One sampled frame: its key and its values (ordered by key, then values, so the
/// order is total and does not depend on arrival).
#[derive(Debug, Clone)]
struct Entry {
    key: u64,
    row: Vec<f32>,
}

impl Entry {
    fn cmp_bits(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key).then_with(|| {
            let a = self.row.iter().map(|v| v.to_bits());
            let b = other.row.iter().map(|v| v.to_bits());
            a.cmp(b)
        })
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_bits(other).is_eq()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.cmp_bits(other)
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of a frame: a seeded hash of its values' bits.
fn frame_key(seed: u64, row: &[f32]) -> u64 {
    let mut h = splitmix(seed ^ 0x0b5e_55ed_f4a3_e5a1);
    for v in row {
        h = splitmix(h ^ u64::from(v.to_bits()));
    }
    h
}

/// A bottom-k frame sampler with an equal quota per speaker, safe to feed from many
/// threads at once (see the [module](self) docs). Memory: at most `max` frames (or
/// one per speaker when there are more speakers than `max`).
#[derive(Debug)]
pub struct FrameSampler {
    quota: usize,
    max: usize,
    seed: u64,
    dim: Mutex<Option<usize>>,
    per_speaker: Vec<Mutex<BinaryHeap<Entry>>>,
}

impl FrameSampler {
    /// A sampler of at most `max` frames from `speakers` speakers (each keeps
    /// `max / speakers` of its frames, at least 1), keyed by `seed`.
    ///
    /// Errors: [`Error::InvalidParameter`] when `speakers` or `max` is 0.
    pub fn new(speakers: usize, max: usize, seed: u64) -> Result<Self> {
        if speakers == 0 {
            return Err(Error::param("speakers", "at least one speaker to sample"));
        }
        if max == 0 {
            return Err(Error::param("max_frames", "at least one frame"));
        }
        Ok(FrameSampler {
            quota: (max / speakers).max(1),
            max,
            seed,
            dim: Mutex::new(None),
            per_speaker: (0..speakers)
                .map(|_| Mutex::new(BinaryHeap::new()))
                .collect(),
        })
    }

    /// The most frames each speaker contributes.
    pub fn quota(&self) -> usize {
        self.quota
    }

    /// Offer the frames (rows) of one clip of speaker `speaker`.
    ///
    /// Errors: [`Error::InvalidParameter`] for a speaker out of range or frames whose
    /// width differs from earlier ones.
    pub fn add(&self, speaker: usize, frames: ArrayView2<f32>) -> Result<()> {
        let heap = self.per_speaker.get(speaker).ok_or_else(|| {
            Error::param(
                "speaker",
                format!("speaker {speaker} of {}", self.per_speaker.len()),
            )
        })?;
        if frames.nrows() == 0 {
            return Ok(());
        }
        {
            let mut dim = self.dim.lock().unwrap_or_else(|p| p.into_inner());
            match *dim {
                None => *dim = Some(frames.ncols()),
                Some(d) if d != frames.ncols() => {
                    return Err(Error::param(
                        "frames",
                        format!("{} features per frame, earlier {d}", frames.ncols()),
                    ))
                }
                Some(_) => {}
            }
        }
        // Keys first, outside the lock; then only the clip's own best `quota` frames
        // can enter the speaker's sample.
        let mut keyed: Vec<(u64, usize)> = frames
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let key = match r.as_slice() {
                    Some(s) => frame_key(self.seed, s),
                    None => frame_key(self.seed, &r.to_vec()),
                };
                (key, i)
            })
            .collect();
        keyed.sort_unstable();
        keyed.truncate(self.quota);
        let mut heap = heap.lock().unwrap_or_else(|p| p.into_inner());
        for (key, i) in keyed {
            let entry = Entry {
                key,
                row: frames.row(i).to_vec(),
            };
            if heap.len() < self.quota {
                heap.push(entry);
            } else if heap.peek().is_some_and(|top| entry < *top) {
                heap.pop();
                heap.push(entry);
            } else {
                // Keys are sorted: no later frame of this clip can enter either.
                break;
            }
        }
        Ok(())
    }

    /// Frames currently held (at most `max`, or one per speaker).
    pub fn len(&self) -> usize {
        self.per_speaker
            .iter()
            .map(|h| h.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// True when no frame is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample, one row per frame, ordered by key: every speaker's kept frames
    /// (only the `max` of smallest key over all when there are more speakers than
    /// `max`). Speakers listed in `leave_out` are dropped (those a training set
    /// did not keep after all).
    ///
    /// Errors: [`Error::InvalidParameter`] when no frame was offered.
    pub fn finish_without(self, leave_out: &[usize]) -> Result<Array2<f32>> {
        self.sample_without(leave_out)
    }

    /// The sample [`finish_without`](Self::finish_without) gives, leaving the
    /// sampler as it is: for samples of several subsets of the speakers from one
    /// pass over the frames (each subset's sample is the one a sampler fed only
    /// that subset's frames would keep, up to the total `max`).
    ///
    /// Errors: [`Error::InvalidParameter`] when no frame was offered.
    pub fn sample_without(&self, leave_out: &[usize]) -> Result<Array2<f32>> {
        let dim = self
            .dim
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ok_or_else(|| Error::param("frames", "no frame was offered to the sample"))?;
        let mut all: Vec<&Entry> = Vec::new();
        let heaps: Vec<_> = self
            .per_speaker
            .iter()
            .enumerate()
            .filter(|(s, _)| !leave_out.contains(s))
            .map(|(_, h)| h.lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        for h in &heaps {
            all.extend(h.iter());
        }
        all.sort_unstable();
        all.truncate(self.max);
        if all.is_empty() {
            return Err(Error::param("frames", "no frame was offered to the sample"));
        }
        let mut flat = Vec::with_capacity(all.len() * dim);
        for e in &all {
            flat.extend_from_slice(&e.row);
        }
        Array2::from_shape_vec((all.len(), dim), flat)
            .map_err(|e| Error::param("frames", e.to_string()))
    }

    /// [`finish_without`](Self::finish_without) with every speaker kept.
    pub fn finish(self) -> Result<Array2<f32>> {
        self.finish_without(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn clip(speaker: usize, clip: usize, n: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, 4), |(i, j)| {
            (speaker * 1000 + clip * 100 + i) as f32 + j as f32 * 0.25
        })
    }

    fn sample(order: &[(usize, usize)], seed: u64, max: usize) -> Array2<f32> {
        let s = FrameSampler::new(3, max, seed).unwrap();
        for &(spk, c) in order {
            s.add(spk, clip(spk, c, 40 + 7 * c).view()).unwrap();
        }
        s.finish().unwrap()
    }

    #[test]
    fn deterministic_by_seed_whatever_the_order() {
        let forward: Vec<(usize, usize)> =
            (0..3).flat_map(|s| (0..5).map(move |c| (s, c))).collect();
        let mut backward = forward.clone();
        backward.reverse();
        let a = sample(&forward, 7, 90);
        let b = sample(&backward, 7, 90);
        assert_eq!(a, b);
        // From many threads at once: the same sample.
        let s = FrameSampler::new(3, 90, 7).unwrap();
        let clips: Vec<Array2<f32>> = forward
            .iter()
            .map(|&(spk, c)| clip(spk, c, 40 + 7 * c))
            .collect();
        std::thread::scope(|scope| {
            for (chunk, frames) in forward.chunks(4).zip(clips.chunks(4)) {
                let s = &s;
                scope.spawn(move || {
                    for (&(spk, _), f) in chunk.iter().zip(frames) {
                        s.add(spk, f.view()).unwrap();
                    }
                });
            }
        });
        assert_eq!(s.finish().unwrap(), a);
        // Another seed draws other frames.
        assert_ne!(sample(&forward, 8, 90), a);
    }

    #[test]
    fn bounded_by_max_and_draws_from_every_speaker() {
        let order: Vec<(usize, usize)> = (0..3).flat_map(|s| (0..5).map(move |c| (s, c))).collect();
        let total: usize = (0..5).map(|c| 40 + 7 * c).sum::<usize>() * 3;
        for max in [3, 30, 91, 500] {
            let s = sample(&order, 1, max);
            assert!(s.nrows() <= max, "{} rows for max {max}", s.nrows());
            assert_eq!(s.nrows(), (max / 3).min(total / 3) * 3);
            // Speaker = the thousands of the first column.
            for spk in 0..3 {
                let n = s
                    .column(0)
                    .iter()
                    .filter(|v| (**v / 1000.0) as usize == spk)
                    .count();
                assert_eq!(n, (max / 3).min(total / 3), "speaker {spk}, max {max}");
            }
            // Every row is a real frame, none twice.
            let mut rows: Vec<Vec<u32>> = s
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|v| v.to_bits()).collect())
                .collect();
            rows.sort();
            rows.dedup();
            assert_eq!(rows.len(), s.nrows());
        }
        // More speakers than frames allowed: still at most max.
        let s = FrameSampler::new(3, 2, 1).unwrap();
        for spk in 0..3 {
            s.add(spk, clip(spk, 0, 10).view()).unwrap();
        }
        assert_eq!(s.finish().unwrap().nrows(), 2);
    }

    #[test]
    fn left_out_speakers_and_bad_input() {
        let s = FrameSampler::new(2, 20, 1).unwrap();
        s.add(0, clip(0, 0, 30).view()).unwrap();
        s.add(1, clip(1, 0, 30).view()).unwrap();
        let only0 = s.finish_without(&[1]).unwrap();
        assert_eq!(only0.nrows(), 10);
        assert!(only0.column(0).iter().all(|v| *v < 1000.0));
        let s = FrameSampler::new(2, 20, 1).unwrap();
        assert!(s.add(2, clip(0, 0, 3).view()).is_err());
        s.add(0, clip(0, 0, 3).view()).unwrap();
        assert!(s.add(1, Array2::zeros((2, 5)).view()).is_err());
        assert!(FrameSampler::new(0, 5, 1).is_err());
        assert!(FrameSampler::new(2, 0, 1).is_err());
        assert!(FrameSampler::new(2, 5, 1).unwrap().finish().is_err());
    }
}
