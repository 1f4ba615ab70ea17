//! Measure diarization on test conversations built from held-out clips.
//!
//! ```text
//! cargo run --release -p speaker_similarity --example diarize_eval -- \
//!     [--data DIR] [--speakers 2,3,4] [--per 5] [--duration 60] [--overlap 0.1] \
//!     [--snr 10] [--threshold 0.5] [--vad-only] [--force]
//! ```
//!
//! For every speaker count, `--per` conversations (seeds 0..per) are mixed from the
//! test side of the default honest split (synthetic corpus without `--data`),
//! diarized without a model, and scored with DER (collar 0.5 s total = NIST's
//! ±0.25 s). Prints one line per conversation and the pooled DER per count.

use speaker_similarity::dataset::{split, Dataset, SplitParams};
use speaker_similarity::diarize::mix::{mix, MixParams};
use speaker_similarity::diarize::{der, diarize, DerReport, DiarizeParams, NIST_COLLAR};
use speaker_similarity::synth::{SynthCorpus, SynthParams};
use speaker_similarity::vad;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> speaker_similarity::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = match arg(&args, "--data") {
        Some(d) => Dataset::open(d)?,
        None => SynthCorpus::generate(&SynthParams {
            seed: arg(&args, "--synth-seed").map_or(42, |s| s.parse().unwrap_or(42)),
            ..SynthParams::default()
        })?,
    };
    let sp = split(&data, &SplitParams::default())?;
    sp.check_disjoint()?;
    let clips: Vec<_> = sp.test.iter().map(|&i| data.clips[i].clone()).collect();
    let counts: Vec<usize> = arg(&args, "--speakers")
        .unwrap_or_else(|| "2,3,4".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let per: u64 = arg(&args, "--per").map_or(5, |s| s.parse().unwrap_or(5));
    let duration: f64 = arg(&args, "--duration").map_or(60.0, |s| s.parse().unwrap_or(60.0));
    let overlap: f64 = arg(&args, "--overlap").map_or(0.0, |s| s.parse().unwrap_or(0.0));
    let snr: Option<f64> = arg(&args, "--snr").and_then(|s| s.parse().ok());
    let mut params = DiarizeParams::default();
    if let Some(t) = arg(&args, "--threshold").and_then(|s| s.parse().ok()) {
        params.threshold = t;
        params.count_rule = speaker_similarity::diarize::CountRule::Threshold;
    }
    if let Some(t) = arg(&args, "--min-silhouette").and_then(|s| s.parse().ok()) {
        params.min_silhouette = t;
    }
    if let Some(t) = arg(&args, "--penalty").and_then(|s| s.parse().ok()) {
        params.switch_penalty = t;
    }
    if let Some(t) = arg(&args, "--relevance").and_then(|s| s.parse().ok()) {
        params.relevance = t;
    }
    if let Some(t) = arg(&args, "--ubm").and_then(|s| s.parse().ok()) {
        params.ubm_components = t;
    }
    if let Some(t) = arg(&args, "--local").and_then(|s| s.parse().ok()) {
        params.local_threshold = t;
    }
    if let Some(t) = arg(&args, "--window").and_then(|s| s.parse().ok()) {
        params.window = t;
    }
    if args.iter().any(|a| a == "--silhouette") {
        params.count_rule = speaker_similarity::diarize::CountRule::Silhouette;
    }
    if let Some(t) = arg(&args, "--iters").and_then(|s| s.parse().ok()) {
        params.resegment_iterations = t;
    }
    if let Some(t) = arg(&args, "--min-speaker").and_then(|s| s.parse().ok()) {
        params.min_speaker_seconds = t;
    }
    let vad_only = args.iter().any(|a| a == "--vad-only");
    let force = args.iter().any(|a| a == "--force");
    let mut grand = DerReport::zero();
    for &n in &counts {
        let mut pooled = DerReport::zero();
        let (mut acc_sum, mut miss_sum, mut fa_sum) = (0.0, 0.0, 0.0);
        let mut count_ok = 0;
        for seed in 0..per {
            let conv = mix(
                &clips,
                &MixParams {
                    speakers: n,
                    duration,
                    overlap,
                    snr_db: snr,
                    seed,
                    ..MixParams::default()
                },
            )?;
            let truth_regions: Vec<(f64, f64)> =
                conv.truth.iter().map(|t| (t.start, t.end)).collect();
            let speech = vad::detect(&conv.audio, &params.vad)?;
            let (acc, miss, fa) = vad::frame_accuracy(&speech, &truth_regions);
            acc_sum += acc;
            miss_sum += miss;
            fa_sum += fa;
            if vad_only {
                println!("{n} speakers seed {seed}: VAD frame accuracy {acc:.3} (miss {miss:.3}, false alarm {fa:.3})");
                continue;
            }
            let p = DiarizeParams {
                speakers: force.then_some(n),
                ..params.clone()
            };
            let d = diarize(&conv.audio, &p)?;
            let r = der(&conv.truth, &d.rttm_turns(), NIST_COLLAR)?;
            count_ok += usize::from(d.speakers.len() == n);
            println!(
                "{n} speakers seed {seed}: found {} | DER {:.2} % (miss {:.2} fa {:.2} conf {:.2}) | VAD acc {acc:.3} | overlap {:.1} %",
                d.speakers.len(),
                100.0 * r.der(),
                100.0 * r.missed / r.total,
                100.0 * r.false_alarm / r.total,
                100.0 * r.confusion / r.total,
                100.0 * conv.overlap_fraction
            );
            pooled.accumulate(&r);
        }
        let k = per as f64;
        if vad_only {
            println!(
                "== {n} speakers: VAD frame accuracy {:.3} (miss {:.3}, fa {:.3})",
                acc_sum / k,
                miss_sum / k,
                fa_sum / k
            );
        } else {
            println!(
                "== {n} speakers: pooled DER {:.2} % (miss {:.2} fa {:.2} conf {:.2}), count right {count_ok}/{per}, VAD acc {:.3}",
                100.0 * pooled.der(),
                100.0 * pooled.missed / pooled.total,
                100.0 * pooled.false_alarm / pooled.total,
                100.0 * pooled.confusion / pooled.total,
                acc_sum / k
            );
        }
        grand.accumulate(&pooled);
    }
    if !vad_only {
        println!("== all: pooled DER {:.2} %", 100.0 * grand.der());
    }
    Ok(())
}
