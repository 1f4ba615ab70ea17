//! `gmm-clip`: the original project's recipe, one Gaussian mixture per speaker on
//! raw 52-dim clip vectors (one row per clip).

use serde::{Deserialize, Serialize};

use super::{
    class_seed, clip_matrix, ClipBatch, ClipFeatures, Enrolment, ScoreUnit, Scores,
    SpeakerModel, Trainable, TrainingSet, Valid,
};
use crate::error::{Error, Result};
use crate::models::{DiagGmm, GmmClassifier, GmmParams};
use crate::progress::ProgressFn;

/// One mixture per speaker on clip vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmClipModel {
    /// The per-speaker mixtures.
    pub classifier: GmmClassifier,
    /// The settings the mixtures were fitted with (seed included, components
    /// before the cap), so a speaker enrolled later is fitted the same way. Model
    /// directories written before enrolment existed lack it and get the defaults.
    #[serde(default = "GmmParams::original")]
    pub params: GmmParams,
}

impl SpeakerModel for GmmClipModel {
    /// Log-likelihood of each clip vector under each speaker's mixture
    /// ([`ScoreUnit::LogLikelihood`]).
    fn scores(&self, clips: &ClipBatch<'_>) -> Result<Scores> {
        Ok(Scores {
            unit: ScoreUnit::LogLikelihood,
            values: self.classifier.scores_rows(clips.clip_vectors())?,
        })
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::PerSpeaker
    }

    /// Fit the speaker's mixture on its clip vectors alone (components capped at
    /// its clip count, as `fit` caps them at the smallest speaker's).
    fn enroll(&mut self, speaker: &str, clips: &[ClipFeatures]) -> Result<()> {
        let x = clip_matrix(clips)?;
        let class = self
            .classifier
            .index_of(speaker)
            .unwrap_or(self.classifier.names().len());
        let p = GmmParams {
            n_components: self.params.n_components.min(x.nrows().max(1)),
            seed: class_seed(self.params.seed, class),
            ..self.params.clone()
        };
        let gmm = DiagGmm::fit(x.view(), &p)?;
        self.classifier.upsert(speaker, gmm)
    }

    fn remove(&mut self, speaker: &str) -> Result<()> {
        self.classifier.remove(speaker)
    }

    fn validate(&self, speakers: &[String], clip_dim: usize) -> Result<()> {
        self.classifier.validate()?;
        if self.classifier.names() != speakers {
            return Err(Error::shape(
                "gmm-clip speakers",
                "the model's speakers",
                format_args!("{:?}", self.classifier.names()),
            ));
        }
        let features = self.classifier.models().first().map(|m| m.n_features());
        if features != Some(clip_dim) {
            return Err(Error::shape(
                "gmm-clip features",
                clip_dim,
                format_args!("{features:?}"),
            ));
        }
        Ok(())
    }
}

impl Trainable for GmmClipModel {
    /// Default `GmmParams::original()`: 16 components, n_init 3; the seed is the
    /// pipeline's (speaker `c` uses seed + c).
    type Params = GmmParams;

    fn default_params() -> GmmParams {
        GmmParams::original()
    }

    /// scikit-learn refuses fewer samples than components, so the number of
    /// components is capped at the smallest speaker's clip count.
    fn fit(
        data: &TrainingSet<'_>,
        params: &Valid<GmmParams>,
        _on_progress: ProgressFn<'_>,
    ) -> Result<Self> {
        let fewest = *data.clip_counts.iter().min().unwrap_or(&1);
        let p = GmmParams {
            n_components: params.n_components.min(fewest),
            seed: data.seed,
            ..(**params).clone()
        };
        Ok(GmmClipModel {
            classifier: GmmClassifier::fit_rows(
                data.clip_vectors(),
                data.labels,
                data.speakers,
                &p,
            )?,
            params: GmmParams {
                seed: data.seed,
                ..(**params).clone()
            },
        })
    }
}
