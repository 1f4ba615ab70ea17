//! Using trained models: who is speaking, and whom does the voice resemble.

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::extract::clip_matrix;
use super::extract::ClipFeatures;
use super::params::ModelKind;
use super::train::SpeakerModels;
use crate::audio::Audio;
use crate::error::{Error, Result};
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
    /// The model's score for that speaker: the probability for the MLP, the mean
    /// per-frame log-likelihood (ratio, for GMM-UBM) for the frame GMMs, the
    /// log-likelihood for the clip-vector GMM; absent for the baselines.
    pub score: Option<f64>,
}

/// Every model's answer for one recording, and the most similar enrolled speakers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// One guess per trained model, in [`ModelKind`] order.
    pub guesses: Vec<Guess>,
    /// The enrolled speakers most like this voice, best first.
    pub similar: Vec<Similar>,
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

fn argmax(v: impl IntoIterator<Item = f64>) -> (usize, f64) {
    v.into_iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, s)| {
            if s > best.1 {
                (i, s)
            } else {
                best
            }
        })
}

impl SpeakerModels {
    fn guess(&self, model: ModelKind, class: usize, score: Option<f64>) -> Guess {
        let speaker = self.speakers[class].clone();
        Guess {
            model,
            name: self.display_name(&speaker).to_string(),
            speaker,
            score,
        }
    }

    /// The model whose answer is shown as "the GMM's": GMM-UBM when trained, else the
    /// frame GMM, else the clip-vector GMM.
    pub fn headline_gmm(&self) -> Option<ModelKind> {
        [ModelKind::GmmUbm, ModelKind::GmmFrame, ModelKind::GmmClip]
            .into_iter()
            .find(|k| self.kinds().contains(k))
    }

    /// Class predicted by every trained model for each clip, in bulk: `(model,
    /// predicted class per clip)` in [`ModelKind`] order.
    pub fn predict_classes(&self, clips: &[ClipFeatures]) -> Result<Vec<(ModelKind, Vec<usize>)>> {
        if clips.is_empty() {
            return Ok(self.kinds().into_iter().map(|k| (k, Vec::new())).collect());
        }
        let x = clip_matrix(clips)?;
        let frames: Vec<ArrayView2<f32>> = clips.iter().map(|c| c.frames.view()).collect();
        let mut out = Vec::new();
        if let Some(m) = &self.mlp {
            out.push((ModelKind::Mlp, m.predict(x.view())?));
        }
        if let Some(g) = &self.gmm_clip {
            out.push((ModelKind::GmmClip, g.predict_rows(x.view())?));
        }
        if let Some(g) = &self.gmm_frame {
            out.push((ModelKind::GmmFrame, g.predict_clips(&frames)?));
        }
        if let Some(g) = &self.gmm_ubm {
            out.push((ModelKind::GmmUbm, g.predict_clips(&frames)?));
        }
        if !self.baselines.is_empty() {
            let xs = self.clip_scaler.transform(x.view())?;
            for (kind, b) in &self.baselines {
                out.push((*kind, b.predict(xs.view())?));
            }
        }
        Ok(out)
    }

    /// The embedding of a recording in the space of the enrolled speakers: its MAP
    /// supervector when the UBM is trained, else its standardised clip vector.
    pub fn embedding(&self, features: &ClipFeatures) -> Result<Array1<f32>> {
        match &self.gmm_ubm {
            Some(g) => super::train::supervector_offset(g, features),
            None => {
                let x = clip_matrix([features])?;
                Ok(self.clip_scaler.transform(x.view())?.row(0).to_owned())
            }
        }
    }

    /// The `k` enrolled speakers most similar to a recording's features.
    pub fn most_similar(&self, features: &ClipFeatures, k: usize) -> Result<Vec<Similar>> {
        let e = self.embedding(features)?;
        let enrolled = self
            .enrolled_supervectors
            .as_ref()
            .filter(|_| self.gmm_ubm.is_some())
            .unwrap_or(&self.enrolled_clip_vectors);
        let mut ranked = enrolled.most_similar(e.as_slice().unwrap_or(&e.to_vec()), k)?;
        for s in ranked.iter_mut() {
            s.speaker = self.display_name(&s.speaker).to_string();
        }
        Ok(ranked)
    }

    /// Every model's answer for one recording's features, and its `k` most similar
    /// enrolled speakers (by display name).
    pub fn predict(&self, features: &ClipFeatures, k: usize) -> Result<Prediction> {
        let x = clip_matrix([features])?;
        let mut guesses = Vec::new();
        if let Some(m) = &self.mlp {
            let p = m.predict_proba(x.view())?;
            let (c, s) = argmax(p.row(0).iter().map(|&v| v as f64));
            guesses.push(self.guess(ModelKind::Mlp, c, Some(s)));
        }
        if let Some(g) = &self.gmm_clip {
            let s = g.scores_rows(x.view())?;
            let (c, v) = argmax(s.row(0).iter().copied());
            guesses.push(self.guess(ModelKind::GmmClip, c, Some(v)));
        }
        let frames = [features.frames.view()];
        let n_frames = features.frames.nrows().max(1) as f64;
        if let Some(g) = &self.gmm_frame {
            let s = g.scores_clips(&frames)?;
            let (c, v) = argmax(s.row(0).iter().copied());
            guesses.push(self.guess(ModelKind::GmmFrame, c, Some(v / n_frames)));
        }
        if let Some(g) = &self.gmm_ubm {
            let s = g.scores_clips(&frames)?;
            let (c, v) = argmax(s.row(0).iter().copied());
            guesses.push(self.guess(ModelKind::GmmUbm, c, Some(v)));
        }
        if !self.baselines.is_empty() {
            let xs = self.clip_scaler.transform(x.view())?;
            for (kind, b) in &self.baselines {
                let c = b.predict(xs.view())?[0];
                guesses.push(self.guess(*kind, c, None));
            }
        }
        Ok(Prediction {
            guesses,
            similar: self.most_similar(features, k)?,
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
            .map(|s| SegmentPrediction {
                start: s.start,
                end: s.start + s.audio.duration(),
                result: self.predict_audio(&s.audio, k).map_err(|e| e.to_string()),
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
