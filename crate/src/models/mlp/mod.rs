//! A multilayer perceptron (dense neural network) classifier, as the original
//! project's Keras model: dense layers with ReLU and dropout, a softmax output,
//! sparse categorical cross-entropy, Adam, mini-batches, early stopping.
//!
//! **Forward pass.** Each hidden layer computes `h = ReLU(x W + b)`; during
//! training, *dropout* zeroes each unit with probability `rate` (and scales the
//! survivors by `1/(1 − rate)`) so the network cannot rely on any single unit.
//! The output layer's scores go through *softmax* to give class probabilities.
//!
//! **Loss and backward pass.** The loss is the cross-entropy `−log p(true class)`
//! averaged over a mini-batch; backpropagation applies the chain rule layer by
//! layer to get the gradient of the loss with respect to every weight.
//!
//! **Adam** keeps running averages of each gradient and of its square and steps
//! every weight by `lr · m̂ / (√v̂ + ε)`, with Keras' defaults
//! (`lr = 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-7`).
//!
//! **Early stopping** watches the validation accuracy after every epoch, stops
//! after `patience` epochs without improvement and restores the best weights.
//!
//! Everything is `f32`; a mini-batch step is a handful of matrix products into
//! preallocated buffers.
//!
//! ```
//! use ndarray::Array2;
//! use speaker_similarity::models::{Mlp, MlpParams};
//! let x = Array2::from_shape_fn((40, 2), |(i, j)| (i % 2) as f32 * 4.0 + j as f32 * 0.1);
//! let y: Vec<usize> = (0..40).map(|i| i % 2).collect();
//! let params = MlpParams { hidden: vec![8], epochs: 30, ..MlpParams::default() };
//! let (mlp, history) = Mlp::fit(x.view(), &y, 2, None, &params, &|_| {}).unwrap();
//! assert_eq!(mlp.predict(x.view()).unwrap(), y);
//! assert_eq!(history.loss.len(), 30);
//! ```

mod kernels;
pub mod layers;

use crate::error::{Error, Result};
use crate::models::scaler::StandardScaler;
pub use layers::WeightInit;
use layers::{argmax_view, softmax_ce_inplace, softmax_row, Dense};
use ndarray::{s, Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

use crate::models::speaker::ModelKind;
use crate::progress::{Progress, ProgressFn};

/// Gradients of one dense layer: (∂L/∂W, ∂L/∂b).
pub type LayerGrads = (Array2<f32>, Array1<f32>);

/// Which quantity early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Monitor {
    /// Validation accuracy (higher is better; the original's choice).
    ValAccuracy,
    /// Validation loss (lower is better; Keras' default).
    ValLoss,
}

/// Hyperparameters of [`Mlp::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpParams {
    /// Hidden layer widths. Default `[256, 128]` (ours: smaller and faster than
    /// the original's `[100, 200, 200, 200]`, see [`MlpParams::original`]).
    pub hidden: Vec<usize>,
    /// Dropout rate after every hidden layer, in `[0, 1)`. Default 0.3 (the
    /// original's).
    pub dropout: f32,
    /// Mini-batch size. Default 32 (Keras' default; the original used 16).
    pub batch_size: usize,
    /// Maximum number of epochs. Default 200.
    pub epochs: usize,
    /// Adam learning rate. Default 1e-3 (Keras').
    pub learning_rate: f32,
    /// Adam β₁. Default 0.9 (Keras').
    pub beta1: f32,
    /// Adam β₂. Default 0.999 (Keras').
    pub beta2: f32,
    /// Adam ε. Default 1e-7 (Keras').
    pub epsilon: f32,
    /// Early-stopping patience in epochs; `None` trains all epochs. Needs
    /// validation data. Default `Some(30)`.
    pub patience: Option<usize>,
    /// What early stopping watches. Default [`Monitor::ValAccuracy`] (the
    /// original's).
    pub monitor: Monitor,
    /// Restore the weights of the best monitored epoch at the end. Default true.
    pub restore_best_weights: bool,
    /// Standardise inputs with a [`StandardScaler`] fitted on the training set
    /// (stored in the model and applied at prediction). Default true; the
    /// original fed raw features (set false to reproduce that).
    pub standardize: bool,
    /// Weight initialisation. Default [`WeightInit::GlorotUniform`] (Keras').
    pub init: WeightInit,
    /// Seed for initialisation, shuffling and dropout. Default 0.
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden: vec![256, 128],
            dropout: 0.3,
            batch_size: 32,
            epochs: 200,
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            patience: Some(30),
            monitor: Monitor::ValAccuracy,
            restore_best_weights: true,
            standardize: true,
            init: WeightInit::GlorotUniform,
            seed: 0,
        }
    }
}

