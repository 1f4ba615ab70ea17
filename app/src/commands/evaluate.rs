//! `speaker-similarity evaluate`: train on one part of a data set, report on the other.

use serde_json::json;
use speaker_similarity::dataset::SplitParams;
use speaker_similarity::pipeline::{self, Evaluation, ModelKind, PipelineParams, ValidParams};

use super::CmdResult;
use crate::data::DataArgs;
use crate::progress::EvalProgress;

/// Options shared by `evaluate`, `train` and `demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct SplitArgs {
    /// Share of each speaker's clips kept for testing.
    #[arg(long, default_value_t = 0.3, value_name = "FRACTION")]
    pub test_fraction: f64,
    /// Seed of the split and of every model.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep whole sessions (VoxCeleb videos) on one side of the split.
    #[arg(long)]
    pub by_session: bool,
    /// Models, comma-separated (the list comes from the model registry).
    #[arg(long, default_value = "main", value_name = "M,...", help = models_help())]
    pub models: String,
    /// Multi-condition training copies: `none`, `default`, `robust` (the measured set), or degrade conditions
    /// separated by `,` (e.g. `band:200:3700:2+pink:20,reverb:0.3`). Default: the
    /// library's.
    #[arg(long, value_name = "COND,...")]
    pub augment: Option<String>,
    /// Bandwidth-matched narrowband models: `on` or `off`. Default: the library's.
    #[arg(long, value_name = "on|off")]
    pub narrowband: Option<String>,
    /// Feature warping window (frames) and noise-floor selection (dB) of the
    /// narrowband models only: `off`, `warp:FRAMES`, `floor:DB` or
    /// `warp:FRAMES+floor:DB`. Default: the library's.
    #[arg(long, value_name = "NORM")]
    pub narrowband_norm: Option<String>,
    /// Frame feature normalisation: `none`, `cmvn`, `cmvn:FRAMES` (sliding) or
    /// `warp:FRAMES` (feature warping). Default: the library's.
    #[arg(long, value_name = "NORM")]
    pub frame_norm: Option<String>,
    /// Keep only frames this many dB above the clip's noise floor (`off` for all).
    /// Default: the library's.
    #[arg(long, value_name = "DB|off")]
    pub floor_db: Option<String>,
    /// GMM-UBM scoring: `C` (each frame on its C best UBM components) or `exact`
    /// (all components). Default: the library's (5).
    #[arg(long, value_name = "C|exact")]
    pub top_c: Option<String>,
}

/// `--models`' help: every registered model, and what `main` stands for.
fn models_help() -> String {
    let names = |ks: &[ModelKind]| ks.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
    format!(
        "Models, comma-separated: {}; or `main` ({}) or `all`",
        names(&ModelKind::ALL),
        names(&ModelKind::MAIN)
    )
}

impl SplitArgs {
    /// The split and pipeline settings these options ask for, checked.
    pub fn params(&self) -> speaker_similarity::Result<(SplitParams, ValidParams)> {
        let split = SplitParams {
            test_fraction: self.test_fraction,
            seed: self.seed,
            by_session: self.by_session,
            ..SplitParams::default()
        };
        split.validate()?;
        let mut params = PipelineParams {
            models: ModelKind::parse_list(&self.models)?,
            seed: self.seed,
            ..PipelineParams::default()
        };
        self.apply_methods(&mut params)?;
        Ok((split, params.check()?))
    }

    /// The robustness flags (`--augment`, `--narrowband`, `--frame-norm`,
    /// `--floor-db`) applied to `params`.
    pub fn apply_methods(&self, params: &mut PipelineParams) -> speaker_similarity::Result<()> {
        use speaker_similarity::Error;
        if let Some(a) = &self.augment {
            params.augment = match a.trim() {
                "none" | "" => Vec::new(),
                "default" => pipeline::default_augment(),
                "robust" => pipeline::robust_augment(),
                list => list.split(',').map(|c| c.trim().to_string()).collect(),
            };
        }
        if let Some(n) = &self.narrowband {
            params.narrowband = match n.trim() {
                "on" => Some(params.narrowband.clone().unwrap_or_default()),
                "off" => None,
                other => return Err(Error::param("narrowband", format!("`{other}`: on or off"))),
            };
        }
        if self.narrowband_norm.is_some() && params.narrowband.is_none() {
            return Err(Error::param(
                "narrowband_norm",
                "--narrowband-norm sets the narrowband models' normalisation, and there are \
                 none: add --narrowband on",
            ));
        }
        if let (Some(n), Some(nb)) = (&self.narrowband_norm, params.narrowband.as_mut()) {
            (nb.warp_window, nb.floor_db) = (None, None);
            for part in n.split('+').map(str::trim).filter(|p| *p != "off") {
                let bad = || {
                    Error::param(
                        "narrowband_norm",
                        format!("`{part}`: warp:FRAMES or floor:DB"),
                    )
                };
                match part.split_once(':') {
                    Some(("warp", w)) => nb.warp_window = Some(w.parse().map_err(|_| bad())?),
                    Some(("floor", d)) => nb.floor_db = Some(d.parse().map_err(|_| bad())?),
                    _ => return Err(bad()),
                }
            }
        }
        if let Some(n) = &self.frame_norm {
            let f = &mut params.frames;
            let (kind, arg) = n.trim().split_once(':').unwrap_or((n.trim(), ""));
            let frames = |s: &str| {
                s.parse::<usize>().map_err(|_| {
                    Error::param("frame_norm", format!("`{s}` is not a number of frames"))
                })
            };
            (f.cmvn, f.cmvn_window, f.warp_window) = match (kind, arg) {
                ("none", "") => (false, None, None),
                ("cmvn", "") => (true, None, None),
                ("cmvn", w) => (true, Some(frames(w)?), None),
                ("warp", w) if !w.is_empty() => (false, None, Some(frames(w)?)),
                _ => {
                    return Err(Error::param(
                        "frame_norm",
                        format!("`{n}`: none, cmvn, cmvn:FRAMES or warp:FRAMES"),
                    ))
                }
            };
        }
        if let Some(c) = &self.top_c {
            params.settings.gmm_ubm.top_c = match c.trim() {
                "exact" => None,
                v => Some(v.parse::<usize>().map_err(|_| {
                    Error::param("top_c", format!("`{v}`: a number of components or `exact`"))
                })?),
            };
        }
        if let Some(d) = &self.floor_db {
            params.frames.floor_db = match d.trim() {
                "off" => None,
                v => Some(v.parse::<f32>().map_err(|_| {
                    Error::param("floor_db", format!("`{v}` is not a number of dB"))
                })?),
            };
        }
        Ok(())
    }
}

