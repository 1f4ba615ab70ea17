//! `speaker-similarity train`: train every model on a data set and save them.

use std::path::{Path, PathBuf};

use serde_json::json;
use speaker_similarity::dataset::{Dataset, Shard};
use speaker_similarity::pipeline::{self, ShardModels, SharedUbm, SpeakerModels, ValidParams};

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
    /// Train only the universal background model, once, on a bounded sample of
    /// the whole data set (at most 50 000 frames, an equal share per speaker),
    /// into OUT (a UBM directory):
    /// the first step of sharded training. Then `--ubm OUT --shard K/N`.
    #[arg(long, conflicts_with_all = ["ubm", "shard"])]
    pub ubm_only: bool,
    /// UBM directory written by `train --ubm-only`: shards MAP-adapt their
    /// speakers from it, unchanged (goes with --shard).
    #[arg(long, value_name = "UBM_DIR", requires = "shard")]
    pub ubm: Option<PathBuf>,
    /// Do the per-speaker work of shard K of N only (K from 0 to N-1; the data
    /// set's speakers, sorted by id, are dealt round-robin) on every clip of its
    /// speakers, into OUT (a shard directory); join the N shards with `merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Print a JSON summary instead of the report.
    #[arg(long)]
    pub json: bool,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse::<Shard>().map_err(|e| e.to_string())
}

/// Run `train`.
pub fn run(a: Args) -> CmdResult {
    let (split, params) = a.split.params()?;
    // Refuse a bad destination before spending minutes on training.
    let (marker, kind) = if a.ubm_only {
        (pipeline::UBM_FILE, "UBM")
    } else if a.shard.is_some() {
        (pipeline::SHARD_FILE, "shard")
    } else {
        (pipeline::MODELS_FILE, "model")
    };
    check_destination(&a.out, marker, kind)?;
    // A bad UBM directory is refused before the data set is read, too.
    let ubm = a.ubm.as_ref().map(SharedUbm::load).transpose()?;
    let (data, what) = a.data.open()?;
    if !a.json {
        println!("data: {what}");
    }
    let progress = EvalProgress::new(false);
    if a.ubm_only {
        return train_ubm(&a, &data, &params, &progress);
    }
    if let Some(shard) = a.shard {
        return train_shard(&a, &data, shard, ubm.as_ref(), &params, &progress);
    }
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
    // Whether narrowband queries have bandwidth-matched models, and their calibration.
    summary["narrowband"] = match &models.narrowband {
        Some(nb) => json!({ "trained": true, "open_set": super::identify::calibration_json(nb) }),
        None => json!({ "trained": false }),
    };
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

/// Fail early when `out` cannot become a `kind` directory (model, UBM, shard)
/// holding `marker`: a file, or a non-empty directory without `marker`.
pub fn check_destination(out: &Path, marker: &str, kind: &str) -> CmdResult {
    if out.exists() && !out.is_dir() {
        return Err(format!("{}: exists and is not a directory", out.display()).into());
    }
    if out.is_dir() && !out.join(marker).exists() && std::fs::read_dir(out)?.next().is_some() {
        return Err(format!(
            "{}: a non-empty directory that is not a {kind} directory (no {marker}); choose a new one",
            out.display()
        )
        .into());
    }
    Ok(())
}

/// `train --ubm-only`: the UBM, once, before sharding.
fn train_ubm(a: &Args, data: &Dataset, params: &ValidParams, progress: &EvalProgress) -> CmdResult {
    let ubm = SharedUbm::train(data, params, &|p| progress.on(p))?;
    ubm.save(&a.out)?;
    let g = ubm.ubm.gmm();
    let summary = json!({
        "ubm_dir": a.out,
        "speakers": ubm.speakers,
        "clips": ubm.clips,
        "sample_frames": ubm.sample_frames,
        "components": g.n_components(),
        "features": g.n_features(),
        "seconds": ubm.seconds,
    });
    if a.json {
        return super::print_json(&summary);
    }
    println!(
        "\nsaved a {}-component UBM ({} features) fitted on {} sampled frames of {} clips of {} speakers to {} in {:.1} s",
        g.n_components(),
        g.n_features(),
        ubm.sample_frames,
        ubm.clips,
        ubm.speakers,
        a.out.display(),
        ubm.seconds
    );
    Ok(())
}

/// `train --shard K/N`: the per-speaker work of one shard.
fn train_shard(
    a: &Args,
    data: &Dataset,
    shard: Shard,
    ubm: Option<&SharedUbm>,
    params: &ValidParams,
    progress: &EvalProgress,
) -> CmdResult {
    let t = std::time::Instant::now();
    let s = ShardModels::train(data, shard, ubm, params, &|p| progress.on(p))?;
    s.save(&a.out)?;
    let seconds = t.elapsed().as_secs_f64();
    warn_left_out(&s.unusable, &s.skipped);
    let models: Vec<&str> = s.train_seconds.keys().map(|k| k.name()).collect();
    let summary = json!({
        "shard_dir": a.out,
        "shard": shard.to_string(),
        "speakers": s.speakers.len(),
        "clips": s.clips.len(),
        "models": models,
        "seconds": seconds,
    });
    if a.json {
        return super::print_json(&summary);
    }
    println!(
        "\nshard {shard}: {} speakers, {} clips; per-speaker {} and clip vectors saved to {} in {seconds:.1} s (join the shards with `speaker-similarity merge`)",
        s.speakers.len(),
        s.clips.len(),
        if models.is_empty() { "nothing".to_string() } else { models.join(", ") },
        a.out.display()
    );
    Ok(())
}

/// Warn about unusable clips and left-out speakers.
pub fn warn_left_out(
    unusable: &[(usize, PathBuf, String)],
    skipped: &[speaker_similarity::dataset::SkippedSpeaker],
) {
    for (_, path, e) in unusable.iter().take(10) {
        eprintln!("warning: skipped {}: {e}", path.display());
    }
    if unusable.len() > 10 {
        eprintln!(
            "warning: ... and {} more unusable clips",
            unusable.len() - 10
        );
    }
    for s in skipped {
        eprintln!(
            "warning: speaker {} has {} usable clip(s); left out",
            s.speaker, s.clips
        );
    }
}

/// Train on every clip of the data set, streaming (frames are never all held).
fn train_all(
    data: &Dataset,
    params: &ValidParams,
    progress: &EvalProgress,
) -> speaker_similarity::Result<SpeakerModels> {
    let all: Vec<usize> = (0..data.len()).collect();
    let t = pipeline::train_dataset(data, &all, params, &|p| progress.on(p))?;
    warn_left_out(&t.unusable, &t.skipped);
    Ok(t.models)
}
