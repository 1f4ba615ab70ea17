//! `speaker-similarity diarize FILE`: who speaks when in a long recording.

use std::path::PathBuf;

use speaker_similarity::diarize::label::VerdictLabeler;
use speaker_similarity::diarize::{
    self, der, rttm, CountRule, Diarization, DiarizeParams, Turn, NIST_COLLAR,
};
use speaker_similarity::pipeline::SpeakerModels;
use speaker_similarity::plot;

use super::CmdResult;
use crate::progress::bar;

/// Arguments of `diarize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording to diarize (WAV is streamed chunk by chunk; FLAC/MP3/OGG decoded whole).
    pub file: PathBuf,
    /// Model directory whose enrolled speakers name the clusters: each cluster's
    /// pooled speech gets the model's open-set verdict (an enrolled speaker's id, or
    /// `unknown_k` when rejected). Without it every cluster is `unknown_k`.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Acceptance threshold of the verdicts (calibrated natural-log LLR; default: the
    /// model's own). Only with --model.
    #[arg(
        long,
        value_name = "LLR",
        allow_hyphen_values = true,
        requires = "model"
    )]
    pub verdict_threshold: Option<f64>,
    /// Number of speakers, when known (default: estimated).
    #[arg(long, value_name = "N")]
    pub speakers: Option<usize>,
    /// Write the turns as RTTM.
    #[arg(long, value_name = "OUT")]
    pub rttm: Option<PathBuf>,
    /// Draw the timeline (SVG; above it the truth when --truth is given).
    #[arg(long, value_name = "OUT.svg")]
    pub plot: Option<PathBuf>,
    /// A truth RTTM: print the DER (collar ±0.25 s) and draw it in the plot.
    #[arg(long, value_name = "RTTM")]
    pub truth: Option<PathBuf>,
    /// The DER's forgiveness collar with --truth, total width in seconds (pyannote's
    /// convention): 0.5 is NIST's ±0.25 s, 0 scores every boundary.
    #[arg(long, value_name = "SECONDS", default_value_t = NIST_COLLAR, requires = "truth")]
    pub collar: f64,
    /// Cosine distance at which clustering stops (estimates the number of speakers).
    #[arg(long, default_value_t = DiarizeParams::default().threshold)]
    pub threshold: f64,
    /// How the number of speakers is estimated when --speakers is not given.
    #[arg(long, value_enum, default_value_t = CountArg::Threshold)]
    pub count_rule: CountArg,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--count-rule`: [`CountRule`] on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountArg {
    /// Stop merging at --threshold (the default).
    Threshold,
    /// The cut with the best weighted mean silhouette.
    Silhouette,
    /// The cut before the largest jump in merge distance.
    MergeGap,
}

/// A diarization as `diarize --json` prints it (and `POST /api/diarize` answers):
/// `{"file", "duration", "speakers": [{"label", "speaker", "name", "seconds"}],
/// "turns": [{"start", "end", "label", "speaker", "score", "margin"}],
/// "speech_seconds", "windows"}`.
pub fn diarization_json(d: &Diarization) -> serde_json::Value {
    serde_json::json!({
        "file": d.file,
        "duration": d.duration,
        "speakers": d.speakers.iter().map(|s| serde_json::json!({
            "label": s.label, "speaker": s.speaker, "name": s.name, "seconds": s.seconds,
        })).collect::<Vec<_>>(),
        "turns": d.turns.iter().map(|t| serde_json::json!({
            "start": t.start, "end": t.end, "label": t.label, "speaker": t.speaker,
            "score": t.score, "margin": t.margin,
        })).collect::<Vec<_>>(),
        "speech_seconds": d.speech_seconds,
        "windows": d.windows,
    })
}

/// Run `diarize`.
pub fn run(a: Args) -> CmdResult {
    if let Some(t) = a.verdict_threshold {
        if !t.is_finite() {
            return Err("--verdict-threshold must be a finite number".into());
        }
    }
    // Loaded (and its calibration checked) before any audio is read.
    let models = match &a.model {
        Some(dir) => Some(SpeakerModels::load(dir)?),
        None => None,
    };
    let labeler = match &models {
        Some(m) => Some(VerdictLabeler::new(m, a.verdict_threshold)?),
        None => None,
    };
    let params = DiarizeParams {
        speakers: a.speakers,
        threshold: a.threshold,
        count_rule: match a.count_rule {
            CountArg::Threshold => CountRule::Threshold,
            CountArg::Silhouette => CountRule::Silhouette,
            CountArg::MergeGap => CountRule::MergeGap,
        },
        ..DiarizeParams::default()
    };
    params.validate()?;
    let truth: Option<Vec<Turn>> = match &a.truth {
        Some(p) => {
            let entries = rttm::read(p)?;
            let id = rttm::file_id(&a.file);
            let mine = rttm::turns_of(&entries, Some(&id));
            Some(if mine.is_empty() {
                rttm::turns_of(&entries, None)
            } else {
                mine
            })
        }
        None => None,
    };
    let pb = bar(1000, "diarizing");
    let progress = |stage: &str, f: f64| {
        pb.set_message(stage.to_string());
        pb.set_position((f.clamp(0.0, 1.0) * 1000.0) as u64);
    };
    let d = diarize::diarize_file(
        &a.file,
        &params,
        labeler.as_ref().map(|l| l as &dyn diarize::ClusterLabeler),
        &progress,
    );
    pb.finish_and_clear();
    let d = d?;
    let hyp = d.rttm_turns();
    if let Some(out) = &a.rttm {
        rttm::write(out, &rttm::file_id(&a.file), &hyp)?;
    }
    let score = match &truth {
        Some(t) => Some(der(t, &hyp, a.collar)?),
        None => None,
    };
    if let Some(out) = &a.plot {
        let title = format!("{}: who speaks when", d.file);
        let chart = match (&truth, &score) {
            (Some(t), Some(s)) => {
                // Hypothesis labels shown as the truth labels they map onto.
                let mapped: Vec<Turn> = hyp
                    .iter()
                    .map(|h| {
                        let l = s
                            .mapping
                            .iter()
                            .find(|(hl, _)| *hl == h.label)
                            .map_or(h.label.clone(), |(_, r)| r.clone());
                        Turn {
                            label: l,
                            ..h.clone()
                        }
                    })
                    .collect();
                plot::timeline(&[("truth", t), ("hypothesis", &mapped)], d.duration, &title)?
            }
            _ => plot::timeline(&[("speakers", &hyp)], d.duration, &title)?,
        };
        chart.save(out)?;
    }
    if a.json {
        let mut v = diarization_json(&d);
        if let Some(s) = &score {
            v["der"] = serde_json::json!({
                "der": s.der(), "missed": s.missed, "false_alarm": s.false_alarm,
                "confusion": s.confusion, "total": s.total, "collar": a.collar,
            });
        }
        super::print_json(&v)?;
        return Ok(());
    }
    println!(
        "{}: {:.1} s, {:.1} s of speech, {} speaker{} ({} windows)",
        d.file,
        d.duration,
        d.speech_seconds,
        d.speakers.len(),
        if d.speakers.len() == 1 { "" } else { "s" },
        d.windows
    );
    for s in &d.speakers {
        println!("  {:<14} {:>8.1} s  {}", s.label, s.seconds, s.name);
    }
    let show = d.turns.len().min(40);
    for t in &d.turns[..show] {
        println!("  {:>9.2} - {:>9.2}  {}", t.start, t.end, t.label);
    }
    if d.turns.len() > show {
        println!(
            "  ... {} more turns (--rttm OUT or --json for all)",
            d.turns.len() - show
        );
    }
    if let Some(s) = &score {
        println!(
            "DER {:.2} % (missed {:.2} %, false alarm {:.2} %, confusion {:.2} %; collar ±{} s)",
            100.0 * s.der(),
            100.0 * s.missed / s.total.max(1e-9),
            100.0 * s.false_alarm / s.total.max(1e-9),
            100.0 * s.confusion / s.total.max(1e-9),
            a.collar / 2.0
        );
    }
    Ok(())
}
