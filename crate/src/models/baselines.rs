//! smartcore classifiers as baselines for comparison with the GMM and MLP:
//! a support vector classifier with an RBF kernel (one-vs-one), a random forest,
//! k-nearest neighbours and (multinomial) logistic regression, on clip vectors
//! (one row per utterance).
//!
//! Inputs are validated before they reach smartcore (at least two rows and two
//! classes, finite values, matching labels; for the SVC at least as many rows as
//! features, below which smartcore 0.7 panics), so no input makes it panic.
//! smartcore's SVC borrows its training data, so a [`Baseline`] of kind
//! [`BaselineKind::Svc`] keeps the data and fits at prediction time; a loaded
//! baseline (see [`crate::persist`]) is refitted, deterministically, on first use.
//!
//! Defaults: SVC `C = 1`, `γ = 1 / (n_features · var(x))` (scikit-learn's
//! `gamma="scale"`); random forest 100 trees, seed 0; KNN `k = 5` (scikit-learn's)
//! capped at the training size; logistic regression smartcore's defaults.

use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
use smartcore::svm::svc::{MultiClassSVC, SVCParameters};
use smartcore::svm::Kernels;
use std::sync::OnceLock;

/// Which baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaselineKind {
    /// Support vector classifier, RBF kernel, one-vs-one.
    Svc,
    /// Random forest (100 trees).
    RandomForest,
    /// k-nearest neighbours (k = 5).
    Knn,
    /// Logistic regression.
    LogisticRegression,
}

type Dm = DenseMatrix<f64>;
type Knn = KNNClassifier<f64, i32, Dm, Vec<i32>, Euclidian<f64>>;

/// A fitted smartcore SVC. smartcore keeps its kernel as a `Box<dyn Kernel>` without
/// `Send`/`Sync` bounds, so the compiler cannot see that the fitted model is safe to
/// share; the only kernel built here is `Kernels::RBF { gamma }`, a plain enum of
/// `f64`s whose `apply` takes `&self` and mutates nothing, and everything else the
/// model holds (support vectors, weights, biases, class pairs) is plain data never
/// mutated after `fit`.
struct SharedSvc(MultiClassSVC<'static, f64, i32, Dm, Vec<i32>>);

// SAFETY: see `SharedSvc`: after fitting, the model and the leaked parameters it
// borrows are immutable plain data (the RBF kernel has no interior mutability), so
// moving it across threads and reading it from several at once is sound.
unsafe impl Send for SharedSvc {}
// SAFETY: as above.
unsafe impl Sync for SharedSvc {}

enum Fitted {
    Rf(Box<RandomForestClassifier<f64, i32, Dm, Vec<i32>>>),
    Knn(Box<Knn>),
    Lr(Box<LogisticRegression<f64, i32, Dm, Vec<i32>>>),
    Svc(Box<SharedSvc>),
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fitted")
    }
}

/// A fitted smartcore baseline classifier.
#[derive(Debug, Serialize, Deserialize)]
pub struct Baseline {
    kind: BaselineKind,
    n_classes: usize,
    x: Array2<f64>,
    y: Vec<i32>,
    #[serde(skip)]
    fitted: OnceLock<Fitted>,
}

impl Clone for Baseline {
    fn clone(&self) -> Self {
        Baseline {
            kind: self.kind,
            n_classes: self.n_classes,
            x: self.x.clone(),
            y: self.y.clone(),
            fitted: OnceLock::new(),
        }
    }
}

fn dense(x: &Array2<f64>) -> Result<Dm> {
    let (n, d) = x.dim();
    DenseMatrix::new(n, d, x.iter().copied().collect(), false)
        .map_err(|e| Error::Training(format!("smartcore matrix: {e}")))
}

fn failed(kind: BaselineKind, e: impl std::fmt::Display) -> Error {
    Error::Training(format!("{kind:?}: {e}"))
}

impl Baseline {
    /// Fit a baseline on rows `x` with labels `y` (class indices).
    pub fn fit(kind: BaselineKind, x: ArrayView2<f32>, y: &[usize]) -> Result<Baseline> {
        super::check_matrix(x, "baseline training data")?;
        let n_classes = y.iter().max().map_or(0, |m| m + 1);
        super::check_labels(y, x.nrows(), n_classes.max(1))?;
        let mut present = vec![false; n_classes];
        for &c in y {
            present[c] = true;
        }
        if present.iter().filter(|&&p| p).count() < 2 {
            return Err(Error::TooShort {
                reason: "a baseline needs rows of at least two classes".into(),
            });
        }
        // smartcore 0.7's SVC panics at prediction when it was trained on fewer
        // rows than features (support vectors of the wrong length).
        if kind == BaselineKind::Svc && x.nrows() < x.ncols() {
            return Err(Error::TooShort {
                reason: format!(
                    "smartcore's SVC needs at least as many rows as features ({} rows, {} features)",
                    x.nrows(),
                    x.ncols()
                ),
            });
        }
        if n_classes > i32::MAX as usize {
            return Err(Error::param("y", "too many classes"));
        }
        let b = Baseline {
            kind,
            n_classes,
            x: x.mapv(f64::from),
            y: y.iter().map(|&c| c as i32).collect(),
            fitted: OnceLock::new(),
        };
        b.fitted()?;
        Ok(b)
    }

