//! `speaker-similarity features FILE --kind mfcc|delta|zcr|lpc|clip [--json]`

use std::path::PathBuf;

use ndarray::Array2;
use serde_json::json;
use speaker_similarity::audio::Audio;
use speaker_similarity::features::{self, MfccParams, ZcrParams};
use speaker_similarity::progress::{Progress, Stage};

use super::CmdResult;

/// Which feature.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// MFCC (n_mfcc x frames), librosa.feature.mfcc.
    Mfcc,
    /// Delta of the MFCC (n_mfcc x frames), librosa.feature.delta.
    Delta,
    /// Framewise zero-crossing rate (1 x frames), librosa.feature.zero_crossing_rate.
    Zcr,
    /// LPC by Burg's method (1 x order+1), librosa.lpc.
    Lpc,
    /// The original project's 52-dim clip vector (1 x 52).
    Clip,
}

/// Arguments of `features`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Audio file (WAV, FLAC, MP3, OGG) — or a data set directory, whose clips all get
    /// their clip vector, on all cores, as CSV (or JSON with --json).
    pub file: PathBuf,
    /// Which feature (default: mfcc for a file, clip for a directory).
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Print {"shape": [rows, cols], "data": [[...], ...]} (rows = coefficients,
    /// cols = frames, as librosa lays them out).
    #[arg(long)]
    pub json: bool,
    /// Resample to this rate first (librosa.load(sr=...)); default: the file's rate.
    #[arg(long, value_name = "HZ")]
    pub sr: Option<u32>,
    /// Number of MFCC (mfcc, delta).
    #[arg(long, default_value_t = 20)]
    pub n_mfcc: usize,
    /// FFT size (mfcc, delta) and frame length (zcr).
    #[arg(long, default_value_t = 2048)]
    pub n_fft: usize,
    /// Hop between frames, in samples (mfcc, delta, zcr).
    #[arg(long, default_value_t = 512)]
    pub hop_length: usize,
    /// Delta order, 1 or 2 (delta).
    #[arg(long, default_value_t = 1)]
    pub order: usize,
    /// LPC order (lpc).
    #[arg(long, default_value_t = 12)]
    pub lpc_order: usize,
}

/// Run `features`.
pub fn run(a: Args) -> CmdResult {
    if a.file.is_dir() {
        return run_dir(&a);
    }
    let kind = a.kind.unwrap_or(Kind::Mfcc);
    let mut audio = Audio::load(&a.file)?;
    if let Some(sr) = a.sr {
        audio = audio.resample(sr)?;
    }
    let mfcc = || {
        features::mfcc(
            &audio,
            &MfccParams {
                n_mfcc: a.n_mfcc,
                n_fft: a.n_fft,
                hop_length: a.hop_length,
                ..MfccParams::default()
            },
        )
    };
    let (m, what): (Array2<f32>, String) = match kind {
        Kind::Mfcc => (mfcc()?, format!("MFCC, hop {} samples", a.hop_length)),
        Kind::Delta => (
            features::delta(&mfcc()?, 9, a.order)?,
            format!("delta (order {}) of the MFCC", a.order),
        ),
        Kind::Zcr => (
            features::zero_crossing_rate(
                &audio.samples,
                &ZcrParams {
                    frame_length: a.n_fft,
                    hop_length: a.hop_length,
                    ..ZcrParams::default()
                },
            )?,
            "zero-crossing rate".into(),
        ),
        Kind::Lpc => {
            let c = features::lpc(&audio.samples, a.lpc_order)?;
            (
                Array2::from_shape_vec((1, c.len()), c)?,
                format!("LPC of order {} (Burg)", a.lpc_order),
            )
        }
        Kind::Clip => {
            let v = features::clip_vector(&audio)?;
            (
                Array2::from_shape_vec((1, v.len()), v)?,
                "clip vector [13 MFCC means, 13 delta means, 13 ZCR splits, 13 LPC]".into(),
            )
        }
    };
    let (rows, cols) = m.dim();
    if a.json {
        let data: Vec<Vec<f32>> = m.rows().into_iter().map(|r| r.to_vec()).collect();
        return super::print_json(&json!({ "shape": [rows, cols], "data": data }));
    }
    println!(
        "{}: {what}: {rows} x {cols} ({} Hz, {:.2} s)",
        a.file.display(),
        audio.sample_rate,
        audio.duration()
    );
    if kind == Kind::Clip {
        for (name, v) in features::clip_vector_names().iter().zip(m.iter()) {
            println!("{name:>8} {v:>12.5}");
        }
        return Ok(());
    }
    for (i, row) in m.rows().into_iter().enumerate() {
        let line: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
        println!("{i:>3}: {}", line.join(" "));
    }
    Ok(())
}

/// Clip vectors of every clip of a data set directory, in parallel with a progress bar.
fn run_dir(a: &Args) -> CmdResult {
    if a.kind.is_some_and(|k| k != Kind::Clip) {
        return Err(format!(
            "{} is a directory: a directory gives one clip vector per clip (--kind clip); \
             per-frame features are for one file at a time",
            a.file.display()
        )
        .into());
    }
    let data = speaker_similarity::dataset::Dataset::open(&a.file)?;
    for w in &data.warnings {
        eprintln!("warning: {w}");
    }
    let progress = crate::progress::EvalProgress::new(false);
    let total = data.len();
    let params = features::ClipVectorParams::default();
    let done = std::sync::atomic::AtomicUsize::new(0);
    use rayon::prelude::*;
    let rows: Vec<_> = data
        .clips
        .par_iter()
        .map(|c| {
            let r = c.load().and_then(|audio| {
                let audio = match a.sr {
                    Some(sr) => audio.resample(sr)?,
                    None => audio,
                };
                features::clip_vector_with(&audio, &params)
            });
            progress.on(Progress::Items {
                stage: Stage::Features,
                done: done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            });
            r
        })
        .collect();
    let mut failed = 0;
    let names = features::clip_vector_names();
    let mut out = Vec::new();
    for (c, r) in data.clips.iter().zip(rows) {
        match r {
            Ok(v) => out.push((c, v)),
            Err(e) => {
                failed += 1;
                eprintln!("warning: skipped {}: {e}", c.path.display());
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} clips could not be used", data.len());
    }
    if a.json {
        let clips: Vec<_> = out
            .iter()
            .map(|(c, v)| json!({ "path": c.path, "speaker": c.speaker, "clip": v }))
            .collect();
        return super::print_json(&json!({ "columns": names, "clips": clips, "unusable": failed }));
    }
    println!("path,speaker,{}", names.join(","));
    for (c, v) in out {
        let values: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
        let path = c.path.display().to_string().replace('"', "\"\"");
        println!("\"{path}\",{},{}", c.speaker, values.join(","));
    }
    Ok(())
}
