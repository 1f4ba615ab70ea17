//! `gmm-frame`: one Gaussian mixture per speaker on the frames (MFCC + delta of
//! voiced frames) of the speaker's clips — the classic text-independent model.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{
    class_seed, stack_frames, ClipBatch, ClipFeatures, Enrolment, ScoreUnit, Scores,
    SpeakerModel, Trainable, TrainingSet, Valid,
};
use crate::error::{Error, Result};
use crate::models::{DiagGmm, GmmClassifier, GmmInit, GmmParams};
use crate::progress::ProgressFn;

/// One mixture per speaker on frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmFrameModel {
    /// The per-speaker mixtures.
    pub classifier: GmmClassifier,
    /// The settings the mixtures were fitted with (seed included), so a speaker
    /// enrolled later is fitted the same way. Model directories written before
    /// enrolment existed lack it and get the defaults.
    #[serde(default = "frame_params")]
    pub params: GmmParams,
}

fn frame_params() -> GmmParams {
    GmmFrameModel::default_params()
}

impl SpeakerModel for GmmFrameModel {
    /// Mean per-frame log-likelihood of each clip under each speaker's mixture
    /// ([`ScoreUnit::FrameLogLikelihood`]).
    fn scores(&self, clips: &ClipBatch<'_>) -> Result<Scores> {
        let frames = clips.frames();
        let mut values = self.classifier.scores_clips(&frames)?;
        for (mut row, f) in values.rows_mut().into_iter().zip(&frames) {
            let n = f.nrows().max(1) as f64;
            row.mapv_inplace(|v| v / n);
        }
        Ok(Scores {
            unit: ScoreUnit::FrameLogLikelihood,
            values,
        })
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::PerSpeaker
    }

    /// Fit the speaker's mixture on the frames of its clips alone, with the stored
    /// settings and the seed of its class position.
    fn enroll(&mut self, speaker: &str, clips: &[ClipFeatures]) -> Result<()> {
        let frames = stack_frames(speaker, clips)?;
        let class = self
            .classifier
            .index_of(speaker)
            .unwrap_or(self.classifier.names().len());
        let p = GmmParams {
            seed: class_seed(self.params.seed, class),
            ..self.params.clone()
        };
        let gmm = DiagGmm::fit(frames.view(), &p)?;
        self.classifier.upsert(speaker, gmm)
    }

    fn remove(&mut self, speaker: &str) -> Result<()> {
        self.classifier.remove(speaker)
    }

    fn validate(&self, speakers: &[String], _clip_dim: usize) -> Result<()> {
        self.classifier.validate()?;
        if self.classifier.names() != speakers {
            return Err(Error::shape(
                "gmm-frame speakers",
                "the model's speakers",
                format_args!("{:?}", self.classifier.names()),
            ));
        }
        Ok(())
    }
}

impl Trainable for GmmFrameModel {
    /// Default 32 components, k-means++ initialisation, at most 50 EM iterations;
    /// the seed is the pipeline's (speaker `c` uses seed + c).
    type Params = GmmParams;

    fn default_params() -> GmmParams {
        GmmParams {
            n_components: 32,
            max_iter: 50,
            init: GmmInit::KMeansPlusPlus,
            ..GmmParams::default()
        }
    }

    fn fit(
        data: &TrainingSet<'_>,
        params: &Valid<GmmParams>,
        _on_progress: ProgressFn<'_>,
    ) -> Result<Self> {
        let p = GmmParams {
            seed: data.seed,
            ..(**params).clone()
        };
        p.validate()?;
        // A few speakers at a time: only their frames are held.
        let models = data.for_each_speaker(|c, frames| {
            let stacked = stack_all(frames)?;
            GmmClassifier::fit_class(stacked.view(), c, data.speakers, &p)
        })?;
        Ok(GmmFrameModel {
            classifier: GmmClassifier::from_models(data.speakers, models)?,
            params: p,
        })
    }
}

/// One speaker's frame matrices stacked (an empty list is an error).
pub(crate) fn stack_all(frames: &[Array2<f32>]) -> Result<Array2<f32>> {
    let views: Vec<ArrayView2<f32>> = frames.iter().map(|a| a.view()).collect();
    super::stack_views(&views)
}