impl MlpParams {
    /// The original project's network: hidden `[100, 200, 200, 200]`, dropout
    /// 0.3, batch 16, 250 epochs, early stopping on validation accuracy with
    /// patience 50 (here with best-weight restore), Adam with Keras defaults.
    /// Inputs are standardised (set `standardize = false` for the original's raw
    /// features).
    pub fn original() -> Self {
        MlpParams {
            hidden: vec![100, 200, 200, 200],
            dropout: 0.3,
            batch_size: 16,
            epochs: 250,
            patience: Some(50),
            ..MlpParams::default()
        }
    }

    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if self.hidden.contains(&0) {
            return Err(Error::param(
                "hidden",
                "every hidden layer needs at least one unit",
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::param(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(Error::param("epochs", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::param("learning_rate", "must be finite and > 0"));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::param(name, format!("must be in [0, 1), got {b}")));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(Error::param("epsilon", "must be finite and > 0"));
        }
        if self.patience == Some(0) {
            return Err(Error::param("patience", "must be at least 1 (or None)"));
        }
        Ok(())
    }
}

/// Metrics of one epoch, in [`Progress::Epoch`] of [`Mlp::fit`] and given to the
/// callback of [`Mlp::fit_until`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (with dropout, as Keras).
    pub loss: f32,
    /// Training accuracy over the epoch's batches.
    pub accuracy: f32,
    /// Validation loss after the epoch.
    pub val_loss: Option<f32>,
    /// Validation accuracy after the epoch.
    pub val_accuracy: Option<f32>,
}

/// Per-epoch metrics of a training run (Keras' `History.history`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Training loss per epoch.
    pub loss: Vec<f32>,
    /// Training accuracy per epoch.
    pub accuracy: Vec<f32>,
    /// Validation loss per epoch (empty without validation data).
    pub val_loss: Vec<f32>,
    /// Validation accuracy per epoch (empty without validation data).
    pub val_accuracy: Vec<f32>,
    /// The best monitored epoch (from 1), when early stopping ran.
    pub best_epoch: Option<usize>,
    /// Whether training stopped before `epochs` (patience ran out or the callback
    /// returned false).
    pub stopped_early: bool,
}

/// A trained multilayer perceptron.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    layers: Vec<Dense>,
    dropout: f32,
    scaler: Option<StandardScaler>,
}

