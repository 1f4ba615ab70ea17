//! Times one EM iteration (100k x 40 frames, 32 components) and one MLP epoch of
//! the original shape (2367 x 52 rows, 39 classes), printing JSON. Called by
//! bench/models_vs_sklearn.py, which times scikit-learn on the same data.
//!
//! Usage: bench_models [--gmm-npy X.npy --gmm-init init.json] [--mlp-npy X.npy --mlp-labels y.json]
//!        (without files, generates data with a fixed seed).

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use speaker_similarity::models::{DiagGmm, Mlp, MlpParams};
use std::time::Instant;

/// Read a little-endian float32/float64 2-D .npy file (C order).
fn read_npy(path: &str) -> Array2<f32> {
    let bytes = std::fs::read(path).expect("read npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not a .npy file");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    let shape_start = header.find("'shape': (").unwrap() + 10;
    let shape_end = header[shape_start..].find(')').unwrap() + shape_start;
    let dims: Vec<usize> = header[shape_start..shape_end]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    assert!(header.contains("'fortran_order': False"));
    let data = &bytes[10 + hlen..];
    let v: Vec<f32> = if header.contains("<f4") {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    } else if header.contains("<f8") {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect()
    } else {
        panic!("unsupported dtype in {header}")
    };
    Array2::from_shape_vec((dims[0], dims[1]), v).unwrap()
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// CPU time of the whole process (all threads), in ms, from /proc/self/stat
/// (Linux; 10 ms ticks). `None` elsewhere.
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let reps: usize = arg("--reps").and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut rng = StdRng::seed_from_u64(42);
    // ---- GMM: one EM iteration ----
    let (x, init) = match (arg("--gmm-npy"), arg("--gmm-init")) {
        (Some(xp), Some(ip)) => {
            let x = read_npy(&xp);
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(ip).unwrap()).unwrap();
            let w: Vec<f64> = serde_json::from_value(v["weights"].clone()).unwrap();
            let m: Vec<Vec<f64>> = serde_json::from_value(v["means"].clone()).unwrap();
            let var: Vec<Vec<f64>> = serde_json::from_value(v["variances"].clone()).unwrap();
            let (k, d) = (m.len(), m[0].len());
            let g = DiagGmm::from_parts(
                Array1::from(w),
                Array2::from_shape_vec((k, d), m.concat()).unwrap(),
                Array2::from_shape_vec((k, d), var.concat()).unwrap(),
            )
            .unwrap();
            (x, g)
        }
        _ => {
            let (n, d, k) = (100_000, 40, 32);
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                let c = (i % k) as f32;
                c * 0.3 * ((j % 5) as f32 - 2.0) + {
                    let v: f32 = StandardNormal.sample(&mut rng);
                    v
                }
            });
            let means = Array2::from_shape_fn((k, d), |_| rng.random::<f64>());
            let g = DiagGmm::from_parts(
                Array1::from_elem(k, 1.0 / k as f64),
                means,
                Array2::ones((k, d)),
            )
            .unwrap();
            (x, g)
        }
    };
    let only = arg("--only").unwrap_or_default();
    let em_reps = if only == "mlp" { 0 } else { reps };
    let mlp_reps = if only == "em" { 0 } else { reps };
    let mut g = init.clone();
    g.em_step(x.view(), 1e-6).unwrap(); // warm-up
    let mut em_times = Vec::new();
    let c0 = cpu_ms();
    for _ in 0..em_reps {
        let t = Instant::now();
        g.em_step(x.view(), 1e-6).unwrap();
        em_times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let em_cpu = cpu_ms()
        .zip(c0)
        .map(|(b, a)| (b - a) / em_reps.max(1) as f64);
    // ---- MLP: one epoch of the original shape ----
    let (xm, ym) = match (arg("--mlp-npy"), arg("--mlp-labels")) {
        (Some(xp), Some(yp)) => {
            let x = read_npy(&xp);
            let y: Vec<usize> =
                serde_json::from_str(&std::fs::read_to_string(yp).unwrap()).unwrap();
            (x, y)
        }
        _ => {
            let (n, d, c) = (2367, 52, 39);
            let y: Vec<usize> = (0..n).map(|i| i % c).collect();
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                (y[i] as f32 * 0.1 * (j % 3) as f32) + {
                    let v: f32 = StandardNormal.sample(&mut rng);
                    v
                }
            });
            (x, y)
        }
    };
    let n_classes = ym.iter().max().unwrap() + 1;
    let params = MlpParams {
        epochs: 1,
        patience: None,
        ..MlpParams::original()
    };
    let mut epoch_times = Vec::new();
    let mut c0 = None;
    for rep in 0..mlp_reps + 1 {
        if rep == 1 {
            c0 = cpu_ms();
        }
        let p = MlpParams {
            seed: rep as u64,
            ..params.clone()
        };
        let t = Instant::now();
        let (mlp, _) = Mlp::fit(xm.view(), &ym, n_classes, None, &p, &|_| {}).unwrap();
        let el = t.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(mlp);
        if rep > 0 {
            epoch_times.push(el);
        }
    }
    let mlp_cpu = cpu_ms()
        .zip(c0)
        .map(|(b, a)| (b - a) / mlp_reps.max(1) as f64);
    // Multi-epoch run to amortise set-up: ms per epoch over 10 epochs.
    let p10 = MlpParams {
        epochs: if mlp_reps == 0 { 1 } else { 10 },
        ..params.clone()
    };
    let t = Instant::now();
    let (_m, _) = Mlp::fit(xm.view(), &ym, n_classes, None, &p10, &|_| {}).unwrap();
    let per_epoch_10 = t.elapsed().as_secs_f64() * 1e3 / 10.0;
    println!(
        "{{\"em_cpu_ms\": {}, \"mlp_cpu_ms\": {}, \"em_iter_ms\": {:.3}, \"em_rows\": {}, \"em_dims\": {}, \"em_components\": {}, \"mlp_epoch_ms\": {:.3}, \"mlp_epoch_ms_10\": {:.3}, \"mlp_rows\": {}, \"threads\": {}}}",
        em_cpu.map_or("null".to_string(), |v| format!("{v:.1}")),
        mlp_cpu.map_or("null".to_string(), |v| format!("{v:.1}")),
        median(em_times),
        x.nrows(),
        x.ncols(),
        init.n_components(),
        median(epoch_times),
        per_epoch_10,
        xm.nrows(),
        rayon::current_num_threads()
    );
}
