//! What speaker models take in: the features of one clip ([`ClipFeatures`]), a batch
//! of clips to score ([`ClipBatch`]) and a labelled training set ([`TrainingSet`]).

use std::sync::OnceLock;

use ndarray::{Array2, ArrayView2, Axis};

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
    if views.is_empty() {
        return Err(Error::too_short("frame features", 1.0, 0.0, "clip"));
    }
    ndarray::concatenate(Axis(0), &views)
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

/// Labelled training clips, as every model's [`fit`](super::Trainable::fit) receives
/// them: features, class labels (`labels[i]` in `0..speakers.len()`), speaker ids,
/// the clips per speaker (at least 2 each), the seed and the share of training clips
/// a model may hold out to monitor itself. Derived forms (clip-vector matrix, frames
/// per speaker) are computed once and shared by the models.
#[derive(Debug)]
pub struct TrainingSet<'a> {
    /// Features of the training clips.
    pub features: &'a [ClipFeatures],
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
    frames_by_class: OnceLock<Vec<Array2<f32>>>,
}

impl<'a> TrainingSet<'a> {
    /// Check the labels against the speakers (at least 2 speakers, every label in
    /// range, at least 2 clips per speaker, clip vectors of one length).
    pub fn new(
        features: &'a [ClipFeatures],
        labels: &'a [usize],
        speakers: &'a [String],
        seed: u64,
        validation_fraction: f64,
    ) -> Result<Self> {
        let k = speakers.len();
        if k < 2 {
            return Err(Error::too_short("training", 2.0, k as f64, "speaker"));
        }
        if features.len() != labels.len() {
            return Err(Error::shape(
                "feature sets",
                format_args!("one per label ({})", labels.len()),
                features.len(),
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
            features,
            labels,
            speakers,
            clip_counts,
            seed,
            validation_fraction,
            x: clip_matrix(features)?,
            frames_by_class: OnceLock::new(),
        })
    }

    /// Number of speakers (classes).
    pub fn n_speakers(&self) -> usize {
        self.speakers.len()
    }

    /// Clip vectors of the training clips, one row each (raw).
    pub fn clip_vectors(&self) -> ArrayView2<'_, f32> {
        self.x.view()
    }

    /// The frames of every speaker's clips, stacked: one matrix per speaker, in class
    /// order (computed on first use).
    pub fn frames_by_speaker(&self) -> Result<&[Array2<f32>]> {
        if let Some(f) = self.frames_by_class.get() {
            return Ok(f);
        }
        let f = frames_by_class(self.features, self.labels, self.n_speakers())?;
        Ok(self.frames_by_class.get_or_init(|| f))
    }

    /// At most `max` frames pooled over all clips, evenly spaced (what a universal
    /// background model trains on).
    pub fn pooled_frames(&self, max: usize) -> Result<Array2<f32>> {
        let all: Vec<&ClipFeatures> = self.features.iter().collect();
        subsample_frames(&all, max)
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
