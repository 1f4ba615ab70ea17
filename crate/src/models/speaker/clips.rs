//! What speaker models take in: the features of one clip ([`ClipFeatures`]), a batch
//! of clips to score ([`ClipBatch`]) and a labelled training set ([`TrainingSet`]).

use std::sync::Mutex;

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};

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
        return Err(Error::shape(
            "clip vectors",
            format_args!("all of length {dim}"),
            "different lengths",
        ));
    }
    let flat: Vec<f32> = rows.concat();
    Array2::from_shape_vec((rows.len(), dim), flat)
        .map_err(|e| Error::shape("clip matrix", format_args!("rows of {dim}"), e))
}

/// Stack frame matrices (rows = frames).
pub(crate) fn stack_frames(clips: &[&ClipFeatures]) -> Result<Array2<f32>> {
    let views: Vec<ArrayView2<f32>> = clips.iter().map(|f| f.frames.view()).collect();
    stack_views(&views)
}

/// Stack frame matrices given as views (an empty list is an error).
pub(crate) fn stack_views(views: &[ArrayView2<f32>]) -> Result<Array2<f32>> {
    if views.is_empty() {
        return Err(Error::too_short("frame features", 1.0, 0.0, "clip"));
    }
    ndarray::concatenate(Axis(0), views)
        .map_err(|e| Error::shape("frame matrices", "equal column counts", e))
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

/// Clips to score, in the two forms the models read: the clip-vector matrix (one row
/// per clip) and the frame matrix of every clip. Built once per scoring call and
/// shared by every model.
#[derive(Debug)]
pub struct ClipBatch<'a> {
    clips: &'a [ClipFeatures],
    x: Array2<f32>,
}

impl<'a> ClipBatch<'a> {
    /// A batch of `clips` (errors when their clip vectors differ in length).
    pub fn new(clips: &'a [ClipFeatures]) -> Result<Self> {
        Ok(ClipBatch {
            clips,
            x: clip_matrix(clips)?,
        })
    }

    /// The clips.
    pub fn clips(&self) -> &'a [ClipFeatures] {
        self.clips
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.clips.len()
    }

    /// True when the batch holds no clip.
    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// Clip vectors, one row per clip (raw, not standardised).
    pub fn clip_vectors(&self) -> ArrayView2<'_, f32> {
        self.x.view()
    }

    /// The frame matrix of every clip (one utterance each).
    pub fn frames(&self) -> Vec<ArrayView2<'a, f32>> {
        self.clips.iter().map(|c| c.frames.view()).collect()
    }
}

/// Where the frames of a training set's clips come from: a slice of
/// [`ClipFeatures`] held in memory, or a source that reads and extracts them again
/// when asked (the pipeline's, so a large data set's frames are never all held).
/// Models ask for a few speakers' clips at a time (see
/// [`TrainingSet::for_each_speaker`]).
pub trait FrameSource: Sync {
    /// The frame matrices of the training clips at positions `clips` (in the
    /// training set's clip order), in that order.
    fn frames(&self, clips: &[usize]) -> Result<Vec<Array2<f32>>>;
}

/// A training set's frames: in memory, or from a [`FrameSource`].
#[derive(Clone, Copy)]
enum Frames<'a> {
    Memory(&'a [ClipFeatures]),
    Source(&'a dyn FrameSource),
}

impl FrameSource for Frames<'_> {
    fn frames(&self, clips: &[usize]) -> Result<Vec<Array2<f32>>> {
        let features = match self {
            Frames::Source(s) => return s.frames(clips),
            Frames::Memory(f) => f,
        };
        clips
            .iter()
            .map(|&i| {
                features
                    .get(i)
                    .map(|f| f.frames.clone())
                    .ok_or_else(|| Error::param("clips", format!("no training clip {i}")))
            })
            .collect()
    }
}

/// Labelled training clips, as every model's [`fit`](super::Trainable::fit) receives
/// them: clip vectors, class labels (`labels[i]` in `0..speakers.len()`), speaker
/// ids, the clips per speaker (at least 2 each), the seed and the share of training
/// clips a model may hold out to monitor itself, and the clips' frames through a
/// [`FrameSource`] — in memory ([`TrainingSet::new`]) or streamed
/// ([`TrainingSet::streaming`]). Frame models visit the speakers a few at a time
/// ([`TrainingSet::for_each_speaker`]) and the UBM trains on a bounded sample
/// ([`TrainingSet::ubm_frames`]), so no model needs every frame at once.
pub struct TrainingSet<'a> {
    /// Class of every clip.
    pub labels: &'a [usize],
    /// Speaker ids, in class order.
    pub speakers: &'a [String],
    /// Training clips per speaker, in class order.
    pub clip_counts: Vec<usize>,
    /// Seed for every random choice of the models.
    pub seed: u64,
    /// Share of each speaker's clips a model may hold out to monitor its training
    /// (the MLP's early stopping); never the test clips.
    pub validation_fraction: f64,
    x: Array2<f32>,
    frames: Frames<'a>,
    ubm_sample: Mutex<Option<(usize, Array2<f32>)>>,
}

