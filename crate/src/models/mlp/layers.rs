//! The building blocks of [`Mlp`](super::Mlp): a dense (fully connected) layer,
//! the ReLU activation, (inverted) dropout and the softmax output with sparse
//! categorical cross-entropy — each with its forward pass and its backward pass
//! (the gradient of the loss with respect to the layer's input and parameters,
//! by the chain rule). The training loop uses the in-place kernels; the
//! allocating functions here wrap the same kernels and serve the gradient-check
//! tests and the tutorial.

use crate::error::{Error, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rand::Rng;
use rand_distr::{Distribution, Uniform};
use serde::{Deserialize, Serialize};

/// How dense-layer weights are initialised (biases start at zero, as in Keras).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightInit {
    /// Keras' default `glorot_uniform`: `U(−l, l)` with `l = √(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// `he_uniform`: `U(−l, l)` with `l = √(6 / fan_in)`, suited to ReLU layers.
    HeUniform,
}

/// A dense layer `y = x W + b` with `W` of shape (inputs × outputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Weights (inputs × outputs).
    pub weights: Array2<f32>,
    /// Bias (outputs).
    pub bias: Array1<f32>,
}

/// Gradients of a [`Dense`] layer.
#[derive(Debug, Clone)]
pub struct DenseGrads {
    /// ∂L/∂W (inputs × outputs).
    pub weights: Array2<f32>,
    /// ∂L/∂b (outputs).
    pub bias: Array1<f32>,
    /// ∂L/∂x (rows × inputs).
    pub input: Array2<f32>,
}

impl Dense {
    /// A layer with seeded random weights and zero bias.
    pub fn new(n_in: usize, n_out: usize, init: WeightInit, rng: &mut impl Rng) -> Result<Self> {
        if n_in == 0 || n_out == 0 {
            return Err(Error::param(
                "layer size",
                "a dense layer needs at least one input and one output",
            ));
        }
        let limit = match init {
            WeightInit::GlorotUniform => (6.0 / (n_in + n_out) as f64).sqrt(),
            WeightInit::HeUniform => (6.0 / n_in as f64).sqrt(),
        } as f32;
        let dist =
            Uniform::new(-limit, limit).map_err(|e| Error::param("layer size", e.to_string()))?;
        let weights = Array2::from_shape_simple_fn((n_in, n_out), || dist.sample(rng));
        Ok(Dense {
            weights,
            bias: Array1::zeros(n_out),
        })
    }

    /// Number of inputs.
    pub fn n_in(&self) -> usize {
        self.weights.nrows()
    }
    /// Number of outputs.
    pub fn n_out(&self) -> usize {
        self.weights.ncols()
    }
    /// Number of trainable parameters (`in × out + out`).
    pub fn n_params(&self) -> usize {
        self.weights.len() + self.bias.len()
    }

    /// `x W + b`.
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.n_in() {
            return Err(Error::shape("dense layer inputs", self.n_in(), x.ncols()));
        }
        let mut out = Array2::zeros((x.nrows(), self.n_out()));
        self.forward_into(x, out.view_mut());
        Ok(out)
    }

    /// `out = x W + b` into a preallocated buffer.
    pub(crate) fn forward_into(&self, x: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) {
        out.assign(&self.bias.view().insert_axis(Axis(0)));
        general_mat_mul(1.0, &x, &self.weights, 1.0, &mut out);
    }

    /// Gradients given the layer input `x` and `∂L/∂y`.
    pub fn backward(&self, x: ArrayView2<f32>, grad_out: ArrayView2<f32>) -> Result<DenseGrads> {
        if x.ncols() != self.n_in()
            || grad_out.ncols() != self.n_out()
            || x.nrows() != grad_out.nrows()
        {
            return Err(Error::shape(
                "dense backward (input rows, gradient shape)",
                format_args!("{:?}", (grad_out.nrows(), (x.nrows(), self.n_out()))),
                format_args!("{:?}", (x.nrows(), grad_out.dim())),
            ));
        }
        let mut gw = Array2::zeros(self.weights.dim());
        let mut gb = Array1::zeros(self.n_out());
        backward_params(x, grad_out, gw.view_mut(), &mut gb);
        let mut gi = Array2::zeros(x.dim());
        general_mat_mul(1.0, &grad_out, &self.weights.t(), 0.0, &mut gi);
        Ok(DenseGrads {
            weights: gw,
            bias: gb,
            input: gi,
        })
    }
}

