//! The library's own view of some clips, as JSON: what `speaker-similarity export`
//! must have written for them (tests/test_export.py compares the two).
//!
//! Run: `cargo run -p speaker_similarity --example export_reference -- [--model DIR] CLIP...`
//!
//! Prints `{"clips": [{"path", "clip": [52], "frames": [[...], ...], "embedding":
//! [...] | null}, ...]}`: the clip vector and frame features from
//! `pipeline::extract` (with the model's settings, else the defaults) and, with
//! `--model`, the supervector embedding of the model's GMM-UBM
//! (`SpeakerEmbedding::embed`).

use serde_json::json;
use speaker_similarity::audio::Audio;
use speaker_similarity::models::speaker::ModelKind;
use speaker_similarity::pipeline::{self, PipelineParams, SpeakerModels};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let mut model = None;
    if args.peek().map(String::as_str) == Some("--model") {
        args.next();
        model = Some(SpeakerModels::load(
            args.next().ok_or("--model needs a directory")?,
        )?);
    }
    let params = match &model {
        Some(m) => m.params.clone(),
        None => PipelineParams::default().check()?,
    };
    let embedding = match &model {
        Some(m) => Some(
            m.get(ModelKind::GmmUbm)
                .and_then(|g| g.model().embedding())
                .ok_or("the model has no gmm-ubm")?,
        ),
        None => None,
    };
    let mut clips = Vec::new();
    for path in args {
        let audio = Audio::load(&path)?;
        let f = pipeline::extract(&audio, &params)?;
        let e = match embedding {
            Some(e) => Some(e.embed(&f)?.to_vec()),
            None => None,
        };
        let frames: Vec<Vec<f32>> = f.frames.rows().into_iter().map(|r| r.to_vec()).collect();
        clips.push(json!({ "path": path, "clip": f.clip, "frames": frames, "embedding": e }));
    }
    println!("{}", serde_json::to_string(&json!({ "clips": clips }))?);
    Ok(())
}
