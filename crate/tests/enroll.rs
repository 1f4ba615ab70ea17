//! Enrolment without retraining: one speaker added, replaced or removed leaves
//! every other speaker's scores bit-identical; models that share parameters are
//! marked out of date; bad input changes nothing.

mod common;

use ndarray::{s, Array2};
use speaker_similarity::models::speaker::ModelKind;
use speaker_similarity::pipeline::{ClipFeatures, PipelineParams, SpeakerModels};
use speaker_similarity::Error;

/// Features of a synthetic corpus: per speaker (sorted ids), its clips.
fn corpus(speakers: usize, clips: usize) -> (Vec<String>, Vec<Vec<ClipFeatures>>) {
    let (_, feats, labels, ids) = common::synth_features(speakers, clips);
    let mut by: Vec<Vec<ClipFeatures>> = vec![Vec::new(); ids.len()];
    for (f, l) in feats.into_iter().zip(labels) {
        by[l].push(f);
    }
    (ids, by)
}

/// Train on the first `n` speakers' first `train` clips.
fn train(
    ids: &[String],
    by: &[Vec<ClipFeatures>],
    n: usize,
    train: usize,
    models: Vec<ModelKind>,
) -> SpeakerModels {
    let mut feats = Vec::new();
    let mut labels = Vec::new();
    for (c, clips) in by.iter().take(n).enumerate() {
        feats.extend(clips[..train].iter().cloned());
        labels.extend(std::iter::repeat_n(c, train));
    }
    let params = PipelineParams {
        models,
        ..PipelineParams::default()
    };
    SpeakerModels::train(
        &feats,
        &labels,
        ids[..n].to_vec(),
        Default::default(),
        &params,
        &|_| {},
    )
    .unwrap()
}

/// Every model's scores and every embedding's similarities, first `k` columns.
fn all_scores(m: &SpeakerModels, queries: &[ClipFeatures], k: usize) -> Vec<Array2<f64>> {
    let mut out: Vec<Array2<f64>> = m
        .scores(queries)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s.values.slice(s![.., ..k]).to_owned())
        .collect();
    for e in m.embeddings() {
        let mut sim = Array2::zeros((queries.len(), k));
        for (i, q) in queries.iter().enumerate() {
            let v = e.embed(q).unwrap();
            let sc = e.enrolled().scores(v.as_slice().unwrap()).unwrap();
            for j in 0..k {
                sim[[i, j]] = f64::from(sc[j]);
            }
        }
        out.push(sim);
    }
    out
}

fn same_bits(a: &[Array2<f64>], b: &[Array2<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.dim() == y.dim() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        })
}

#[test]
fn enrolling_and_removing_a_speaker_leaves_the_others_bit_identical() {
    let (ids, by) = corpus(4, 8);
    let mut m = train(&ids, &by, 3, 6, ModelKind::MAIN.to_vec());
    let queries: Vec<ClipFeatures> = by.iter().flat_map(|c| c[6..].iter().cloned()).collect();
    let before = all_scores(&m, &queries, 3);

    let r = m.enroll(&ids[3], Some("New Voice"), &by[3][..6]).unwrap();
    assert!(!r.replaced);
    assert_eq!(r.n_speakers, 4);
    assert_eq!(
        r.updated,
        vec![ModelKind::GmmClip, ModelKind::GmmFrame, ModelKind::GmmUbm]
    );
    // The MLP cannot take a new class: marked out of date, left out of predictions.
    assert_eq!(r.out_of_date.len(), 1);
    assert_eq!(r.out_of_date[0].0, ModelKind::Mlp);
    assert!(
        r.out_of_date[0].1.contains("train"),
        "{}",
        r.out_of_date[0].1
    );
    assert_eq!(m.out_of_date, r.out_of_date);
    assert!(m.get(ModelKind::Mlp).is_none());
    assert_eq!(m.speakers, ids);
    assert_eq!(m.display_name(&ids[3]), "New Voice");
    assert_eq!(m.clip_counts, vec![6; 4]);
    let p = m.predict(&queries[0], 3).unwrap();
    assert!(p.guesses.iter().all(|g| g.model != ModelKind::Mlp));

    // Other speakers: bit-identical (MLP gone, so compare the remaining models).
    let after = all_scores(&m, &queries, 3);
    assert!(
        same_bits(&before[1..], &after),
        "other speakers' scores moved"
    );
    // The new speaker is recognised: its held-out clips go to it under gmm-ubm.
    let new_q = &by[3][6..];
    let s = m.scores(new_q).unwrap();
    let ubm = &s.iter().find(|(k, _)| *k == ModelKind::GmmUbm).unwrap().1;
    assert!(
        ubm.predictions().iter().all(|&c| c == 3),
        "{:?}",
        ubm.values
    );

    // Saved and loaded, the enrolled set scores the same.
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path().join("m")).unwrap();
    let back = SpeakerModels::load(dir.path().join("m")).unwrap();
    assert_eq!(back.scores(&queries).unwrap(), m.scores(&queries).unwrap());
    assert_eq!(back.out_of_date, m.out_of_date);

    // Replacing keeps its position, others still identical.
    let r = m.enroll(&ids[3], None, &by[3][..4]).unwrap();
    assert!(r.replaced && r.out_of_date.is_empty());
    assert_eq!(m.display_name(&ids[3]), "New Voice");
    assert!(same_bits(&before[1..], &all_scores(&m, &queries, 3)));

    // Removing it gives back exactly the scores of the 3-speaker set.
    let r = m.remove_speaker(&ids[3]).unwrap();
    assert_eq!(r.n_speakers, 3);
    assert_eq!(m.speakers, ids[..3].to_vec());
    let removed = m.scores(&queries).unwrap();
    assert!(removed.iter().all(|(_, s)| s.values.ncols() == 3));
    assert!(same_bits(&before[1..], &all_scores(&m, &queries, 3)));
    // Removing one of the first speakers leaves the others' columns as they were.
    m.remove_speaker(&ids[0]).unwrap();
    let two = all_scores(&m, &queries, 2);
    let cols: Vec<Array2<f64>> = before[1..]
        .iter()
        .map(|a| a.slice(s![.., 1..3]).to_owned())
        .collect();
    assert!(same_bits(&cols, &two));
    // Two speakers are the least a model holds.
    let e = m.remove_speaker(&ids[1]).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter { .. }), "{e:?}");
}

