//! `speaker-similarity serve`: the web app over a model directory written by `train`.
//!
//! Pages (server-rendered HTML, one small script, no external resources):
//! - `GET /` Home: upload a file, record from the microphone (the page encodes
//!   16-bit PCM WAV itself), or fetch a URL through `yt-dlp`; this browser session's
//!   recordings with players.
//! - `GET /segments/{id}`: the recording cut into segments, each with its time, the
//!   MLP's speaker and probability, the headline GMM's speaker, the most similar
//!   enrolled speakers and a player; the verdict on the whole recording.
//!   Below the verdict, a timeline of who speaks when (the recording diarized, its
//!   clusters named through the open-set verdicts), each turn playable; with
//!   `--allow-enrol`, a form "Enrol this voice as..." (`POST /segments/{id}/enrol`).
//! - `GET /celebrities`: the enrolled speakers, their clip counts and the speakers
//!   each one is most similar to.
//!
//! JSON API: `POST /api/predict` (the audio as the raw body or as the `audio` field
//! of a multipart form), `POST /api/fetch` (`{"url": ...}`), `GET /api/speakers`,
//! `GET /api/recordings/{id}` (with its diarization), `POST /api/diarize` (an upload
//! diarized: `diarize --json`'s JSON), `POST /api/recordings/{id}/enrol`
//! (`{"speaker": ID, "name": NAME}`; 403 without `--allow-enrol`).
//!
//! Uploads are held in memory only (a bounded LRU keyed by random ids), checked by
//! decoding them, and analysed on the blocking pool with at most one job per core at
//! a time; the models are shared read-only, and an enrolment swaps in a new model
//! whole (requests running finish with the one they started with).

mod diarize;
mod egress;
mod enrol;
mod error;
mod fetch;
mod html;
mod multipart;
mod netpolicy;
mod pages;
mod range;
mod routes;
mod state;
mod timeline;
mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use speaker_similarity::pipeline::SpeakerModels;

use crate::commands::CmdResult;
use state::{AppState, Config};

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory written by `train`.
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Port to listen on (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Largest upload accepted, in megabytes.
    #[arg(long, default_value_t = 25, value_name = "MB")]
    pub max_upload_mb: u64,
    /// Longest recording accepted, in seconds (after decoding).
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    pub max_seconds: f64,
    /// Segment length in seconds (the original web app used 2).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub segment: f64,
    /// How many analysed recordings to keep in memory for their pages and players
    /// (the oldest are forgotten first; at most 512 MB of audio in all).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub keep: usize,
    /// Analyses running at once (default: one per core); further requests wait.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The yt-dlp program used to fetch audio from URLs (name on PATH or a path).
    #[arg(long, default_value = "yt-dlp", value_name = "PROGRAM")]
    pub yt_dlp: String,
    /// Time limit of one URL fetch, in seconds.
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub fetch_timeout: u64,
    /// Recordings accepted at once, analysed or waiting (default: 64 per job, at
    /// least 256); more get 503 with Retry-After. Bounds memory: see the README.
    #[arg(long, value_name = "N")]
    pub queue: Option<usize>,
    /// Let visitors enrol a recording as a new speaker of the model directory (the
    /// directory is replaced atomically and the server's model swapped in memory).
    #[arg(long)]
    pub allow_enrol: bool,
    /// Tests only: answer these host names from this table instead of DNS
    /// (HOST=IP[,IP...]; repeatable); any other name does not resolve.
    #[arg(long, hide = true, value_name = "HOST=IP")]
    pub fetch_resolve: Vec<String>,
    /// Tests only: let URL fetches reach this address although it is not public.
    #[arg(long, hide = true, value_name = "IP")]
    pub fetch_allow_address: Vec<std::net::IpAddr>,
}

impl Args {
    fn config(&self) -> Result<Config, String> {
        if !(self.segment.is_finite() && self.segment >= 0.1 && self.segment <= 60.0) {
            return Err(format!(
                "--segment {} is outside 0.1 to 60 seconds",
                self.segment
            ));
        }
        if !(1..=4096).contains(&self.max_upload_mb) {
            return Err(format!(
                "--max-upload-mb {} is outside 1 to 4096",
                self.max_upload_mb
            ));
        }
        if !(self.max_seconds.is_finite() && self.max_seconds >= self.segment) {
            return Err(format!(
                "--max-seconds {} must be a number of seconds of at least one segment ({} s)",
                self.max_seconds, self.segment
            ));
        }
        if self.keep == 0 {
            return Err("--keep must be at least 1".into());
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let jobs = self.jobs.unwrap_or(cores);
        if jobs == 0 {
            return Err("--jobs must be at least 1".into());
        }
        if self.fetch_timeout == 0 {
            return Err("--fetch-timeout must be at least 1 second".into());
        }
        let max_in_flight = self.queue.unwrap_or(64 * jobs.max(4));
        if max_in_flight < jobs {
            return Err(format!(
                "--queue {max_in_flight} must be at least --jobs ({jobs})"
            ));
        }
        let mut policy = netpolicy::Policy::system();
        if !self.fetch_resolve.is_empty() {
            policy.resolver =
                std::sync::Arc::new(netpolicy::StaticResolver::parse(&self.fetch_resolve)?);
        }
        if !self.fetch_allow_address.is_empty() {
            eprintln!(
                "warning: URL fetches may reach {:?} (--fetch-allow-address is for tests)",
                self.fetch_allow_address
            );
            policy.allow = self.fetch_allow_address.clone();
        }
        Ok(Config {
            segment_seconds: self.segment,
            max_upload: (self.max_upload_mb * 1024 * 1024) as usize,
            max_seconds: self.max_seconds,
            keep: self.keep,
            keep_bytes: 512 * 1024 * 1024,
            jobs,
            max_in_flight,
            yt_dlp: self.yt_dlp.clone(),
            fetch_timeout: std::time::Duration::from_secs(self.fetch_timeout),
            policy,
            model_dir: self.model.clone(),
            allow_enrol: self.allow_enrol,
        })
    }
}

/// Run `serve`: load the models, listen, serve until Ctrl-C (or SIGTERM), then let
/// the requests in flight finish.
pub fn run(a: Args) -> CmdResult {
    let config = a.config()?;
    let started = Instant::now();
    let models = SpeakerModels::load(&a.model)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(a, config, models, started))
}

async fn serve(a: Args, config: Config, models: SpeakerModels, started: Instant) -> CmdResult {
    let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", a.host, a.port))?;
    let addr = listener.local_addr()?;
    let models = Arc::new(models);
    let state = Arc::new(AppState::new(models.clone(), config)?);
    println!(
        "model {}: {} speakers, models {}",
        a.model.display(),
        models.speakers.len(),
        models
            .kinds()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match fetch::find_program(&state.config.yt_dlp) {
        Some(p) => println!("URL fetching through {}", p.display()),
        None => println!(
            "URL fetching is off: `{}` is not installed (pip install yt-dlp)",
            state.config.yt_dlp
        ),
    }
    if state.config.allow_enrol {
        println!(
            "enrolment is on (--allow-enrol): visitors may add speakers to {}",
            a.model.display()
        );
    }
    println!(
        "serving on {} (ready in {:.2} s; Ctrl-C to stop)",
        url(addr),
        started.elapsed().as_secs_f64()
    );
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    println!("stopped");
    Ok(())
}

fn url(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("http://{}:{}/", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("http://[{}]:{}/", a.ip(), a.port()),
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: serve until killed.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    println!("shutting down: finishing the requests in flight");
}