impl std::fmt::Debug for TrainingSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingSet")
            .field("clips", &self.labels.len())
            .field("speakers", &self.speakers)
            .field("clip_counts", &self.clip_counts)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl<'a> TrainingSet<'a> {
    /// Check the labels against the speakers (at least 2 speakers, every label in
    /// range, at least 2 clips per speaker, clip vectors of one length); the frames
    /// are those of `features`, in memory.
    pub fn new(
        features: &'a [ClipFeatures],
        labels: &'a [usize],
        speakers: &'a [String],
        seed: u64,
        validation_fraction: f64,
    ) -> Result<Self> {
        if features.len() != labels.len() {
            return Err(Error::shape(
                "feature sets",
                format_args!("one per label ({})", labels.len()),
                features.len(),
            ));
        }
        let x = clip_matrix(features)?;
        Self::build(
            x,
            Frames::Memory(features),
            labels,
            speakers,
            seed,
            validation_fraction,
            2,
        )
    }

    /// As [`new`](Self::new), from the clip vectors (one row per clip) and a
    /// [`FrameSource`] that gives the clips' frames when a model asks for them.
    pub fn streaming(
        clip_vectors: Array2<f32>,
        frames: &'a dyn FrameSource,
        labels: &'a [usize],
        speakers: &'a [String],
        seed: u64,
        validation_fraction: f64,
    ) -> Result<Self> {
        Self::build(
            clip_vectors,
            Frames::Source(frames),
            labels,
            speakers,
            seed,
            validation_fraction,
            2,
        )
    }

    /// As [`streaming`](Self::streaming) for the speakers of one shard of a data
    /// set, which may be a single speaker: per-speaker work needs no second one.
    pub(crate) fn streaming_shard(
        clip_vectors: Array2<f32>,
        frames: &'a dyn FrameSource,
        labels: &'a [usize],
        speakers: &'a [String],
        seed: u64,
        validation_fraction: f64,
    ) -> Result<Self> {
        Self::build(
            clip_vectors,
            Frames::Source(frames),
            labels,
            speakers,
            seed,
            validation_fraction,
            1,
        )
    }

    fn build(
        clip_vectors: Array2<f32>,
        frames: Frames<'a>,
        labels: &'a [usize],
        speakers: &'a [String],
        seed: u64,
        validation_fraction: f64,
        min_speakers: usize,
    ) -> Result<Self> {
        let k = speakers.len();
        if k < min_speakers {
            return Err(Error::too_short(
                "training",
                min_speakers as f64,
                k as f64,
                "speaker",
            ));
        }
        if clip_vectors.nrows() != labels.len() {
            return Err(Error::shape(
                "clip vectors",
                format_args!("one per label ({})", labels.len()),
                clip_vectors.nrows(),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
            return Err(Error::param(
                "labels",
                format!("label {bad} but {k} speakers"),
            ));
        }
        let mut clip_counts = vec![0usize; k];
        for &l in labels {
            clip_counts[l] += 1;
        }
        if let Some(c) = clip_counts.iter().position(|&n| n < 2) {
            return Err(Error::too_short(
                format!("the training clips of speaker `{}`", speakers[c]),
                2.0,
                clip_counts[c] as f64,
                "clip",
            ));
        }
        Ok(TrainingSet {
            labels,
            speakers,
            clip_counts,
            seed,
            validation_fraction,
            x: clip_vectors,
            frames,
            ubm_sample: Mutex::new(None),
        })
    }

    /// Hand over a UBM frame sample drawn while the clips were first read (a
    /// [`FrameSampler`](super::FrameSampler) of at most `max` frames with this set's
    /// seed, fed every clip's frames with its class): [`ubm_frames`](Self::ubm_frames)
    /// with the same `max` returns it instead of reading every clip again.
    pub fn with_ubm_sample(self, max: usize, sample: Array2<f32>) -> Self {
        *self.ubm_sample.lock().unwrap_or_else(|p| p.into_inner()) = Some((max, sample));
        self
    }

    /// Number of speakers (classes).
    pub fn n_speakers(&self) -> usize {
        self.speakers.len()
    }

    /// Number of training clips.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no clip (never, for a set that was built).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Clip vectors of the training clips, one row each (raw).
    pub fn clip_vectors(&self) -> ArrayView2<'_, f32> {
        self.x.view()
    }

    /// Positions of speaker `class`'s clips, in clip order.
    pub fn speaker_clips(&self, class: usize) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&i| self.labels[i] == class)
            .collect()
    }

    /// The frames of the clips at `clips` (positions), from the frame source.
    pub fn frames_of(&self, clips: &[usize]) -> Result<Vec<Array2<f32>>> {
        let f = self.frames.frames(clips)?;
        if f.len() != clips.len() {
            return Err(Error::shape(
                "frame matrices from the frame source",
                format_args!("one per clip ({})", clips.len()),
                f.len(),
            ));
        }
        Ok(f)
    }

    /// Run `f(class, frames of the class's clips in clip order)` for every speaker
    /// and collect the results in class order. Speakers are visited a few at a time
    /// (twice as many as there are worker threads, in parallel), so only their
    /// frames are held: what per-speaker frame GMMs and MAP adaptation train on.
    pub fn for_each_speaker<T, F>(&self, f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(usize, &[Array2<f32>]) -> Result<T> + Sync,
    {
        let all: Vec<usize> = (0..self.n_speakers()).collect();
        self.for_each_speaker_of(&all, f)
    }

    /// [`for_each_speaker`](Self::for_each_speaker) over the classes `classes`
    /// only, in their order (the others' frames are not read).
    pub fn for_each_speaker_of<T, F>(&self, classes: &[usize], f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(usize, &[Array2<f32>]) -> Result<T> + Sync,
    {
        let chunk = (rayon::current_num_threads() * 2).max(1);
        let mut out = Vec::with_capacity(classes.len());
        for classes in classes.chunks(chunk) {
            let lists: Vec<Vec<usize>> = classes.iter().map(|&c| self.speaker_clips(c)).collect();
            let flat: Vec<usize> = lists.iter().flatten().copied().collect();
            let mut frames = self.frames_of(&flat)?.into_iter();
            let groups: Vec<Vec<Array2<f32>>> = lists
                .iter()
                .map(|l| frames.by_ref().take(l.len()).collect())
                .collect();
            let results: Vec<T> = classes
                .par_iter()
                .zip(groups.par_iter())
                .map(|(&c, g)| f(c, g))
                .collect::<Result<_>>()?;
            out.extend(results);
        }
        Ok(out)
    }

    /// At most `max` training frames for a universal background model: the
    /// [`FrameSampler`](super::FrameSampler) sample (seeded with this set's seed, an
    /// equal share from every speaker), handed over with
    /// [`with_ubm_sample`](Self::with_ubm_sample) or drawn here a few speakers at a
    /// time.
    pub fn ubm_frames(&self, max: usize) -> Result<Array2<f32>> {
        {
            let mut held = self.ubm_sample.lock().unwrap_or_else(|p| p.into_inner());
            if held.as_ref().is_some_and(|(m, _)| *m == max) {
                if let Some((_, s)) = held.take() {
                    return Ok(s);
                }
            }
        }
        let sampler = super::FrameSampler::new(self.n_speakers(), max, self.seed)?;
        self.for_each_speaker(|c, frames| {
            for f in frames {
                sampler.add(c, f.view())?;
            }
            Ok(())
        })?;
        sampler.finish()
    }

    /// The mean of `rows` (one per training clip, in clip order) over each speaker's
    /// clips: speakers × dim. What a speaker's embedding is made of.
    pub fn speaker_means<'r>(
        &self,
        rows: impl Iterator<Item = ndarray::ArrayView1<'r, f32>>,
    ) -> Result<Array2<f32>> {
        let mut means: Option<Array2<f32>> = None;
        for (row, &l) in rows.zip(self.labels) {
            let m = means.get_or_insert_with(|| Array2::zeros((self.n_speakers(), row.len())));
            if row.len() != m.ncols() {
                return Err(Error::shape("embeddings", m.ncols(), row.len()));
            }
            let mut r = m.row_mut(l);
            r += &row;
        }
        let mut means =
            means.ok_or_else(|| Error::too_short("speaker means", 1.0, 0.0, "embedding"))?;
        for (mut m, &n) in means.rows_mut().into_iter().zip(&self.clip_counts) {
            m /= n.max(1) as f32;
        }
        Ok(means)
    }
}