/// `gw = xᵀ g`, `gb = Σ_rows g`.
pub(crate) fn backward_params(
    x: ArrayView2<f32>,
    g: ArrayView2<f32>,
    mut gw: ArrayViewMut2<f32>,
    gb: &mut Array1<f32>,
) {
    general_mat_mul(1.0, &x.t(), &g, 0.0, &mut gw);
    gb.fill(0.0);
    for row in g.outer_iter() {
        for (b, &v) in gb.iter_mut().zip(row) {
            *b += v;
        }
    }
}

/// ReLU, `max(0, x)`.
pub fn relu(x: ArrayView2<f32>) -> Array2<f32> {
    x.mapv(|v| v.max(0.0))
}

/// ReLU's backward pass: `∂L/∂x = ∂L/∂y` where `x > 0`, else 0.
pub fn relu_backward(x: ArrayView2<f32>, grad_out: ArrayView2<f32>) -> Array2<f32> {
    let mut g = grad_out.to_owned();
    g.zip_mut_with(&x, |g, &x| {
        if x <= 0.0 {
            *g = 0.0
        }
    });
    g
}

/// An inverted-dropout mask: each unit is kept with probability `1 − rate` and then
/// scaled by `1 / (1 − rate)` (as Keras), so no rescaling is needed at inference.
pub fn dropout_mask(rows: usize, cols: usize, rate: f32, rng: &mut impl Rng) -> Array2<f32> {
    let scale = 1.0 / (1.0 - rate);
    Array2::from_shape_simple_fn((rows, cols), || {
        if rng.random::<f32>() < rate {
            0.0
        } else {
            scale
        }
    })
}

/// Dropout forward with a given mask: `x ⊙ mask`.
pub fn dropout(x: ArrayView2<f32>, mask: ArrayView2<f32>) -> Array2<f32> {
    &x * &mask
}

/// Dropout backward with the same mask: `∂L/∂y ⊙ mask`.
pub fn dropout_backward(grad_out: ArrayView2<f32>, mask: ArrayView2<f32>) -> Array2<f32> {
    &grad_out * &mask
}

/// Row-wise softmax.
pub fn softmax(logits: ArrayView2<f32>) -> Array2<f32> {
    let mut p = logits.to_owned();
    for mut row in p.outer_iter_mut() {
        softmax_row(row.as_slice_mut().expect("owned rows are contiguous"));
    }
    p
}

#[inline]
pub(crate) fn softmax_row(row: &mut [f32]) -> f32 {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut s = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    let inv = 1.0 / s;
    for v in row.iter_mut() {
        *v *= inv;
    }
    m + s.ln()
}

/// Softmax followed by sparse categorical cross-entropy, fused: returns the mean
/// loss `−mean log softmax(z)[y]` and its gradient `(softmax(z) − onehot(y)) / n`.
pub fn softmax_cross_entropy(logits: ArrayView2<f32>, y: &[usize]) -> Result<(f32, Array2<f32>)> {
    super::super::check_labels(y, logits.nrows(), logits.ncols())?;
    let mut g = logits.to_owned();
    let (loss, _) = softmax_ce_inplace(g.view_mut(), y);
    Ok((loss / y.len().max(1) as f32, g))
}

/// In place: logits → gradient of the mean loss. Returns (summed loss, correct
/// predictions).
pub(crate) fn softmax_ce_inplace(mut z: ArrayViewMut2<f32>, y: &[usize]) -> (f32, usize) {
    let n = z.nrows();
    let inv_n = 1.0 / n.max(1) as f32;
    let mut loss = 0.0f32;
    let mut correct = 0;
    for (mut row, &t) in z.outer_iter_mut().zip(y) {
        let rs = row.as_slice_mut().expect("buffer rows are contiguous");
        let arg = argmax(rs);
        if arg == t {
            correct += 1;
        }
        let zt = rs[t];
        let lse = softmax_row(rs);
        loss += lse - zt;
        rs[t] -= 1.0;
        for v in rs.iter_mut() {
            *v *= inv_n;
        }
    }
    (loss, correct)
}

/// Index of the first maximum.
#[inline]
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Index of the first maximum of a view.
pub(crate) fn argmax_view(v: ArrayView1<f32>) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