/// SplitMix64, a small fast generator for dropout masks (seeded from `StdRng`).
struct SplitMix(u64);
impl SplitMix {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Preallocated training buffers.
struct Work {
    xb: Array2<f32>,
    bits: Vec<u32>,
    idx: Vec<u32>,
    val: Vec<f32>,
    yb: Vec<usize>,
    acts: Vec<Array2<f32>>,
    grads: Vec<Array2<f32>>,
    gw: Vec<Array2<f32>>,
    gb: Vec<Array1<f32>>,
    mw: Vec<Array2<f32>>,
    vw: Vec<Array2<f32>>,
    mb: Vec<Array1<f32>>,
    vb: Vec<Array1<f32>>,
}

impl Work {
    fn new(layers: &[Dense], hidden: &[usize], sizes: &[usize], bs: usize) -> Work {
        let widest = sizes.iter().copied().max().unwrap_or(0).max(bs);
        Work {
            xb: Array2::zeros((bs, sizes[0])),
            bits: vec![0; bs * hidden.iter().copied().max().unwrap_or(0)],
            idx: vec![0; widest],
            val: vec![0.0; widest],
            yb: vec![0; bs],
            acts: hidden.iter().map(|&h| Array2::zeros((bs, h))).collect(),
            grads: sizes[1..].iter().map(|&h| Array2::zeros((bs, h))).collect(),
            gw: layers
                .iter()
                .map(|l| Array2::zeros(l.weights.dim()))
                .collect(),
            gb: layers.iter().map(|l| Array1::zeros(l.n_out())).collect(),
            mw: layers
                .iter()
                .map(|l| Array2::zeros(l.weights.dim()))
                .collect(),
            vw: layers
                .iter()
                .map(|l| Array2::zeros(l.weights.dim()))
                .collect(),
            mb: layers.iter().map(|l| Array1::zeros(l.n_out())).collect(),
            vb: layers.iter().map(|l| Array1::zeros(l.n_out())).collect(),
        }
    }
}

const CONTIGUOUS: &str = "training buffers and weights are owned standard-layout arrays";

impl Mlp {
    /// Train a network on `x` (rows = samples) with class indices `y` in
    /// `0..n_classes`. `validation` enables validation metrics and early stopping.
    /// `on_progress` receives a [`Progress::Epoch`] after every epoch.
    pub fn fit(
        x: ArrayView2<f32>,
        y: &[usize],
        n_classes: usize,
        validation: Option<(ArrayView2<f32>, &[usize])>,
        params: &MlpParams,
        on_progress: ProgressFn<'_>,
    ) -> Result<(Mlp, History)> {
        Self::fit_until(x, y, n_classes, validation, params, &mut |log| {
            on_progress(Progress::Epoch(ModelKind::Mlp, log.clone()));
            true
        })
    }

