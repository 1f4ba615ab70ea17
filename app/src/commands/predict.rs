//! `speaker-similarity predict` and `similar`: use a trained model directory.

use std::path::PathBuf;

use serde_json::{json, Value};
use speaker_similarity::audio::Audio;
use speaker_similarity::pipeline::{ModelKind, Prediction, RecordingPrediction, SpeakerModels};

use super::CmdResult;

/// Arguments of `predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// Model directory written by `train`.
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Recording (WAV, FLAC, MP3, OGG).
    pub audio: PathBuf,
    /// Segment length in seconds (the original web app used 2).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub segment: f64,
    /// How many similar speakers to list per segment.
    #[arg(short, long, default_value_t = 3)]
    pub k: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `similar`.
#[derive(clap::Args, Debug)]
pub struct SimilarArgs {
    /// Model directory written by `train`.
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Recording (WAV, FLAC, MP3, OGG).
    pub audio: PathBuf,
    /// How many speakers to list.
    #[arg(short, long, default_value_t = 5)]
    pub k: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A prediction as JSON: the MLP's and the headline GMM's answers, every model's
/// guess, and the similar speakers.
pub fn prediction_json(models: &SpeakerModels, p: &Prediction) -> Value {
    let mlp = p
        .by(ModelKind::Mlp)
        .map(|g| json!({ "speaker": g.speaker, "name": g.name, "probability": g.score }));
    let gmm = models.headline_gmm().and_then(|k| p.by(k)).map(|g| {
        json!({ "model": g.model.name(), "speaker": g.speaker, "name": g.name, "score": g.score })
    });
    json!({
        "mlp": mlp,
        "gmm": gmm,
        "models": p.guesses.iter().map(|g| json!({
            "model": g.model.name(), "speaker": g.speaker, "name": g.name, "score": g.score
        })).collect::<Vec<_>>(),
        "similar": p.similar.iter().map(|s| json!({ "speaker": s.speaker, "score": s.score })).collect::<Vec<_>>(),
        "verdict": p.verdict.as_ref().map(super::identify::verdict_json),
    })
}

/// A whole recording's prediction as JSON: its duration, one entry per segment
/// (`start`, `end` and [`prediction_json`]'s fields, or `error` when the segment
/// could not be scored) and the verdict on the whole recording. `predict --json`
/// and the web API's `POST /api/predict` both answer with this shape.
pub fn recording_json(
    models: &SpeakerModels,
    r: &RecordingPrediction,
    segment_seconds: f64,
) -> Value {
    let segments: Vec<Value> = r
        .segments
        .iter()
        .map(|s| {
            let mut v = match &s.result {
                Ok(p) => prediction_json(models, p),
                Err(e) => json!({ "error": e }),
            };
            v["verdict"] = json!(s.verdict.as_ref().map(super::identify::verdict_json));
            v["start"] = json!(s.start);
            v["end"] = json!(s.end);
            v
        })
        .collect();
    json!({
        "duration": r.duration,
        "segment_seconds": segment_seconds,
        "segments": segments,
        "overall": prediction_json(models, &r.overall),
    })
}

fn short(p: &Prediction, models: &SpeakerModels) -> (String, String, String) {
    let mlp = p
        .by(ModelKind::Mlp)
        .map(|g| format!("{} ({:.2})", g.name, g.score.unwrap_or(0.0)))
        .unwrap_or_else(|| "-".into());
    let gmm = models
        .headline_gmm()
        .and_then(|k| p.by(k))
        .map(|g| g.name.clone())
        .unwrap_or_else(|| "-".into());
    let similar = p
        .similar
        .iter()
        .map(|s| format!("{} {:.2}", s.speaker, s.score))
        .collect::<Vec<_>>()
        .join(", ");
    (mlp, gmm, similar)
}

/// A verdict in one line: the speaker, or "unknown (closest: NAME)" / "no speech",
/// with the calibrated LLR and the threshold.
pub fn verdict_text(v: &speaker_similarity::calibration::Verdict) -> String {
    let what = match (&v.speaker, v.reason, &v.name) {
        (Some(_), _, Some(n)) => n.clone(),
        (Some(id), _, None) => id.clone(),
        (None, Some(r), Some(n)) => format!("{} (closest: {n})", r.as_str()),
        (None, Some(r), None) => r.as_str().to_string(),
        (None, None, _) => "unknown".into(),
    };
    match v.score {
        Some(s) => format!("{what}  (LLR {s:.2}, threshold {:.2})", v.threshold),
        None => what,
    }
}

/// Run `predict`.
pub fn run_predict(a: PredictArgs) -> CmdResult {
    if a.k == 0 {
        return Err("-k must be at least 1".into());
    }
    let models = SpeakerModels::load(&a.model)?;
    let audio = Audio::load(&a.audio)?;
    let r = models.predict_recording(&audio, a.segment, a.k)?;
    if a.json {
        let mut v = recording_json(&models, &r, a.segment);
        v["file"] = json!(a.audio);
        return super::print_json(&v);
    }
    let gmm_name = models.headline_gmm().map(|k| k.name()).unwrap_or("gmm");
    println!(
        "{}: {:.2} s, {} segment(s) of {} s",
        a.audio.display(),
        r.duration,
        r.segments.len(),
        a.segment
    );
    println!(
        "{:>13}  {:<28} {:<24} most similar",
        "time (s)",
        "MLP (probability)",
        format!("GMM ({gmm_name})")
    );
    for s in &r.segments {
        let time = format!("{:.1}-{:.1}", s.start, s.end);
        match &s.result {
            Ok(p) => {
                let (mlp, gmm, similar) = short(p, &models);
                println!("{time:>13}  {mlp:<28} {gmm:<24} {similar}");
            }
            Err(e) => println!("{time:>13}  not scored: {e}"),
        }
    }
    let (mlp, gmm, similar) = short(&r.overall, &models);
    println!("\nwhole recording: MLP {mlp}; GMM {gmm}\nsounds most like: {similar}");
    if let Some(v) = &r.overall.verdict {
        println!("verdict: {}", verdict_text(v));
    }
    Ok(())
}

/// Run `similar`.
pub fn run_similar(a: SimilarArgs) -> CmdResult {
    if a.k == 0 {
        return Err("-k must be at least 1".into());
    }
    let models = SpeakerModels::load(&a.model)?;
    let audio = Audio::load(&a.audio)?;
    // A narrowband recording is ranked by the narrowband models when trained.
    let (routed, f) = models.routed_features(&audio)?;
    let ranked = routed.most_similar(&f, a.k)?;
    let embedding = routed.embedding().name();
    let verdict = match &models.calibration {
        Some(_) => Some(models.verdict_audio(&audio, None)?),
        None => None,
    };
    if a.json {
        return super::print_json(&json!({
            "file": a.audio,
            "embedding": embedding,
            "similar": ranked.iter().map(|s| json!({ "speaker": s.speaker, "score": s.score })).collect::<Vec<_>>(),
            "verdict": verdict.as_ref().map(super::identify::verdict_json),
        }));
    }
    println!(
        "{} sounds most like ({} cosine similarity):",
        a.audio.display(),
        embedding
    );
    for (i, s) in ranked.iter().enumerate() {
        let bar = "#".repeat((s.score.max(0.0) * 40.0).round() as usize);
        println!("{:>3}. {:<28} {:>6.3}  {bar}", i + 1, s.speaker, s.score);
    }
    if let Some(v) = &verdict {
        println!("verdict: {}", verdict_text(v));
    }
    Ok(())
}
