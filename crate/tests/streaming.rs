//! Streaming training and evaluation (bounded memory) give what the in-memory path
//! gives: the same models, the same predictions, the same verification EER.

use speaker_similarity::dataset::SplitParams;
use speaker_similarity::pipeline::{
    evaluate, extract_dataset, train_dataset, ModelKind, PipelineParams, SpeakerModels,
    SplitFeatures, CALIBRATION_BATCH, TEST_BATCH,
};
use speaker_similarity::similarity::{det_curve, eer, eer_and_det, verification_trials, Trial};
use speaker_similarity::synth::{SynthCorpus, SynthParams};

fn params() -> PipelineParams {
    let mut p = PipelineParams {
        models: vec![ModelKind::GmmClip, ModelKind::GmmFrame, ModelKind::GmmUbm],
        ..PipelineParams::default()
    };
    // Small mixtures keep the test quick; the UBM sample must be a real subsample.
    p.settings.gmm_frame.n_components = 4;
    p.settings.gmm_ubm.ubm.n_components = 8;
    p.settings.gmm_ubm.max_frames = 2_000;
    p
}

fn models_json(m: &SpeakerModels) -> serde_json::Value {
    serde_json::json!({
        "speakers": m.speakers,
        "models": m.models,
        "clip_vectors": m.clip_vectors,
        "clip_counts": m.clip_counts,
        "calibration": m.calibration,
        "calibration_skipped": m.calibration_skipped,
    })
}

#[test]
fn streaming_evaluation_equals_batch_scoring() {
    // More test clips than one scoring batch holds, so batching is exercised.
    let data = SynthCorpus::generate(&SynthParams {
        speakers: 4,
        clips_per_speaker: 120,
        clip_seconds: (0.4, 0.6),
        ..SynthParams::default()
    })
    .unwrap();
    let p = params().check().unwrap();
    let split_params = SplitParams::default();
    let split = data.split(&split_params).unwrap();
    assert!(
        split.test.len() > TEST_BATCH,
        "{} test clips",
        split.test.len()
    );

    // The in-memory way: every clip's features held, then trained and scored at once.
    let f = SplitFeatures::extract(&data, &split, &p, &|_| {}).unwrap();
    let batch = SpeakerModels::train(
        &f.train,
        &f.y_train,
        f.speakers.clone(),
        data.names.clone(),
        &p,
        &|_| {},
    )
    .unwrap();
    let scores = batch.scores(&f.test).unwrap();

    // The streaming way.
    let e = evaluate(&data, &split_params, &p, &|_| {}).unwrap();
    let streamed = e.trained.as_ref().unwrap();
    assert_eq!(e.speakers, f.speakers);
    assert_eq!(e.y_true, f.y_test);
    assert_eq!((e.train_clips, e.test_clips), (f.train.len(), f.test.len()));
    // The open-set calibration is in the comparison; its clips span several
    // batches of the frame source.
    assert!(
        batch.calibration.is_some(),
        "{:?}",
        batch.calibration_skipped
    );
    assert!(f.train.len() > CALIBRATION_BATCH, "{} clips", f.train.len());
    assert_eq!(models_json(streamed), models_json(&batch), "models differ");
    assert_eq!(e.models.len(), scores.len());
    for (r, (kind, s)) in e.models.iter().zip(&scores) {
        assert_eq!(r.model, *kind);
        assert_eq!(r.predictions, s.predictions(), "{kind}");
    }
    // Verification: the EER of every embedding over all test clips at once.
    assert_eq!(e.verification.len(), 2);
    for (v, emb) in e.verification.iter().zip(batch.embeddings()) {
        let queries: Vec<(String, Vec<f32>)> = f
            .test
            .iter()
            .zip(&f.y_test)
            .map(|(x, &c)| (f.speakers[c].clone(), emb.embed(x).unwrap().to_vec()))
            .collect();
        let trials = verification_trials(emb.enrolled(), &queries).unwrap();
        assert_eq!(v.embedding, emb.name());
        assert_eq!(v.eer, eer(&trials).unwrap(), "{}", v.embedding);
        assert_eq!(v.trials.0 + v.trials.1, trials.len());
    }
    // The models are not trivially right or wrong: the frame models beat chance.
    assert!(e.result(ModelKind::GmmUbm).unwrap().accuracy > 0.5);
}