    /// [`Mlp::fit`] that the caller can stop: `keep_going` is called after every
    /// epoch with its metrics, and training stops (keeping the history so far, with
    /// `stopped_early` set) when it returns `false`.
    pub fn fit_until(
        x: ArrayView2<f32>,
        y: &[usize],
        n_classes: usize,
        validation: Option<(ArrayView2<f32>, &[usize])>,
        params: &MlpParams,
        keep_going: &mut dyn FnMut(&EpochLog) -> bool,
    ) -> Result<(Mlp, History)> {
        params.validate()?;
        super::check_matrix(x, "MLP training data")?;
        if n_classes < 2 {
            return Err(Error::param(
                "n_classes",
                format!("need at least 2 classes, got {n_classes}"),
            ));
        }
        super::check_labels(y, x.nrows(), n_classes)?;
        if let Some((vx, vy)) = validation {
            super::check_matrix(vx, "MLP validation data")?;
            if vx.ncols() != x.ncols() {
                return Err(Error::shape(
                    "validation data columns",
                    x.ncols(),
                    vx.ncols(),
                ));
            }
            super::check_labels(vy, vx.nrows(), n_classes)?;
        }
        let mut rng = StdRng::seed_from_u64(params.seed);
        let scaler = if params.standardize {
            Some(StandardScaler::fit(x)?)
        } else {
            None
        };
        let xs = match &scaler {
            Some(s) => s.transform(x)?,
            None => x.to_owned(),
        };
        let mut sizes = vec![x.ncols()];
        sizes.extend(&params.hidden);
        sizes.push(n_classes);
        let mut layers = Vec::with_capacity(sizes.len() - 1);
        for w in sizes.windows(2) {
            layers.push(Dense::new(w[0], w[1], params.init, &mut rng)?);
        }
        let mut mlp = Mlp {
            layers,
            dropout: params.dropout,
            scaler,
        };
        let bs = params.batch_size.min(x.nrows());
        let nl = mlp.layers.len();
        let mut work = Work::new(&mlp.layers, &params.hidden, &sizes, bs);
        let mut history = History::default();
        let mut order: Vec<usize> = (0..x.nrows()).collect();
        let mut drop_rng = SplitMix(rng.random());
        let mut step: i32 = 0;
        let mut best: Option<(f32, usize, Vec<Dense>)> = None;
        let mut wait = 0usize;
        let early = params.patience.filter(|_| validation.is_some());
        for epoch in 1..=params.epochs {
            order.shuffle(&mut rng);
            let mut loss_sum = 0.0f64;
            let mut correct = 0usize;
            for chunk in order.chunks(bs) {
                step += 1;
                let (l, c) = mlp.train_step(&xs, y, chunk, &mut work, params, step, &mut drop_rng);
                loss_sum += f64::from(l);
                correct += c;
            }
            let n = x.nrows() as f32;
            let mut log = EpochLog {
                epoch,
                loss: (loss_sum / f64::from(n)) as f32,
                accuracy: correct as f32 / n,
                val_loss: None,
                val_accuracy: None,
            };
            if !log.loss.is_finite() {
                return Err(Error::training(
                    "mlp",
                    format_args!("the training loss became {} at epoch {epoch}", log.loss),
                ));
            }
            history.loss.push(log.loss);
            history.accuracy.push(log.accuracy);
            if let Some((vx, vy)) = validation {
                let (vl, va) = mlp.evaluate(vx, vy)?;
                log.val_loss = Some(vl);
                log.val_accuracy = Some(va);
                history.val_loss.push(vl);
                history.val_accuracy.push(va);
            }
            let mut stop = !keep_going(&log);
            if let Some(patience) = early {
                let current = match params.monitor {
                    Monitor::ValAccuracy => log.val_accuracy.unwrap_or(0.0),
                    Monitor::ValLoss => -log.val_loss.unwrap_or(f32::INFINITY),
                };
                let improved = best.as_ref().is_none_or(|b| current > b.0);
                if improved {
                    let snapshot = if params.restore_best_weights {
                        mlp.layers.clone()
                    } else {
                        Vec::new()
                    };
                    best = Some((current, epoch, snapshot));
                    wait = 0;
                } else {
                    wait += 1;
                    if wait >= patience {
                        stop = true;
                    }
                }
            }
            if stop {
                history.stopped_early = epoch < params.epochs;
                break;
            }
        }
        if let Some((_, epoch, weights)) = best {
            history.best_epoch = Some(epoch);
            if params.restore_best_weights && weights.len() == nl {
                mlp.layers = weights;
            }
        }
        Ok((mlp, history))
    }

    /// One mini-batch: forward, backward, Adam. Returns (summed loss, correct).
    #[allow(clippy::too_many_arguments)]
    fn train_step(
        &mut self,
        xs: &Array2<f32>,
        y: &[usize],
        idx: &[usize],
        w: &mut Work,
        p: &MlpParams,
        step: i32,
        drop_rng: &mut SplitMix,
    ) -> (f32, usize) {
        let (loss, correct) = self.forward_backward(xs, y, idx, w, drop_rng);
        let nl = self.layers.len();
        // Adam (Keras / TF ResourceApplyAdam form).
        let h = kernels::AdamStep {
            lr_t: p.learning_rate * (1.0 - p.beta2.powi(step)).sqrt() / (1.0 - p.beta1.powi(step)),
            beta1: p.beta1,
            beta2: p.beta2,
            epsilon: p.epsilon,
        };
        for l in 0..nl {
            let layer = &mut self.layers[l];
            kernels::adam(
                layer.weights.as_slice_mut().expect(CONTIGUOUS),
                w.gw[l].as_slice().expect(CONTIGUOUS),
                w.mw[l].as_slice_mut().expect(CONTIGUOUS),
                w.vw[l].as_slice_mut().expect(CONTIGUOUS),
                &h,
            );
            kernels::adam(
                layer.bias.as_slice_mut().expect(CONTIGUOUS),
                w.gb[l].as_slice().expect(CONTIGUOUS),
                w.mb[l].as_slice_mut().expect(CONTIGUOUS),
                w.vb[l].as_slice_mut().expect(CONTIGUOUS),
                &h,
            );
        }
        (loss, correct)
    }

