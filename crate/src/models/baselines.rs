//! smartcore classifiers as baselines for comparison with the GMM and MLP:
//! a support vector classifier with an RBF kernel (one-vs-one), a random forest,
//! k-nearest neighbours and (multinomial) logistic regression, on clip vectors
//! (one row per utterance).
//!
//! Inputs are validated before they reach smartcore (at least two rows and two
//! classes, finite values, matching labels; for the SVC at least as many rows as
//! features, below which smartcore 0.7 panics), so no input makes it panic.
//! A [`Baseline`] keeps its training data and fits once; its clones share the
//! fitted model (through an `Arc`), and a loaded baseline (see [`crate::persist`]) is
//! refitted, deterministically, on first use.
//!
//! smartcore 0.7's SVC borrows its training data and parameters for as long as it
//! lives, and its RBF kernel sits in a `Box<dyn Kernel>` without `Send`/`Sync`, so a
//! fitted SVC can neither sit beside its data in a struct nor cross threads. It lives
//! on a thread of its own instead, which owns data, parameters and model and answers
//! predictions over a channel; the handle is `Send + Sync` by the compiler's own
//! checks, and when the last handle is dropped the thread ends and frees everything.
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
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;

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

type Svc<'a> = MultiClassSVC<'a, f64, i32, Dm, Vec<i32>>;
/// A prediction request: the rows, and where to send smartcore's answer.
type SvcRequest = (Dm, mpsc::SyncSender<std::result::Result<Vec<f64>, String>>);

/// A fitted smartcore SVC on a thread of its own (see the module documentation):
/// the thread fits on data it owns, then answers prediction requests until the
/// request channel closes. Dropping the handle closes the channel and joins the
/// thread, so the model, its data and its parameters are freed with the handle.
struct SvcWorker {
    requests: Option<mpsc::Sender<SvcRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl SvcWorker {
    /// Fit on `x`, `y` (moved to the worker thread); returns once the fit is done.
    fn fit(x: Dm, y: Vec<i32>, gamma: f64) -> Result<SvcWorker> {
        let (requests, inbox) = mpsc::channel::<SvcRequest>();
        let (ready_tx, ready) = mpsc::sync_channel::<std::result::Result<(), String>>(1);
        let thread = std::thread::Builder::new()
            .name("smartcore-svc".into())
            .spawn(move || {
                let params = SVCParameters::default()
                    .with_c(1.0)
                    .with_kernel(Kernels::rbf().with_gamma(gamma))
                    .with_seed(Some(0));
                let svc: Svc<'_> = match MultiClassSVC::fit(&x, &y, &params) {
                    Ok(svc) => svc,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                for (rows, reply) in inbox {
                    let _ = reply.send(svc.predict(&rows).map_err(|e| e.to_string()));
                }
            })
            .map_err(|e| failed(BaselineKind::Svc, format!("cannot start its thread: {e}")))?;
        let worker = SvcWorker {
            requests: Some(requests),
            thread: Some(thread),
        };
        match ready.recv() {
            Ok(Ok(())) => Ok(worker),
            Ok(Err(e)) => Err(failed(BaselineKind::Svc, e)),
            Err(_) => Err(Self::stopped()),
        }
    }

    /// smartcore's predictions for `rows`.
    fn predict(&self, rows: Dm) -> Result<Vec<f64>> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.requests
            .as_ref()
            .ok_or_else(Self::stopped)?
            .send((rows, reply))
            .map_err(|_| Self::stopped())?;
        answer
            .recv()
            .map_err(|_| Self::stopped())?
            .map_err(|e| failed(BaselineKind::Svc, e))
    }

    fn stopped() -> Error {
        failed(
            BaselineKind::Svc,
            "the SVC thread stopped (smartcore panicked; see the message above)",
        )
    }
}

