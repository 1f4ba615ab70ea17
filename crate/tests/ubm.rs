//! UBM + MAP adaptation (Reynolds et al. 2000) against a numpy implementation
//! (scripts/fixtures_sklearn.py -> ubm_map.json), GmmClassifier and
//! GmmUbmClassifier on a separable synthetic problem.

use ndarray::{Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use speaker_similarity::models::{DiagGmm, GmmClassifier, GmmParams, GmmUbmClassifier, Ubm};

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ubm_map.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mat(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn ubm_from(f: &Value) -> Ubm {
    let w: Vec<f64> = serde_json::from_value(f["weights"].clone()).unwrap();
    Ubm::from_gmm(
        DiagGmm::from_parts(Array1::from(w), mat(&f["means"]), mat(&f["variances"])).unwrap(),
    )
    .unwrap()
}

#[test]
fn map_adaptation_matches_reynolds_formula() {
    let f = fixture();
    let ubm = ubm_from(&f);
    let x = mat(&f["x"]).mapv(|v| v as f32);
    for r in ["4.0", "16.0"] {
        let rel: f64 = r.parse().unwrap();
        let a = ubm.map_adapt(x.view(), rel).unwrap();
        let want = mat(&f["adapted"][r]["means"]);
        let err = a
            .means()
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("r={r}: max |adapted mean - numpy| = {err:e}");
        assert!(err < 1e-10);
        let llr = ubm.llr(&a, x.view()).unwrap();
        let want_llr = f["adapted"][r]["llr"].as_f64().unwrap();
        assert!((llr - want_llr).abs() < 1e-10, "llr {llr} vs {want_llr}");
        assert!(
            llr > 0.0,
            "the adapted model explains the speaker's frames better"
        );
        let sv = ubm.supervector(&a).unwrap();
        let want_sv: Vec<f64> =
            serde_json::from_value(f["adapted"][r]["supervector"].clone()).unwrap();
        for (a, b) in sv.iter().zip(&want_sv) {
            assert!((f64::from(*a) - b).abs() < 1e-5 * (1.0 + b.abs()));
        }
        // Weights and variances are the UBM's.
        assert_eq!(a.weights(), ubm.gmm().weights());
        assert_eq!(a.variances(), ubm.gmm().variances());
        // Offset supervector is zero for the UBM itself.
        assert!(ubm
            .supervector_offset(ubm.gmm())
            .unwrap()
            .iter()
            .all(|&v| v == 0.0));
    }
}

#[test]
fn relevance_limits_and_direction() {
    let f = fixture();
    let ubm = ubm_from(&f);
    let x = mat(&f["x"]).mapv(|v| v as f32);
    let mu = ubm.gmm().means().clone();
    // r -> infinity keeps the UBM means.
    let a_inf = ubm.map_adapt(x.view(), f64::INFINITY).unwrap();
    assert_eq!(a_inf.means(), &mu);
    let a_big = ubm.map_adapt(x.view(), 1e12).unwrap();
    assert!(a_big
        .means()
        .iter()
        .zip(mu.iter())
        .all(|(a, b)| (a - b).abs() < 1e-9));
    // r = 0 gives the responsibility-weighted data means E_k(x).
    let ex = mat(&f["ex"]);
    let a0 = ubm.map_adapt(x.view(), 0.0).unwrap();
    let err = a0
        .means()
        .iter()
        .zip(ex.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-10, "r=0: {err}");
    // Adapted means move toward the data: strictly between UBM and E_k(x).
    let a16 = ubm.map_adapt(x.view(), 16.0).unwrap();
    for ((a, m), e) in a16.means().iter().zip(mu.iter()).zip(ex.iter()) {
        assert!((a - m).abs() <= (e - m).abs() + 1e-12);
        assert!((a - m) * (e - m) >= 0.0);
    }
    assert!(ubm.map_adapt(x.view(), -1.0).is_err());
    assert!(ubm
        .map_adapt(Array2::<f32>::zeros((3, 2)).view(), 16.0)
        .is_err());
}

/// Four "speakers" whose frames come from different 2-component mixtures in 5-D.
fn speakers(frames: usize, seed: u64) -> Vec<Array2<f32>> {
    speakers_sep(frames, seed, 2.5)
}

fn speakers_sep(frames: usize, seed: u64, sep: f32) -> Vec<Array2<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..4)
        .map(|s| {
            Array2::from_shape_fn((frames, 5), |(i, j)| {
                let mode = (i % 2) as f32;
                let c = if j == s { sep } else { 0.0 }
                    + mode * if j == (s + 1) % 5 { 1.5 } else { 0.0 };
                c + rng.random_range(-1.0f32..1.0)
            })
        })
        .collect()
}

