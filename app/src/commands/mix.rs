//! `speaker-similarity mix OUT.wav`: a test conversation built from single-speaker
//! clips, with its RTTM truth beside it.

use std::path::PathBuf;

use speaker_similarity::dataset::{split, SplitParams};
use speaker_similarity::diarize::mix::{mix, MixParams, NoiseKind};
use speaker_similarity::diarize::rttm;

use super::CmdResult;
use crate::data::DataArgs;
use crate::progress::spinner;

/// Which clips a conversation is built from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipSide {
    /// The test side of the default honest split (seed 42, 30 %): voices a model
    /// trained with the defaults never heard.
    Test,
    /// The training side of that split.
    Train,
    /// Every clip.
    All,
}

/// Colour of the background noise.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noise {
    /// Pink (1/f) noise.
    Pink,
    /// White noise.
    White,
}

/// Arguments of `mix`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// WAV file to write (16-bit PCM).
    pub out: PathBuf,
    /// Truth RTTM to write. Default: OUT with the extension `.rttm`.
    #[arg(long, value_name = "FILE")]
    pub rttm: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Clips to build from.
    #[arg(long, value_enum, default_value_t = ClipSide::Test)]
    pub clips: ClipSide,
    /// Number of speakers (2-5 for the test conversations; 1-20 allowed).
    #[arg(long, default_value_t = MixParams::default().speakers)]
    pub speakers: usize,
    /// Length in seconds.
    #[arg(long, default_value_t = MixParams::default().duration)]
    pub duration: f64,
    /// Shortest and longest turn in seconds.
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"], default_values_t = [1.0, 8.0])]
    pub turns: Vec<f64>,
    /// Target share of the speech spoken by two people at once, in [0, 0.5).
    #[arg(long, default_value_t = 0.0)]
    pub overlap: f64,
    /// Background noise at this SNR in dB.
    #[arg(long, value_name = "DB")]
    pub snr: Option<f64>,
    /// Colour of the background noise.
    #[arg(long, value_enum, default_value_t = Noise::Pink)]
    pub noise: Noise,
    /// Seed: the same seed and data build the same conversation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run `mix`.
pub fn run(a: Args) -> CmdResult {
    let params = MixParams {
        speakers: a.speakers,
        duration: a.duration,
        turn_seconds: (a.turns[0], a.turns[1]),
        overlap: a.overlap,
        snr_db: a.snr,
        noise: match a.noise {
            Noise::Pink => NoiseKind::Pink,
            Noise::White => NoiseKind::White,
        },
        seed: a.seed,
        ..MixParams::default()
    };
    params.validate()?;
    let (data, what) = a.data.open()?;
    let clips: Vec<_> = match a.clips {
        ClipSide::All => data.clips.clone(),
        side => {
            let s = split(&data, &SplitParams::default())?;
            s.check_disjoint()?;
            let idx = if side == ClipSide::Test {
                &s.test
            } else {
                &s.train
            };
            idx.iter().map(|&i| data.clips[i].clone()).collect()
        }
    };
    let pb = spinner(format!("mixing {} speakers from {what}", a.speakers));
    let conv = mix(&clips, &params);
    pb.finish_and_clear();
    let conv = conv?;
    let rttm_path = a
        .rttm
        .clone()
        .unwrap_or_else(|| a.out.with_extension("rttm"));
    let id = rttm::file_id(&a.out);
    conv.audio.write_wav(&a.out)?;
    rttm::write(&rttm_path, &id, &conv.truth)?;
    if a.json {
        super::print_json(&serde_json::json!({
            "audio": a.out,
            "rttm": rttm_path,
            "duration": conv.audio.duration(),
            "speakers": conv.speakers,
            "turns": conv.truth.len(),
            "speech_seconds": conv.speech_seconds,
            "overlap_fraction": conv.overlap_fraction,
        }))?;
    } else {
        println!(
            "wrote {} ({:.1} s, {} speakers: {}) and its truth {} ({} turns, {:.1} s of speech, {:.1} % overlapped)",
            a.out.display(),
            conv.audio.duration(),
            conv.speakers.len(),
            conv.speakers.join(", "),
            rttm_path.display(),
            conv.truth.len(),
            conv.speech_seconds,
            100.0 * conv.overlap_fraction
        );
    }
    Ok(())
}
