//! `speaker-similarity degrade`: write degraded copies of recordings (telephone line,
//! noise, babble, reverberation), reproducibly by seed.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::json;
use speaker_similarity::audio::Audio;
use speaker_similarity::degrade::{self, Condition};

use super::CmdResult;

/// Arguments of `degrade`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A recording, or a directory whose audio files (any depth) are all degraded.
    pub input: PathBuf,
    /// The output file (WAV), or the output directory for a directory input (the
    /// same relative paths, as .wav). Written beside and renamed into place.
    pub output: PathBuf,
    /// The condition: telephone, telephone:mulaw, band:LOW:HIGH[:ORDER],
    /// white:SNR_DB, pink:SNR_DB, babble:SNR_DB[:TALKERS], reverb:RT60_S[:DRR_DB],
    /// or several joined by `+` (applied left to right).
    #[arg(long, value_name = "COND")]
    pub condition: String,
    /// Seed of the noise and room; each file's seed also depends on its relative path.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Clips (files or directories) of OTHER speakers to mix babble from.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub babble: Vec<PathBuf>,
    /// Print one JSON summary.
    #[arg(long)]
    pub json: bool,
}

const AUDIO_EXT: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

fn audio_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            audio_files(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXT.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// A seed that depends on the run's seed and a file's relative path (FNV-1a).
fn file_seed(seed: u64, rel: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rel.to_string_lossy().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h ^ seed
}

fn write_wav_atomic(audio: &Audio, path: &Path) -> CmdResult {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Keep 16-bit WAV from clipping: scale down only when a sample exceeds full scale.
    let peak = audio.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scaled;
    let audio = if peak > 1.0 {
        scaled = Audio::new(
            audio.samples.iter().map(|v| v / peak).collect(),
            audio.sample_rate,
        )?;
        &scaled
    } else {
        audio
    };
    super::write_file_atomic(path, &audio.to_wav_bytes())?;
    Ok(())
}

/// Run `degrade`.
pub fn run(a: Args) -> CmdResult {
    let condition = Condition::parse(&a.condition)?;
    let mut babble_files = Vec::new();
    for p in &a.babble {
        if p.is_dir() {
            audio_files(p, &mut babble_files)?;
        } else {
            babble_files.push(p.clone());
        }
    }
    if condition.needs_babble() && babble_files.is_empty() {
        return Err("a babble condition needs --babble PATH... (clips of other speakers)".into());
    }
    let pool: Vec<Audio> = babble_files
        .par_iter()
        .map(|p| Audio::load(p).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let jobs: Vec<(PathBuf, PathBuf, PathBuf)> = if a.input.is_dir() {
        if a.output.exists() && !a.output.is_dir() {
            return Err(format!("{}: exists and is not a directory", a.output.display()).into());
        }
        let mut files = Vec::new();
        audio_files(&a.input, &mut files)?;
        if files.is_empty() {
            return Err(format!("{}: no audio files", a.input.display()).into());
        }
        files
            .into_iter()
            .map(|f| {
                let rel = f.strip_prefix(&a.input).unwrap_or(&f).to_path_buf();
                let out = a.output.join(&rel).with_extension("wav");
                (f, rel, out)
            })
            .collect()
    } else {
        let rel = PathBuf::from(a.input.file_name().unwrap_or_default());
        vec![(a.input.clone(), rel, a.output.clone())]
    };
    let results: Vec<Result<(), String>> = jobs
        .par_iter()
        .map(|(input, rel, out)| {
            let audio = Audio::load(input).map_err(|e| e.to_string())?;
            let y = degrade::apply(&audio, &condition, file_seed(a.seed, rel), &pool)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            write_wav_atomic(&y, out).map_err(|e| format!("{}: {e}", out.display()))
        })
        .collect();
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let written = results.len() - failed.len();
    if a.json {
        super::print_json(&json!({
            "condition": condition.to_string(),
            "written": written,
            "failed": failed,
        }))?;
    } else {
        println!(
            "{written} file(s) written under {} ({condition})",
            a.output.display()
        );
        for f in &failed {
            eprintln!("error: {f}");
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} file(s) could not be degraded", failed.len()).into())
    }
}
