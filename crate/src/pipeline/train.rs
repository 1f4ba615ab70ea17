//! Training every model of the pipeline on one speaker set.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::extract::{clip_matrix, frames_by_class, subsample_frames, ClipFeatures};
use super::params::{ModelKind, PipelineParams};
use crate::error::{Error, Result};
use crate::models::{
    Baseline, EpochLog, GmmClassifier, GmmParams, GmmUbmClassifier, History, Mlp, StandardScaler,
    Ubm,
};
use crate::similarity::EnrolledSpeakers;

/// What training reports as it goes (for progress bars and notebook output).
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// A model's training starts.
    Started(ModelKind),
    /// The MLP finished an epoch.
    Epoch(EpochLog),
    /// A model is trained, in so many seconds.
    Finished(ModelKind, f64),
    /// A baseline could not be trained on this data and was left out (the reason).
    Skipped(ModelKind, String),
}

/// Every trained model of a speaker set, with what is needed to use them: the
/// speakers, their display names, the clip-vector scaler and the enrolled speaker
/// embeddings for similarity ranking. Saved and loaded as one model directory
/// (see [`SpeakerModels::save`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpeakerModels {
    /// Speaker ids; class index `c` is `speakers[c]`.
    pub speakers: Vec<String>,
    /// Display names (celebrity names from VoxCeleb's meta file, for instance).
    pub names: BTreeMap<String, String>,
    /// Training clips per speaker, in class order.
    pub clip_counts: Vec<usize>,
    /// The settings the models were trained with.
    pub params: PipelineParams,
    /// Standardises clip vectors for the baselines and the clip-vector embeddings.
    pub clip_scaler: StandardScaler,
    /// The neural network, when trained.
    pub mlp: Option<Mlp>,
    /// The neural network's training history.
    pub history: Option<History>,
    /// Per-speaker GMMs on clip vectors (the original recipe), when trained.
    pub gmm_clip: Option<GmmClassifier>,
    /// Per-speaker GMMs on frames, when trained.
    pub gmm_frame: Option<GmmClassifier>,
    /// UBM and MAP-adapted speaker models, when trained.
    pub gmm_ubm: Option<GmmUbmClassifier>,
    /// smartcore baselines, when asked for.
    pub baselines: Vec<(ModelKind, Baseline)>,
    /// Enrolled speakers by MAP supervector (when the UBM is trained).
    pub enrolled_supervectors: Option<EnrolledSpeakers>,
    /// Enrolled speakers by mean standardised clip vector (always available).
    pub enrolled_clip_vectors: EnrolledSpeakers,
    /// Training time per model, in seconds.
    pub train_seconds: BTreeMap<ModelKind, f64>,
    /// Baselines asked for but not trainable on this data, with the reason.
    #[serde(default)]
    pub skipped_models: Vec<(ModelKind, String)>,
    /// Bandwidth-matched models trained on narrowband copies of the same clips
    /// (when `params.narrowband` is set): they score narrowband queries (see
    /// [`SpeakerModels::route`]).
    #[serde(default)]
    pub narrowband: Option<Box<SpeakerModels>>,
}

/// The mean of the rows of each class (rows = embeddings, one per clip).
fn class_means<'a>(
    rows: impl Iterator<Item = ArrayView1<'a, f32>>,
    labels: &[usize],
    counts: &[usize],
) -> Result<Array2<f32>> {
    let mut means: Option<Array2<f32>> = None;
    for (row, &l) in rows.zip(labels) {
        let m = means.get_or_insert_with(|| Array2::zeros((counts.len(), row.len())));
        if row.len() != m.ncols() {
            return Err(Error::Shape("embeddings of different lengths".into()));
        }
        let mut r = m.row_mut(l);
        r += &row;
    }
    let mut means = means.ok_or_else(|| Error::Training("no embeddings".into()))?;
    for (mut m, &n) in means.rows_mut().into_iter().zip(counts) {
        m /= n.max(1) as f32;
    }
    Ok(means)
}

