//! `svm`: baseline, RBF-kernel support vector classifier (C = 1, gamma "scale"), one-vs-one, on standardised clip vectors.

use crate::models::BaselineKind;

baseline_model!(SvmModel, BaselineKind::Svc, "The RBF support vector classifier baseline.");
