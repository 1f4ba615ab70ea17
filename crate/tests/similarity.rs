//! Similarity ranking, verification trials, DET and EER against scikit-learn
//! (fixture from `scripts/fixtures_similarity.py`).

use std::path::Path;

use ndarray::array;
use speaker_similarity::similarity::{
    cosine, det_curve, eer, verification_trials, verification_trials_sampled, EnrolledSpeakers,
    Trial,
};
use speaker_similarity::Error;

#[derive(serde::Deserialize)]
struct DetFixture {
    scores: Vec<f32>,
    labels: Vec<u8>,
    det_threshold: Vec<f64>,
    det_false_alarm: Vec<f64>,
    det_miss: Vec<f64>,
    eer_brentq: f64,
}

fn fixture() -> (Vec<Trial>, DetFixture) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/similarity_det.json");
    let fx: DetFixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let trials = fx
        .scores
        .iter()
        .zip(&fx.labels)
        .map(|(&score, &l)| Trial {
            score,
            target: l == 1,
        })
        .collect();
    (trials, fx)
}

#[test]
fn det_curve_equals_scikit_learn_at_every_threshold() {
    let (trials, fx) = fixture();
    let ours = det_curve(&trials).unwrap();
    // Ours lists every distinct score; scikit-learn trims the flat ends. Every point
    // it gives must be on our curve with the same rates.
    let mut matched = 0;
    for ((&t, &fa), &miss) in fx
        .det_threshold
        .iter()
        .zip(&fx.det_false_alarm)
        .zip(&fx.det_miss)
    {
        let p = ours
            .iter()
            .find(|p| p.threshold == t as f32)
            .unwrap_or_else(|| panic!("threshold {t} missing"));
        assert!(
            (p.false_alarm - fa).abs() < 1e-12,
            "t={t}: {} vs {fa}",
            p.false_alarm
        );
        assert!((p.miss - miss).abs() < 1e-12, "t={t}: {} vs {miss}", p.miss);
        matched += 1;
    }
    assert!(matched > 100, "only {matched} points compared");
    // Monotone: false alarms rise, misses fall.
    for w in ours.windows(2) {
        assert!(w[1].false_alarm >= w[0].false_alarm && w[1].miss <= w[0].miss);
        assert!(w[1].threshold < w[0].threshold);
    }
    assert_eq!((ours[0].false_alarm, ours[0].miss), (0.0, 1.0));
    let last = ours.last().unwrap();
    assert_eq!((last.false_alarm, last.miss), (1.0, 0.0));
}

#[test]
fn eer_agrees_with_the_usual_roc_interpolation() {
    let (trials, fx) = fixture();
    let e = eer(&trials).unwrap();
    println!("EER ours {:.6}, roc+brentq {:.6}", e.eer, fx.eer_brentq);
    // Both interpolate between the same curve points (in different coordinates), so
    // they differ by less than one step of the coarser rate: 1/300 targets.
    assert!(
        (e.eer - fx.eer_brentq).abs() < 1.0 / 300.0,
        "{} vs {}",
        e.eer,
        fx.eer_brentq
    );
    // At the threshold, false alarms and misses are both close to the EER.
    let fa = trials
        .iter()
        .filter(|t| !t.target && t.score >= e.threshold)
        .count() as f64
        / 3000.0;
    let miss = trials
        .iter()
        .filter(|t| t.target && t.score < e.threshold)
        .count() as f64
        / 300.0;
    assert!(
        (fa - e.eer).abs() < 0.02 && (miss - e.eer).abs() < 0.02,
        "fa {fa} miss {miss} eer {}",
        e.eer
    );
}

