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

/// Features of a small synthetic corpus of `speakers` x `clips`, extracted with the
/// default pipeline parameters: the corpus, each clip's features and label (index of
/// its speaker in the sorted ids), and the sorted speaker ids.
pub fn synth_features(
    speakers: usize,
    clips: usize,
) -> (
    speaker_similarity::dataset::Dataset,
    Vec<speaker_similarity::pipeline::ClipFeatures>,
    Vec<usize>,
    Vec<String>,
) {
    use speaker_similarity::pipeline::{extract_dataset, PipelineParams};
    use speaker_similarity::synth::{SynthCorpus, SynthParams};
    let data = SynthCorpus::generate(&SynthParams {
        speakers,
        clips_per_speaker: clips,
        ..SynthParams::default()
    })
    .unwrap();
    let all: Vec<usize> = (0..data.len()).collect();
    let (feats, failed) =
        extract_dataset(&data, &all, &PipelineParams::default(), &|_| {}).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    let ids = data.speakers();
    let labels = feats
        .iter()
        .map(|(i, _)| ids.binary_search(&data.clips[*i].speaker).unwrap())
        .collect();
    let feats = feats.into_iter().map(|(_, f)| f).collect();
    (data, feats, labels, ids)
}
