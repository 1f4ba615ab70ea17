//! The web app (placeholder until the web module lands).

use std::path::PathBuf;

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory written by `train`.
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

/// Run `serve`.
pub fn run(_a: Args) -> crate::commands::CmdResult {
    Err("the web app is not built yet".into())
}
