//! Features of a clip as the pipeline's models need them, extracted in parallel, and
//! the features of a train/test split with class labels ([`SplitFeatures`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::params::{PipelineParams, ValidParams};
use crate::audio::Audio;
use crate::dataset::{Dataset, SkipReason, SkippedSpeaker, Split};
use crate::error::{Error, Result};
use crate::features::FeatureExtractor;
pub use crate::models::speaker::{clip_matrix, ClipFeatures};
use crate::models::speaker::{frames_by_class, subsample_frames, ParamGuard};
use crate::progress::{Progress, ProgressFn, Stage};

/// Features of the clips that worked and errors of those that did not, each with
/// the clip's index in the data set.
pub type Extracted = (Vec<(usize, ClipFeatures)>, Vec<(usize, Error)>);

thread_local! {
    static EXTRACTOR: RefCell<FeatureExtractor> = RefCell::new(FeatureExtractor::new());
}

/// Peak level below which a recording counts as silent: -70 dBFS.
pub const SILENCE_PEAK: f32 = 3.162e-4;

/// Extract both kinds of features from one recording. A recording whose peak stays
/// below [`SILENCE_PEAK`] (-70 dBFS) is [`Error::NoSpeech`]: its "voice" would be
/// the noise floor of the converter. `params` are checked unless they are
/// [`ValidParams`] already.
pub fn extract(audio: &Audio, params: &impl ParamGuard<PipelineParams>) -> Result<ClipFeatures> {
    let params = params.checked()?;
    extract_valid(audio, &params)
}

pub(crate) fn extract_valid(audio: &Audio, params: &ValidParams) -> Result<ClipFeatures> {
    check_silence(audio)?;
    EXTRACTOR.with(|cell| {
        let mut ex = cell.borrow_mut();
        let clip = ex.clip_vector(audio, &params.clip)?;
        let frames = ex.frame_features(audio, &params.frames)?;
        Ok(ClipFeatures { clip, frames })
    })
}

/// Only the frames of [`extract_valid`] (the same checks, the same values).
pub(crate) fn extract_frames_valid(audio: &Audio, params: &ValidParams) -> Result<Array2<f32>> {
    check_silence(audio)?;
    EXTRACTOR.with(|cell| cell.borrow_mut().frame_features(audio, &params.frames))
}

fn check_silence(audio: &Audio) -> Result<()> {
    let peak = audio.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    if !audio.samples.is_empty() && peak < SILENCE_PEAK {
        return Err(Error::NoSpeech {
            peak_dbfs: 20.0 * peak.max(1e-12).log10(),
            threshold_dbfs: 20.0 * SILENCE_PEAK.log10(),
        });
    }
    Ok(())
}

/// Features of many clips of a data set, decoded and extracted in parallel on all
/// cores. Clips that cannot be read or are unusable (too short, silent, damaged) are
/// returned apart with their error instead of stopping the run. `on_progress`
/// receives [`Progress::Items`] of [`Stage::Features`] as clips finish, from worker
/// threads.
///
/// Errors: invalid `params` (checked unless they are [`ValidParams`]).
pub fn extract_dataset(
    data: &Dataset,
    indices: &[usize],
    params: &impl ParamGuard<PipelineParams>,
    on_progress: ProgressFn<'_>,
) -> Result<Extracted> {
    let params = params.checked()?;
    let params: &ValidParams = &params;
    let done = AtomicUsize::new(0);
    let total = indices.len();
    let results: Vec<(usize, Result<ClipFeatures>)> = indices
        .par_iter()
        .map(|&i| {
            let r = super::stream::read_clip(data, i, params, None);
            on_progress(Progress::Items {
                stage: Stage::Features,
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total,
            });
            (i, r)
        })
        .collect();
    let mut ok = Vec::with_capacity(results.len());
    let mut failed = Vec::new();
    for (i, r) in results {
        match r {
            Ok(f) => ok.push((i, f)),
            Err(e) => failed.push((i, e)),
        }
    }
    Ok((ok, failed))
}

/// The features of a train/test [`Split`] with class labels: what the models train
/// and are tested on. Class `c` is `speakers[c]`; `y_train[i]` is the class of
/// `train[i]`, which is clip `train_clips[i]` of the data set (likewise for test).
///
/// Clips that cannot be read or are unusable (too short, silent, damaged) are left
/// out and listed in `unusable`. A speaker is kept when at least two of its training
/// clips are usable; the others are listed in `skipped` with the split's own skipped
/// speakers, and their test clips are left out too.
///
/// ```
/// use speaker_similarity::dataset::SplitParams;
/// use speaker_similarity::pipeline::{PipelineParams, SplitFeatures};
/// use speaker_similarity::synth::{SynthCorpus, SynthParams};
/// # fn main() -> speaker_similarity::Result<()> {
/// let data = SynthCorpus::generate(&SynthParams { speakers: 3, clips_per_speaker: 5, ..SynthParams::default() })?;
/// let split = data.split(&SplitParams::default())?;
/// let f = SplitFeatures::extract(&data, &split, &PipelineParams::default(), &|_| {})?;
/// assert_eq!(f.speakers.len(), 3);
/// assert_eq!(f.x_train()?.dim(), (f.train.len(), 52));
/// assert_eq!(f.train_frames_by_speaker()?.len(), 3);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SplitFeatures {
    /// Speaker ids, sorted; class index `c` is `speakers[c]`.
    pub speakers: Vec<String>,
    /// Features of the training clips.
    pub train: Vec<ClipFeatures>,
    /// Class of every training clip.
    pub y_train: Vec<usize>,
    /// Index in [`Dataset::clips`] of every training clip.
    pub train_clips: Vec<usize>,
    /// Features of the test clips.
    pub test: Vec<ClipFeatures>,
    /// Class of every test clip.
    pub y_test: Vec<usize>,
    /// Index in [`Dataset::clips`] of every test clip.
    pub test_clips: Vec<usize>,
    /// Speakers left out, and why.
    pub skipped: Vec<SkippedSpeaker>,
    /// Clips that could not be used, with the reason.
    pub unusable: Vec<(PathBuf, String)>,
}

