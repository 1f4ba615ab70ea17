//! `speaker-similarity enroll` and `remove`: add, replace or remove one speaker of
//! a model directory without training again.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};
use speaker_similarity::audio::Audio;
use speaker_similarity::pipeline::{self, ClipFeatures, EnrolReport, SpeakerModels};
use speaker_similarity::Error;

use super::CmdResult;

/// Arguments of `enroll`.
#[derive(clap::Args, Debug)]
pub struct EnrollArgs {
    /// Model directory written by `train` (changed in place, whole or not at all).
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Speaker id to add, or to replace when the model has it already (letters,
    /// digits, `.`, `_`, `-`; at most 64 characters).
    #[arg(long, value_name = "ID")]
    pub speaker: String,
    /// Display name (must not be another speaker's id or name; kept from before
    /// when replacing without it).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Recordings of the speaker (WAV, FLAC, MP3, OGG).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `remove`.
#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// Model directory written by `train` (changed in place, whole or not at all).
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Speaker id to remove.
    #[arg(long, value_name = "ID")]
    pub speaker: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Files left out of an enrolment, with the reason.
type Skipped = Vec<(PathBuf, String)>;

/// The usable clips' features, their narrowband models' features (when the set
/// has such models), and the files left out.
type Features = (Vec<ClipFeatures>, Option<Vec<ClipFeatures>>, Skipped);

/// Features of the files (for the narrowband models too, when the set has them);
/// files without speech are skipped (listed), any other failure is an error
/// naming the file.
fn features(models: &SpeakerModels, files: &[PathBuf]) -> Result<Features, Error> {
    let mut clips = Vec::new();
    let mut narrow = Vec::new();
    let mut no_speech = Vec::new();
    for f in files {
        let audio = Audio::load(f)?;
        match pipeline::extract(&audio, &models.params) {
            Ok(c) if c.frames.nrows() > 0 => {
                clips.push(c);
                // The narrowband models' features of the same clip (none without
                // such models; a clip they cannot use is left out of them only).
                if let Ok(Some(n)) = models.narrowband_features(&audio) {
                    narrow.push(n);
                }
            }
            Ok(_) => no_speech.push((f.clone(), "no voiced frame".to_string())),
            Err(
                e @ (Error::NoSpeech { .. } | Error::NoSpeechFound { .. } | Error::TooShort { .. }),
            ) => no_speech.push((f.clone(), e.to_string())),
            Err(e) => return Err(e),
        }
    }
    if clips.is_empty() {
        let list: Vec<String> = no_speech
            .iter()
            .map(|(p, why)| format!("{}: {why}", p.display()))
            .collect();
        return Err(Error::NoSpeechFound {
            speech_seconds: 0.0,
            reason: format!(
                "no usable speech in the {} file(s) ({}); the model directory is unchanged",
                files.len(),
                list.join("; ")
            ),
        });
    }
    let narrow = models.narrowband.is_some().then_some(narrow);
    Ok((clips, narrow, no_speech))
}

/// The report as JSON (shared with the web app).
pub fn report_json(r: &EnrolReport) -> Value {
    json!({
        "speaker": r.speaker,
        "replaced": r.replaced,
        "speakers": r.n_speakers,
        "updated": r.updated.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "out_of_date": r.out_of_date.iter().map(|(k, why)| json!({ "model": k.name(), "reason": why })).collect::<Vec<_>>(),
        "calibration": match (&r.calibration, r.calibration_refreshed) {
            (None, _) => "none",
            (Some(_), true) => "refreshed",
            (Some(_), false) => "kept",
        },
        "calibration_detail": r.calibration,
        "narrowband": r.narrowband,
    })
}

fn print_report(r: &EnrolReport) {
    let updated: Vec<&str> = r.updated.iter().map(|k| k.name()).collect();
    println!(
        "updated: {} and the clip-vector embedding",
        if updated.is_empty() {
            "no model".to_string()
        } else {
            updated.join(", ")
        }
    );
    if !r.out_of_date.is_empty() {
        let stale: Vec<&str> = r.out_of_date.iter().map(|(k, _)| k.name()).collect();
        println!(
            "out of date, left out of predictions (run `speaker-similarity train` again): {}",
            stale.join(", ")
        );
    }
    match &r.calibration {
        Some(c) => println!("{c}"),
        None => {
            println!("open-set calibration: none in this model (identify needs one: train again)")
        }
    }
    if let Some(n) = &r.narrowband {
        println!("{n}");
    }
}

/// Run `enroll`.
pub fn run_enroll(a: EnrollArgs) -> CmdResult {
    let t0 = Instant::now();
    pipeline::check_speaker_id(&a.speaker)?;
    let mut models = SpeakerModels::load(&a.model)?;
    let t_load = t0.elapsed().as_secs_f64();
    let (clips, narrow, no_speech) = features(&models, &a.files)?;
    let t_feat = t0.elapsed().as_secs_f64();
    let r = models.enroll_with(&a.speaker, a.name.as_deref(), &clips, narrow.as_deref())?;
    let t_fit = t0.elapsed().as_secs_f64();
    models.save(&a.model)?;
    let t_all = t0.elapsed().as_secs_f64();
    let seconds = json!({
        "load": t_load, "features": t_feat - t_load, "enrol": t_fit - t_feat,
        "save": t_all - t_fit, "total": t_all,
    });
    if a.json {
        let mut v = report_json(&r);
        v["clips"] = json!(clips.len());
        v["skipped_files"] = json!(no_speech
            .iter()
            .map(|(p, why)| json!({ "file": p.display().to_string(), "reason": why }))
            .collect::<Vec<_>>());
        v["seconds"] = seconds;
        return super::print_json(&v);
    }
    for (p, why) in &no_speech {
        println!("skipped {}: {why}", p.display());
    }
    println!(
        "{} speaker {} ({}) from {} clip(s): {} speakers",
        if r.replaced { "replaced" } else { "enrolled" },
        r.speaker,
        models.display_name(&r.speaker),
        clips.len(),
        r.n_speakers
    );
    print_report(&r);
    println!(
        "saved {} in {t_all:.2} s (load {t_load:.2}, features {:.2}, enrol {:.2}, save {:.2})",
        a.model.display(),
        t_feat - t_load,
        t_fit - t_feat,
        t_all - t_fit
    );
    Ok(())
}

/// Run `remove`.
pub fn run_remove(a: RemoveArgs) -> CmdResult {
    let mut models = SpeakerModels::load(&a.model)?;
    let r = models.remove_speaker(&a.speaker)?;
    models.save(&a.model)?;
    if a.json {
        return super::print_json(&report_json(&r));
    }
    println!("removed speaker {}: {} speakers", r.speaker, r.n_speakers);
    print_report(&r);
    Ok(())
}