    fn fitted(&self) -> Result<&Fitted> {
        if let Some(f) = self.fitted.get() {
            return Ok(f);
        }
        let xm = dense(&self.x)?;
        let f = match self.kind {
            BaselineKind::RandomForest => Fitted::Rf(Box::new(
                RandomForestClassifier::fit(
                    &xm,
                    &self.y,
                    RandomForestClassifierParameters::default(),
                )
                .map_err(|e| failed(self.kind, e))?,
            )),
            BaselineKind::Knn => {
                let k = 5.min(self.x.nrows());
                Fitted::Knn(Box::new(
                    KNNClassifier::fit(&xm, &self.y, KNNClassifierParameters::default().with_k(k))
                        .map_err(|e| failed(self.kind, e))?,
                ))
            }
            BaselineKind::LogisticRegression => Fitted::Lr(Box::new(
                LogisticRegression::fit(&xm, &self.y, LogisticRegressionParameters::default())
                    .map_err(|e| failed(self.kind, e))?,
            )),
            BaselineKind::Svc => {
                // smartcore's MultiClassSVC borrows its training data and parameters
                // for as long as it lives, so a fitted one cannot sit beside its data
                // in this struct. The data and parameters are leaked instead, once per
                // fitted SVC (a few hundred KB; a process fits a handful), so that
                // prediction does not refit — fitting costs seconds on dsp34.
                let x: &'static Dm = Box::leak(Box::new(xm));
                let y: &'static Vec<i32> = Box::leak(Box::new(self.y.clone()));
                let params: &'static SVCParameters<f64, i32, Dm, Vec<i32>> = Box::leak(Box::new(
                    SVCParameters::default()
                        .with_c(1.0)
                        .with_kernel(Kernels::rbf().with_gamma(self.gamma()))
                        .with_seed(Some(0)),
                ));
                Fitted::Svc(Box::new(SharedSvc(
                    MultiClassSVC::fit(x, y, params).map_err(|e| failed(self.kind, e))?,
                )))
            }
        };
        let _ = self.fitted.set(f);
        self.fitted
            .get()
            .ok_or_else(|| Error::Training("baseline state lost".into()))
    }

    fn gamma(&self) -> f64 {
        let n = self.x.len() as f64;
        let mean = self.x.sum() / n;
        let var = self.x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        if var > 0.0 {
            1.0 / (self.x.ncols() as f64 * var)
        } else {
            1.0
        }
    }

    /// Predicted class of every row.
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        super::check_matrix(x, "baseline input")?;
        if x.ncols() != self.x.ncols() {
            return Err(Error::Shape(format!(
                "the baseline was trained on {} columns, the data has {}",
                self.x.ncols(),
                x.ncols()
            )));
        }
        let xm = dense(&x.mapv(f64::from))?;
        let labels: Vec<i64> = match self.fitted()? {
            Fitted::Rf(m) => m
                .predict(&xm)
                .map_err(|e| failed(self.kind, e))?
                .into_iter()
                .map(i64::from)
                .collect(),
            Fitted::Knn(m) => m
                .predict(&xm)
                .map_err(|e| failed(self.kind, e))?
                .into_iter()
                .map(i64::from)
                .collect(),
            Fitted::Lr(m) => m
                .predict(&xm)
                .map_err(|e| failed(self.kind, e))?
                .into_iter()
                .map(i64::from)
                .collect(),
            Fitted::Svc(m) => {
                m.0.predict(&xm)
                    .map_err(|e| failed(self.kind, e))?
                    .into_iter()
                    .map(|v| v.round() as i64)
                    .collect()
            }
        };
        labels
            .into_iter()
            .map(|l| {
                usize::try_from(l)
                    .ok()
                    .filter(|&c| c < self.n_classes)
                    .ok_or_else(|| failed(self.kind, format!("predicted an unknown label {l}")))
            })
            .collect()
    }

    /// The kind of baseline.
    pub fn kind(&self) -> BaselineKind {
        self.kind
    }

    /// Check the stored training data (used on loaded baselines).
    pub fn validate(&self) -> Result<()> {
        if self.x.nrows() != self.y.len()
            || self.x.nrows() < 2
            || self.x.ncols() == 0
            || (self.kind == BaselineKind::Svc && self.x.nrows() < self.x.ncols())
        {
            return Err(Error::Shape(
                "baseline training data and labels disagree".into(),
            ));
        }
        if self.x.iter().any(|v| !v.is_finite()) {
            return Err(Error::param("x", "non-finite training value"));
        }
        if self
            .y
            .iter()
            .any(|&c| c < 0 || c as usize >= self.n_classes)
        {
            return Err(Error::param("y", "label out of range"));
        }
        Ok(())
    }
}
