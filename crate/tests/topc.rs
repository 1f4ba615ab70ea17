//! Top-C scoring of the GMM-UBM (Reynolds et al. 2000): with C = K it is the exact
//! score; with any C it equals the definition computed term by term here; with the
//! default C = 5 it names the same speakers as exact scoring on real features of the
//! synthetic corpus, its LLRs within a stated bound. Older model files (no `top_c`)
//! load as exact, and bad settings are refused.

mod common;

use ndarray::{Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use speaker_similarity::models::speaker::gmm_ubm::UbmParams;
use speaker_similarity::models::speaker::Hyperparams;
use speaker_similarity::models::{DiagGmm, GmmInit, GmmParams, GmmUbmClassifier, Ubm};
use speaker_similarity::pipeline::ClipFeatures;

/// Real frame features (20 MFCC + 20 delta, voiced frames) of a synthetic corpus:
/// per speaker, its clips' frames.
fn corpus(speakers: usize, clips: usize) -> Vec<Vec<ClipFeatures>> {
    let (_, feats, labels, ids) = common::synth_features(speakers, clips);
    let mut out = vec![Vec::new(); ids.len()];
    for (f, l) in feats.into_iter().zip(labels) {
        out[l].push(f);
    }
    out
}

fn stack(clips: &[ClipFeatures]) -> Array2<f32> {
    let v: Vec<ArrayView2<f32>> = clips.iter().map(|c| c.frames.view()).collect();
    ndarray::concatenate(ndarray::Axis(0), &v).unwrap()
}

/// The synthetic corpus' speakers enrolled from their first clips (a 64-component
/// UBM on them), and the held-out clips as queries with their speakers.
fn enrolled_and_queries() -> (GmmUbmClassifier, Vec<ClipFeatures>, Vec<usize>) {
    let per_speaker = corpus(10, 8);
    let train: Vec<Array2<f32>> = per_speaker.iter().map(|c| stack(&c[..5])).collect();
    let pooled = ndarray::concatenate(
        ndarray::Axis(0),
        &train.iter().map(|a| a.view()).collect::<Vec<_>>(),
    )
    .unwrap();
    let ubm = Ubm::fit(
        pooled.view(),
        &GmmParams {
            n_components: 64,
            max_iter: 30,
            init: GmmInit::KMeansPlusPlus,
            ..GmmParams::default()
        },
    )
    .unwrap();
    let names: Vec<String> = (0..train.len()).map(|s| format!("spk{s}")).collect();
    let views: Vec<ArrayView2<f32>> = train.iter().map(|a| a.view()).collect();
    let clf = GmmUbmClassifier::fit(ubm, &views, &names, 16.0).unwrap();
    let (mut queries, mut truth) = (Vec::new(), Vec::new());
    for (s, clips) in per_speaker.into_iter().enumerate() {
        for c in clips.into_iter().skip(5) {
            queries.push(c);
            truth.push(s);
        }
    }
    (clf, queries, truth)
}

fn argmax(row: ndarray::ArrayView1<f64>) -> usize {
    (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b })
}