#[test]
fn eer_edge_cases() {
    let perfect: Vec<Trial> = [(0.9, true), (0.8, true), (0.1, false), (0.2, false)]
        .iter()
        .map(|&(score, target)| Trial { score, target })
        .collect();
    assert_eq!(eer(&perfect).unwrap().eer, 0.0);
    let inverted: Vec<Trial> = perfect
        .iter()
        .map(|t| Trial {
            score: -t.score,
            ..*t
        })
        .collect();
    assert_eq!(eer(&inverted).unwrap().eer, 1.0);
    let all_tied: Vec<Trial> = perfect.iter().map(|t| Trial { score: 0.5, ..*t }).collect();
    assert!((eer(&all_tied).unwrap().eer - 0.5).abs() < 1e-12);
    let only_targets = vec![Trial {
        score: 1.0,
        target: true,
    }];
    assert!(matches!(
        eer(&only_targets),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        det_curve(&[]),
        Err(Error::InvalidParameter { .. })
    ));
    let nan = vec![
        Trial {
            score: f32::NAN,
            target: true,
        },
        Trial {
            score: 0.0,
            target: false,
        },
    ];
    assert!(matches!(eer(&nan), Err(Error::NonFinite { .. })));
}

#[test]
fn ranking_scores_and_centering() {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    // All three share a large common offset; centring removes it.
    let emb = array![[10.0, 10.0, 11.0], [10.0, 11.0, 10.0], [11.0, 10.0, 10.0]];
    let raw = EnrolledSpeakers::enroll(names.clone(), emb.view(), false).unwrap();
    let centred = EnrolledSpeakers::enroll(names, emb.view(), true).unwrap();
    let q = [10.0, 10.0, 11.2];
    let raw_scores = raw.scores(&q).unwrap();
    let cen_scores = centred.scores(&q).unwrap();
    // Without centring every speaker looks alike (cosines near 1).
    assert!(raw_scores.iter().all(|&s| s > 0.99), "{raw_scores:?}");
    // With centring the right speaker stands out.
    let top = centred.most_similar(&q, 3).unwrap();
    assert_eq!(top[0].speaker, "a");
    assert!(top[0].score > 0.8 && top[1].score < 0.0, "{top:?}");
    assert_eq!(top.len(), 3);
    assert_eq!(centred.most_similar(&q, 10).unwrap().len(), 3);
    assert_eq!(centred.most_similar(&q, 0).unwrap().len(), 0);
    // The similarity matrix is symmetric with a unit diagonal.
    let m = centred.similarity_matrix();
    for i in 0..3 {
        assert!((m[[i, i]] - 1.0).abs() < 1e-6);
        for j in 0..3 {
            assert!((m[[i, j]] - m[[j, i]]).abs() < 1e-6);
        }
    }
    // Scores equal the cosine of the centred vectors.
    let c = [10.0 + 1.0 / 3.0, 10.0 + 1.0 / 3.0, 10.0 + 1.0 / 3.0];
    let qa: Vec<f32> = q.iter().zip(&c).map(|(x, m)| x - m).collect();
    let aa: Vec<f32> = [10.0, 10.0, 11.0]
        .iter()
        .zip(&c)
        .map(|(x, m)| x - m)
        .collect();
    assert!((cosine(&qa, &aa).unwrap() - cen_scores[0]).abs() < 1e-5);
}

#[test]
fn bad_inputs_are_errors() {
    let names = vec!["a".to_string(), "b".to_string()];
    let emb = array![[1.0f32, 0.0], [0.0, 1.0]];
    assert!(EnrolledSpeakers::enroll(vec!["a".into()], emb.view(), true).is_err());
    assert!(EnrolledSpeakers::enroll(vec!["a".into(), "a".into()], emb.view(), true).is_err());
    let nan = array![[1.0f32, f32::NAN], [0.0, 1.0]];
    assert!(matches!(
        EnrolledSpeakers::enroll(names.clone(), nan.view(), true),
        Err(Error::NonFinite { .. })
    ));
    let empty = ndarray::Array2::<f32>::zeros((0, 2));
    assert!(EnrolledSpeakers::enroll(vec![], empty.view(), true).is_err());
    let e = EnrolledSpeakers::enroll(names, emb.view(), false).unwrap();
    assert!(matches!(e.scores(&[1.0]), Err(Error::Shape { .. })));
    assert!(matches!(
        e.scores(&[1.0, f32::INFINITY]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        cosine(&[1.0], &[1.0, 2.0]),
        Err(Error::Shape { .. })
    ));
    assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]).unwrap(), 0.0);
    // Zero query: similarity 0 to everyone, no NaN.
    assert_eq!(e.scores(&[0.0, 0.0]).unwrap(), vec![0.0, 0.0]);
}

