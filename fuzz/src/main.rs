//! `speaker-similarity-fuzz`: run the fuzz targets for a given time (see the crate
//! docs). `make fuzz FUZZ_SECONDS=600` runs it in release mode; `make fuzz-smoke`
//! runs a short seeded run as part of `make test`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use speaker_similarity_fuzz::driver::{self, Config};
use speaker_similarity_fuzz::targets;

/// Seeded mutation fuzzing of every input a user can give.
#[derive(Parser, Debug)]
#[command(name = "speaker-similarity-fuzz")]
struct Args {
    /// Total run time in seconds, split evenly over the targets.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Seed of every random choice (the same seed and time give the same inputs).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An input running longer than this many seconds is a hang.
    #[arg(long, default_value_t = 5.0)]
    hang_seconds: f64,
    /// A single allocation larger than this many MiB is a finding.
    #[arg(long, default_value_t = 256)]
    max_alloc_mb: usize,
    /// Only these targets (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// Where findings are saved.
    #[arg(long, default_value = "fuzz/findings")]
    findings: PathBuf,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 10.0)]
    report_every: f64,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    if !(a.seconds.is_finite()
        && a.seconds >= 0.0
        && a.hang_seconds.is_finite()
        && a.hang_seconds > 0.0)
    {
        eprintln!("error: --seconds must be >= 0 and --hang-seconds > 0");
        return ExitCode::from(64);
    }
    eprintln!("fuzz: training the seed models and building the seed corpus");
    let mut all = targets::all();
    if a.list {
        for t in &all {
            println!("{:<11} {} ({} seeds)", t.name, t.about, t.seeds.len());
        }
        return ExitCode::SUCCESS;
    }
    if !a.targets.is_empty() {
        if let Some(bad) = a
            .targets
            .iter()
            .find(|n| !all.iter().any(|t| t.name == n.as_str()))
        {
            eprintln!(
                "error: no target `{bad}`; choose from {}",
                all.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            );
            return ExitCode::from(64);
        }
        all.retain(|t| a.targets.iter().any(|n| n == t.name));
    }
    let config = Config {
        seconds: a.seconds,
        seed: a.seed,
        hang: Duration::from_secs_f64(a.hang_seconds),
        max_alloc: a.max_alloc_mb << 20,
        findings: a.findings,
        report_every: a.report_every,
        ..Config::default()
    };
    eprintln!(
        "fuzz: {} targets for {} s (seed {}, hang limit {} s, allocation limit {} MiB), findings to {}",
        all.len(),
        config.seconds,
        config.seed,
        a.hang_seconds,
        a.max_alloc_mb,
        config.findings.display()
    );
    let summary = driver::run(&config, all);
    print!("{}", driver::table(&summary));
    if summary.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &summary.findings {
            println!(
                "finding: {} {} {} ({})",
                f.target,
                f.kind,
                f.file.display(),
                f.detail
            );
        }
        ExitCode::FAILURE
    }
}