#[test]
fn top_c_matches_exact_scoring_on_real_features() {
    let (exact, queries, truth) = enrolled_and_queries();
    let views: Vec<ArrayView2<f32>> = queries.iter().map(|c| c.frames.view()).collect();
    assert_eq!(exact.top_c(), None, "built classifiers score exactly");
    let e = exact.scores_clips(&views).unwrap();

    // C = K: the exact scores, to rounding.
    let k = exact.ubm().gmm().n_components();
    let all = exact.clone().with_top_c(Some(k)).unwrap();
    let a = all.scores_clips(&views).unwrap();
    let worst = a
        .iter()
        .zip(e.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    println!("C = K = {k}: max |top-C - exact| = {worst:e} nats/frame");
    assert!(worst < 1e-9, "{worst}");

    // C = 5 (the default): the same best speaker for every query, LLRs close.
    let top = exact.clone().with_top_c(Some(5)).unwrap();
    let t = top.scores_clips(&views).unwrap();
    let (mut same, mut right_e, mut right_t) = (0, 0, 0);
    for (i, &s) in truth.iter().enumerate() {
        let (be, bt) = (argmax(e.row(i)), argmax(t.row(i)));
        same += usize::from(be == bt);
        right_e += usize::from(be == s);
        right_t += usize::from(bt == s);
    }
    let diffs: Vec<f64> = t.iter().zip(e.iter()).map(|(x, y)| (x - y).abs()).collect();
    let max = diffs.iter().copied().fold(0.0, f64::max);
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let spread = e.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - e.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "C = 5: same top-1 {same}/{n}, correct exact {right_e} / top-C {right_t}; \
         |top-C - exact| mean {mean:.4}, max {max:.4} nats/frame (exact scores span {spread:.2})",
        n = truth.len()
    );
    assert_eq!(same, truth.len(), "top-C changed a query's best speaker");
    assert!(max < 0.05, "max |top-C - exact| {max}");
    assert!(mean < 0.01, "mean |top-C - exact| {mean}");
}

/// The definition, term by term: for each frame the C best UBM components by
/// `log w_k N(x | μ_k, σ²_k)`; the frame's LLR is the log-sum over them of the
/// speaker's densities (means `μ_k + o_k`) less the log-sum of the UBM's.
fn reference_llr(ubm: &DiagGmm, offsets: &Array2<f32>, x: ArrayView2<f32>, c: usize) -> f64 {
    let log_n = |k: usize, row: ndarray::ArrayView1<f32>, shift: bool| -> f64 {
        let mut s = ubm.weights()[k].ln();
        for f in 0..row.len() {
            let var = ubm.variances()[[k, f]];
            let mu = ubm.means()[[k, f]]
                + if shift {
                    f64::from(offsets[[k, f]])
                } else {
                    0.0
                };
            let y = f64::from(row[f]) - mu;
            s -= 0.5 * ((2.0 * std::f64::consts::PI * var).ln() + y * y / var);
        }
        s
    };
    let lse = |v: &[f64]| {
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
    };
    let mut total = 0.0;
    for row in x.outer_iter() {
        let base: Vec<f64> = (0..ubm.n_components())
            .map(|k| log_n(k, row, false))
            .collect();
        let mut order: Vec<usize> = (0..base.len()).collect();
        order.sort_by(|&a, &b| base[b].total_cmp(&base[a]).then(a.cmp(&b)));
        let top = &order[..c];
        let spk: Vec<f64> = top.iter().map(|&k| log_n(k, row, true)).collect();
        let u: Vec<f64> = top.iter().map(|&k| base[k]).collect();
        total += lse(&spk) - lse(&u);
    }
    total / x.nrows() as f64
}

#[test]
fn top_c_equals_the_definition() {
    let mut rng = StdRng::seed_from_u64(3);
    let (k, d) = (12, 5);
    let ubm = DiagGmm::from_parts(
        Array1::from_shape_fn(k, |_| rng.random_range(0.2..1.0)),
        Array2::from_shape_fn((k, d), |_| rng.random_range(-3.0..3.0)),
        Array2::from_shape_fn((k, d), |_| rng.random_range(0.3..2.0)),
    )
    .unwrap();
    let speakers: Vec<Array2<f32>> = (0..3)
        .map(|_| Array2::from_shape_fn((k, d), |_| rng.random_range(-0.8f32..0.8)))
        .collect();
    let names: Vec<String> = (0..3).map(|s| format!("s{s}")).collect();
    let clf = GmmUbmClassifier::from_offsets(
        Ubm::from_gmm(ubm.clone()).unwrap(),
        &names,
        speakers.clone(),
        16.0,
    )
    .unwrap();
    // Short clips, and long ones cut into several blocks and batches of frames
    // (scored in blocks of 2 000 frames, 8 000 at a time).
    let clips: Vec<Array2<f32>> = [37, 87, 4_500, 9_100]
        .into_iter()
        .map(|n| Array2::from_shape_fn((n, d), |_| rng.random_range(-4.0f32..4.0)))
        .collect();
    let views: Vec<ArrayView2<f32>> = clips.iter().map(|a| a.view()).collect();
    for c in [1, 3, 7, k] {
        let s = clf
            .clone()
            .with_top_c(Some(c))
            .unwrap()
            .scores_clips(&views)
            .unwrap();
        for (i, x) in views.iter().enumerate() {
            for (j, o) in speakers.iter().enumerate() {
                let want = reference_llr(&ubm, o, *x, c);
                assert!(
                    (s[[i, j]] - want).abs() < 1e-10 * want.abs().max(1.0),
                    "C = {c}, clip {i}, speaker {j}: {} vs {want}",
                    s[[i, j]]
                );
            }
        }
    }
}

