//! Using trained models: who is speaking, and whom does the voice resemble.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::extract::ClipFeatures;
use super::params::ModelKind;
use super::train::SpeakerModels;
use crate::audio::Audio;
use crate::calibration::Verdict;
use crate::error::{Error, Result};
use crate::models::speaker::{ClipBatch, ScoreUnit, Scores};
use crate::similarity::Similar;

/// One model's answer for one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guess {
    /// The model.
    pub model: ModelKind,
    /// Predicted speaker id.
    pub speaker: String,
    /// Its display name.
    pub name: String,
    /// The model's score for that speaker (see [`ScoreUnit`]): the probability for
    /// the MLP, the mean per-frame log-likelihood (ratio, for GMM-UBM) for the frame
    /// GMMs, the log-likelihood for the clip-vector GMM; absent for the baselines.
    pub score: Option<f64>,
}

/// Every model's answer for one recording, and the most similar enrolled speakers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// One guess per trained model, in [`ModelKind`] order.
    pub guesses: Vec<Guess>,
    /// The enrolled speakers most like this voice, best first.
    pub similar: Vec<Similar>,
    /// The open-set verdict at the model's default threshold (an enrolled
    /// speaker, or "unknown"), with its calibrated LLR; `None` when the model
    /// set has no open-set calibration.
    #[serde(default)]
    pub verdict: Option<Verdict>,
}

impl Prediction {
    /// The guess of one model, if it was trained.
    pub fn by(&self, model: ModelKind) -> Option<&Guess> {
        self.guesses.iter().find(|g| g.model == model)
    }
}

/// The prediction for one segment of a longer recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentPrediction {
    /// Start of the segment in seconds.
    pub start: f64,
    /// End of the segment in seconds.
    pub end: f64,
    /// What the models say, or why the segment could not be scored (silence, too
    /// short).
    pub result: std::result::Result<Prediction, String>,
    /// The segment's open-set verdict: the prediction's, or "no speech" for a
    /// segment without speech; `None` when the model set has no open-set
    /// calibration (or the segment failed otherwise).
    #[serde(default)]
    pub verdict: Option<Verdict>,
}

/// Per-segment predictions of a recording and the verdict on the whole of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingPrediction {
    /// Length of the recording in seconds.
    pub duration: f64,
    /// One entry per segment.
    pub segments: Vec<SegmentPrediction>,
    /// The models on the whole recording.
    pub overall: Prediction,
}

/// Every model's scores for a batch of clips, in [`ModelKind`] order.
pub type ModelScores = Vec<(ModelKind, Scores)>;

impl SpeakerModels {
    /// The model whose answer is shown as "the GMM's": GMM-UBM when trained, else the
    /// frame GMM, else the clip-vector GMM.
    pub fn headline_gmm(&self) -> Option<ModelKind> {
        [ModelKind::GmmUbm, ModelKind::GmmFrame, ModelKind::GmmClip]
            .into_iter()
            .find(|k| self.get(*k).is_some())
    }

    /// Class scores of every trained model for every clip: the one scoring path that
    /// evaluation, prediction, segments, the command line and the web app use.
    pub fn scores(&self, clips: &[ClipFeatures]) -> Result<ModelScores> {
        let batch = ClipBatch::new(clips)?;
        self.models
            .iter()
            .map(|m| {
                let s = if batch.is_empty() {
                    Scores {
                        unit: ScoreUnit::Vote,
                        values: Array2::zeros((0, self.speakers.len())),
                    }
                } else {
                    m.model().scores(&batch)?
                };
                if s.values.dim() != (batch.len(), self.speakers.len()) {
                    return Err(Error::shape(
                        format!("scores of {}", m.kind()),
                        format_args!("{:?}", (batch.len(), self.speakers.len())),
                        format_args!("{:?}", s.values.dim()),
                    ));
                }
                Ok((m.kind(), s))
            })
            .collect()
    }