/// The embedding of one clip in GMM-UBM space: the KL-normalised offset of its
/// MAP-adapted means from the UBM's (the speaker-specific part of the supervector).
pub(crate) fn supervector_offset(clf: &GmmUbmClassifier, f: &ClipFeatures) -> Result<Array1<f32>> {
    let adapted = clf
        .ubm()
        .map_adapt(f.frames.view(), clf.relevance_factor())?;
    clf.ubm().supervector_offset(&adapted)
}

/// Split training rows per class into (fit, validation) index lists for early
/// stopping: `labels[i]` is row `i`'s class; about `fraction` of every class's rows
/// (at least 1, leaving at least 2 to fit) go to validation, chosen at random
/// (seeded). Classes with fewer than 3 rows keep them all for fitting. Both lists
/// are sorted. The pipeline holds out `PipelineParams::validation_fraction` (0.2)
/// of the training clips this way to watch the MLP — never the test clips.
///
/// ```
/// use speaker_similarity::pipeline::validation_split;
/// let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
/// let (fit, val) = validation_split(&labels, 2, 0.2, 42);
/// assert_eq!((fit.len(), val.len()), (8, 2));
/// assert!(val.iter().all(|i| !fit.contains(i)));
/// ```
pub fn validation_split(
    labels: &[usize],
    n_classes: usize,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_7a11);
    let mut fit = Vec::new();
    let mut val = Vec::new();
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        idx.shuffle(&mut rng);
        let n_val = if idx.len() >= 3 {
            ((idx.len() as f64 * fraction).round() as usize).clamp(1, idx.len() - 2)
        } else {
            0
        };
        val.extend_from_slice(&idx[..n_val]);
        fit.extend_from_slice(&idx[n_val..]);
    }
    fit.sort_unstable();
    val.sort_unstable();
    (fit, val)
}

