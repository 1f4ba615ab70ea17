//! `logistic`: baseline, multinomial logistic regression, on standardised clip vectors.

use crate::models::BaselineKind;

baseline_model!(LogisticModel, BaselineKind::LogisticRegression, "The logistic regression baseline.");