#[test]
fn trials_pair_every_utterance_with_every_speaker() {
    let names = vec!["a".to_string(), "b".to_string()];
    let emb = array![[1.0f32, 0.0], [0.0, 1.0]];
    let e = EnrolledSpeakers::enroll(names, emb.view(), false).unwrap();
    let queries = vec![
        ("a".to_string(), vec![0.9, 0.1]),
        ("b".to_string(), vec![0.2, 0.8]),
        ("stranger".to_string(), vec![0.5, 0.5]),
    ];
    let t = verification_trials(&e, &queries).unwrap();
    assert_eq!(t.len(), 6);
    assert_eq!(t.iter().filter(|t| t.target).count(), 2);
    assert!(t[0].target && !t[1].target && !t[2].target && t[3].target);
    assert!(!t[4].target && !t[5].target);
    assert_eq!(eer(&t).unwrap().eer, 0.0);
}

/// `n` enrolled speakers (random directions in 24 dimensions) and `per` noisy
/// queries of each, from a fixed linear congruential generator.
fn noisy_speakers(n: usize, per: usize, noise: f32) -> (EnrolledSpeakers, Vec<(String, Vec<f32>)>) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let dim = 24;
    let names: Vec<String> = (0..n).map(|i| format!("spk{i:03}")).collect();
    let centres = ndarray::Array2::from_shape_fn((n, dim), |_| next());
    let mut queries = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for _ in 0..per {
            let q: Vec<f32> = centres.row(i).iter().map(|&c| c + noise * next()).collect();
            queries.push((name.clone(), q));
        }
    }
    (
        EnrolledSpeakers::enroll(names, centres.view(), true).unwrap(),
        queries,
    )
}

#[test]
fn sampled_trials_equal_all_trials_when_nothing_needs_sampling() {
    let (e, q) = noisy_speakers(12, 5, 1.5);
    let seeds: Vec<u64> = (0..q.len() as u64).collect();
    let all = verification_trials(&e, &q).unwrap();
    for k in [11, 50] {
        assert_eq!(verification_trials_sampled(&e, &q, &seeds, k).unwrap(), all);
    }
    assert!(matches!(
        verification_trials_sampled(&e, &q, &seeds[1..], 11),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn sampled_trials_keep_every_target_and_k_nontargets_and_the_eer_within_half_a_point() {
    // 300 speakers x 8 queries: 2 400 target and 717 600 non-target trials in all;
    // sampled, 50 non-targets per query (120 000).
    let (e, q) = noisy_speakers(300, 8, 1.5);
    let seeds: Vec<u64> = (0..q.len() as u64).map(|i| i * 7919 + 3).collect();
    let all = verification_trials(&e, &q).unwrap();
    let some = verification_trials_sampled(&e, &q, &seeds, 50).unwrap();
    assert_eq!(some.len(), q.len() * 51);
    assert_eq!(some.iter().filter(|t| t.target).count(), q.len());
    // The targets are the same trials; every kept non-target is one of the query's.
    let targets =
        |t: &[Trial]| -> Vec<f32> { t.iter().filter(|t| t.target).map(|t| t.score).collect() };
    let per_query_all: Vec<&[Trial]> = all.chunks(300).collect();
    for (i, chunk) in some.chunks(51).enumerate() {
        assert_eq!(targets(chunk), targets(per_query_all[i]));
        for t in chunk.iter().filter(|t| !t.target) {
            assert!(per_query_all[i]
                .iter()
                .any(|a| !a.target && a.score == t.score));
        }
    }
    // Seeded: the same seeds give the same sample, others another.
    assert_eq!(
        verification_trials_sampled(&e, &q, &seeds, 50).unwrap(),
        some
    );
    let other: Vec<u64> = seeds.iter().map(|s| s + 1).collect();
    assert_ne!(
        verification_trials_sampled(&e, &q, &other, 50).unwrap(),
        some
    );
    let full = eer(&all).unwrap().eer;
    let sampled = eer(&some).unwrap().eer;
    println!("EER all trials {full:.5}, 50 non-targets per query {sampled:.5}");
    assert!(full > 0.02 && full < 0.4, "{full}");
    assert!((full - sampled).abs() < 0.005, "{full} vs {sampled}");
}
