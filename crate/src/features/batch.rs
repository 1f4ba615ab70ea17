//! Many clips at once, in parallel (rayon), with a progress callback.
//!
//! Every worker thread uses its own cached [`FeatureExtractor`](super::FeatureExtractor),
//! so plans are built once per thread. The callback receives
//! [`Progress::Items`] of [`Stage::Features`] as clips finish (in completion order,
//! from any thread); a CLI can forward it to a progress bar.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array2;
use rayon::prelude::*;

use super::clip::{clip_vector_with, ClipVectorParams};
use super::frames::{frame_features_with, FrameFeatureParams};
use crate::audio::Audio;
use crate::error::Result;
use crate::progress::{Progress, ProgressFn, Stage};

/// Map `f` over `items` in parallel, reporting progress.
fn par_map<T: Sync, R: Send>(
    items: &[T],
    progress: ProgressFn<'_>,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let done = AtomicUsize::new(0);
    let total = items.len();
    items
        .par_iter()
        .map(|item| {
            let r = f(item);
            progress(Progress::Items {
                stage: Stage::Features,
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total,
            });
            r
        })
        .collect()
}

/// Clip vectors of many clips in parallel: one row per clip, in input order.
/// Fails with the first error in input order (use [`clip_vectors_from_files`] to
/// keep going past bad files).
///
/// ```
/// use speaker_similarity::{Audio, features::{clip_vectors_par, ClipVectorParams}};
/// # fn main() -> speaker_similarity::Result<()> {
/// let clips: Vec<Audio> = (1..4)
///     .map(|k| Audio::new((0..8000).map(|i| (i as f32 * 0.01 * k as f32).sin()).collect(), 16000))
///     .collect::<Result<_, _>>()?;
/// let x = clip_vectors_par(&clips, &ClipVectorParams::default(), &|_| {})?;
/// assert_eq!(x.dim(), (3, 52));
/// # Ok(())
/// # }
/// ```
pub fn clip_vectors_par(
    audios: &[Audio],
    params: &ClipVectorParams,
    progress: ProgressFn<'_>,
) -> Result<Array2<f32>> {
    params.validate()?;
    let rows = par_map(audios, progress, |a| clip_vector_with(a, params));
    let dim = params.dim();
    let mut out = Array2::zeros((rows.len(), dim));
    for (i, r) in rows.into_iter().enumerate() {
        let v = r?;
        for (o, x) in out.row_mut(i).iter_mut().zip(v) {
            *o = x;
        }
    }
    Ok(out)
}

/// Load and extract clip vectors of many files in parallel: one result per file,
/// in input order, so a caller can report and skip unreadable files.
pub fn clip_vectors_from_files<P: AsRef<Path> + Sync>(
    paths: &[P],
    params: &ClipVectorParams,
    progress: ProgressFn<'_>,
) -> Vec<Result<Vec<f32>>> {
    par_map(paths, progress, |p| {
        let audio = Audio::load(p.as_ref())?;
        clip_vector_with(&audio, params)
    })
}

/// Frame features of many clips in parallel, in input order. Fails with the first
/// error in input order.
pub fn frame_features_par(
    audios: &[Audio],
    params: &FrameFeatureParams,
    progress: ProgressFn<'_>,
) -> Result<Vec<Array2<f32>>> {
    params.validate()?;
    par_map(audios, progress, |a| frame_features_with(a, params))
        .into_iter()
        .collect()
}

/// Load and extract frame features of many files in parallel: one result per
/// file, in input order.
pub fn frame_features_from_files<P: AsRef<Path> + Sync>(
    paths: &[P],
    params: &FrameFeatureParams,
    progress: ProgressFn<'_>,
) -> Vec<Result<Array2<f32>>> {
    par_map(paths, progress, |p| {
        let audio = Audio::load(p.as_ref())?;
        frame_features_with(&audio, params)
    })
}
