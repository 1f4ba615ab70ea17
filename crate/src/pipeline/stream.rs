//! Training and evaluation that stream their data, so memory does not grow with the
//! number of clips beyond small per-clip records (a 52-dim clip vector, a label).
//!
//! - **First pass** over the training clips (in parallel): each clip's clip vector
//!   is kept, and its frames are offered to a bounded, seeded UBM sample
//!   ([`FrameSampler`]) and dropped.
//! - **Training**: the clip-vector models train on the clip vectors; the frame
//!   models (per-speaker GMMs, MAP adaptation) read their frames again a few
//!   speakers at a time ([`TrainingSet::for_each_speaker`]).
//! - **Testing** ([`evaluate`](super::evaluate)): test clips are read, scored by
//!   every model and embedded in batches of [`TEST_BATCH`]; only the predictions
//!   and the verification trial scores stay.
//!
//! Reading a training clip's frames again costs feature extraction time (each
//! training clip is decoded once per frame model, plus once for the first pass;
//! the GMM-UBM's open-set calibration reads them twice more, then per speaker
//! fold its enrolled speakers' clips and the trial clips it scores, see
//! [`held_out_trials`](super::held_out_trials); `evaluate` skips the calibration);
//! it buys a peak memory that stays flat as the data set grows.
//!
//! ```no_run
//! use speaker_similarity::pipeline::{train_dataset, PipelineParams};
//! use speaker_similarity::synth;
//! # fn main() -> speaker_similarity::Result<()> {
//! let data = synth::default_dataset();
//! let all: Vec<usize> = (0..data.len()).collect();
//! let t = train_dataset(&data, &all, &PipelineParams::default(), &|_| {})?;
//! println!("{} speakers, {} clips", t.models.speakers.len(), t.train_clips.len());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array2;
use rayon::prelude::*;

use super::extract::{clip_matrix, extract_frames_valid, extract_valid, ClipFeatures};
use super::params::{ModelKind, PipelineParams, ValidParams};
use super::train::SpeakerModels;
use crate::audio::Audio;
use crate::dataset::{Dataset, SkipReason, SkippedSpeaker};
use crate::error::{Error, Result};
use crate::models::speaker::{FrameSampler, FrameSource, ParamGuard, TrainingSet};
use crate::progress::{Progress, ProgressFn, Stage};

/// Test clips read, scored and embedded at a time by [`evaluate`](super::evaluate).
pub const TEST_BATCH: usize = 128;

/// A [`Progress::Items`] counter shared by several passes over clips.
pub(crate) struct Counter<'a> {
    done: AtomicUsize,
    total: usize,
    on_progress: ProgressFn<'a>,
}

impl<'a> Counter<'a> {
    pub(crate) fn new(total: usize, on_progress: ProgressFn<'a>) -> Self {
        Counter {
            done: AtomicUsize::new(0),
            total,
            on_progress,
        }
    }

    pub(crate) fn tick(&self) {
        (self.on_progress)(Progress::Items {
            stage: Stage::Features,
            done: self.done.fetch_add(1, Ordering::Relaxed) + 1,
            total: self.total,
        });
    }
}

/// Name the clip in errors that do not know it.
pub(crate) fn name_clip(data: &Dataset, i: usize, e: Error) -> Error {
    e.within(data.clips[i].path.display())
}

/// Decode clip `i` of `data`, resampled down to `rate` when given and lower than
/// the clip's (the narrowband models' training clips).
pub(crate) fn load_clip(data: &Dataset, i: usize, rate: Option<u32>) -> Result<Audio> {
    let audio = data
        .clips
        .get(i)
        .ok_or_else(|| Error::param("indices", format!("no clip {i}")))?
        .load()?;
    match rate {
        Some(r) if r < audio.sample_rate => audio.resample(r).map_err(|e| name_clip(data, i, e)),
        _ => Ok(audio),
    }
}

/// Read clip `i` of `data` (resampled down to `rate`, see [`load_clip`]) and
/// extract its features.
pub(crate) fn read_clip(
    data: &Dataset,
    i: usize,
    params: &ValidParams,
    rate: Option<u32>,
) -> Result<ClipFeatures> {
    load_clip(data, i, rate)
        .and_then(|audio| extract_valid(&audio, params).map_err(|e| name_clip(data, i, e)))
}

/// The frames of a training set's clips, read again from the data set when a model
/// asks for them (a few speakers' clips at a time, decoded in parallel).
pub(crate) struct DatasetFrames<'d> {
    pub(crate) data: &'d Dataset,
    /// Data set index of every training clip.
    pub(crate) clips: &'d [usize],
    pub(crate) params: &'d ValidParams,
    /// Clips resampled down to this rate first ([`load_clip`]).
    pub(crate) rate: Option<u32>,
}

