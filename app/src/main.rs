//! `speaker-similarity`: which speaker — which celebrity — does this voice sound like?
//!
//! Command line over the `speaker_similarity` library: features of a clip, training
//! and honest evaluation on a data set, predictions and similarity ranking for new
//! recordings, the synthetic corpus, the tutorial demo and the web app.

mod commands;
mod data;
mod progress;
mod web;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Which speaker — which celebrity — does this voice sound like?
#[derive(Parser, Debug)]
#[command(name = "speaker-similarity", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Features of one audio file, laid out as librosa returns them.
    Features(commands::features::Args),
    /// Train every model on a data set and save them to a model directory.
    Train(commands::train::Args),
    /// Train on one part of a data set and report accuracy on the other.
    Evaluate(commands::evaluate::Args),
    /// Who speaks in a recording, segment by segment.
    Predict(commands::predict::PredictArgs),
    /// Which enrolled speakers does a recording sound like?
    Similar(commands::predict::SimilarArgs),
    /// Serve the web app: upload or record a voice, see who it sounds like.
    Serve(web::Args),
    /// The tutorial pipeline end to end: data summary, training, report, plots.
    Demo(commands::demo::Args),
    /// Write the synthetic speaker corpus (the embedded default) to a folder.
    Synth(commands::synth::Args),
    /// Degrade recordings: telephone line, noise or babble at an SNR, reverberation.
    Degrade(commands::degrade::Args),
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Features(a) => commands::features::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Evaluate(a) => commands::evaluate::run(a),
        Command::Predict(a) => commands::predict::run_predict(a),
        Command::Similar(a) => commands::predict::run_similar(a),
        Command::Serve(a) => web::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Synth(a) => commands::synth::run(a),
        Command::Degrade(a) => commands::degrade::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Die quietly on a closed pipe (`speaker-similarity features DIR | head`) as Unix
/// tools do, instead of panicking in `println!`: Rust ignores SIGPIPE by default.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
