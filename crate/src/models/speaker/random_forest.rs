//! `random-forest`: baseline, random forest of 100 trees, on standardised clip vectors.

use crate::models::BaselineKind;

baseline_model!(RandomForestModel, BaselineKind::RandomForest, "The random forest baseline.");
