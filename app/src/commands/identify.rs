//! `speaker-similarity identify`: the open-set verdict for each recording — an
//! enrolled speaker, or "unknown" / "no speech".

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use speaker_similarity::audio::Audio;
use speaker_similarity::calibration::Verdict;
use speaker_similarity::pipeline::SpeakerModels;

use super::CmdResult;

/// Arguments of `identify`.
#[derive(clap::Args, Debug)]
pub struct IdentifyArgs {
    /// Model directory written by `train`.
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Recordings (WAV, FLAC, MP3, OGG).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Acceptance threshold on the calibrated log-likelihood ratio (natural log);
    /// default: the model's, set at training time at 1 % false acceptance of
    /// held-out impostor best scores.
    #[arg(long, allow_hyphen_values = true)]
    pub threshold: Option<f64>,
    /// Print one JSON line per file.
    #[arg(long)]
    pub json: bool,
}

/// A verdict as the JSON `identify --json` prints (one line per file) and the
/// `"verdict"` object elsewhere: `speaker` (id or null), `name` (the accepted
/// speaker's, or the closest one's when rejected), `closest`, `score` (calibrated
/// natural-log LLR), `threshold`, `accepted`, `reason` (`"unknown"`, `"no speech"` or
/// null).
pub fn verdict_json(v: &Verdict) -> Value {
    json!({
        "speaker": v.speaker,
        "name": v.name,
        "closest": v.closest,
        "score": v.score,
        "threshold": v.threshold,
        "accepted": v.accepted,
        "reason": v.reason.map(|r| r.as_str()),
    })
}

/// The `identify --json` line of one file.
pub fn identify_json(file: &Path, v: &Verdict) -> Value {
    let mut out = verdict_json(v);
    out["file"] = json!(file);
    out
}

/// The open-set calibration of a model set as JSON: the normalisation in use, the
/// default threshold and its operating point, and every normalisation's
/// cross-validated rates on the training clips (`null` without calibration, with
/// `open_set_skipped` saying why in [`print_calibration`]).
pub fn calibration_json(models: &SpeakerModels) -> Value {
    match &models.calibration {
        None => json!({ "calibrated": false, "reason": models.calibration_skipped }),
        Some(c) => json!({
            "calibrated": true,
            "model": c.model.name(),
            "method": c.method.label(),
            "source": c.method.source.name(),
            "norm": c.method.norm.name(),
            "threshold": c.threshold,
            "false_alarm": c.false_alarm,
            "trial_clips": c.trial_clips.len(),
            "skipped": c.skipped,
            "target_trials": c.target_trials,
            "nontarget_trials": c.nontarget_trials,
            "choices": c.choices.iter().map(|n| json!({
                "method": n.label(),
                "source": n.source.name(),
                "norm": n.norm.name(),
                "threshold": n.threshold,
                "cv_eer": n.cv_eer,
                "cv_identified": n.cv_identified,
                "cv_closed_set": n.cv_closed_set,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// Print the open-set calibration of a freshly trained model set.
pub fn print_calibration(models: &SpeakerModels) {
    match &models.calibration {
        None => println!(
            "open-set verdicts: not calibrated ({})",
            models
                .calibration_skipped
                .as_deref()
                .unwrap_or("no gmm-ubm model")
        ),
        Some(c) => {
            println!(
                "open-set verdicts: {} scores of {}, threshold {:.2} (natural-log LLR) = {:.0} % \
                 false acceptance of never-enrolled trials (leave-one-out over {} training clips)",
                c.method.label(),
                c.model,
                c.threshold,
                100.0 * c.false_alarm,
                c.trial_clips.len()
            );
            for n in &c.choices {
                println!(
                    "  {:14} CV open-set EER {:5.1} %, at its threshold {:6.2}: {:5.1} % named \
                     right (closed set {:5.1} %){}",
                    n.label(),
                    100.0 * n.cv_eer,
                    n.threshold,
                    100.0 * n.cv_identified,
                    100.0 * n.cv_closed_set,
                    if n.label() == c.method.label() {
                        "  <- chosen"
                    } else {
                        ""
                    }
                );
            }
            for why in &c.skipped {
                println!("  not calibrated: {why}");
            }
        }
    }
}

/// Run `identify`.
pub fn run(a: IdentifyArgs) -> CmdResult {
    if let Some(t) = a.threshold {
        if !t.is_finite() {
            return Err("--threshold must be a finite number".into());
        }
    }
    let models = SpeakerModels::load(&a.model)?;
    // Fails early, before any file is read, when the model has no calibration.
    models.open_set()?;
    let mut failed = 0;
    for file in &a.files {
        let v = Audio::load(file).and_then(|audio| models.verdict_audio(&audio, a.threshold));
        match v {
            Ok(v) if a.json => println!("{}", serde_json::to_string(&identify_json(file, &v))?),
            Ok(v) => println!("{}: {}", file.display(), super::predict::verdict_text(&v)),
            Err(e) => {
                failed += 1;
                if a.json {
                    println!(
                        "{}",
                        serde_json::to_string(&json!({ "file": file, "error": e.to_string() }))?
                    );
                } else {
                    eprintln!("{}: error: {e}", file.display());
                }
            }
        }
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} file(s) could not be identified",
            a.files.len()
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use speaker_similarity::calibration::Verdict;

    #[test]
    fn identify_json_has_the_issue_fields() {
        let v = Verdict::decide(("s1", "Ann"), 3.5, 1.25);
        let j = identify_json(Path::new("a.wav"), &v);
        for k in [
            "file",
            "speaker",
            "name",
            "score",
            "threshold",
            "accepted",
            "reason",
        ] {
            assert!(j.get(k).is_some(), "{k} missing");
        }
        assert_eq!(j["file"], "a.wav");
        assert_eq!(j["speaker"], "s1");
        assert_eq!(j["name"], "Ann");
        assert_eq!(j["score"], 3.5);
        assert_eq!(j["threshold"], 1.25);
        assert_eq!(j["accepted"], true);
        assert!(j["reason"].is_null());
        let r = identify_json(
            Path::new("b.wav"),
            &Verdict::decide(("s1", "Ann"), 0.5, 1.25),
        );
        assert!(r["speaker"].is_null());
        assert_eq!(r["accepted"], false);
        assert_eq!(r["reason"], "unknown");
        assert_eq!(r["name"], "Ann");
        let n = identify_json(Path::new("c.wav"), &Verdict::no_speech(1.25));
        assert_eq!(n["reason"], "no speech");
        assert!(n["speaker"].is_null() && n["score"].is_null());
        assert_eq!(n["accepted"], false);
    }
}
