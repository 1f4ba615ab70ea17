//! `speaker-similarity synth OUT`: write the synthetic speaker corpus.

use std::path::PathBuf;

use speaker_similarity::synth::{write_corpus, SynthCorpus, SynthParams};

use super::CmdResult;
use crate::progress::spinner;

/// Arguments of `synth`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to write (`OUT/<speaker>/<session>/<clip>.wav` and `speakers.tsv`).
    pub out: PathBuf,
    /// Number of speakers.
    #[arg(long, default_value_t = SynthParams::default().speakers)]
    pub speakers: usize,
    /// Clips per speaker.
    #[arg(long, default_value_t = SynthParams::default().clips_per_speaker)]
    pub clips: usize,
    /// Recording sessions per speaker (each with its own channel and noise).
    #[arg(long, default_value_t = SynthParams::default().sessions_per_speaker)]
    pub sessions: usize,
    /// Sample rate in Hz.
    #[arg(long, default_value_t = SynthParams::default().sample_rate)]
    pub sample_rate: u32,
    /// Seed: the same seed writes the same corpus.
    #[arg(long, default_value_t = SynthParams::default().seed)]
    pub seed: u64,
    /// Write into a non-empty folder, replacing files of the same names.
    #[arg(long)]
    pub overwrite: bool,
}

/// Run `synth`.
pub fn run(a: Args) -> CmdResult {
    let params = SynthParams {
        speakers: a.speakers,
        clips_per_speaker: a.clips,
        sessions_per_speaker: a.sessions,
        sample_rate: a.sample_rate,
        seed: a.seed,
        ..SynthParams::default()
    };
    params.validate()?;
    let pb = spinner(format!(
        "synthesising {} speakers x {} clips",
        a.speakers, a.clips
    ));
    let data = SynthCorpus::generate(&params)?;
    pb.set_message(format!("writing {}", a.out.display()));
    let n = write_corpus(&data, &a.out, a.overwrite);
    pb.finish_and_clear();
    let n = n?;
    println!(
        "wrote {n} clips of {} speakers to {} (folders layout; train with --data {})",
        data.n_speakers(),
        a.out.display(),
        a.out.display()
    );
    Ok(())
}