impl FrameSource for DatasetFrames<'_> {
    fn frames(&self, positions: &[usize]) -> Result<Vec<Array2<f32>>> {
        positions
            .par_iter()
            .map(|&p| {
                let i = *self
                    .clips
                    .get(p)
                    .ok_or_else(|| Error::param("clips", format!("no training clip {p}")))?;
                let audio = load_clip(self.data, i, self.rate)?;
                extract_frames_valid(&audio, self.params).map_err(|e| name_clip(self.data, i, e))
            })
            .collect()
    }
}

/// Models trained by [`train_dataset`], with what became of the clips.
#[derive(Debug, Clone)]
pub struct DatasetTraining {
    /// The trained models.
    pub models: SpeakerModels,
    /// Data set index of every training clip used, in training order; its class is
    /// its speaker's position in `models.speakers`.
    pub train_clips: Vec<usize>,
    /// Class of every training clip used.
    pub labels: Vec<usize>,
    /// Speakers left out (fewer than two usable clips), and why.
    pub skipped: Vec<SkippedSpeaker>,
    /// Clips that could not be used: data set index, path and reason, by index.
    pub unusable: Vec<(usize, PathBuf, String)>,
}

/// Train `params.models` on the clips `clips` of `data` (indices into
/// [`Dataset::clips`]), streaming: no clip's frames are held longer than a model
/// needs them (see the [module](self) docs), so memory stays flat as the data set
/// grows. The models equal those [`SpeakerModels::train`] makes from the same clips'
/// features in memory (the UBM sample too, when no speaker is left out).
///
/// With `params.augment` or `params.narrowband`, the robustness methods of the
/// pipeline's `robust` module run as well (augmented copies and the narrowband
/// model set, [`SpeakerModels::narrowband`]). The narrowband set alone streams as
/// well (its clips are read again and resampled as they are read); augmentation
/// holds the frame features of the clips and copies it trains on in memory.
///
/// Unusable clips (unreadable, too short, silent) are left out and listed; speakers
/// with fewer than two usable clips are left out and listed. `on_progress` receives
/// [`Progress::Items`] of [`Stage::Features`] for the first pass and the models'
/// training events.
///
/// Errors: invalid `params`; those of [`SpeakerModels::train`] (fewer than two
/// speakers left, ...).
pub fn train_dataset(
    data: &Dataset,
    clips: &[usize],
    params: &impl ParamGuard<PipelineParams>,
    on_progress: ProgressFn<'_>,
) -> Result<DatasetTraining> {
    let params = params.checked()?;
    let counter = Counter::new(clips.len(), on_progress);
    super::robust::train_robust(data, clips, &params, &counter, on_progress)
}

/// What the first pass over a set of clips found: every speaker of the clips
/// (sorted), each clip's clip vector or why it is unusable, and the UBM frame sample
/// when one was drawn.
pub(crate) struct FirstPass {
    /// Every speaker of the clips, sorted.
    pub(crate) names: Vec<String>,
    /// Clip vector (or error) of every clip, in the order given.
    pub(crate) results: Vec<Result<Vec<f32>>>,
    /// The UBM frame sample (drawn over `names`), when asked for.
    pub(crate) sampler: Option<FrameSampler>,
}

