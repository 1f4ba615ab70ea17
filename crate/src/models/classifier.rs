//! Speaker identification with one Gaussian mixture per speaker.
//!
//! Training fits a [`DiagGmm`] to each speaker's feature rows (in parallel over
//! speakers). To identify an utterance, every speaker model scores it and the
//! speaker with the highest log-likelihood wins. Two modes:
//!
//! - **frame mode** ([`GmmClassifier::predict_clips`]): an utterance is a matrix of
//!   frame features (e.g. MFCC + delta per frame); its log-likelihood is the sum
//!   over frames (frames taken as independent);
//! - **row mode** ([`GmmClassifier::predict_rows`]): every row is one utterance, as
//!   with the original project's 52-dimensional clip vectors.
//!
//! ```
//! use ndarray::Array2;
//! use speaker_similarity::models::{GmmClassifier, GmmParams};
//! // Two speakers whose frames sit around 0 and around 5.
//! let spk = |c: f32| Array2::from_shape_fn((60, 2), |(i, j)| c + ((i * 3 + j) % 7) as f32 / 7.0);
//! let (a, b) = (spk(0.0), spk(5.0));
//! let names = vec!["a".to_string(), "b".to_string()];
//! let params = GmmParams { n_components: 2, ..GmmParams::default() };
//! let clf = GmmClassifier::fit(&[a.view(), b.view()], &names, &params).unwrap();
//! assert_eq!(clf.predict_clips(&[b.view(), a.view()]).unwrap(), vec![1, 0]);
//! ```

use crate::error::{Error, Result};
use crate::models::gmm::{DiagGmm, GmmParams};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One [`DiagGmm`] per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmClassifier {
    names: Vec<String>,
    models: Vec<DiagGmm>,
}

pub(crate) fn check_names(names: &[String], n: usize) -> Result<()> {
    if names.len() != n {
        return Err(Error::shape("class names", n, names.len()));
    }
    if n < 2 {
        return Err(Error::param(
            "classes",
            format!("need at least 2 classes, got {n}"),
        ));
    }
    Ok(())
}

/// Rows of `x` grouped by label.
pub(crate) fn group_rows(
    x: ArrayView2<f32>,
    y: &[usize],
    n_classes: usize,
) -> Result<Vec<Array2<f32>>> {
    super::check_labels(y, x.nrows(), n_classes)?;
    (0..n_classes)
        .map(|c| {
            let idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
            Ok(x.select(Axis(0), &idx))
        })
        .collect()
}

/// Index of `name` in `names` for a removal that leaves at least two classes.
pub(crate) fn remove_index(names: &[String], name: &str) -> Result<usize> {
    let i = names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| Error::param("speaker", format!("{name:?} is not enrolled")))?;
    if names.len() <= 2 {
        return Err(Error::param(
            "speaker",
            format!("cannot remove {name:?}: a model needs at least 2 speakers"),
        ));
    }
    Ok(i)
}

pub(crate) fn argmax_rows(s: &Array2<f64>) -> Vec<usize> {
    s.outer_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (j, &v)| if v > b.1 { (j, v) } else { b },
                )
                .0
        })
        .collect()
}

impl GmmClassifier {
    /// Fit one mixture per class; `per_class[c]` holds class `c`'s rows (frames
    /// or clip vectors). Class `c` uses seed `params.seed + c`.
    pub fn fit(
        per_class: &[ArrayView2<f32>],
        names: &[String],
        params: &GmmParams,
    ) -> Result<Self> {
        params.validate()?;
        check_names(names, per_class.len())?;
        let models = per_class
            .par_iter()
            .enumerate()
            .map(|(c, x)| Self::fit_class(*x, c, names, params))
            .collect::<Result<Vec<_>>>()?;
        Self::from_models(names, models)
    }

    /// Fit the mixture of class `c` alone (seed `params.seed + c`, as
    /// [`fit`](Self::fit) does), for callers that visit the classes a few at a
    /// time; join them with [`from_models`](Self::from_models).
    pub fn fit_class(
        x: ArrayView2<f32>,
        c: usize,
        names: &[String],
        params: &GmmParams,
    ) -> Result<DiagGmm> {
        let p = GmmParams {
            seed: params.seed.wrapping_add(c as u64),
            ..params.clone()
        };
        DiagGmm::fit(x, &p).map_err(|e| {
            e.within(format_args!(
                "class `{}`",
                names.get(c).map(String::as_str).unwrap_or("?")
            ))
        })
    }

