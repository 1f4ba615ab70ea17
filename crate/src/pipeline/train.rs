//! Training every model of the pipeline on one speaker set.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::Array1;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::extract::{clip_matrix, ClipFeatures};
use super::params::{ModelKind, PipelineParams, ValidParams};
use super::verdict::{OpenSetCalibration, OpenSetParams};
use crate::error::{Error, Result};
use crate::models::speaker::{ParamGuard, SpeakerEmbedding, TrainedModel, TrainingSet, Valid};
use crate::models::{History, StandardScaler};
use crate::progress::{Progress, ProgressFn};
use crate::similarity::EnrolledSpeakers;

/// The simple speaker embedding every model set has: a clip's standardised clip
/// vector; a speaker's, the mean over its training clips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipVectorEmbedding {
    /// Standardises clip vectors (fitted on the training clips).
    pub scaler: StandardScaler,
    /// The speakers, by mean standardised clip vector.
    pub enrolled: EnrolledSpeakers,
}

impl SpeakerEmbedding for ClipVectorEmbedding {
    fn name(&self) -> &'static str {
        "clip-vector"
    }

    fn embed(&self, clip: &ClipFeatures) -> Result<Array1<f32>> {
        let x = clip_matrix([clip])?;
        Ok(self.scaler.transform(x.view())?.row(0).to_owned())
    }

    fn enrolled(&self) -> &EnrolledSpeakers {
        &self.enrolled
    }
}

