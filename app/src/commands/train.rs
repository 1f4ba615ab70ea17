//! `speaker-similarity train`: train every model on a data set and save them.

use std::path::{Path, PathBuf};

use serde_json::json;
use speaker_similarity::dataset::Dataset;
use speaker_similarity::pipeline::{self, SpeakerModels, ValidParams};

use super::evaluate::{print_report, to_json, SplitArgs};
use super::CmdResult;
use crate::data::DataArgs;
use crate::progress::EvalProgress;

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
    // The summary goes in with the models, in one step: a kill at any moment
    // leaves the old model directory or the new one, each whole.
    let mut summary = summary;
    summary["open_set"] = super::identify::calibration_json(&models);
    let summary_json = serde_json::to_string_pretty(&summary)?;
    models.save_with(&a.out, &[("evaluation.json", summary_json.as_bytes())])?;
    if a.json {
        return super::print_json(&json!({ "model_dir": a.out, "summary": summary }));
    }
    println!(
        "\nsaved {} model(s) for {} speakers to {}",
        models.kinds().len(),
        models.speakers.len(),
        a.out.display()
    );
    super::identify::print_calibration(&models);
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

/// Train on every clip of the data set, streaming (frames are never all held).
fn train_all(
    data: &Dataset,
    params: &ValidParams,
    progress: &EvalProgress,
) -> speaker_similarity::Result<SpeakerModels> {
    let all: Vec<usize> = (0..data.len()).collect();
    let t = pipeline::train_dataset(data, &all, params, &|p| progress.on(p))?;
    for (_, path, e) in t.unusable.iter().take(10) {
        eprintln!("warning: skipped {}: {e}", path.display());
    }
    if t.unusable.len() > 10 {
        eprintln!(
            "warning: ... and {} more unusable clips",
            t.unusable.len() - 10
        );
    }
    for s in &t.skipped {
        eprintln!(
            "warning: speaker {} has {} usable clip(s); left out",
            s.speaker, s.clips
        );
    }
    Ok(t.models)
}