    /// A classifier from one fitted mixture per class (in class order).
    pub fn from_models(names: &[String], models: Vec<DiagGmm>) -> Result<Self> {
        check_names(names, models.len())?;
        let d = models[0].n_features();
        if models.iter().any(|m| m.n_features() != d) {
            return Err(Error::shape(
                "class models",
                "equal feature counts",
                "different ones",
            ));
        }
        Ok(GmmClassifier {
            names: names.to_vec(),
            models,
        })
    }

    /// Fit from rows and labels (`y[i]` in `0..names.len()`), grouping rows by
    /// class: the original project's set-up with one clip vector per row.
    pub fn fit_rows(
        x: ArrayView2<f32>,
        y: &[usize],
        names: &[String],
        params: &GmmParams,
    ) -> Result<Self> {
        let groups = group_rows(x, y, names.len())?;
        let views: Vec<ArrayView2<f32>> = groups.iter().map(|g| g.view()).collect();
        Self::fit(&views, names, params)
    }

    /// Summed frame log-likelihood of every utterance under every class model
    /// (utterances × classes).
    pub fn scores_clips(&self, clips: &[ArrayView2<f32>]) -> Result<Array2<f64>> {
        for c in clips {
            self.models[0].check_input(*c)?;
        }
        let cols: Vec<Vec<f64>> = self
            .models
            .par_iter()
            .map(|m| m.total_log_likelihoods_unchecked(clips))
            .collect();
        let mut out = Array2::zeros((clips.len(), cols.len()));
        for (j, c) in cols.iter().enumerate() {
            for (i, &v) in c.iter().enumerate() {
                out[[i, j]] = v;
            }
        }
        Ok(out)
    }

    /// The most likely class of every utterance (frame mode).
    pub fn predict_clips(&self, clips: &[ArrayView2<f32>]) -> Result<Vec<usize>> {
        Ok(argmax_rows(&self.scores_clips(clips)?))
    }

    /// Log-likelihood of every row under every class model (rows × classes).
    pub fn scores_rows(&self, x: ArrayView2<f32>) -> Result<Array2<f64>> {
        let cols = self
            .models
            .par_iter()
            .map(|m| m.score_samples(x))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Array2::zeros((x.nrows(), cols.len()));
        for (j, c) in cols.iter().enumerate() {
            out.column_mut(j).assign(c);
        }
        Ok(out)
    }

    /// The most likely class of every row (row mode: one row = one utterance).
    pub fn predict_rows(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        Ok(argmax_rows(&self.scores_rows(x)?))
    }

    /// Index of class `name`, if present.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Add class `name` with its fitted mixture as the last class, or replace the
    /// mixture of an existing class; every other class is left as it was.
    pub fn upsert(&mut self, name: &str, model: DiagGmm) -> Result<()> {
        if model.n_features() != self.models[0].n_features() {
            return Err(Error::shape(
                "the new class's features",
                self.models[0].n_features(),
                model.n_features(),
            ));
        }
        match self.index_of(name) {
            Some(i) => self.models[i] = model,
            None => {
                self.names.push(name.to_string());
                self.models.push(model);
            }
        }
        Ok(())
    }

    /// Drop class `name` (at least two classes must remain).
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let i = remove_index(&self.names, name)?;
        self.names.remove(i);
        self.models.remove(i);
        Ok(())
    }

    /// Class names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The per-class mixtures.
    pub fn models(&self) -> &[DiagGmm] {
        &self.models
    }

    /// Check names, models and feature counts (used on loaded models).
    pub fn validate(&self) -> Result<()> {
        check_names(&self.names, self.models.len())?;
        for m in &self.models {
            m.validate()?;
        }
        let d = self.models[0].n_features();
        if self.models.iter().any(|m| m.n_features() != d) {
            return Err(Error::shape(
                "class models",
                "equal feature counts",
                "different ones",
            ));
        }
        Ok(())
    }
}