    /// Forward and backward pass of the mini-batch `idx` (rows of the scaled
    /// `xs`), leaving the parameter gradients in `w.gw`, `w.gb`. Returns
    /// (summed loss, correct).
    fn forward_backward(
        &self,
        xs: &Array2<f32>,
        y: &[usize],
        idx: &[usize],
        w: &mut Work,
        drop_rng: &mut SplitMix,
    ) -> (f32, usize) {
        let b = idx.len();
        let nl = self.layers.len();
        for (r, &i) in idx.iter().enumerate() {
            w.xb.row_mut(r).assign(&xs.row(i));
            w.yb[r] = y[i];
        }
        let rate = self.dropout;
        let scale = 1.0 / (1.0 - rate);
        // Drop a unit when its 32 random bits fall below rate · 2³².
        let thr = (f64::from(rate) * 4_294_967_296.0).min(4_294_967_295.0) as u32;
        // Forward.
        for l in 0..nl {
            let layer = &self.layers[l];
            let k = layer.n_in();
            let n = layer.n_out();
            let wts = layer.weights.as_slice().expect(CONTIGUOUS);
            let bias = layer.bias.as_slice().expect(CONTIGUOUS);
            let (prev, cur) = w.acts.split_at_mut(l.min(nl - 1));
            let input: &[f32] = if l == 0 {
                &w.xb.as_slice().expect(CONTIGUOUS)[..b * k]
            } else {
                &prev[l - 1].as_slice().expect(CONTIGUOUS)[..b * k]
            };
            if l < nl - 1 {
                let out = &mut cur[0].as_slice_mut().expect(CONTIGUOUS)[..b * n];
                kernels::forward(input, k, wts, bias, out, &mut w.idx, &mut w.val);
                // ReLU and dropout.
                if rate > 0.0 {
                    let bits = &mut w.bits[..b * n];
                    for pair in bits.chunks_mut(2) {
                        let r = drop_rng.next();
                        pair[0] = r as u32;
                        if let Some(second) = pair.get_mut(1) {
                            *second = (r >> 32) as u32;
                        }
                    }
                    for (v, &r) in out.iter_mut().zip(bits.iter()) {
                        *v = if r >= thr && *v > 0.0 {
                            *v * scale
                        } else {
                            0.0
                        };
                    }
                } else {
                    for v in out.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
            } else {
                let out = &mut w.grads[l].as_slice_mut().expect(CONTIGUOUS)[..b * n];
                kernels::forward(input, k, wts, bias, out, &mut w.idx, &mut w.val);
            }
        }
        // Loss and output gradient (in place in grads[nl-1]).
        let (loss, correct) =
            softmax_ce_inplace(w.grads[nl - 1].slice_mut(s![..b, ..]), &w.yb[..b]);
        // Backward.
        for l in (0..nl).rev() {
            let layer = &self.layers[l];
            let k = layer.n_in();
            let n = layer.n_out();
            let input: &[f32] = if l == 0 {
                &w.xb.as_slice().expect(CONTIGUOUS)[..b * k]
            } else {
                &w.acts[l - 1].as_slice().expect(CONTIGUOUS)[..b * k]
            };
            let (lo, hi) = w.grads.split_at_mut(l);
            let g = &hi[0].as_slice().expect(CONTIGUOUS)[..b * n];
            kernels::backward_params(
                input,
                k,
                g,
                w.gw[l].as_slice_mut().expect(CONTIGUOUS),
                w.gb[l].as_slice_mut().expect(CONTIGUOUS),
                &mut w.idx,
                &mut w.val,
            );
            if l > 0 {
                kernels::backward_input(
                    g,
                    n,
                    layer.weights.as_slice().expect(CONTIGUOUS),
                    input,
                    scale,
                    &mut lo[l - 1].as_slice_mut().expect(CONTIGUOUS)[..b * k],
                    &mut w.idx,
                    &mut w.val,
                );
            }
        }
        (loss, correct)
    }

    /// Mean cross-entropy loss of the rows `x` (raw features; the model's scaler
    /// is applied) and its gradient with respect to every layer's weights and
    /// bias, computed by the training code path with dropout off. For gradient
    /// checks and teaching.
    pub fn loss_and_gradients(
        &self,
        x: ArrayView2<f32>,
        y: &[usize],
    ) -> Result<(f32, Vec<LayerGrads>)> {
        self.check_input(x)?;
        super::check_labels(y, x.nrows(), self.n_classes())?;
        let xs = self.scaled(x)?.into_owned();
        let no_dropout = Mlp {
            dropout: 0.0,
            ..self.clone()
        };
        let bs = x.nrows();
        let mut sizes = vec![self.n_features()];
        sizes.extend(self.layers.iter().map(Dense::n_out));
        let hidden = &sizes[1..sizes.len() - 1];
        let mut work = Work::new(&self.layers, hidden, &sizes, bs);
        let idx: Vec<usize> = (0..bs).collect();
        let (loss, _) = no_dropout.forward_backward(&xs, y, &idx, &mut work, &mut SplitMix(0));
        let grads = work.gw.into_iter().zip(work.gb).collect();
        Ok((loss / bs as f32, grads))
    }

    /// Logits of already-scaled inputs, in inference mode (no dropout).
    fn logits_scaled(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut a = x.to_owned();
        let nl = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let mut out = Array2::zeros((a.nrows(), layer.n_out()));
            layer.forward_into(a.view(), out.view_mut());
            if l < nl - 1 {
                out.mapv_inplace(|v| v.max(0.0));
            }
            a = out;
        }
        a
    }

