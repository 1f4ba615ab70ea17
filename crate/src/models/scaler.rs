//! Standardisation of features to zero mean and unit variance, as scikit-learn's
//! `StandardScaler`.
//!
//! Features on very different scales (MFCC c0 in the hundreds, LPC coefficients
//! around 1, zero-crossing rates below 1) slow down or derail gradient descent: a
//! neural network learns faster on standardised inputs. `fit` learns each column's
//! mean and standard deviation (population, `ddof = 0`) on the training set;
//! `transform` applies `(x − mean) / scale` to any set. A column with zero variance
//! gets scale 1, as in scikit-learn.
//!
//! ```
//! use ndarray::array;
//! use speaker_similarity::models::StandardScaler;
//! let x = array![[1.0f32, 5.0], [3.0, 5.0]];
//! let s = StandardScaler::fit(x.view()).unwrap();
//! let z = s.transform(x.view()).unwrap();
//! assert_eq!(z, array![[-1.0f32, 0.0], [1.0, 0.0]]);
//! ```

use crate::error::{Error, Result};
use crate::models::kmeans::column_mean_var;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Per-column mean and scale learned from training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    mean: Array1<f64>,
    scale: Array1<f64>,
}

impl StandardScaler {
    /// Learn the mean and standard deviation of every column of `x`.
    pub fn fit(x: ArrayView2<f32>) -> Result<Self> {
        super::check_matrix(x, "scaler input")?;
        let (mean, var) = column_mean_var(x);
        // sklearn's _handle_zeros_in_scale: scales below 10 * eps become 1.
        let scale = var
            .iter()
            .map(|&v| {
                let s = v.sqrt();
                if s < 10.0 * f64::EPSILON {
                    1.0
                } else {
                    s
                }
            })
            .collect::<Vec<_>>();
        Ok(StandardScaler {
            mean: Array1::from(mean),
            scale: Array1::from(scale),
        })
    }

    /// A scaler from its parameters (validated).
    pub fn from_parts(mean: Array1<f64>, scale: Array1<f64>) -> Result<Self> {
        let s = StandardScaler { mean, scale };
        s.validate()?;
        Ok(s)
    }

    /// Check shapes and values (used on scalers loaded from files).
    pub fn validate(&self) -> Result<()> {
        if self.mean.is_empty() || self.mean.len() != self.scale.len() {
            return Err(Error::shape(
                "scaler scale values",
                self.mean.len(),
                self.scale.len(),
            ));
        }
        if self.mean.iter().any(|v| !v.is_finite()) {
            return Err(Error::param("mean", "every mean must be finite"));
        }
        if self.scale.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(Error::param("scale", "every scale must be finite and > 0"));
        }
        Ok(())
    }

    fn check(&self, x: ArrayView2<f32>) -> Result<()> {
        if x.ncols() != self.mean.len() {
            return Err(Error::shape(
                "columns for the scaler",
                self.mean.len(),
                x.ncols(),
            ));
        }
        Ok(())
    }

    /// `(x − mean) / scale`.
    pub fn transform(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.check(x)?;
        let mut out = x.to_owned();
        for mut row in out.rows_mut() {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = ((f64::from(*v) - m) / s) as f32;
            }
        }
        Ok(out)
    }

    /// `x · scale + mean`, the inverse of [`transform`](Self::transform).
    pub fn inverse_transform(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.check(x)?;
        let mut out = x.to_owned();
        for mut row in out.rows_mut() {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (f64::from(*v) * s + m) as f32;
            }
        }
        Ok(out)
    }

    /// Column means.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }
    /// Column scales (standard deviations, 1 for constant columns).
    pub fn scale(&self) -> &Array1<f64> {
        &self.scale
    }
    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }
}
