//! What the four smartcore baselines (`svm`, `random-forest`, `knn`, `logistic`)
//! share: clip vectors standardised by their own scaler, a fitted [`Baseline`],
//! votes as scores. Each baseline's file makes its model type with
//! `baseline_model!`.

use serde::{Deserialize, Serialize};

use super::{ClipBatch, Scores, TrainingSet};
use crate::error::{Error, Result};
use crate::models::{Baseline, BaselineKind, StandardScaler};

/// A fitted baseline and the scaler that standardises its input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaledBaseline {
    /// Standardises clip vectors (fitted on the training clips).
    pub scaler: StandardScaler,
    /// The smartcore classifier.
    pub baseline: Baseline,
    n_classes: usize,
}

impl ScaledBaseline {
    /// Fit `kind` on the standardised clip vectors of `data`.
    pub fn fit(kind: BaselineKind, data: &TrainingSet<'_>) -> Result<Self> {
        let x = data.clip_vectors();
        let scaler = StandardScaler::fit(x)?;
        let xs = scaler.transform(x)?;
        Ok(ScaledBaseline {
            baseline: Baseline::fit(kind, xs.view(), data.labels)?,
            scaler,
            n_classes: data.n_speakers(),
        })
    }

    /// A fitted baseline with the scaler its input was standardised with, for
    /// `n_classes` speakers (reading model directories of format version 1).
    pub(crate) fn from_parts(scaler: StandardScaler, baseline: Baseline, n_classes: usize) -> Self {
        ScaledBaseline {
            scaler,
            baseline,
            n_classes,
        }
    }

    /// One-hot votes for the predicted speaker of every clip.
    pub fn scores(&self, clips: &ClipBatch<'_>) -> Result<Scores> {
        let xs = self.scaler.transform(clips.clip_vectors())?;
        Ok(Scores::votes(
            &self.baseline.predict(xs.view())?,
            self.n_classes,
        ))
    }

    /// Check against the model set's speakers and clip vectors.
    pub fn validate(&self, kind: BaselineKind, speakers: &[String], clip_dim: usize) -> Result<()> {
        self.scaler.validate()?;
        self.baseline.validate()?;
        if self.baseline.kind() != kind
            || self.n_classes != speakers.len()
            || self.scaler.n_features() != clip_dim
        {
            return Err(Error::shape(
                format!("the {kind:?} baseline"),
                format_args!("{} speakers, clip vectors of {clip_dim}", speakers.len()),
                "other sizes",
            ));
        }
        Ok(())
    }
}

/// `baseline_model!(Type, BaselineKind::X, "doc")`: a registered model type for one
/// smartcore baseline (optional: left out when it cannot fit the data).
macro_rules! baseline_model {
    ($ty:ident, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        pub struct $ty(super::smartcore_baseline::ScaledBaseline);

        impl From<super::smartcore_baseline::ScaledBaseline> for $ty {
            fn from(b: super::smartcore_baseline::ScaledBaseline) -> Self {
                $ty(b)
            }
        }

        impl super::SpeakerModel for $ty {
            /// Votes ([`super::ScoreUnit::Vote`]): the baselines only decide.
            fn scores(&self, clips: &super::ClipBatch<'_>) -> crate::error::Result<super::Scores> {
                self.0.scores(clips)
            }

            fn validate(&self, speakers: &[String], clip_dim: usize) -> crate::error::Result<()> {
                self.0.validate($kind, speakers, clip_dim)
            }
        }

        impl super::Trainable for $ty {
            /// Fixed settings (see [`crate::models::baselines`]).
            type Params = super::NoParams;
            const OPTIONAL: bool = true;

            fn default_params() -> super::NoParams {
                super::NoParams {}
            }

            fn fit(
                data: &super::TrainingSet<'_>,
                _params: &super::Valid<super::NoParams>,
                _on_progress: crate::progress::ProgressFn<'_>,
            ) -> crate::error::Result<Self> {
                Ok($ty(super::smartcore_baseline::ScaledBaseline::fit(
                    $kind, data,
                )?))
            }
        }
    };
}