/// Speakers sharing the same "phones" (cluster centres), each with its own small
/// offset: the set-up GMM-UBM is made for (components shared across speakers).
fn speakers_shared(frames: usize, seed: u64) -> Vec<Array2<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let phones = [
        [6.0f32, 0.0, 0.0, 0.0, 0.0],
        [0.0, 6.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 6.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 6.0, 6.0],
    ];
    (0..4)
        .map(|s| {
            Array2::from_shape_fn((frames, 5), |(i, j)| {
                let offset = if j == s { 1.0 } else { 0.0 };
                phones[i % 4][j] + offset + rng.random_range(-1.0f32..1.0)
            })
        })
        .collect()
}

fn names() -> Vec<String> {
    (0..4).map(|i| format!("spk{i}")).collect()
}

#[test]
fn gmm_classifier_learns_separable_speakers() {
    let train = speakers(400, 1);
    let views: Vec<ArrayView2<f32>> = train.iter().map(|a| a.view()).collect();
    let params = GmmParams {
        n_components: 4,
        ..GmmParams::default()
    };
    let clf = GmmClassifier::fit(&views, &names(), &params).unwrap();
    // Test utterances of 30 frames each.
    let test = speakers(300, 2);
    let mut clips = Vec::new();
    let mut truth = Vec::new();
    for (s, t) in test.iter().enumerate() {
        for c in 0..10 {
            clips.push(t.slice(ndarray::s![c * 30..(c + 1) * 30, ..]).to_owned());
            truth.push(s);
        }
    }
    let cv: Vec<ArrayView2<f32>> = clips.iter().map(|a| a.view()).collect();
    let pred = clf.predict_clips(&cv).unwrap();
    assert_eq!(pred, truth, "utterance-level accuracy must be 100%");
    let sc = clf.scores_clips(&cv[..3]).unwrap();
    for (i, c) in cv[..3].iter().enumerate() {
        for (j, m) in clf.models().iter().enumerate() {
            let want = m.total_log_likelihood(*c).unwrap();
            assert!((sc[[i, j]] - want).abs() < 1e-9 * want.abs());
        }
    }
    // Row mode (one row = one utterance): per-frame accuracy is high.
    let x = ndarray::concatenate(
        ndarray::Axis(0),
        &test.iter().map(|a| a.view()).collect::<Vec<_>>(),
    )
    .unwrap();
    let y: Vec<usize> = (0..4).flat_map(|s| std::iter::repeat_n(s, 300)).collect();
    let rows = clf.predict_rows(x.view()).unwrap();
    let acc = rows.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    println!("GmmClassifier frame accuracy {acc:.4}");
    assert!(acc > 0.85, "frame accuracy {acc}");
    let clf2 = GmmClassifier::fit_rows(
        ndarray::concatenate(ndarray::Axis(0), &views)
            .unwrap()
            .view(),
        &(0..4)
            .flat_map(|s| std::iter::repeat_n(s, 400))
            .collect::<Vec<_>>(),
        &names(),
        &params,
    )
    .unwrap();
    assert_eq!(clf2.predict_clips(&cv).unwrap(), truth);
    // Too few rows for the components: an error naming the class.
    let tiny = vec![train[0].slice(ndarray::s![..2, ..]), train[1].view()];
    let err = GmmClassifier::fit(&tiny, &names()[..2], &params).unwrap_err();
    assert!(err.to_string().contains("spk0"), "{err}");
}

#[test]
fn gmm_ubm_classifier_learns_separable_speakers() {
    let train = speakers_shared(300, 3);
    let pooled = ndarray::concatenate(
        ndarray::Axis(0),
        &train.iter().map(|a| a.view()).collect::<Vec<_>>(),
    )
    .unwrap();
    let ubm = Ubm::fit(
        pooled.view(),
        &GmmParams {
            n_components: 8,
            ..GmmParams::default()
        },
    )
    .unwrap();
    let views: Vec<ArrayView2<f32>> = train.iter().map(|a| a.view()).collect();
    let clf = GmmUbmClassifier::fit(ubm, &views, &names(), 16.0).unwrap();
    let test = speakers_shared(300, 4);
    let mut clips = Vec::new();
    let mut truth = Vec::new();
    for (s, t) in test.iter().enumerate() {
        for c in 0..10 {
            clips.push(t.slice(ndarray::s![c * 30..(c + 1) * 30, ..]).to_owned());
            truth.push(s);
        }
    }
    let cv: Vec<ArrayView2<f32>> = clips.iter().map(|a| a.view()).collect();
    let pred = clf.predict_clips(&cv).unwrap();
    let acc = pred.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    println!("GMM-UBM utterance accuracy {acc}");
    assert!(acc >= 0.95, "GMM-UBM accuracy {acc}: {pred:?}");
    // The LLR of a speaker's own clip against its model is positive.
    let s = clf.scores_clips(&cv[..1]).unwrap();
    assert!(s[[0, 0]] > 0.0);
    for j in 0..clf.names().len() {
        let m = clf.speaker_model(j).unwrap();
        let want = clf.ubm().llr(&m, cv[0]).unwrap();
        assert!((s[[0, j]] - want).abs() < 1e-9);
    }
    let sv = clf.supervectors().unwrap();
    assert_eq!(sv.dim(), (4, 8 * 5));
}