#[test]
fn train_dataset_equals_training_in_memory() {
    let data = SynthCorpus::generate(&SynthParams {
        speakers: 5,
        clips_per_speaker: 6,
        ..SynthParams::default()
    })
    .unwrap();
    let p = params().check().unwrap();
    let all: Vec<usize> = (0..data.len()).collect();
    let (feats, failed) = extract_dataset(&data, &all, &p, &|_| {}).unwrap();
    assert!(failed.is_empty());
    let labels: Vec<usize> = feats
        .iter()
        .map(|(i, _)| {
            data.speakers()
                .iter()
                .position(|s| *s == data.clips[*i].speaker)
                .unwrap()
        })
        .collect();
    let f: Vec<_> = feats.into_iter().map(|(_, f)| f).collect();
    let memory = SpeakerModels::train(
        &f,
        &labels,
        data.speakers(),
        data.names.clone(),
        &p,
        &|_| {},
    )
    .unwrap();
    let streamed = train_dataset(&data, &all, &p, &|_| {}).unwrap();
    assert_eq!(streamed.train_clips, all);
    assert_eq!(streamed.labels, labels);
    assert!(streamed.unusable.is_empty() && streamed.skipped.is_empty());
    // The open-set calibration too: its trials read the frames from the data set
    // again, a batch or a few speakers at a time.
    assert!(
        memory.calibration.is_some(),
        "{:?}",
        memory.calibration_skipped
    );
    assert_eq!(models_json(&streamed.models), models_json(&memory));
    // A different UBM sample seed gives a different model: the sample matters.
    let mut other = params();
    other.seed = 7;
    let o = train_dataset(&data, &all, &other, &|_| {}).unwrap();
    assert_ne!(models_json(&o.models), models_json(&memory));
}

#[test]
fn one_pass_eer_and_thinned_det_agree_with_the_full_curve() {
    // Many trials with ties and a mix of target shares.
    let mut s = 12345u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let trials: Vec<Trial> = (0..60_000)
        .map(|i| {
            let target = i % 17 == 0;
            let v = next() + if target { 0.8 } else { 0.0 };
            Trial {
                score: ((v * 500.0).round() / 500.0) as f32,
                target,
            }
        })
        .collect();
    let full = det_curve(&trials).unwrap();
    let (e, thin) = eer_and_det(trials.clone()).unwrap();
    assert_eq!(e, eer(&trials).unwrap());
    assert!(e.eer > 0.05 && e.eer < 0.5, "{e:?}");
    assert_eq!(thin.first(), full.first());
    assert_eq!(thin.last(), full.last());
    assert!(
        thin.len() < full.len() && thin.len() < 3_000,
        "{} of {}",
        thin.len(),
        full.len()
    );
    // Every kept point is a point of the full curve, in order.
    let mut j = 0;
    for p in &thin {
        while full[j] != *p {
            j += 1;
        }
    }
    // No gap wider than the thinning tolerance (plus one step of the full curve).
    for w in thin.windows(2) {
        let gap = (w[1].false_alarm - w[0].false_alarm)
            .abs()
            .max((w[1].miss - w[0].miss).abs());
        assert!(gap < 0.03, "gap {gap} between {:?} and {:?}", w[0], w[1]);
    }
    assert!(eer_and_det(vec![]).is_err());
}

#[test]
fn streamed_narrowband_models_equal_the_ones_trained_on_resampled_clips_in_memory() {
    use speaker_similarity::pipeline::{extract, NarrowbandParams};
    let data = SynthCorpus::generate(&SynthParams {
        speakers: 4,
        clips_per_speaker: 8,
        ..SynthParams::default()
    })
    .unwrap();
    let p = PipelineParams {
        narrowband: Some(NarrowbandParams::default()),
        ..params()
    };
    let all: Vec<usize> = (0..data.len()).collect();
    let t = train_dataset(&data, &all, &p, &|_| {}).unwrap();
    let streamed = t.models.narrowband.as_ref().expect("narrowband models");

    // In memory: every training clip resampled to 8 kHz and its features held.
    let nbp = p.narrowband_params().unwrap();
    let feats: Vec<_> = t
        .train_clips
        .iter()
        .map(|&i| {
            let a = data.clips[i].load().unwrap().resample(8000).unwrap();
            extract(&a, &nbp).unwrap()
        })
        .collect();
    let batch = SpeakerModels::train(
        &feats,
        &t.labels,
        t.models.speakers.clone(),
        data.names.clone(),
        &nbp,
        &|_| {},
    )
    .unwrap();
    assert_eq!(models_json(streamed), models_json(&batch));
    // The main models are the wideband ones, as without narrowband models.
    let plain = train_dataset(&data, &all, &params(), &|_| {}).unwrap();
    assert_eq!(models_json(&t.models), models_json(&plain.models));
}
