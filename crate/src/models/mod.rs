//! Speaker models: Gaussian mixtures, the universal background model with MAP
//! adaptation, a multilayer perceptron, feature scaling and smartcore baselines.
//!
//! Every model takes features as an [`ndarray::ArrayView2<f32>`] whose rows are
//! samples (frames or clip vectors) and whose columns are feature dimensions.
//! Class labels are `usize` indices into a list of class names.
//!
//! - [`gmm`] — [`DiagGmm`], a diagonal-covariance Gaussian mixture fitted by EM.
//! - [`kmeans`] — k-means++ and Lloyd's algorithm, used to initialise EM.
//! - [`classifier`] — [`GmmClassifier`], one mixture per speaker.
//! - [`ubm`] — [`Ubm`], a universal background model, MAP adaptation of its means,
//!   log-likelihood-ratio scoring, supervectors and [`GmmUbmClassifier`].
//! - [`mlp`] — [`Mlp`], a dense neural network trained with Adam.
//! - [`scaler`] — [`StandardScaler`].
//! - [`baselines`] — smartcore classifiers for comparison.
//! - [`speaker`] — the one interface every pipeline model implements
//!   ([`SpeakerModel`], [`Trainable`]) and the table that registers them.

pub mod baselines;
pub mod classifier;
mod fastmath;
pub mod gmm;
pub mod kmeans;
pub mod mlp;
pub mod scaler;
pub mod speaker;
pub mod topc;
pub mod ubm;

pub use baselines::{Baseline, BaselineKind};
pub use classifier::GmmClassifier;
pub use gmm::{DiagGmm, GmmInit, GmmParams};
pub use mlp::{EpochLog, History, Mlp, MlpParams, Monitor};
pub use ubm::{GmmUbmClassifier, Ubm};

pub use scaler::StandardScaler;
pub use speaker::{
    ClipBatch, Enrolment, Hyperparams, ModelKind, ModelSettings, NoParams, ParamGuard, ScoreUnit,
    Scores, SpeakerEmbedding, SpeakerModel, Trainable, TrainedModel, TrainingSet, Valid,
};

use crate::error::{Error, Result};
use ndarray::ArrayView2;

/// Check that `x` has at least one row and one column and only finite values.
pub(crate) fn check_matrix(x: ArrayView2<f32>, what: &str) -> Result<()> {
    if x.ncols() == 0 {
        return Err(Error::shape(what, "at least one column", "0 columns"));
    }
    if x.nrows() == 0 {
        return Err(Error::too_short(what, 1.0, 0.0, "row"));
    }
    // Fast path: a contiguous buffer checked with a vectorisable loop.
    if let Some(sl) = x.as_slice() {
        if sl.iter().fold(true, |ok, v| ok & v.is_finite()) {
            return Ok(());
        }
    }
    if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: what.to_string(),
            index,
            value,
        });
    }
    Ok(())
}

/// Check that class labels fit `n_classes` and match `n_rows`.
pub(crate) fn check_labels(y: &[usize], n_rows: usize, n_classes: usize) -> Result<()> {
    if y.len() != n_rows {
        return Err(Error::shape(
            "labels",
            format_args!("one per row ({n_rows})"),
            y.len(),
        ));
    }
    if let Some(&bad) = y.iter().find(|&&c| c >= n_classes) {
        return Err(Error::param(
            "y",
            format!("label {bad} is out of range for {n_classes} classes"),
        ));
    }
    Ok(())
}