#[test]
fn an_enrolled_gmm_is_the_one_full_training_would_fit() {
    // The frame and clip GMMs of a speaker depend only on its clips and its class
    // position's seed: enrolling speaker 4 into a 3-speaker set gives the mixture
    // training all 4 fits, so its scores are bit-identical too.
    let (ids, by) = corpus(4, 6);
    let kinds = vec![ModelKind::GmmClip, ModelKind::GmmFrame];
    let full = train(&ids, &by, 4, 6, kinds.clone());
    let mut m = train(&ids, &by, 3, 6, kinds);
    m.enroll(&ids[3], None, &by[3]).unwrap();
    let queries: Vec<ClipFeatures> = by.iter().flat_map(|c| c[..2].iter().cloned()).collect();
    assert_eq!(m.scores(&queries).unwrap(), full.scores(&queries).unwrap());
}

#[test]
fn bad_enrolments_are_refused_and_change_nothing() {
    let (ids, by) = corpus(3, 4);
    let mut m = train(
        &ids,
        &by,
        2,
        4,
        vec![ModelKind::GmmFrame, ModelKind::GmmUbm],
    );
    let snapshot = serde_json::to_string(&m).unwrap();
    let silent: Vec<ClipFeatures> = by[2]
        .iter()
        .map(|c| ClipFeatures {
            clip: c.clip.clone(),
            frames: Array2::zeros((0, c.frames.ncols())),
        })
        .collect();
    let mut m2 = m.clone();
    m2.names.insert(ids[0].clone(), "Alice".into());
    for (what, r) in [
        ("empty id", m.enroll("", None, &by[2])),
        ("path id", m.enroll("../evil", None, &by[2])),
        ("space", m.enroll("a b", None, &by[2])),
        ("flag", m.enroll("-x", None, &by[2])),
        ("name = other id", m.enroll("new", Some(&ids[1]), &by[2])),
        ("no clips", m.enroll("new", None, &[])),
        ("no speech", m.enroll("new", None, &silent)),
        ("unknown", m.remove_speaker("nobody")),
    ] {
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidParameter { .. }
                    | Error::NoSpeech { .. }
                    | Error::NoSpeechFound { .. }
            ),
            "{what}: {e:?}"
        );
        assert_eq!(serde_json::to_string(&m).unwrap(), snapshot, "{what}");
    }
    let e = m2.enroll("new", Some("Alice"), &by[2]).unwrap_err();
    assert!(e.to_string().contains("Alice"), "{e}");
    assert!(matches!(
        m.enroll("new", None, &silent).unwrap_err(),
        Error::NoSpeech { .. } | Error::NoSpeechFound { .. }
    ));
}
