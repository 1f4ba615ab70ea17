//! StandardScaler against scikit-learn (scaler_sklearn.json) and smartcore
//! baselines on a separable problem.

use ndarray::Array2;
use serde_json::Value;
use speaker_similarity::models::{Baseline, BaselineKind, StandardScaler};

fn mat(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

#[test]
fn scaler_matches_sklearn() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scaler_sklearn.json"
    );
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let x = mat(&f["x"]).mapv(|v| v as f32);
    let s = StandardScaler::fit(x.view()).unwrap();
    let mean: Vec<f64> = serde_json::from_value(f["mean"].clone()).unwrap();
    let scale: Vec<f64> = serde_json::from_value(f["scale"].clone()).unwrap();
    for (a, b) in s.mean().iter().zip(&mean) {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "mean {a} vs {b}");
    }
    for (a, b) in s.scale().iter().zip(&scale) {
        assert!((a - b).abs() <= 1e-12 * b.abs(), "scale {a} vs {b}");
    }
    assert_eq!(s.scale()[3], 1.0, "constant column gets scale 1");
    let z = s.transform(x.view()).unwrap();
    for (a, b) in z.iter().zip(mat(&f["transformed"]).iter()) {
        assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
    }
    let back = s.inverse_transform(z.view()).unwrap();
    for (a, b) in back.iter().zip(x.iter()) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()));
    }
    assert!(s.transform(Array2::<f32>::zeros((2, 3)).view()).is_err());
}

#[test]
fn baselines_learn_a_separable_problem_and_reject_bad_input() {
    let y: Vec<usize> = (0..60).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((60, 4), |(i, j)| {
        (if j == y[i] { 5.0 } else { 0.0 }) + ((i * 7 + j * 3) % 10) as f32 * 0.1
    });
    for kind in [
        BaselineKind::Svc,
        BaselineKind::RandomForest,
        BaselineKind::Knn,
        BaselineKind::LogisticRegression,
    ] {
        let b = Baseline::fit(kind, x.view(), &y).unwrap();
        let p = b.predict(x.view()).unwrap();
        let acc = p.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / 60.0;
        println!("{kind:?}: training accuracy {acc}");
        assert!(acc >= 0.95, "{kind:?}: {acc}");
        assert!(b.predict(Array2::<f32>::zeros((1, 3)).view()).is_err());
        // Tiny and one-class inputs: errors, not panics.
        assert!(Baseline::fit(kind, x.slice(ndarray::s![..1, ..]), &y[..1]).is_err());
        assert!(Baseline::fit(kind, x.view(), &[0; 60]).is_err());
        assert!(Baseline::fit(kind, x.view(), &y[..5]).is_err());
        // Few rows of two classes work (the SVC needs rows >= features and
        // refuses fewer, where smartcore would panic).
        let b2 = Baseline::fit(kind, x.slice(ndarray::s![..4, ..]), &[0, 1, 0, 1]).unwrap();
        assert_eq!(b2.predict(x.slice(ndarray::s![..2, ..])).unwrap().len(), 2);
        let r3 = Baseline::fit(kind, x.slice(ndarray::s![..3, ..]), &[0, 1, 0]);
        assert_eq!(r3.is_err(), kind == BaselineKind::Svc);
    }
}