/// First pass over `clips` (in parallel): each clip's clip vector is kept and, with
/// `sample`, its frames are offered to a bounded, seeded UBM sample and dropped.
/// With `rate`, every clip is resampled down to it first ([`load_clip`]).
pub(crate) fn first_pass(
    data: &Dataset,
    clips: &[usize],
    params: &ValidParams,
    counter: &Counter<'_>,
    sample: bool,
    rate: Option<u32>,
) -> Result<FirstPass> {
    // Every speaker of these clips; those left with fewer than two usable clips are
    // dropped after the first pass.
    let mut names: Vec<String> = clips
        .iter()
        .filter_map(|&i| data.clips.get(i).map(|c| c.speaker.clone()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let max_frames = params.settings.gmm_ubm.max_frames;
    let sampler = if sample && !names.is_empty() {
        Some(FrameSampler::new(names.len(), max_frames, params.seed)?)
    } else {
        None
    };
    let results: Vec<Result<Vec<f32>>> = clips
        .par_iter()
        .map(|&i| {
            let r = read_clip(data, i, params, rate).and_then(|f| {
                if let Some(s) = &sampler {
                    let spk = names
                        .binary_search(&data.clips[i].speaker)
                        .map_err(|_| Error::param("clips", "speaker not listed"))?;
                    s.add(spk, f.frames.view())?;
                }
                Ok(f.clip)
            });
            counter.tick();
            r
        })
        .collect();
    Ok(FirstPass {
        names,
        results,
        sampler,
    })
}

/// The usable clips of a [`FirstPass`]: speakers with at least two usable clips.
pub(crate) struct Usable {
    /// Speakers kept, sorted (class order).
    pub(crate) speakers: Vec<String>,
    /// Positions in [`FirstPass::names`] of the speakers left out.
    pub(crate) dropped: Vec<usize>,
    /// Speakers left out, and why.
    pub(crate) skipped: Vec<SkippedSpeaker>,
    /// Unusable clips: data set index, path, reason.
    pub(crate) unusable: Vec<(usize, PathBuf, String)>,
    /// Data set index of every clip kept, in the order given.
    pub(crate) train_clips: Vec<usize>,
    /// Class of every clip kept.
    pub(crate) labels: Vec<usize>,
    /// Clip vectors of the clips kept, one row each.
    pub(crate) x: Array2<f32>,
}

/// Sort the clips of a first pass into usable ones (of speakers with at least two
/// usable clips) and the rest.
pub(crate) fn usable(data: &Dataset, clips: &[usize], first: FirstPass) -> Result<Usable> {
    let FirstPass { names, results, .. } = first;
    let mut unusable = Vec::new();
    let mut usable: BTreeMap<&str, usize> = names.iter().map(|n| (n.as_str(), 0)).collect();
    for (&i, r) in clips.iter().zip(&results) {
        match r {
            Ok(_) => *usable.entry(data.clips[i].speaker.as_str()).or_default() += 1,
            Err(e) => unusable.push((i, data.clips[i].path.clone(), e.to_string())),
        }
    }
    let mut skipped = Vec::new();
    for (speaker, &n) in &usable {
        if n < 2 {
            skipped.push(SkippedSpeaker {
                speaker: speaker.to_string(),
                clips: n,
                reason: SkipReason::TooFewClips { needed: 2 },
            });
        }
    }
    let speakers: Vec<String> = usable
        .iter()
        .filter(|(_, n)| **n >= 2)
        .map(|(s, _)| s.to_string())
        .collect();
    let dropped: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| speakers.binary_search(n).is_err())
        .map(|(k, _)| k)
        .collect();

    let mut train_clips = Vec::new();
    let mut labels = Vec::new();
    let mut vectors: Vec<ClipFeatures> = Vec::new();
    for (&i, r) in clips.iter().zip(results) {
        if let (Ok(clip), Ok(c)) = (r, speakers.binary_search(&data.clips[i].speaker)) {
            train_clips.push(i);
            labels.push(c);
            // Only the clip vector is kept: the frames stream.
            vectors.push(ClipFeatures {
                clip,
                frames: Array2::zeros((0, 0)),
            });
        }
    }
    let x = clip_matrix(&vectors)?;
    Ok(Usable {
        speakers,
        dropped,
        skipped,
        unusable,
        train_clips,
        labels,
        x,
    })
}

/// The streaming training of [`train_dataset`], with the open-set calibration
/// when `params.calibrate` (the `evaluate` command turns it off). With `rate`,
/// every clip is resampled down to it before its features are taken (the
/// narrowband models).
pub(crate) fn train_streaming(
    data: &Dataset,
    clips: &[usize],
    params: &ValidParams,
    counter: &Counter<'_>,
    on_progress: ProgressFn<'_>,
    rate: Option<u32>,
) -> Result<DatasetTraining> {
    let max_frames = params.settings.gmm_ubm.max_frames;
    // First pass: clip vectors kept, frames offered to the UBM sample and dropped.
    let mut first = first_pass(
        data,
        clips,
        params,
        counter,
        params.wants(ModelKind::GmmUbm),
        rate,
    )?;
    let sampler = first.sampler.take();
    let Usable {
        speakers,
        dropped,
        skipped,
        unusable,
        train_clips,
        labels,
        x,
    } = usable(data, clips, first)?;

    let source = DatasetFrames {
        data,
        clips: &train_clips,
        params,
        rate,
    };
    let mut set = TrainingSet::streaming(
        x,
        &source,
        &labels,
        &speakers,
        params.seed,
        params.validation_fraction,
    )?;
    if let Some(s) = sampler {
        if !s.is_empty() {
            set = set.with_ubm_sample(max_frames, s.finish_without(&dropped)?);
        }
    }
    let models = SpeakerModels::train_set_with(
        &set,
        data.names.clone(),
        params,
        Vec::new(),
        params.calibrate,
        on_progress,
    )?;
    drop(set);
    Ok(DatasetTraining {
        models,
        train_clips,
        labels,
        skipped,
        unusable,
    })
}