    fn check_input(&self, x: ArrayView2<f32>) -> Result<()> {
        super::check_matrix(x, "MLP input")?;
        if x.ncols() != self.n_features() {
            return Err(Error::shape(
                "network input features",
                self.n_features(),
                x.ncols(),
            ));
        }
        Ok(())
    }

    fn scaled<'a>(&self, x: ArrayView2<'a, f32>) -> Result<std::borrow::Cow<'a, Array2<f32>>> {
        Ok(match &self.scaler {
            Some(s) => std::borrow::Cow::Owned(s.transform(x)?),
            None => std::borrow::Cow::Owned(x.to_owned()),
        })
    }

    /// Class probabilities (rows × classes).
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.check_input(x)?;
        let xs = self.scaled(x)?;
        let mut z = self.logits_scaled(xs.view());
        for mut row in z.outer_iter_mut() {
            softmax_row(row.as_slice_mut().expect("owned rows are contiguous"));
        }
        Ok(z)
    }

    /// The most probable class of every row.
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        let p = self.predict_proba(x)?;
        Ok(p.outer_iter().map(argmax_view).collect())
    }

    /// Mean cross-entropy loss and accuracy on labelled data (Keras' `evaluate`).
    pub fn evaluate(&self, x: ArrayView2<f32>, y: &[usize]) -> Result<(f32, f32)> {
        self.check_input(x)?;
        super::check_labels(y, x.nrows(), self.n_classes())?;
        let xs = self.scaled(x)?;
        let mut z = self.logits_scaled(xs.view());
        let (loss, correct) = softmax_ce_inplace(z.view_mut(), y);
        let n = x.nrows() as f32;
        Ok((loss / n, correct as f32 / n))
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.layers[0].n_in()
    }
    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.layers[self.layers.len() - 1].n_out()
    }
    /// The dense layers, input to output.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }
    /// The input scaler, when inputs are standardised.
    pub fn scaler(&self) -> Option<&StandardScaler> {
        self.scaler.as_ref()
    }
    /// The dropout rate used in training.
    pub fn dropout(&self) -> f32 {
        self.dropout
    }
    /// Total trainable parameters.
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(Dense::n_params).sum()
    }

    /// Build a network from layers (validated), e.g. for tests.
    pub fn from_parts(
        layers: Vec<Dense>,
        dropout: f32,
        scaler: Option<StandardScaler>,
    ) -> Result<Self> {
        let m = Mlp {
            layers,
            dropout,
            scaler,
        };
        m.validate()?;
        Ok(m)
    }

    /// Check that layer shapes chain, values are finite and the scaler fits
    /// (used on networks loaded from files).
    pub fn validate(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::shape("network layers", "at least one", 0));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.n_in() == 0 || l.n_out() == 0 || l.bias.len() != l.n_out() {
                return Err(Error::shape(
                    format!("layer {i} (weights, bias)"),
                    "non-empty weights and one bias per output",
                    format_args!("{:?}, {}", l.weights.dim(), l.bias.len()),
                ));
            }
            if i > 0 && self.layers[i - 1].n_out() != l.n_in() {
                return Err(Error::shape(
                    format!("layer {i} inputs"),
                    format_args!(
                        "the {} outputs of layer {}",
                        self.layers[i - 1].n_out(),
                        i - 1
                    ),
                    l.n_in(),
                ));
            }
            if l.weights
                .iter()
                .chain(l.bias.iter())
                .any(|v| !v.is_finite())
            {
                return Err(Error::param(
                    "weights",
                    format!("layer {i} holds a non-finite value"),
                ));
            }
        }
        if self.n_classes() < 2 {
            return Err(Error::shape(
                "output layer classes",
                "at least 2",
                self.n_classes(),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::param("dropout", "must be in [0, 1)"));
        }
        if let Some(s) = &self.scaler {
            s.validate()?;
            if s.n_features() != self.n_features() {
                return Err(Error::shape(
                    "scaler features",
                    self.n_features(),
                    s.n_features(),
                ));
            }
        }
        Ok(())
    }

    /// A Keras-style summary table: one row per layer (`dense`, `activation`,
    /// `dropout`, as the original's `Sequential` model), output shapes and
    /// parameter counts.
    pub fn summary(&self) -> String {
        const WIDTH: usize = 65;
        let positions = [29usize, 55, 65];
        let row = |fields: [&str; 3]| -> String {
            let mut line = String::new();
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    line.pop();
                    line.push(' ');
                }
                line.push_str(f);
                line = line.chars().take(positions[i]).collect();
                while line.chars().count() < positions[i] {
                    line.push(' ');
                }
            }
            line
        };
        let name = |base: &str, i: usize| {
            if i == 0 {
                base.to_string()
            } else {
                format!("{base}_{i}")
            }
        };
        let mut rows: Vec<[String; 3]> = Vec::new();
        let (mut nd, mut na, mut ndr) = (0, 0, 0);
        let nl = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let shape = format!("(None, {})", layer.n_out());
            rows.push([
                format!("{} (Dense)", name("dense", nd)),
                shape.clone(),
                layer.n_params().to_string(),
            ]);
            nd += 1;
            rows.push([
                format!("{} (Activation)", name("activation", na)),
                shape.clone(),
                "0".into(),
            ]);
            na += 1;
            if l < nl - 1 && self.dropout > 0.0 {
                rows.push([
                    format!("{} (Dropout)", name("dropout", ndr)),
                    shape,
                    "0".into(),
                ]);
                ndr += 1;
            }
        }
        let total = self.n_params();
        let mut out = String::new();
        let _ = writeln!(out, "Model: \"sequential\"");
        let _ = writeln!(out, "{}", "_".repeat(WIDTH));
        let _ = writeln!(out, "{}", row(["Layer (type)", "Output Shape", "Param #"]));
        let _ = writeln!(out, "{}", "=".repeat(WIDTH));
        for (i, r) in rows.iter().enumerate() {
            let _ = writeln!(out, "{}", row([&r[0], &r[1], &r[2]]));
            let sep = if i + 1 == rows.len() { "=" } else { "_" };
            let _ = writeln!(out, "{}", sep.repeat(WIDTH));
        }
        let _ = writeln!(out, "Total params: {}", thousands(total));
        let _ = writeln!(out, "Trainable params: {}", thousands(total));
        let _ = writeln!(out, "Non-trainable params: 0");
        let _ = write!(out, "{}", "_".repeat(WIDTH));
        out
    }
}

/// `113739` → `113,739`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