impl SpeakerModels {
    /// Train the models named in `params.models` on clips with class labels
    /// (`labels[i]` in `0..speakers.len()`; every speaker needs at least two clips).
    /// `names` maps speaker ids to display names (missing ones show the id).
    pub fn train(
        features: &[ClipFeatures],
        labels: &[usize],
        speakers: Vec<String>,
        names: BTreeMap<String, String>,
        params: &PipelineParams,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<SpeakerModels> {
        params.validate()?;
        let k = speakers.len();
        if k < 2 {
            return Err(Error::Training(format!(
                "need at least 2 speakers to train, got {k}"
            )));
        }
        if features.len() != labels.len() {
            return Err(Error::Shape(format!(
                "{} feature sets for {} labels",
                features.len(),
                labels.len()
            )));
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
            return Err(Error::Training(format!(
                "speaker `{}` has {} training clip(s); at least 2 are needed",
                speakers[c], clip_counts[c]
            )));
        }

        let x = clip_matrix(features)?;
        let clip_scaler = StandardScaler::fit(x.view())?;
        let xs = clip_scaler.transform(x.view())?;
        let mut train_seconds = BTreeMap::new();

        // Mean standardised clip vector per speaker: the simple embedding.
        let means = class_means(xs.rows().into_iter(), labels, &clip_counts)?;
        let enrolled_clip_vectors = EnrolledSpeakers::enroll(speakers.clone(), means.view(), true)?;

        let mut mlp = None;
        let mut history = None;
        if params.wants(ModelKind::Mlp) {
            on_event(TrainEvent::Started(ModelKind::Mlp));
            let t = Instant::now();
            let (fit_idx, val_idx) =
                validation_split(labels, k, params.validation_fraction, params.seed);
            let xf = x.select(Axis(0), &fit_idx);
            let yf: Vec<usize> = fit_idx.iter().map(|&i| labels[i]).collect();
            let xv = x.select(Axis(0), &val_idx);
            let yv: Vec<usize> = val_idx.iter().map(|&i| labels[i]).collect();
            let mut p = params.mlp.clone();
            p.seed = params.seed;
            let validation = if val_idx.is_empty() {
                p.patience = None;
                None
            } else {
                Some((xv.view(), yv.as_slice()))
            };
            let (m, h) = Mlp::fit(xf.view(), &yf, k, validation, &p, &mut |log| {
                on_event(TrainEvent::Epoch(log.clone()));
                true
            })?;
            mlp = Some(m);
            history = Some(h);
            let s = t.elapsed().as_secs_f64();
            train_seconds.insert(ModelKind::Mlp, s);
            on_event(TrainEvent::Finished(ModelKind::Mlp, s));
        }

        let mut gmm_clip = None;
        if params.wants(ModelKind::GmmClip) {
            on_event(TrainEvent::Started(ModelKind::GmmClip));
            let t = Instant::now();
            // scikit-learn refuses fewer samples than components: cap the number of
            // components at the smallest speaker's clip count.
            let fewest = *clip_counts.iter().min().unwrap_or(&1);
            let p = GmmParams {
                n_components: params.gmm_clip.n_components.min(fewest),
                seed: params.seed,
                ..params.gmm_clip.clone()
            };
            gmm_clip = Some(GmmClassifier::fit_rows(x.view(), labels, &speakers, &p)?);
            let s = t.elapsed().as_secs_f64();
            train_seconds.insert(ModelKind::GmmClip, s);
            on_event(TrainEvent::Finished(ModelKind::GmmClip, s));
        }

        let mut gmm_frame = None;
        if params.wants(ModelKind::GmmFrame) {
            on_event(TrainEvent::Started(ModelKind::GmmFrame));
            let t = Instant::now();
            let stacked = frames_by_class(features, labels, k)?;
            let views: Vec<ArrayView2<f32>> = stacked.iter().map(|a| a.view()).collect();
            let p = GmmParams {
                seed: params.seed,
                ..params.gmm_frame.clone()
            };
            gmm_frame = Some(GmmClassifier::fit(&views, &speakers, &p)?);
            let s = t.elapsed().as_secs_f64();
            train_seconds.insert(ModelKind::GmmFrame, s);
            on_event(TrainEvent::Finished(ModelKind::GmmFrame, s));
        }

        let mut gmm_ubm = None;
        let mut enrolled_supervectors = None;
        if params.wants(ModelKind::GmmUbm) {
            on_event(TrainEvent::Started(ModelKind::GmmUbm));
            let t = Instant::now();
            let all: Vec<&ClipFeatures> = features.iter().collect();
            let pooled = subsample_frames(&all, params.ubm_max_frames)?;
            let p = GmmParams {
                seed: params.seed,
                ..params.ubm.clone()
            };
            let ubm = Ubm::fit(pooled.view(), &p)?;
            let stacked = frames_by_class(features, labels, k)?;
            let views: Vec<ArrayView2<f32>> = stacked.iter().map(|a| a.view()).collect();
            let clf = GmmUbmClassifier::fit(ubm, &views, &speakers, params.relevance_factor)?;
            // A speaker's embedding is the mean of its clips' embeddings, each made
            // exactly as a query's is, so enrolment and queries are comparable.
            let per_clip: Vec<Array1<f32>> = features
                .par_iter()
                .map(|f| supervector_offset(&clf, f))
                .collect::<Result<_>>()?;
            let means = class_means(per_clip.iter().map(|v| v.view()), labels, &clip_counts)?;
            enrolled_supervectors = Some(EnrolledSpeakers::enroll(
                speakers.clone(),
                means.view(),
                true,
            )?);
            gmm_ubm = Some(clf);
            let s = t.elapsed().as_secs_f64();
            train_seconds.insert(ModelKind::GmmUbm, s);
            on_event(TrainEvent::Finished(ModelKind::GmmUbm, s));
        }

        let mut baselines = Vec::new();
        let mut skipped_models = Vec::new();
        for kind in ModelKind::ALL {
            let Some(b) = kind.baseline() else { continue };
            if !params.wants(kind) {
                continue;
            }
            on_event(TrainEvent::Started(kind));
            let t = Instant::now();
            // Baselines are comparisons: one that cannot be fitted on this data (too
            // few clips for smartcore's SVC, say) is reported and left out.
            match Baseline::fit(b, xs.view(), labels) {
                Ok(fitted) => {
                    baselines.push((kind, fitted));
                    let s = t.elapsed().as_secs_f64();
                    train_seconds.insert(kind, s);
                    on_event(TrainEvent::Finished(kind, s));
                }
                Err(e) => {
                    on_event(TrainEvent::Skipped(kind, e.to_string()));
                    skipped_models.push((kind, e.to_string()));
                }
            }
        }

        Ok(SpeakerModels {
            speakers,
            names,
            clip_counts,
            params: params.clone(),
            clip_scaler,
            mlp,
            history,
            gmm_clip,
            gmm_frame,
            gmm_ubm,
            baselines,
            enrolled_supervectors,
            enrolled_clip_vectors,
            train_seconds,
            skipped_models,
            narrowband: None,
        })
    }

    /// The display name of a speaker id (the id itself when it has none).
    pub fn display_name<'a>(&'a self, speaker: &'a str) -> &'a str {
        self.names
            .get(speaker)
            .map(String::as_str)
            .unwrap_or(speaker)
    }

    /// The models this set holds, in [`ModelKind`] order.
    pub fn kinds(&self) -> Vec<ModelKind> {
        let mut out = Vec::new();
        if self.mlp.is_some() {
            out.push(ModelKind::Mlp);
        }
        if self.gmm_clip.is_some() {
            out.push(ModelKind::GmmClip);
        }
        if self.gmm_frame.is_some() {
            out.push(ModelKind::GmmFrame);
        }
        if self.gmm_ubm.is_some() {
            out.push(ModelKind::GmmUbm);
        }
        out.extend(self.baselines.iter().map(|(k, _)| *k));
        out
    }

    /// Check that the parts agree (used after loading a model directory).
    pub fn validate(&self) -> Result<()> {
        let k = self.speakers.len();
        let bad = |what: String| Err(Error::Shape(what));
        if k < 2 || self.clip_counts.len() != k {
            return bad(format!(
                "{k} speakers with {} clip counts",
                self.clip_counts.len()
            ));
        }
        self.params.validate()?;
        self.clip_scaler.validate()?;
        let dim = self.clip_scaler.n_features();
        if let Some(m) = &self.mlp {
            m.validate()?;
            if m.n_classes() != k || m.n_features() != dim {
                return bad("the MLP does not fit the speakers or clip vectors".into());
            }
        }
        for (name, g) in [("gmm-clip", &self.gmm_clip), ("gmm-frame", &self.gmm_frame)] {
            if let Some(g) = g {
                g.validate()?;
                if g.names() != self.speakers.as_slice() {
                    return bad(format!("{name} speakers differ from the model's"));
                }
            }
        }
        if let Some(g) = &self.gmm_ubm {
            g.validate()?;
            if g.names() != self.speakers.as_slice() {
                return bad("gmm-ubm speakers differ from the model's".into());
            }
        }
        if let Some(g) = &self.gmm_clip {
            if g.models().first().map(|m| m.n_features()) != Some(dim) {
                return bad("gmm-clip does not fit the clip vectors".into());
            }
        }
        for (_, b) in &self.baselines {
            b.validate()?;
        }
        for e in [
            Some(&self.enrolled_clip_vectors),
            self.enrolled_supervectors.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if e.names() != self.speakers.as_slice() {
                return bad("enrolled speakers differ from the model's".into());
            }
        }
        if self.enrolled_clip_vectors.dim() != dim {
            return bad("clip-vector embeddings do not fit the clip vectors".into());
        }
        if let Some(nb) = &self.narrowband {
            nb.validate()?;
            if nb.speakers != self.speakers || nb.narrowband.is_some() {
                return bad("the narrowband models do not fit the speakers".into());
            }
        }
        Ok(())
    }
}
