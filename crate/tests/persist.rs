//! Save/load round trips of every model; damaged files are typed errors.

use ndarray::{Array1, Array2, ArrayView2};
use serde_json::Value;
use speaker_similarity::models::{
    Baseline, BaselineKind, DiagGmm, GmmClassifier, GmmParams, GmmUbmClassifier, Mlp, MlpParams,
    StandardScaler, Ubm,
};
use speaker_similarity::persist::{from_json, load, save, to_json, Persist};
use speaker_similarity::Error;
use std::path::Path;

fn data() -> (Array2<f32>, Vec<usize>) {
    let y: Vec<usize> = (0..90).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((90, 4), |(i, j)| {
        (y[i] * 3) as f32 * if j == y[i] { 1.0 } else { 0.1 } + ((i * 7 + j * 13) % 10) as f32 * 0.1
    });
    (x, y)
}

fn names() -> Vec<String> {
    vec!["a".into(), "b".into(), "c".into()]
}

fn round_trip<T: Persist + PartialEq + std::fmt::Debug>(m: &T) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.json");
    save(&p, m).unwrap();
    let back: T = load(&p).unwrap();
    assert_eq!(&back, m);
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn every_model_round_trips() {
    let (x, y) = data();
    let g = DiagGmm::fit(
        x.view(),
        &GmmParams {
            n_components: 3,
            ..GmmParams::default()
        },
    )
    .unwrap();
    round_trip(&g);
    let clf = GmmClassifier::fit_rows(
        x.view(),
        &y,
        &names(),
        &GmmParams {
            n_components: 2,
            ..GmmParams::default()
        },
    )
    .unwrap();
    round_trip(&clf);
    let ubm = Ubm::fit(
        x.view(),
        &GmmParams {
            n_components: 4,
            ..GmmParams::default()
        },
    )
    .unwrap();
    round_trip(&ubm);
    let groups: Vec<Array2<f32>> = (0..3)
        .map(|c| {
            x.select(
                ndarray::Axis(0),
                &(0..90).filter(|i| y[*i] == c).collect::<Vec<_>>(),
            )
        })
        .collect();
    let views: Vec<ArrayView2<f32>> = groups.iter().map(|a| a.view()).collect();
    let gu = GmmUbmClassifier::fit(ubm, &views, &names(), 16.0).unwrap();
    round_trip(&gu);
    let (mlp, _) = Mlp::fit(
        x.view(),
        &y,
        3,
        None,
        &MlpParams {
            hidden: vec![8],
            epochs: 3,
            ..MlpParams::default()
        },
        &|_| {},
    )
    .unwrap();
    round_trip(&mlp);
    let s = StandardScaler::fit(x.view()).unwrap();
    round_trip(&s);
    // Baselines refit on load and predict the same.
    let dir = tempfile::tempdir().unwrap();
    for kind in [
        BaselineKind::Knn,
        BaselineKind::RandomForest,
        BaselineKind::LogisticRegression,
        BaselineKind::Svc,
    ] {
        let b = Baseline::fit(kind, x.view(), &y).unwrap();
        let p = dir.path().join(format!("{kind:?}.json"));
        save(&p, &b).unwrap();
        let back: Baseline = load(&p).unwrap();
        assert_eq!(
            back.predict(x.view()).unwrap(),
            b.predict(x.view()).unwrap()
        );
    }
}

fn model_err<T: Persist + std::fmt::Debug>(path: &Path) -> String {
    match load::<T>(path) {
        Err(Error::Model { reason, .. }) => reason,
        other => panic!("expected Error::Model, got {other:?}"),
    }
}

#[test]
fn damaged_files_are_typed_errors() {
    let (x, _) = data();
    let dir = tempfile::tempdir().unwrap();
    let g = DiagGmm::fit(
        x.view(),
        &GmmParams {
            n_components: 2,
            ..GmmParams::default()
        },
    )
    .unwrap();
    let good = to_json(&g).unwrap();
    let p = dir.path().join("g.json");
    // Truncated.
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("truncated"));
    // Non-JSON bytes.
    std::fs::write(&p, b"\x00\x01\x02garbage").unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("not a model file"));
    std::fs::write(&p, [0xffu8, 0xfe, 0x00]).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("not a model file"));
    // Empty.
    std::fs::write(&p, b"").unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("empty"));
    // Foreign JSON.
    std::fs::write(&p, br#"{"hello": "world"}"#).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("foreign"));
    std::fs::write(&p, b"[1, 2, 3]").unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("not a model file"));
    // Wrong kind.
    std::fs::write(&p, &good).unwrap();
    assert!(model_err::<StandardScaler>(&p).contains("expected a `StandardScaler`"));
    // Wrong version.
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v["version"] = Value::from(99);
    std::fs::write(&p, v.to_string()).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("version 99"));
    // Hand-edited: inconsistent shapes, negative variance.
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v["model"]["weights"]["data"] = serde_json::json!([1.0]);
    v["model"]["weights"]["dim"] = serde_json::json!([1]);
    std::fs::write(&p, v.to_string()).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("invalid DiagGmm"));
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v["model"]["variances"]["data"][0] = serde_json::json!(-1.0);
    std::fs::write(&p, v.to_string()).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("variance"));
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v["model"]["means"]["data"] = serde_json::json!([1.0]);
    std::fs::write(&p, v.to_string()).unwrap();
    assert!(model_err::<DiagGmm>(&p).contains("DiagGmm"));
    // Missing file: Io.
    assert!(matches!(
        load::<DiagGmm>(dir.path().join("nope.json")),
        Err(Error::Io { .. })
    ));
    // from_json directly.
    assert!(from_json::<DiagGmm>(&good, Path::new("<mem>")).is_ok());
    // A loaded Mlp with a broken layer chain is rejected.
    let m = Mlp::from_parts(
        vec![
            speaker_similarity::models::mlp::layers::Dense {
                weights: Array2::zeros((3, 4)),
                bias: Array1::zeros(4),
            },
            speaker_similarity::models::mlp::layers::Dense {
                weights: Array2::zeros((4, 2)),
                bias: Array1::zeros(2),
            },
        ],
        0.0,
        None,
    )
    .unwrap();
    let mut v: Value = serde_json::from_str(&to_json(&m).unwrap()).unwrap();
    v["model"]["layers"][1]["weights"]["dim"] = serde_json::json!([2, 4]);
    std::fs::write(&p, v.to_string()).unwrap();
    assert!(model_err::<Mlp>(&p).contains("Mlp"));
}