/// Arguments of `evaluate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Print the classification report of every model, not only the best.
    #[arg(long)]
    pub all_reports: bool,
    /// Test on degraded copies of the test clips (the models train on clean ones):
    /// telephone, white:SNR_DB, babble:SNR_DB, reverb:RT60_S, ... joined by `+`.
    /// Babble is mixed from test clips of other speakers.
    #[arg(long, value_name = "COND")]
    pub query_condition: Option<String>,
}

/// The evaluation as the JSON object `evaluate --json` prints.
pub fn to_json(e: &Evaluation) -> serde_json::Value {
    let models: serde_json::Map<String, serde_json::Value> = e
        .models
        .iter()
        .map(|r| {
            (
                r.model.name().to_string(),
                json!({ "accuracy": r.accuracy, "train_seconds": r.train_seconds }),
            )
        })
        .collect();
    let verification: serde_json::Map<String, serde_json::Value> = e
        .verification
        .iter()
        .map(|v| {
            (
                v.embedding.clone(),
                json!({
                    "eer": v.eer.eer,
                    "trials": [v.trials.0, v.trials.1],
                    "nontargets_per_clip": v.nontargets_per_clip,
                }),
            )
        })
        .collect();
    json!({
        "speakers": e.speakers.len(),
        "train_clips": e.train_clips,
        "test_clips": e.test_clips,
        "models": models,
        "best": e.best.name(),
        "verification": verification,
        "skipped_speakers": e.skipped.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "skipped_models": e.skipped_models.iter().map(|(k, why)| json!({ "model": k.name(), "reason": why })).collect::<Vec<_>>(),
        "unusable_clips": e.unusable.len(),
        "query_condition": e.query_condition,
        "similar_top1": e.similar_accuracy,
        "feature_seconds": e.feature_seconds,
        "total_seconds": e.total_seconds,
    })
}

/// Print the human-readable report.
pub fn print_report(e: &Evaluation, all_reports: bool) {
    for s in &e.skipped {
        println!("skipped speaker: {s}");
    }
    for (k, why) in &e.skipped_models {
        println!("skipped model {k}: {why}");
    }
    if !e.unusable.is_empty() {
        println!("{} clip(s) could not be used:", e.unusable.len());
        for (p, why) in e.unusable.iter().take(10) {
            println!("  {}: {why}", p.display());
        }
        if e.unusable.len() > 10 {
            println!("  ... and {} more", e.unusable.len() - 10);
        }
    }
    println!(
        "{} speakers, {} training clips, {} test clips (disjoint)\n",
        e.speakers.len(),
        e.train_clips,
        e.test_clips
    );
    println!("{:<14} {:>9} {:>10}  model", "", "accuracy", "train (s)");
    for r in &e.models {
        println!(
            "{:<14} {:>9.4} {:>10.2}  {}{}",
            r.model.name(),
            r.accuracy,
            r.train_seconds,
            r.model.description(),
            if r.model == e.best { "   <- best" } else { "" }
        );
    }
    for v in &e.verification {
        let sampled = match v.nontargets_per_clip {
            Some(k) => format!("; {k} sampled per test clip"),
            None => String::new(),
        };
        println!(
            "verification by {:<12} EER {:.2} % ({} target, {} non-target trials{sampled})",
            v.embedding,
            100.0 * v.eer.eer,
            v.trials.0,
            v.trials.1
        );
    }
    if let Some(s) = e.similar_accuracy {
        println!(
            "most similar speaker (top-1) is the right one: {:.4} (test clips: {})",
            s, e.query_condition
        );
    }
    println!(
        "features {:.2} s, everything {:.2} s",
        e.feature_seconds, e.total_seconds
    );
    for r in &e.models {
        if all_reports || r.model == e.best {
            println!("\nclassification report of {}:\n{}", r.model, r.report);
        }
    }
}

/// Run `evaluate`.
pub fn run(a: Args) -> CmdResult {
    let (split, params) = a.split.params()?;
    // The evaluation scores no open-set verdict and saves no model: no calibration.
    let params = PipelineParams {
        calibrate: false,
        ..params.into_inner()
    }
    .check()?;
    let (data, what) = a.data.open()?;
    if !a.json {
        println!("data: {what}");
    }
    let condition = match &a.query_condition {
        Some(c) => speaker_similarity::degrade::Condition::parse(c)?,
        None => speaker_similarity::degrade::Condition::clean(),
    };
    let progress = EvalProgress::new(false);
    let e = pipeline::evaluate_under(&data, &split, &params, &condition, &|ev| progress.on(ev))?;
    if a.json {
        return super::print_json(&to_json(&e));
    }
    print_report(&e, a.all_reports);
    Ok(())
}
