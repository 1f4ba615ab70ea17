//! Evaluation: accuracy, a classification report laid out exactly as
//! scikit-learn's `classification_report`, and a confusion matrix.
//!
//! For one class, *precision* is the fraction of clips predicted as that class
//! that truly are; *recall* the fraction of that class's clips that were found;
//! *F1* their harmonic mean; *support* the number of true clips. The *macro*
//! average weighs every class equally, the *weighted* average by support. A ratio
//! with a zero denominator is 0.0 (scikit-learn's default `zero_division="warn"`).
//!
//! ```
//! use speaker_similarity::eval::{accuracy, ClassificationReport};
//! let names = vec!["alice".to_string(), "bob".to_string()];
//! let (t, p) = ([0, 0, 1, 1], [0, 1, 1, 1]);
//! assert_eq!(accuracy(&t, &p).unwrap(), 0.75);
//! let report = ClassificationReport::new(&t, &p, &names).unwrap();
//! assert!(report.to_string().contains("    accuracy                           0.75         4"));
//! ```

use crate::error::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fmt;

fn check(y_true: &[usize], y_pred: &[usize]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::shape(
            "predictions",
            format_args!("one per true label ({})", y_true.len()),
            y_pred.len(),
        ));
    }
    if y_true.is_empty() {
        return Err(Error::too_short("evaluation", 1.0, 0.0, "label"));
    }
    Ok(())
}

/// Fraction of predictions equal to the true label.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check(y_true, y_pred)?;
    let ok = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    Ok(ok as f64 / y_true.len() as f64)
}

/// Precision, recall, F1 and support of one class (or an average).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// TP / (TP + FP), 0 when nothing was predicted as the class.
    pub precision: f64,
    /// TP / (TP + FN), 0 when the class has no true samples.
    pub recall: f64,
    /// 2·TP / (2·TP + FP + FN), 0 when the denominator is 0.
    pub f1: f64,
    /// Number of true samples.
    pub support: usize,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// scikit-learn's `classification_report`, numbers and text layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Class names, in label order.
    pub names: Vec<String>,
    /// Metrics per class.
    pub per_class: Vec<ClassMetrics>,
    /// Overall accuracy.
    pub accuracy: f64,
    /// Unweighted mean over classes.
    pub macro_avg: ClassMetrics,
    /// Support-weighted mean over classes.
    pub weighted_avg: ClassMetrics,
    /// Decimal digits in the text (scikit-learn's `digits`, default 2).
    pub digits: usize,
}

impl ClassificationReport {
    /// Report on labels `0..names.len()` (every class listed, as scikit-learn with
    /// `labels=range(len(names))`).
    pub fn new(y_true: &[usize], y_pred: &[usize], names: &[String]) -> Result<Self> {
        check(y_true, y_pred)?;
        let k = names.len();
        if k == 0 {
            return Err(Error::param("names", "need at least one class name"));
        }
        if let Some(&bad) = y_true.iter().chain(y_pred).find(|&&c| c >= k) {
            return Err(Error::param(
                "y",
                format!("label {bad} has no name ({k} names given)"),
            ));
        }
        // Per class: true positives, predictions and true samples (what the
        // confusion matrix's diagonal, column and row sums give, without its k² cells).
        let (mut hits, mut predicted, mut true_n) =
            (vec![0usize; k], vec![0usize; k], vec![0usize; k]);
        for (&t, &p) in y_true.iter().zip(y_pred) {
            true_n[t] += 1;
            predicted[p] += 1;
            if t == p {
                hits[t] += 1;
            }
        }
        let mut per_class = Vec::with_capacity(k);
        for c in 0..k {
            let tp = hits[c] as f64;
            let pred = predicted[c];
            let support = true_n[c];
            let fp = pred as f64 - tp;
            let fn_ = support as f64 - tp;
            per_class.push(ClassMetrics {
                precision: ratio(tp, pred as f64),
                recall: ratio(tp, support as f64),
                f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
                support,
            });
        }
        let total: usize = per_class.iter().map(|m| m.support).sum();
        let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
        let wmean = |f: fn(&ClassMetrics) -> f64| {
            ratio(
                per_class
                    .iter()
                    .map(|m| f(m) * m.support as f64)
                    .sum::<f64>(),
                total as f64,
            )
        };
        let macro_avg = ClassMetrics {
            precision: mean(|m| m.precision),
            recall: mean(|m| m.recall),
            f1: mean(|m| m.f1),
            support: total,
        };
        let weighted_avg = ClassMetrics {
            precision: wmean(|m| m.precision),
            recall: wmean(|m| m.recall),
            f1: wmean(|m| m.f1),
            support: total,
        };
        Ok(ClassificationReport {
            names: names.to_vec(),
            per_class,
            accuracy: accuracy(y_true, y_pred)?,
            macro_avg,
            weighted_avg,
            digits: 2,
        })
    }

    /// The same report printed with `digits` decimals.
    pub fn with_digits(mut self, digits: usize) -> Self {
        self.digits = digits;
        self
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits;
        let name_width = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        let w = name_width.max("weighted avg".len()).max(d);
        writeln!(
            f,
            "{:>w$}  {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, m: &ClassMetrics| {
            writeln!(
                f,
                "{:>w$}  {:>9.d$} {:>9.d$} {:>9.d$} {:>9}",
                name, m.precision, m.recall, m.f1, m.support
            )
        };
        for (name, m) in self.names.iter().zip(&self.per_class) {
            row(f, name, m)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:>w$}  {:>9} {:>9} {:>9.d$} {:>9}",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        )?;
        row(f, "macro avg", &self.macro_avg)?;
        row(f, "weighted avg", &self.weighted_avg)
    }
}

/// Counts of (true class, predicted class) pairs: row = true, column = predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class names.
    pub names: Vec<String>,
    /// `counts[[t, p]]` = samples of class `t` predicted as `p`.
    pub counts: Array2<usize>,
}

impl ConfusionMatrix {
    /// Count pairs for labels `0..names.len()` (scikit-learn's `confusion_matrix`).
    pub fn new(y_true: &[usize], y_pred: &[usize], names: &[String]) -> Result<Self> {
        check(y_true, y_pred)?;
        let k = names.len();
        let mut counts = Array2::<usize>::zeros((k, k));
        for (&t, &p) in y_true.iter().zip(y_pred) {
            if t >= k || p >= k {
                return Err(Error::param(
                    "y",
                    format!("label {} has no name ({k} names given)", t.max(p)),
                ));
            }
            counts[[t, p]] += 1;
        }
        Ok(ConfusionMatrix {
            names: names.to_vec(),
            counts,
        })
    }

    /// Rows normalised to sum to 1 (recall per class on the diagonal); a class
    /// without samples gives a row of zeros.
    pub fn normalized(&self) -> Array2<f64> {
        let mut out = self.counts.mapv(|c| c as f64);
        for mut row in out.rows_mut() {
            let s = row.sum();
            if s > 0.0 {
                row /= s;
            }
        }
        out
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        let cw = self
            .counts
            .iter()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(3);
        write!(f, "{:>w$}  ", "true \\ pred")?;
        for j in 0..self.names.len() {
            write!(f, " {:>cw$}", j)?;
        }
        writeln!(f)?;
        for (i, name) in self.names.iter().enumerate() {
            write!(f, "{:>w$}  ", name, w = w.max(11))?;
            for j in 0..self.names.len() {
                write!(f, " {:>cw$}", self.counts[[i, j]])?;
            }
            writeln!(f, "   ({i})")?;
        }
        Ok(())
    }
}
