//! Features of a clip as the pipeline's models need them, extracted in parallel, and
//! the features of a train/test split with class labels ([`SplitFeatures`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::params::PipelineParams;
use crate::audio::Audio;
use crate::dataset::{Dataset, SkipReason, SkippedSpeaker, Split};
use crate::error::{Error, Result};
use crate::features::FeatureExtractor;

/// The features of one clip: its 52-dim clip vector (for the MLP, the clip-vector
/// GMMs and the baselines) and its frame matrix (rows = voiced frames, for the frame
/// GMMs, the UBM and the speaker embeddings).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipFeatures {
    /// The clip vector.
    pub clip: Vec<f32>,
    /// Frame features, one row per frame.
    pub frames: Array2<f32>,
}

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
/// the noise floor of the converter.
pub fn extract(audio: &Audio, params: &PipelineParams) -> Result<ClipFeatures> {
    let peak = audio.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    if !audio.samples.is_empty() && peak < SILENCE_PEAK {
        return Err(Error::NoSpeech {
            peak_dbfs: 20.0 * peak.max(1e-12).log10(),
            threshold_dbfs: 20.0 * SILENCE_PEAK.log10(),
        });
    }
    EXTRACTOR.with(|cell| {
        let mut ex = cell.borrow_mut();
        let clip = ex.clip_vector(audio, &params.clip)?;
        let frames = ex.frame_features(audio, &params.frames)?;
        Ok(ClipFeatures { clip, frames })
    })
}

/// Features of many clips of a data set, decoded and extracted in parallel on all
/// cores. Clips that cannot be read or are unusable (too short, silent, damaged) are
/// returned apart with their error instead of stopping the run. `on_progress(done,
/// total)` is called as clips finish, from worker threads.
pub fn extract_dataset(
    data: &Dataset,
    indices: &[usize],
    params: &PipelineParams,
    on_progress: &(dyn Fn(usize, usize) + Sync),
) -> Extracted {
    let done = AtomicUsize::new(0);
    let total = indices.len();
    let results: Vec<(usize, Result<ClipFeatures>)> = indices
        .par_iter()
        .map(|&i| {
            let r = data
                .clips
                .get(i)
                .ok_or_else(|| Error::param("indices", format!("no clip {i}")))
                .and_then(|clip| clip.load())
                .and_then(|audio| {
                    extract(&audio, params).map_err(|e| match e {
                        // Name the clip in feature errors, which do not know it.
                        Error::TooShort { reason } => Error::TooShort {
                            reason: format!("{}: {reason}", data.clips[i].path.display()),
                        },
                        other => other,
                    })
                });
            on_progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
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
    (ok, failed)
}

/// Stack the clip vectors of `features` into a matrix, one row per clip: the input of
/// the MLP, the clip-vector GMMs and the baselines.
///
/// ```
/// use ndarray::Array2;
/// use speaker_similarity::pipeline::{clip_matrix, ClipFeatures};
/// # fn main() -> speaker_similarity::Result<()> {
/// let f = |v: f32| ClipFeatures { clip: vec![v, v + 1.0], frames: Array2::zeros((1, 2)) };
/// let x = clip_matrix(&[f(0.0), f(5.0)])?;
/// assert_eq!(x.row(1).to_vec(), vec![5.0, 6.0]);
/// # Ok(())
/// # }
/// ```
///
/// Errors: [`Error::Shape`] when the clip vectors differ in length.
pub fn clip_matrix<'a>(
    features: impl IntoIterator<Item = &'a ClipFeatures>,
) -> Result<Array2<f32>> {
    let rows: Vec<&[f32]> = features.into_iter().map(|f| f.clip.as_slice()).collect();
    let dim = rows.first().map(|r| r.len()).unwrap_or(0);
    if rows.iter().any(|r| r.len() != dim) {
        return Err(Error::Shape("clip vectors of different lengths".into()));
    }
    let flat: Vec<f32> = rows.concat();
    Array2::from_shape_vec((rows.len(), dim), flat).map_err(|e| Error::Shape(e.to_string()))
}

/// Stack frame matrices (rows = frames).
pub(crate) fn stack_frames(clips: &[&ClipFeatures]) -> Result<Array2<f32>> {
    let views: Vec<ArrayView2<f32>> = clips.iter().map(|f| f.frames.view()).collect();
    if views.is_empty() {
        return Err(Error::Training("no frames".into()));
    }
    ndarray::concatenate(Axis(0), &views).map_err(|e| Error::Shape(e.to_string()))
}

/// Every `step`-th frame of all clips, at most `max` frames in all.
pub(crate) fn subsample_frames(clips: &[&ClipFeatures], max: usize) -> Result<Array2<f32>> {
    let total: usize = clips.iter().map(|f| f.frames.nrows()).sum();
    let all = stack_frames(clips)?;
    if total <= max {
        return Ok(all);
    }
    let step = total.div_ceil(max);
    Ok(all.slice(ndarray::s![..;step, ..]).to_owned())
}

/// The frames of each class stacked into one matrix (`out[c]` = all frames of the
/// clips labelled `c`). Errors when a class has no clip.
pub(crate) fn frames_by_class(
    features: &[ClipFeatures],
    labels: &[usize],
    n_classes: usize,
) -> Result<Vec<Array2<f32>>> {
    let mut groups: Vec<Vec<&ClipFeatures>> = vec![Vec::new(); n_classes];
    for (f, &l) in features.iter().zip(labels) {
        if let Some(g) = groups.get_mut(l) {
            g.push(f);
        }
    }
    groups.iter().map(|g| stack_frames(g)).collect()
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
/// let f = SplitFeatures::extract(&data, &split, &PipelineParams::default(), &|_, _| {})?;
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
    /// Extract the features of every clip of `split` (in parallel; `on_progress(done,
    /// total)` as in [`extract_dataset`]) and label them.
    ///
    /// Errors: invalid `params`; [`Error::Dataset`] when no usable test clip is left.
    pub fn extract(
        data: &Dataset,
        split: &Split,
        params: &PipelineParams,
        on_progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<SplitFeatures> {
        params.validate()?;
        let mut wanted: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let extracted = extract_dataset(data, &wanted, params, on_progress);
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

    /// At most `max` training frames pooled over all speakers, evenly spaced (what a
    /// universal background model trains on).
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
