//! Features of a clip as the pipeline's models need them, extracted in parallel.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array2;
use rayon::prelude::*;

use super::params::PipelineParams;
use crate::audio::Audio;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::features::FeatureExtractor;

/// The features of one clip: its 52-dim clip vector (for the MLP, the clip-vector
/// GMMs and the baselines) and its frame matrix (rows = voiced frames, for the frame
/// GMMs, the UBM and the speaker embeddings).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipFeatures {
    /// The clip vector.
    pub clip: Vec<f32>,
    /// Frame features, one row per frame.
    pub frames: Array2<f32>,
}

/// Features of the clips that worked and errors of those that did not, each with
/// the clip's index in the data set.
pub type Extracted = (Vec<(usize, ClipFeatures)>, Vec<(usize, Error)>);

thread_local! {
    static EXTRACTOR: RefCell<FeatureExtractor> = RefCell::new(FeatureExtractor::new());
}

/// Peak level below which a recording counts as silent: -70 dBFS.
pub const SILENCE_PEAK: f32 = 3.162e-4;

/// Extract both kinds of features from one recording. A recording whose peak stays
/// below [`SILENCE_PEAK`] (-70 dBFS) is [`Error::NoSpeech`]: its "voice" would be
/// the noise floor of the converter.
pub fn extract(audio: &Audio, params: &PipelineParams) -> Result<ClipFeatures> {
    let peak = audio.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    if !audio.samples.is_empty() && peak < SILENCE_PEAK {
        return Err(Error::NoSpeech(format!(
            "the recording is silent (peak {:.1} dBFS, below -70 dBFS)",
            20.0 * (peak.max(1e-12) as f64).log10()
        )));
    }
    EXTRACTOR.with(|cell| {
        let mut ex = cell.borrow_mut();
        let clip = ex.clip_vector(audio, &params.clip)?;
        let frames = ex.frame_features(audio, &params.frames)?;
        Ok(ClipFeatures { clip, frames })
    })
}

/// Features of many clips of a data set, decoded and extracted in parallel on all
/// cores. Clips that cannot be read or are unusable (too short, silent, damaged) are
/// returned apart with their error instead of stopping the run. `on_progress(done,
/// total)` is called as clips finish, from worker threads.
pub fn extract_dataset(
    data: &Dataset,
    indices: &[usize],
    params: &PipelineParams,
    on_progress: &(dyn Fn(usize, usize) + Sync),
) -> Extracted {
    let done = AtomicUsize::new(0);
    let total = indices.len();
    let results: Vec<(usize, Result<ClipFeatures>)> = indices
        .par_iter()
        .map(|&i| {
            let r = data
                .clips
                .get(i)
                .ok_or_else(|| Error::param("indices", format!("no clip {i}")))
                .and_then(|clip| clip.load())
                .and_then(|audio| {
                    extract(&audio, params).map_err(|e| match e {
                        // Name the clip in feature errors, which do not know it.
                        Error::TooShort { reason } => Error::TooShort {
                            reason: format!("{}: {reason}", data.clips[i].path.display()),
                        },
                        other => other,
                    })
                });
            on_progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            (i, r)
        })
        .collect();
    let mut ok = Vec::with_capacity(results.len());
    let mut failed = Vec::new();
    for (i, r) in results {
        match r {
            Ok(f) => ok.push((i, f)),
            Err(e) => failed.push((i, e)),
        }
    }
    (ok, failed)
}
