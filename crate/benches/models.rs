//! Criterion benches: one EM iteration (100k x 40 frames, 32 components) and one
//! MLP epoch of the original shape (2367 x 52 rows, 39 classes). The comparison
//! with scikit-learn is bench/models_vs_sklearn.py.

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use speaker_similarity::models::{DiagGmm, Mlp, MlpParams};
use std::hint::black_box;

fn em_iteration(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let (n, d, k) = (100_000, 40, 32);
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        ((i % k) * (j % 3)) as f32 * 0.5 + rng.random_range(-1.0f32..1.0)
    });
    let means = Array2::from_shape_fn((k, d), |_| rng.random_range(0.0..3.0));
    let init = DiagGmm::from_parts(
        Array1::from_elem(k, 1.0 / k as f64),
        means,
        Array2::ones((k, d)),
    )
    .unwrap();
    let mut group = c.benchmark_group("gmm");
    group.sample_size(10);
    group.bench_function("em_iteration_100k_x40_k32", |b| {
        b.iter_batched(
            || init.clone(),
            |mut g| {
                g.em_step(x.view(), 1e-6).unwrap();
                black_box(g)
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn mlp_epoch(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let (n, d, classes) = (2367, 52, 39);
    let y: Vec<usize> = (0..n).map(|i| i % classes).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        (y[i] * (j % 4)) as f32 * 0.05 + rng.random_range(-1.0f32..1.0)
    });
    let params = MlpParams {
        epochs: 1,
        patience: None,
        ..MlpParams::original()
    };
    let mut group = c.benchmark_group("mlp");
    group.sample_size(10);
    group.bench_function("epoch_original_shape_2367x52", |b| {
        b.iter(|| black_box(Mlp::fit(x.view(), &y, classes, None, &params, &|_| {}).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, em_iteration, mlp_epoch);
criterion_main!(benches);
