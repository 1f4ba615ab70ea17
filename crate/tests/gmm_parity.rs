//! DiagGmm against scikit-learn's GaussianMixture(covariance_type="diag").
//! Fixtures: scripts/fixtures_sklearn.py -> crate/tests/fixtures/gmm_sklearn.json.

use ndarray::{Array1, Array2};
use serde_json::Value;
use speaker_similarity::models::{DiagGmm, GmmInit, GmmParams};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gmm_sklearn.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mat(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn mat32(v: &Value) -> Array2<f32> {
    mat(v).mapv(|x| x as f32)
}

fn vec1(v: &Value) -> Array1<f64> {
    Array1::from(serde_json::from_value::<Vec<f64>>(v.clone()).unwrap())
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn init(f: &Value) -> DiagGmm {
    DiagGmm::from_parts(
        vec1(&f["init"]["weights"]),
        mat(&f["init"]["means"]),
        mat(&f["init"]["variances"]),
    )
    .unwrap()
}

#[test]
fn em_from_same_init_matches_sklearn_per_iteration() {
    let f = fixture();
    let x = mat32(&f["x"]);
    let x_test = mat32(&f["x_test"]);
    let init = init(&f);
    let iters: Vec<usize> = serde_json::from_value(f["iters"].clone()).unwrap();
    let lbs: Vec<f64> = serde_json::from_value(f["lower_bounds"].clone()).unwrap();
    let scores: Vec<f64> = serde_json::from_value(f["scores"].clone()).unwrap();
    let params = GmmParams {
        tol: 0.0,
        max_iter: *iters.last().unwrap(),
        ..GmmParams::default()
    };
    // One long run: its lower-bound history equals sklearn's lower_bound_ after
    // max_iter = 1, 2, ... iterations.
    let g = DiagGmm::fit_from(&init, x.view(), &params).unwrap();
    let hist = g.lower_bound_history();
    assert_eq!(hist.len(), lbs.len());
    let mut worst = 0.0f64;
    for (a, b) in hist.iter().zip(&lbs) {
        worst = worst.max(rel(*a, *b));
    }
    println!(
        "worst relative lower-bound error over {} iterations: {worst:e}",
        lbs.len()
    );
    assert!(worst < 1e-9, "lower bound error {worst}");
    // score(X) after k iterations, and the final parameters.
    for (k, want) in iters.iter().zip(&scores) {
        let p = GmmParams {
            tol: 0.0,
            max_iter: *k,
            ..GmmParams::default()
        };
        let g = DiagGmm::fit_from(&init, x.view(), &p).unwrap();
        let got = g.score(x.view()).unwrap();
        assert!(
            rel(got, *want) < 1e-6,
            "iteration {k}: score {got} vs sklearn {want}"
        );
        assert_eq!(g.n_iter(), *k);
        if let Some(fin) = f["finals"].get(k.to_string()) {
            let tol = 1e-7;
            for (a, b) in g.weights().iter().zip(vec1(&fin["weights"]).iter()) {
                assert!((a - b).abs() < tol, "weights {a} vs {b}");
            }
            for (a, b) in g.means().iter().zip(mat(&fin["means"]).iter()) {
                assert!((a - b).abs() < tol * (1.0 + b.abs()), "means {a} vs {b}");
            }
            for (a, b) in g.variances().iter().zip(mat(&fin["variances"]).iter()) {
                assert!(rel(*a, *b) < 1e-7, "variances {a} vs {b}");
            }
            let st = g.score(x_test.view()).unwrap();
            let want_t = fin["score_test"].as_f64().unwrap();
            assert!(rel(st, want_t) < 1e-9, "held-out score {st} vs {want_t}");
            let head = x_test.slice(ndarray::s![..10, ..]);
            let ss = g.score_samples(head).unwrap();
            for (a, b) in ss.iter().zip(vec1(&fin["score_samples_test_head"]).iter()) {
                assert!(rel(*a, *b) < 1e-9, "score_samples {a} vs {b}");
            }
            let pp = g.predict_proba(x_test.slice(ndarray::s![..5, ..])).unwrap();
            for (a, b) in pp.iter().zip(mat(&fin["predict_proba_test_head"]).iter()) {
                assert!((a - b).abs() < 1e-9, "predict_proba {a} vs {b}");
            }
        }
    }
}

#[test]
fn kmeans_init_reaches_sklearn_held_out_score_within_one_percent() {
    let f = fixture();
    let x = mat32(&f["x"]);
    let x_test = mat32(&f["x_test"]);
    for (key, k) in [("kmeans_fits", 4usize), ("kmeans_fits_7", 7)] {
        let fits = f[key].as_object().unwrap();
        let sk: Vec<f64> = fits
            .values()
            .map(|v| v["score_test"].as_f64().unwrap())
            .collect();
        let sk_mean = sk.iter().sum::<f64>() / sk.len() as f64;
        for seed in 0..5u64 {
            let p = GmmParams {
                n_components: k,
                seed,
                ..GmmParams::default()
            };
            let g = DiagGmm::fit(x.view(), &p).unwrap();
            assert!(g.converged());
            let s = g.score(x_test.view()).unwrap();
            println!("k={k} seed {seed}: held-out {s:.6} vs sklearn mean {sk_mean:.6} ({:.3e} rel), n_iter {}", rel(s, sk_mean), g.n_iter());
            assert!(
                rel(s, sk_mean) < 0.01,
                "k={k} seed {seed}: {s} vs {sk_mean}"
            );
        }
    }
}

#[test]
fn other_inits_and_n_init_work() {
    let f = fixture();
    let x = mat32(&f["x"]);
    for init in [GmmInit::KMeans, GmmInit::KMeansPlusPlus, GmmInit::Random] {
        let p = GmmParams {
            n_components: 4,
            init,
            n_init: 3,
            max_iter: 300,
            ..GmmParams::default()
        };
        let g = DiagGmm::fit(x.view(), &p).unwrap();
        let s = g.score(x.view()).unwrap();
        assert!(s > -8.75, "{init:?}: train score {s}");
        // Same seed, same model.
        let g2 = DiagGmm::fit(x.view(), &p).unwrap();
        assert_eq!(g, g2);
        let proba = g.predict_proba(x.view()).unwrap();
        for row in proba.outer_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn bad_inputs_are_errors() {
    let x = Array2::<f32>::zeros((3, 2));
    let p = GmmParams {
        n_components: 4,
        ..GmmParams::default()
    };
    assert!(DiagGmm::fit(x.view(), &p).is_err());
    let mut y = Array2::<f32>::ones((10, 2));
    y[[3, 1]] = f32::NAN;
    assert!(DiagGmm::fit(
        y.view(),
        &GmmParams {
            n_components: 2,
            ..GmmParams::default()
        }
    )
    .is_err());
    assert!(DiagGmm::fit(Array2::<f32>::zeros((0, 2)).view(), &GmmParams::default()).is_err());
    assert!(GmmParams {
        tol: -1.0,
        ..GmmParams::default()
    }
    .validate()
    .is_err());
    assert!(GmmParams {
        n_init: 0,
        ..GmmParams::default()
    }
    .validate()
    .is_err());
    // Wrong feature count at scoring.
    let g = DiagGmm::from_parts(
        Array1::from(vec![1.0]),
        Array2::zeros((1, 3)),
        Array2::ones((1, 3)),
    )
    .unwrap();
    assert!(g.score(Array2::<f32>::zeros((2, 2)).view()).is_err());
    assert!(DiagGmm::from_parts(
        Array1::from(vec![1.0]),
        Array2::zeros((1, 3)),
        Array2::zeros((1, 3))
    )
    .is_err());
    // Constant data: variances are reg_covar, no panic.
    let c = Array2::<f32>::ones((20, 2));
    let g = DiagGmm::fit(
        c.view(),
        &GmmParams {
            n_components: 2,
            ..GmmParams::default()
        },
    )
    .unwrap();
    assert!(g.score(c.view()).unwrap().is_finite());
}
