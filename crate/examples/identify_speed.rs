//! Identification speed: one query's open-set verdict against a trained model
//! directory, with the GMM-UBM scored top-C (the model's setting) and exactly (the
//! anchor: the same model with every component scored), in the same run.
//!
//! Run: `cargo run --release --example identify_speed -- MODEL_DIR QUERY.wav [REPEATS]`,
//! on one core with `taskset -c 0` and `RAYON_NUM_THREADS=1` (bench/identify_speed.sh
//! does all of it). Prints the seconds to load the model directory, to extract the
//! query's features, and, per scoring, the median of `REPEATS` (default 20) runs of:
//! the GMM-UBM scores against every speaker (what top-C changes), the query's
//! supervector, the verdict from the features (both, plus the calibration's score
//! normalisation) and the whole `identify` path from the decoded audio; the exact-over-top-C ratio; and whether
//! both name the same speaker. Loading is timed apart: it is paid once per process.

use std::time::Instant;

use speaker_similarity::audio::Audio;
use speaker_similarity::models::speaker::{
    ClipBatch, SpeakerEmbedding, SpeakerModel, TrainedModel,
};
use speaker_similarity::pipeline::{extract, SpeakerModels};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(
    repeats: usize,
    mut f: impl FnMut() -> speaker_similarity::Result<T>,
) -> speaker_similarity::Result<(f64, T)> {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        last = Some(f()?);
        times.push(t.elapsed().as_secs_f64());
    }
    Ok((median(times), last.expect("at least one repeat")))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: identify_speed MODEL_DIR QUERY.wav [REPEATS]".into());
    }
    let repeats: usize = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(20);
    let t = Instant::now();
    let top = SpeakerModels::load(&args[0])?;
    let t_load = t.elapsed().as_secs_f64();
    let m = top
        .gmm_ubm()
        .ok_or("the model directory has no gmm-ubm model")?;
    let top_c = m.classifier.top_c();
    let ubm = m.classifier.ubm().gmm();
    println!(
        "model: {} speakers, UBM {} components x {} features, top_c {:?}; loaded in {t_load:.3} s",
        top.speakers.len(),
        ubm.n_components(),
        ubm.n_features(),
        top_c
    );
    let mut exact = top.clone();
    for model in exact.models.iter_mut() {
        if let TrainedModel::GmmUbm(g) = model {
            g.classifier = g.classifier.clone().with_top_c(None)?;
        }
    }
    let audio = Audio::load(&args[1])?;
    let (t_feat, features) = time(repeats, || extract(&audio, &top.params))?;
    println!(
        "query: {:.2} s of audio, {} voiced frames; features in {:.2} ms",
        audio.duration(),
        features.frames.nrows(),
        t_feat * 1e3
    );
    println!(
        "{:>8} {:>14} {:>15} {:>11} {:>12} {:>9}",
        "scoring", "gmm_scores_ms", "supervector_ms", "verdict_ms", "identify_ms", "speaker"
    );
    let mut rows = Vec::new();
    for (name, models) in [("top-C", &top), ("exact", &exact)] {
        let g = models.gmm_ubm().ok_or("no gmm-ubm model")?;
        let batch = ClipBatch::new(std::slice::from_ref(&features))?;
        let (t_g, _) = time(repeats, || g.scores(&batch))?;
        let (t_sv, _) = time(repeats, || g.embed(&features))?;
        let (t_v, v) = time(repeats, || models.verdict(&features, None))?;
        let (t_id, _) = time(repeats, || models.verdict_audio(&audio, None))?;
        println!(
            "{name:>8} {:>14.2} {:>15.2} {:>11.2} {:>12.2} {:>9}",
            t_g * 1e3,
            t_sv * 1e3,
            t_v * 1e3,
            t_id * 1e3,
            v.closest.clone().unwrap_or_else(|| "-".into())
        );
        rows.push((t_v, t_id, v));
    }
    println!(
        "exact / top-C: verdict {:.1}x, identify {:.1}x; same closest speaker: {}; calibrated scores {:?} / {:?}",
        rows[1].0 / rows[0].0,
        rows[1].1 / rows[0].1,
        rows[0].2.closest == rows[1].2.closest,
        rows[0].2.score,
        rows[1].2.score,
    );
    Ok(())
}
