//! `knn`: baseline, 5 nearest neighbours (Euclidean), on standardised clip vectors.

use crate::models::BaselineKind;

baseline_model!(KnnModel, BaselineKind::Knn, "The k-nearest-neighbours baseline.");
