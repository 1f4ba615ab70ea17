//! `speaker-similarity train`: train every model on a data set and save them.

use std::path::{Path, PathBuf};

use serde_json::json;
use speaker_similarity::dataset::Dataset;
use speaker_similarity::pipeline::{self, PipelineParams, SpeakerModels};

use super::evaluate::{print_report, to_json, SplitArgs};
use super::CmdResult;
use crate::data::DataArgs;
use crate::progress::{bar, EvalProgress};

/// Arguments of `train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Model directory to write (created; an earlier model directory is replaced).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Train on every clip (no held-out test part, so no accuracy report).
    #[arg(long)]
    pub all: bool,
    /// Print a JSON summary instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Run `train`.
pub fn run(a: Args) -> CmdResult {
    let (split, params) = a.split.params()?;
    // Refuse a bad destination before spending minutes on training.
    check_destination(&a.out)?;
    let (data, what) = a.data.open()?;
    if !a.json {
        println!("data: {what}");
    }
    let progress = EvalProgress::new(false);
    let (models, summary) = if a.all {
        let models = train_all(&data, &params, &progress)?;
        let summary = json!({
            "speakers": models.speakers.len(),
            "train_clips": models.clip_counts.iter().sum::<usize>(),
            "models": models.kinds().iter().map(|k| k.name()).collect::<Vec<_>>(),
        });
        (models, summary)
    } else {
        let mut e = pipeline::evaluate(&data, &split, &params, &|ev| progress.on(ev))?;
        if !a.json {
            print_report(&e, false);
        }
        let models = *e.trained.take().ok_or("evaluation kept no models")?;
        (models, to_json(&e))
    };
    models.save(&a.out)?;
    super::write_file_atomic(
        &a.out.join("evaluation.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    if a.json {
        return super::print_json(&json!({ "model_dir": a.out, "summary": summary }));
    }
    println!(
        "\nsaved {} model(s) for {} speakers to {}",
        models.kinds().len(),
        models.speakers.len(),
        a.out.display()
    );
    Ok(())
}

/// Fail early when `out` cannot become a model directory.
fn check_destination(out: &Path) -> CmdResult {
    if out.exists() && !out.is_dir() {
        return Err(format!("{}: exists and is not a directory", out.display()).into());
    }
    if out.is_dir()
        && !out.join(pipeline::MODELS_FILE).exists()
        && std::fs::read_dir(out)?.next().is_some()
    {
        return Err(format!(
            "{}: a non-empty directory that is not a model directory; choose a new one",
            out.display()
        )
        .into());
    }
    Ok(())
}

/// Train on every clip of the data set.
fn train_all(
    data: &Dataset,
    params: &PipelineParams,
    progress: &EvalProgress,
) -> speaker_similarity::Result<SpeakerModels> {
    let all: Vec<usize> = (0..data.len()).collect();
    let pb = bar(all.len() as u64, "features");
    let (features, failed) =
        pipeline::extract_dataset(data, &all, params, &|done, _| pb.set_position(done as u64));
    pb.finish_and_clear();
    for (i, e) in failed.iter().take(10) {
        eprintln!("warning: skipped {}: {e}", data.clips[*i].path.display());
    }
    if failed.len() > 10 {
        eprintln!("warning: ... and {} more unusable clips", failed.len() - 10);
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (i, _) in &features {
        *counts.entry(data.clips[*i].speaker.clone()).or_default() += 1;
    }
    let speakers: Vec<String> = counts
        .iter()
        .filter(|(s, &n)| {
            if n < 2 {
                eprintln!("warning: speaker {s} has {n} usable clip(s); left out");
            }
            n >= 2
        })
        .map(|(s, _)| s.clone())
        .collect();
    let mut f = Vec::new();
    let mut y = Vec::new();
    let mut clips = Vec::new();
    for (i, feat) in features {
        if let Ok(c) = speakers.binary_search(&data.clips[i].speaker) {
            f.push(feat);
            y.push(c);
            clips.push(i);
        }
    }
    // With the robustness methods of `params` (augmented copies, narrowband models).
    pipeline::train_robust(
        data,
        &clips,
        &f,
        &y,
        speakers,
        data.names.clone(),
        params,
        &mut |e| progress.on_train(e),
    )
}