    /// Class predicted by every trained model for each clip, in bulk: `(model,
    /// predicted class per clip)` in [`ModelKind`] order (the argmax of
    /// [`SpeakerModels::scores`]).
    pub fn predict_classes(&self, clips: &[ClipFeatures]) -> Result<Vec<(ModelKind, Vec<usize>)>> {
        Ok(self
            .scores(clips)?
            .into_iter()
            .map(|(k, s)| (k, s.predictions()))
            .collect())
    }

    /// The embedding of a recording in the space of the enrolled speakers (see
    /// [`SpeakerModels::embedding`]): its MAP supervector when the UBM is trained,
    /// else its standardised clip vector.
    pub fn embed(&self, features: &ClipFeatures) -> Result<Array1<f32>> {
        self.embedding().embed(features)
    }

    /// The `k` enrolled speakers most similar to a recording's features (by display
    /// name), through [`SpeakerModels::embedding`].
    pub fn most_similar(&self, features: &ClipFeatures, k: usize) -> Result<Vec<Similar>> {
        let embedding = self.embedding();
        let e = embedding.embed(features)?;
        let mut ranked = embedding
            .enrolled()
            .most_similar(e.as_slice().unwrap_or(&e.to_vec()), k)?;
        for s in ranked.iter_mut() {
            s.speaker = self.display_name(&s.speaker).to_string();
        }
        Ok(ranked)
    }

    /// Every model's answer for each clip, from its scores.
    fn guesses(&self, scores: &ModelScores, clip: usize) -> Vec<Guess> {
        scores
            .iter()
            .map(|(model, s)| {
                let (class, value) = s.best()[clip];
                let speaker = self.speakers[class].clone();
                Guess {
                    model: *model,
                    name: self.display_name(&speaker).to_string(),
                    speaker,
                    score: s.unit.shown(value),
                }
            })
            .collect()
    }

    /// Every model's answer for one recording's features, and its `k` most similar
    /// enrolled speakers (by display name).
    pub fn predict(&self, features: &ClipFeatures, k: usize) -> Result<Prediction> {
        let scores = self.scores(std::slice::from_ref(features))?;
        let verdict = match &self.calibration {
            Some(_) => Some(self.verdict(features, None)?),
            None => None,
        };
        Ok(Prediction {
            guesses: self.guesses(&scores, 0),
            similar: self.most_similar(features, k)?,
            verdict,
        })
    }

    /// Extract features from a recording and predict (see [`SpeakerModels::predict`]).
    /// A narrowband recording is scored by the narrowband models when they were
    /// trained (see [`SpeakerModels::route`]).
    pub fn predict_audio(&self, audio: &Audio, k: usize) -> Result<Prediction> {
        let (models, f) = self.routed_features(audio)?;
        models.predict(&f, k)
    }

    /// Cut a recording into `segment_seconds` segments (the original web app used
    /// 2 s) and predict each, plus the whole recording. A segment that cannot be
    /// scored (silence, too short) carries the reason instead of failing the rest.
    pub fn predict_recording(
        &self,
        audio: &Audio,
        segment_seconds: f64,
        k: usize,
    ) -> Result<RecordingPrediction> {
        if audio.is_empty() {
            return Err(Error::param("audio", "the recording holds no samples"));
        }
        let segments = audio.segments(segment_seconds)?;
        use rayon::prelude::*;
        let results: Vec<SegmentPrediction> = segments
            .par_iter()
            .map(|s| {
                let result = self.predict_audio(&s.audio, k);
                let verdict = match &result {
                    Ok(p) => p.verdict.clone(),
                    Err(Error::NoSpeech { .. } | Error::NoSpeechFound { .. }) => self
                        .calibration
                        .as_ref()
                        .map(|c| Verdict::no_speech(c.threshold)),
                    Err(_) => None,
                };
                SegmentPrediction {
                    start: s.start,
                    end: s.start + s.audio.duration(),
                    result: result.map_err(|e| e.to_string()),
                    verdict,
                }
            })
            .collect();
        let overall = self.predict_audio(audio, k)?;
        Ok(RecordingPrediction {
            duration: audio.duration(),
            segments: results,
            overall,
        })
    }
}
