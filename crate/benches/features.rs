//! Criterion benches of the feature extractors on a 2 s 16 kHz clip (a dsp34 file
//! from the shared data sets when present, else a synthetic vowel-like signal).
//!
//! `cargo bench -p speaker_similarity --bench features`. For the side-by-side
//! comparison with librosa see `bench/features_vs_librosa.py`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use speaker_similarity::features::{self, ClipVectorParams, FrameFeatureParams, MfccParams};
use speaker_similarity::Audio;

fn clip() -> Audio {
    let candidates = [
        std::env::var("SPEAKER_SHARED_DATASETS")
            .map(PathBuf::from)
            .ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")),
        Some(PathBuf::from("/work/shared/datasets")),
    ];
    for dir in candidates.into_iter().flatten() {
        let p = dir.join("dsp34/15307110189/15307110189-00-01.wav");
        if let Ok(a) = Audio::load(&p) {
            eprintln!("bench clip: {}", p.display());
            return a;
        }
    }
    eprintln!("bench clip: synthetic (shared data sets not found)");
    let sr = 16000.0f32;
    let samples = (0..32000)
        .map(|i| {
            let t = i as f32 / sr;
            let f0 = 120.0 + 10.0 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
            (1..20)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.1
        })
        .collect();
    Audio::new(samples, 16000).expect("finite synthetic clip")
}

fn benches(c: &mut Criterion) {
    let audio = clip();
    let head = Audio::new(audio.samples[..32000.min(audio.len())].to_vec(), 16000).unwrap();
    c.bench_function("clip_vector 2s 16kHz", |b| {
        b.iter(|| features::clip_vector(black_box(&audio)).unwrap())
    });
    c.bench_function("frame_features 2s 16kHz", |b| {
        b.iter(|| features::frame_features(black_box(&audio)).unwrap())
    });
    let p = MfccParams {
        n_mfcc: 13,
        hop_length: 256,
        ..Default::default()
    };
    c.bench_function("mfcc 2s 16kHz (n_mfcc 13, hop 256)", |b| {
        b.iter(|| features::mfcc(black_box(&head), &p).unwrap())
    });
    c.bench_function("lpc order 12, 2s", |b| {
        b.iter(|| features::lpc(black_box(&audio.samples), 12).unwrap())
    });
    c.bench_function("zcr_splits 13, 2s", |b| {
        b.iter(|| features::zcr_splits(black_box(&audio.samples), 13).unwrap())
    });
    let many: Vec<Audio> = (0..32).map(|_| audio.clone()).collect();
    c.bench_function("clip_vectors_par 32 clips", |b| {
        b.iter(|| {
            features::clip_vectors_par(black_box(&many), &ClipVectorParams::default(), &|_| {})
                .unwrap()
        })
    });
    c.bench_function("frame_features_par 32 clips", |b| {
        b.iter(|| {
            features::frame_features_par(black_box(&many), &FrameFeatureParams::default(), &|_| {})
                .unwrap()
        })
    });
}

criterion_group! {
    name = features_benches;
    config = Criterion::default().sample_size(30);
    targets = benches
}
criterion_main!(features_benches);
