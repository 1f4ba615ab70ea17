//! `speaker-similarity merge`: join the shard directories `train --shard K/N` wrote
//! into one model directory.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use speaker_similarity::pipeline::{self, ShardModels};

use super::train::{check_destination, warn_left_out};
use super::CmdResult;
use crate::progress::EvalProgress;

/// Arguments of `merge`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory to write (created; an earlier model directory is replaced
    /// whole, in one step).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    /// The shard directories, one per shard K/N of one split (any order).
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// Print a JSON summary instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Run `merge`.
pub fn run(a: Args) -> CmdResult {
    let t = Instant::now();
    check_destination(&a.out, pipeline::MODELS_FILE, "model")?;
    let mut shards = Vec::with_capacity(a.shards.len());
    for dir in &a.shards {
        let s = ShardModels::load(dir)?;
        if !a.json {
            println!(
                "shard {}/{}: {} speakers, {} clips ({})",
                s.shard_index,
                s.shard_count,
                s.speakers.len(),
                s.clips.len(),
                dir.display()
            );
        }
        shards.push(s);
    }
    let progress = EvalProgress::new(false);
    let m = ShardModels::merge(&shards, &|p| progress.on(p))?;
    drop(shards);
    warn_left_out(&m.unusable, &m.skipped);
    let names = |k: &[pipeline::ModelKind]| k.iter().map(|k| k.name()).collect::<Vec<_>>();
    let clips: usize = m.models.clip_counts.iter().sum();
    let summary = json!({
        "speakers": m.models.speakers.len(),
        "train_clips": clips,
        "models": names(&m.models.kinds()),
        "merge": {
            "shards": a.shards.len(),
            "joined": names(&m.joined),
            "retrained": names(&m.retrained),
            "retrained_from": format!("the {clips} clip vectors stored in the shards"),
            "left_out": m.models.skipped_models.iter()
                .map(|(k, why)| json!({ "model": k.name(), "reason": why }))
                .collect::<Vec<_>>(),
            "notes": m.notes,
        },
    });
    let summary_json = serde_json::to_string_pretty(&summary)?;
    m.models
        .save_with(&a.out, &[("evaluation.json", summary_json.as_bytes())])?;
    let seconds = t.elapsed().as_secs_f64();
    if a.json {
        return super::print_json(&json!({
            "model_dir": a.out, "summary": summary, "seconds": seconds,
        }));
    }
    println!(
        "joined from the shards' per-speaker parts: {}",
        list(&names(&m.joined))
    );
    println!(
        "retrained after the merge, from the {clips} clip vectors stored in the shards: {} \
         (and the clip-vector embedding's standardiser)",
        list(&names(&m.retrained))
    );
    for (k, why) in &m.models.skipped_models {
        println!("left out: {k}: {why}");
    }
    for n in &m.notes {
        println!("note: {n}");
    }
    println!(
        "\nsaved {} model(s) for {} speakers to {} in {seconds:.1} s",
        m.models.kinds().len(),
        m.models.speakers.len(),
        a.out.display()
    );
    Ok(())
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