impl SplitFeatures {
    /// Extract the features of every clip of `split` (in parallel; `on_progress` as
    /// in [`extract_dataset`]) and label them.
    ///
    /// Errors: invalid `params` (checked unless they are [`ValidParams`]);
    /// [`Error::Dataset`] when no usable test clip is left.
    pub fn extract(
        data: &Dataset,
        split: &Split,
        params: &impl ParamGuard<PipelineParams>,
        on_progress: ProgressFn<'_>,
    ) -> Result<SplitFeatures> {
        let params = params.checked()?;
        let mut wanted: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let extracted = extract_dataset(data, &wanted, &*params, on_progress)?;
        SplitFeatures::from_extracted(data, split, &extracted)
    }

    /// Label features extracted earlier with [`extract_dataset`] (which must cover the
    /// split's clips; missing ones count as unusable): one extraction can serve
    /// several splits.
    ///
    /// Errors: [`Error::Dataset`] when no usable test clip is left.
    pub fn from_extracted(
        data: &Dataset,
        split: &Split,
        extracted: &Extracted,
    ) -> Result<SplitFeatures> {
        let (features, failed) = extracted;
        let by_index: HashMap<usize, &ClipFeatures> =
            features.iter().map(|(i, f)| (*i, f)).collect();
        let failed_at: HashMap<usize, &Error> = failed.iter().map(|(i, e)| (*i, e)).collect();
        let mut unusable: Vec<(PathBuf, String)> = Vec::new();
        let mut wanted: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        for &i in &wanted {
            if by_index.contains_key(&i) {
                continue;
            }
            let path = data
                .clips
                .get(i)
                .map(|c| c.path.clone())
                .unwrap_or_else(|| PathBuf::from(format!("<clip {i}>")));
            let reason = failed_at
                .get(&i)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no features were extracted".into());
            unusable.push((path, reason));
        }

        // Speakers: those of the split's training part that still have 2 usable clips
        // after unusable clips were dropped; the others are reported as skipped.
        let mut usable: BTreeMap<String, usize> = BTreeMap::new();
        for &i in &split.train {
            if let Some(clip) = data.clips.get(i) {
                *usable.entry(clip.speaker.clone()).or_default() +=
                    by_index.contains_key(&i) as usize;
            }
        }
        let mut skipped = split.skipped.clone();
        for (speaker, &n) in &usable {
            if n < 2 {
                skipped.push(SkippedSpeaker {
                    speaker: speaker.clone(),
                    clips: n,
                    reason: SkipReason::TooFewClips { needed: 2 },
                });
            }
        }
        let speakers: Vec<String> = usable
            .into_iter()
            .filter(|(_, n)| *n >= 2)
            .map(|(s, _)| s)
            .collect();
        let class_of = |i: usize| {
            data.clips
                .get(i)
                .and_then(|c| speakers.binary_search(&c.speaker).ok())
        };
        let part = |indices: &[usize]| {
            let mut f = Vec::new();
            let mut y = Vec::new();
            let mut clips = Vec::new();
            for &i in indices {
                if let (Some(x), Some(c)) = (by_index.get(&i), class_of(i)) {
                    f.push((*x).clone());
                    y.push(c);
                    clips.push(i);
                }
            }
            (f, y, clips)
        };
        let (train, y_train, train_clips) = part(&split.train);
        let (test, y_test, test_clips) = part(&split.test);
        if test.is_empty() {
            return Err(Error::Dataset {
                path: data.root.clone(),
                reason: "no usable test clip".into(),
            });
        }
        Ok(SplitFeatures {
            speakers,
            train,
            y_train,
            train_clips,
            test,
            y_test,
            test_clips,
            skipped,
            unusable,
        })
    }

    /// Clip vectors of the training clips, one row each.
    pub fn x_train(&self) -> Result<Array2<f32>> {
        clip_matrix(&self.train)
    }

    /// Clip vectors of the test clips, one row each.
    pub fn x_test(&self) -> Result<Array2<f32>> {
        clip_matrix(&self.test)
    }

    /// The frames of every speaker's training clips, stacked: one matrix per speaker,
    /// in class order (what per-speaker frame GMMs and MAP adaptation train on).
    pub fn train_frames_by_speaker(&self) -> Result<Vec<Array2<f32>>> {
        frames_by_class(&self.train, &self.y_train, self.speakers.len())
    }

    /// At most `max` training frames pooled over all speakers, evenly spaced (a
    /// simple UBM training set, as the tutorial builds it; the pipeline's GMM-UBM
    /// draws a seeded per-speaker sample instead,
    /// [`FrameSampler`](crate::models::speaker::FrameSampler)).
    pub fn pooled_train_frames(&self, max: usize) -> Result<Array2<f32>> {
        if max == 0 {
            return Err(Error::param("max", "at least one frame"));
        }
        let all: Vec<&ClipFeatures> = self.train.iter().collect();
        subsample_frames(&all, max)
    }

    /// The frame matrix of every test clip (one utterance each).
    pub fn test_frames(&self) -> Vec<ArrayView2<'_, f32>> {
        self.test.iter().map(|f| f.frames.view()).collect()
    }
}