#[test]
fn model_files_without_top_c_score_exactly_and_bad_settings_are_refused() {
    let mut rng = StdRng::seed_from_u64(9);
    let (k, d) = (6, 3);
    let ubm = Ubm::from_gmm(
        DiagGmm::from_parts(
            Array1::from_elem(k, 1.0),
            Array2::from_shape_fn((k, d), |_| rng.random_range(-2.0..2.0)),
            Array2::from_elem((k, d), 1.0),
        )
        .unwrap(),
    )
    .unwrap();
    let offsets = vec![
        Array2::from_elem((k, d), 0.1f32),
        Array2::from_elem((k, d), -0.2f32),
    ];
    let names = ["a".to_string(), "b".to_string()];
    let exact = GmmUbmClassifier::from_offsets(ubm, &names, offsets, 16.0).unwrap();
    let top = exact.clone().with_top_c(Some(2)).unwrap();
    // Round trip keeps the setting.
    let json = serde_json::to_value(&top).unwrap();
    assert_eq!(json["top_c"], 2);
    let back: GmmUbmClassifier = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.top_c(), Some(2));
    // A file written before the setting existed: exact scoring.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("top_c");
    let old: GmmUbmClassifier = serde_json::from_value(old).unwrap();
    assert_eq!(old.top_c(), None);
    assert_eq!(old, exact);
    // Out of range: refused when set and when a loaded file is validated.
    assert!(exact.clone().with_top_c(Some(0)).is_err());
    // C above the UBM's components keeps them all: exact.
    assert_eq!(exact.clone().with_top_c(Some(k + 1)).unwrap().top_c(), None);
    let mut bad = json;
    bad["top_c"] = serde_json::json!(k + 1);
    let bad: GmmUbmClassifier = serde_json::from_value(bad).unwrap();
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("top_c"), "{err}");
    // The training hyperparameter: default 5, at least 1.
    let p = UbmParams::default();
    assert_eq!(p.top_c, Some(5));
    assert!(p.validate().is_ok());
    // A UBM smaller than the default C: the setting is valid (its models score
    // exactly), so `--ubm-components 4` trains with the defaults.
    let small = UbmParams {
        ubm: GmmParams {
            n_components: 4,
            ..UbmParams::default().ubm
        },
        ..UbmParams::default()
    };
    assert!(small.validate().is_ok());
    let zero = UbmParams {
        top_c: Some(0),
        ..UbmParams::default()
    };
    assert!(zero.validate().is_err(), "top_c 0 accepted");
    assert!(UbmParams {
        top_c: None,
        ..UbmParams::default()
    }
    .validate()
    .is_ok());
    // Settings written before the field: exact, as their models were scored.
    let mut v = serde_json::to_value(UbmParams::default()).unwrap();
    v.as_object_mut().unwrap().remove("top_c");
    let old: UbmParams = serde_json::from_value(v).unwrap();
    assert_eq!(old.top_c, None);
}
