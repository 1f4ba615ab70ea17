//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared speech data sets (`fsdd/`, `dsp34/`): the first of
/// `$SPEAKER_SHARED_DATASETS`, `CARGO_MANIFEST_DIR/../../shared/datasets` and
/// `/work/shared/datasets` that exists. Panics with a clear message when none does:
/// tests that need real speech cannot run without it.
pub fn shared_datasets() -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("SPEAKER_SHARED_DATASETS") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    candidates.push(PathBuf::from("/work/shared/datasets"));
    for c in &candidates {
        if c.is_dir() {
            return c.clone();
        }
    }
    panic!(
        "shared speech data sets not found; looked in {candidates:?}. \
         Set SPEAKER_SHARED_DATASETS to the directory holding fsdd/ and dsp34/."
    );
}