/// Every trained model of one speaker set, with what is needed to use them: the
/// speakers, their display names, the feature settings and the speaker embeddings.
/// Saved as a model directory ([`SpeakerModels::save`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpeakerModels {
    /// Speaker ids, in class order.
    pub speakers: Vec<String>,
    /// Display names by speaker id (from VoxCeleb's meta file, for instance).
    pub names: BTreeMap<String, String>,
    /// Training clips per speaker, in class order.
    pub clip_counts: Vec<usize>,
    /// The settings the models were trained with (checked again when loaded).
    pub params: ValidParams,
    /// The clip-vector embedding (always available).
    pub clip_vectors: ClipVectorEmbedding,
    /// The trained models, in [`ModelKind`] order, one per kind.
    pub models: Vec<TrainedModel>,
    /// Training time per model, in seconds.
    pub train_seconds: BTreeMap<ModelKind, f64>,
    /// Optional models (baselines) asked for but not trainable on this data, with
    /// the reason.
    pub skipped_models: Vec<(ModelKind, String)>,
    /// Models dropped because the speaker set changed after training (an enrolment
    /// or removal into a model that cannot take it without retraining: the MLP,
    /// the baselines), with the reason; they are left out of every prediction
    /// until `train` runs again. Empty in model directories written by `train`.
    #[serde(default)]
    pub out_of_date: Vec<(ModelKind, String)>,
    /// The open-set calibration of the GMM-UBM's scores, fitted at training time on
    /// cross-validation folds of the training clips ([`OpenSetCalibration`]); `None`
    /// without the GMM-UBM, when the data cannot be calibrated, or in a model
    /// directory written before verdicts existed.
    #[serde(default)]
    pub calibration: Option<OpenSetCalibration>,
    /// Why there is no calibration, when the GMM-UBM was trained but could not be
    /// calibrated.
    #[serde(default)]
    pub calibration_skipped: Option<String>,
    /// Bandwidth-matched models trained on narrowband copies of the same clips
    /// (when `params.narrowband` is set and the enrolment is wideband): they score
    /// narrowband queries (see [`SpeakerModels::route`]).
    #[serde(default)]
    pub narrowband: Option<Box<SpeakerModels>>,
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
    /// `params` are checked unless they are [`ValidParams`] already; `on_progress`
    /// receives [`Progress::Started`], [`Progress::Epoch`], [`Progress::Finished`]
    /// and [`Progress::Skipped`].
    pub fn train(
        features: &[ClipFeatures],
        labels: &[usize],
        speakers: Vec<String>,
        names: BTreeMap<String, String>,
        params: &impl ParamGuard<PipelineParams>,
        on_progress: ProgressFn<'_>,
    ) -> Result<SpeakerModels> {
        let params = params.checked()?;
        let data = TrainingSet::new(
            features,
            labels,
            &speakers,
            params.seed,
            params.validation_fraction,
        )?;
        Self::train_set(&data, names, &*params, on_progress)
    }

    /// [`train`](Self::train) on a [`TrainingSet`] made elsewhere — for instance one
    /// whose frames stream from the data set ([`TrainingSet::streaming`]), as
    /// [`train_dataset`](super::train_dataset) makes. Its seed and validation share
    /// are the set's.
    pub fn train_set(
        data: &TrainingSet<'_>,
        names: BTreeMap<String, String>,
        params: &impl ParamGuard<PipelineParams>,
        on_progress: ProgressFn<'_>,
    ) -> Result<SpeakerModels> {
        Self::train_set_with(data, names, params, Vec::new(), true, on_progress)
    }

    /// [`train_set`](Self::train_set), with some models made elsewhere
    /// (`prebuilt`: the model and the seconds it took; a shard merge's per-speaker
    /// models): those kinds are taken as given, the others are trained.
    pub(crate) fn train_set_with(
        data: &TrainingSet<'_>,
        names: BTreeMap<String, String>,
        params: &impl ParamGuard<PipelineParams>,
        prebuilt: Vec<(TrainedModel, f64)>,
        calibrate: bool,
        on_progress: ProgressFn<'_>,
    ) -> Result<SpeakerModels> {
        let params = params.checked()?.into_owned();
        let speakers = data.speakers.to_vec();
        let mut prebuilt: BTreeMap<ModelKind, (TrainedModel, f64)> = prebuilt
            .into_iter()
            .map(|(m, s)| (m.kind(), (m, s)))
            .collect();

        // Mean standardised clip vector per speaker: the simple embedding.
        let x = data.clip_vectors();
        let scaler = StandardScaler::fit(x)?;
        let xs = scaler.transform(x)?;
        let means = data.speaker_means(xs.rows().into_iter())?;
        let clip_vectors = ClipVectorEmbedding {
            scaler,
            enrolled: EnrolledSpeakers::enroll(speakers.clone(), means.view(), true)?,
        };

        // The settings were checked with the parameters, so they are valid.
        let settings = Valid::assume_valid(params.settings.clone());
        let mut models = Vec::new();
        let mut train_seconds = BTreeMap::new();
        let mut skipped_models = Vec::new();
        for kind in ModelKind::ALL {
            if !params.wants(kind) {
                continue;
            }
            if let Some((m, s)) = prebuilt.remove(&kind) {
                models.push(m);
                train_seconds.insert(kind, s);
                continue;
            }
            on_progress(Progress::Started(kind));
            let t = Instant::now();
            match TrainedModel::fit(kind, data, &settings, on_progress) {
                Ok(m) => {
                    let s = t.elapsed().as_secs_f64();
                    models.push(m);
                    train_seconds.insert(kind, s);
                    on_progress(Progress::Finished(kind, s));
                }
                // Baselines are comparisons: one that cannot be fitted on this data
                // (too few clips for smartcore's SVC, say) is reported and left out.
                Err(e) if kind.optional() => {
                    on_progress(Progress::Skipped(kind, e.to_string()));
                    skipped_models.push((kind, e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }

        let clip_counts = data.clip_counts.clone();
        let mut out = SpeakerModels {
            speakers,
            names,
            clip_counts,
            params,
            clip_vectors,
            models,
            train_seconds,
            skipped_models,
            out_of_date: Vec::new(),
            calibration: None,
            calibration_skipped: None,
            narrowband: None,
        };
        if calibrate {
            out.calibrate(data);
        }
        Ok(out)
    }

    /// Fit the open-set calibration on `data`, the training clips alone (never a
    /// query); without the GMM-UBM there is none. Multi-condition training calls
    /// it with the clean clips only, so no augmented copy of a held-out clip sits
    /// in the folds that train its models.
    pub(crate) fn calibrate(&mut self, data: &TrainingSet<'_>) {
        self.calibration = None;
        self.calibration_skipped = None;
        if self.gmm_ubm().is_some() {
            match OpenSetCalibration::fit(self, data, &OpenSetParams::default()) {
                Ok(c) => self.calibration = Some(c),
                Err(e) => self.calibration_skipped = Some(e.to_string()),
            }
        }
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
        self.models.iter().map(TrainedModel::kind).collect()
    }

    /// The trained model of one kind, if this set holds it.
    pub fn get(&self, kind: ModelKind) -> Option<&TrainedModel> {
        self.models.iter().find(|m| m.kind() == kind)
    }

    /// The embedding similarity ranks with: the first model (in [`ModelKind`]
    /// order) that offers one — GMM-UBM's supervectors — else the clip vectors.
    pub fn embedding(&self) -> &dyn SpeakerEmbedding {
        self.models
            .iter()
            .find_map(|m| m.model().embedding())
            .unwrap_or(&self.clip_vectors)
    }

    /// Every embedding the set offers: the models' (in [`ModelKind`] order), then
    /// the clip vectors.
    pub fn embeddings(&self) -> Vec<&dyn SpeakerEmbedding> {
        let mut out: Vec<&dyn SpeakerEmbedding> = self
            .models
            .iter()
            .filter_map(|m| m.model().embedding())
            .collect();
        out.push(&self.clip_vectors);
        out
    }

    /// The training history of the first model that has one (the MLP's).
    pub fn history(&self) -> Option<&History> {
        self.models.iter().find_map(|m| m.model().history())
    }

    /// Check that the parts agree (used after loading a model directory).
    pub fn validate(&self) -> Result<()> {
        let k = self.speakers.len();
        let bad = |what: &str, expected: &str, got: String| Err(Error::shape(what, expected, got));
        if k < 2 || self.clip_counts.len() != k {
            return bad(
                "clip counts",
                "one per speaker, at least 2 speakers",
                format!("{} for {k} speakers", self.clip_counts.len()),
            );
        }
        self.clip_vectors.scaler.validate()?;
        let dim = self.clip_vectors.scaler.n_features();
        if self.clip_vectors.enrolled.names() != self.speakers.as_slice() {
            return bad(
                "enrolled clip-vector speakers",
                "the model's speakers",
                format!("{:?}", self.clip_vectors.enrolled.names()),
            );
        }
        if self.clip_vectors.enrolled.dim() != dim {
            return bad(
                "clip-vector embeddings",
                "the clip vectors' length",
                self.clip_vectors.enrolled.dim().to_string(),
            );
        }
        let kinds = self.kinds();
        if kinds.windows(2).any(|w| w[0] >= w[1]) {
            return bad("models", "each kind once, in order", format!("{kinds:?}"));
        }
        for m in &self.models {
            m.model()
                .validate(&self.speakers, dim)
                .map_err(|e| e.within(m.kind()))?;
        }
        if let Some(c) = &self.calibration {
            c.validate(self)?;
        }
        if let Some(nb) = &self.narrowband {
            nb.validate()?;
            if nb.speakers != self.speakers || nb.narrowband.is_some() {
                return bad(
                    "narrowband models",
                    "the model's speakers, one level",
                    format!("{:?}", nb.speakers),
                );
            }
        }
        Ok(())
    }
}
