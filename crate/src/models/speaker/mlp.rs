//! `mlp`: the neural network on 52-dim clip vectors ([`Mlp`]), early-stopped on a
//! held-out share of the training clips.

use ndarray::Axis;
use serde::{Deserialize, Serialize};

use super::{ClipBatch, ScoreUnit, Scores, SpeakerModel, Trainable, TrainingSet, Valid};
use crate::error::{Error, Result};
use crate::models::{History, Mlp, MlpParams};
use crate::pipeline::validation_split;
use crate::progress::ProgressFn;

/// The trained network and its training history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpModel {
    /// The network (inputs standardised inside when `standardize`).
    pub mlp: Mlp,
    /// Loss and accuracy per epoch.
    pub history: History,
}

impl SpeakerModel for MlpModel {
    /// Softmax probabilities ([`ScoreUnit::Probability`]).
    fn scores(&self, clips: &ClipBatch<'_>) -> Result<Scores> {
        let p = self.mlp.predict_proba(clips.clip_vectors())?;
        Ok(Scores {
            unit: ScoreUnit::Probability,
            values: p.mapv(f64::from),
        })
    }

    fn history(&self) -> Option<&History> {
        Some(&self.history)
    }

    fn validate(&self, speakers: &[String], clip_dim: usize) -> Result<()> {
        self.mlp.validate()?;
        if self.mlp.n_classes() != speakers.len() || self.mlp.n_features() != clip_dim {
            return Err(Error::shape(
                "the MLP (classes, features)",
                format_args!("{:?}", (speakers.len(), clip_dim)),
                format_args!("{:?}", (self.mlp.n_classes(), self.mlp.n_features())),
            ));
        }
        Ok(())
    }
}

impl Trainable for MlpModel {
    /// Default `MlpParams::default()` (inputs standardised); the seed is the
    /// pipeline's.
    type Params = MlpParams;

    fn default_params() -> MlpParams {
        MlpParams::default()
    }

    /// Holds out `data.validation_fraction` of every speaker's clips (seeded) to
    /// watch for early stopping; trains on the rest.
    fn fit(
        data: &TrainingSet<'_>,
        params: &Valid<MlpParams>,
        on_progress: ProgressFn<'_>,
    ) -> Result<Self> {
        let (x, labels, k) = (data.clip_vectors(), data.labels, data.n_speakers());
        let (fit_idx, val_idx) =
            validation_split(labels, k, data.validation_fraction, data.seed);
        let xf = x.select(Axis(0), &fit_idx);
        let yf: Vec<usize> = fit_idx.iter().map(|&i| labels[i]).collect();
        let xv = x.select(Axis(0), &val_idx);
        let yv: Vec<usize> = val_idx.iter().map(|&i| labels[i]).collect();
        let mut p = (**params).clone();
        p.seed = data.seed;
        let validation = if val_idx.is_empty() {
            p.patience = None;
            None
        } else {
            Some((xv.view(), yv.as_slice()))
        };
        let (mlp, history) = Mlp::fit(xf.view(), &yf, k, validation, &p, on_progress)?;
        Ok(MlpModel { mlp, history })
    }
}
