//! Time `clip_vector` and `frame_features` per clip, single-threaded, and print
//! JSON (used by `bench/features_vs_librosa.py`).
//!
//! ```text
//! cargo run --release -p speaker_similarity --example bench_features -- [--repeat N] CLIP.wav...
//! ```
//! Audio is decoded before timing; the numbers are feature extraction only. Each
//! clip is run once to warm the cached plans, then `N` times (default 50); the
//! median and the minimum are reported in microseconds (the minimum is the least
//! disturbed by other processes on a shared machine).

use std::time::Instant;

use speaker_similarity::features::{clip_vector, frame_features};
use speaker_similarity::Audio;

/// (median, minimum) of the timings.
fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let mut repeat = 50usize;
    let mut paths = Vec::new();
    while let Some(a) = args.next() {
        if a == "--repeat" {
            repeat = args.next().ok_or("--repeat needs a value")?.parse()?;
        } else {
            paths.push(a);
        }
    }
    if paths.is_empty() {
        return Err("usage: bench_features [--repeat N] CLIP.wav...".into());
    }
    let mut rows = Vec::new();
    for p in &paths {
        let audio = Audio::load(p)?;
        let time =
            |f: &dyn Fn() -> speaker_similarity::Result<()>| -> speaker_similarity::Result<(f64, f64)> {
                f()?;
                let mut t = Vec::with_capacity(repeat);
                for _ in 0..repeat {
                    let s = Instant::now();
                    f()?;
                    t.push(s.elapsed().as_secs_f64() * 1e6);
                }
                Ok(stats(t))
            };
        let (cv, cv_min) = time(&|| clip_vector(&audio).map(|_| ()))?;
        let (ff, ff_min) = time(&|| frame_features(&audio).map(|_| ()))?;
        rows.push(format!(
            "{{\"path\":{:?},\"samples\":{},\"sample_rate\":{},\"clip_vector_us\":{cv:.1},\"clip_vector_min_us\":{cv_min:.1},\"frame_features_us\":{ff:.1},\"frame_features_min_us\":{ff_min:.1}}}",
            p,
            audio.samples.len(),
            audio.sample_rate
        ));
    }
    println!("[{}]", rows.join(","));
    Ok(())
}