impl Drop for SvcWorker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining waits until it has
        // freed the model.
        drop(self.requests.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Fitted {
    Rf(Box<RandomForestClassifier<f64, i32, Dm, Vec<i32>>>),
    Knn(Box<Knn>),
    Lr(Box<LogisticRegression<f64, i32, Dm, Vec<i32>>>),
    Svc(SvcWorker),
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
    /// The fitted model, shared by clones; refitted on first use after loading.
    #[serde(skip)]
    fitted: OnceLock<Arc<Fitted>>,
}

impl Clone for Baseline {
    fn clone(&self) -> Self {
        let fitted = OnceLock::new();
        if let Some(f) = self.fitted.get() {
            let _ = fitted.set(Arc::clone(f));
        }
        Baseline {
            kind: self.kind,
            n_classes: self.n_classes,
            x: self.x.clone(),
            y: self.y.clone(),
            fitted,
        }
    }
}

fn dense(x: &Array2<f64>) -> Result<Dm> {
    let (n, d) = x.dim();
    DenseMatrix::new(n, d, x.iter().copied().collect(), false)
        .map_err(|e| Error::training("a smartcore baseline", format_args!("its matrix: {e}")))
}

fn failed(kind: BaselineKind, e: impl std::fmt::Display) -> Error {
    Error::training(format!("{kind:?}"), e)
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
            return Err(Error::too_short(
                "baseline training data",
                2.0,
                present.iter().filter(|&&p| p).count() as f64,
                "class",
            ));
        }
        // smartcore 0.7's SVC panics at prediction when it was trained on fewer
        // rows than features (support vectors of the wrong length).
        if kind == BaselineKind::Svc && x.nrows() < x.ncols() {
            return Err(Error::too_short(
                format!(
                    "smartcore's SVC, which needs as many rows as features ({}),",
                    x.ncols()
                ),
                x.ncols() as f64,
                x.nrows() as f64,
                "row",
            ));
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
            return Ok(&**f);
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
            BaselineKind::Svc => Fitted::Svc(SvcWorker::fit(xm, self.y.clone(), self.gamma())?),
        };
        // Two threads fitting at once both succeed; the loser's model is dropped
        // here (its worker thread joined), and both use the winner's.
        let _ = self.fitted.set(Arc::new(f));
        self.fitted
            .get()
            .map(|f| &**f)
            .ok_or_else(|| Error::training("a smartcore baseline", "its fitted state was lost"))
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
            return Err(Error::shape(
                "baseline input columns",
                self.x.ncols(),
                x.ncols(),
            ));
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
            Fitted::Svc(m) => m
                .predict(xm)?
                .into_iter()
                .map(|v| v.round() as i64)
                .collect(),
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
            return Err(Error::shape(
                "baseline labels",
                format_args!("one per training row ({})", self.x.nrows()),
                self.y.len(),
            ));
        }
        if self.x.iter().any(|v| !v.is_finite()) {
            return Err(Error::param("x", "non-finite training value"));
        }
        // `fit` stores `f32` data widened to `f64`: a larger value is damage, and
        // one near f64::MAX makes squared distances infinite, on which smartcore's
        // cover tree (built by the KNN baseline) recurses until the stack overflows.
        if self.x.iter().any(|v| v.abs() > f32::MAX as f64) {
            return Err(Error::param(
                "x",
                "training value outside the f32 range (a damaged model file)",
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_is_send_and_sync_by_the_compilers_checks() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Baseline>();
    }

    #[test]
    fn clones_share_the_fitted_svc_and_dropping_them_ends_its_thread() {
        let y: Vec<usize> = (0..12).map(|i| i % 2).collect();
        let x = Array2::from_shape_fn((12, 3), |(i, j)| {
            (if j == y[i] { 3.0 } else { 0.0 }) + (i % 4) as f32 * 0.1
        });
        let b = Baseline::fit(BaselineKind::Svc, x.view(), &y).unwrap();
        let c = b.clone();
        let (fb, fc) = (b.fitted.get().unwrap(), c.fitted.get().unwrap());
        assert!(Arc::ptr_eq(fb, fc), "a clone shares the fitted model");
        let weak = Arc::downgrade(fb);
        // Predictions from several threads at once, through the one worker.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert_eq!(c.predict(x.view()).unwrap(), y));
            }
        });
        drop(b);
        assert!(weak.upgrade().is_some(), "the clone still holds it");
        drop(c);
        assert!(weak.upgrade().is_none(), "the last clone frees it");
    }
}
