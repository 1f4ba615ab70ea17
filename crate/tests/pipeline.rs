//! The whole pipeline: honest evaluation on real speech with accuracy floors, the
//! synthetic corpus's difficulty, what the original's leaky split does, training,
//! prediction, and model directories on disk.

mod common;

use std::collections::BTreeMap;

use speaker_similarity::audio::Audio;
use speaker_similarity::dataset::{leaky_original_split, Dataset, SplitParams};
use speaker_similarity::pipeline::{
    evaluate, evaluate_with_split, extract, Evaluation, ModelKind, PipelineParams, SpeakerModels,
    MODELS_FILE,
};
use speaker_similarity::Error;

fn print(name: &str, e: &Evaluation) {
    for r in &e.models {
        println!("{name}: {:<10} accuracy {:.4}", r.model.name(), r.accuracy);
    }
    for v in &e.verification {
        println!("{name}: EER {} {:.4}", v.embedding, v.eer.eer);
    }
    println!("{name}: best {} in {:.1} s", e.best, e.total_seconds);
}

fn acc(e: &Evaluation, m: ModelKind) -> f64 {
    e.result(m).map(|r| r.accuracy).unwrap_or(0.0)
}

fn eer(e: &Evaluation, embedding: &str) -> f64 {
    e.verification
        .iter()
        .find(|v| v.embedding == embedding)
        .map(|v| v.eer.eer)
        .unwrap_or(1.0)
}

/// Train and test are disjoint, and every kept clip is on one side.
fn check_honest(data: &Dataset, e: &Evaluation) {
    let split = data.split(&SplitParams::default()).unwrap();
    split.check_disjoint().unwrap();
    let train: std::collections::HashSet<_> = split.train.iter().collect();
    assert!(split.test.iter().all(|i| !train.contains(i)));
    assert_eq!(
        e.train_clips + e.test_clips + e.unusable.len(),
        split.train.len() + split.test.len()
    );
    assert_eq!(e.test_clips, e.y_true.len());
}

#[test]
fn fsdd_best_model_reaches_99_5_percent_on_an_honest_split() {
    let data = Dataset::open(common::shared_datasets().join("fsdd")).unwrap();
    let e = evaluate(
        &data,
        &SplitParams::default(),
        &PipelineParams::default(),
        &|_| {},
    )
    .unwrap();
    print("fsdd", &e);
    check_honest(&data, &e);
    assert_eq!(
        (e.speakers.len(), e.train_clips, e.test_clips),
        (6, 2100, 900)
    );
    assert!(acc(&e, e.best) >= 0.995, "best {}", acc(&e, e.best));
    // Floors a little under what seed 42 gives (mlp 0.987, gmm-clip 0.964,
    // gmm-frame 1.000, gmm-ubm 0.974, supervector EER 0.062).
    assert!(acc(&e, ModelKind::Mlp) >= 0.975);
    assert!(acc(&e, ModelKind::GmmClip) >= 0.95);
    assert!(acc(&e, ModelKind::GmmFrame) >= 0.995);
    assert!(acc(&e, ModelKind::GmmUbm) >= 0.96);
    assert!(eer(&e, "supervector") <= 0.08);
}

#[test]
fn dsp34_best_model_reaches_99_percent_and_the_original_gmm_does_not() {
    let data = Dataset::open(common::shared_datasets().join("dsp34")).unwrap();
    let e = evaluate(
        &data,
        &SplitParams::default(),
        &PipelineParams::default(),
        &|_| {},
    )
    .unwrap();
    print("dsp34", &e);
    check_honest(&data, &e);
    assert_eq!(
        (e.speakers.len(), e.train_clips, e.test_clips),
        (34, 952, 408)
    );
    // Seed 42 gives gmm-ubm 0.9975, gmm-frame 0.9926, mlp 0.939, gmm-clip 0.549,
    // supervector EER 0.005.
    assert!(acc(&e, e.best) >= 0.99, "best {}", acc(&e, e.best));
    assert!(acc(&e, ModelKind::GmmUbm) >= 0.99);
    assert!(acc(&e, ModelKind::GmmFrame) >= 0.985);
    assert!(acc(&e, ModelKind::Mlp) >= 0.9);
    // The original recipe (16 components on ~28 clip vectors per speaker) collapses,
    // as it did in the original's honest numbers (46.6 %).
    assert!(acc(&e, ModelKind::GmmClip) < 0.7);
    assert!(eer(&e, "supervector") <= 0.02);
}

#[test]
fn the_synthetic_corpus_is_hard_for_the_original_recipe_and_easy_for_gmm_ubm() {
    let data = speaker_similarity::synth::default_dataset();
    let e = evaluate(
        &data,
        &SplitParams::default(),
        &PipelineParams::default(),
        &|_| {},
    )
    .unwrap();
    print("synthetic", &e);
    check_honest(&data, &e);
    assert!(acc(&e, ModelKind::GmmUbm) >= 0.95);
    assert!(acc(&e, ModelKind::GmmFrame) >= 0.95);
    // "Visibly worse": at least 20 points below the best model.
    assert!(acc(&e, ModelKind::GmmClip) <= acc(&e, e.best) - 0.2);
    assert!(acc(&e, ModelKind::Mlp) <= acc(&e, e.best) - 0.1);
    assert!(eer(&e, "supervector") < eer(&e, "clip-vector"));
}

#[test]
fn the_original_leaky_split_inflates_accuracy() {
    let data = speaker_similarity::synth::default_dataset();
    let p = PipelineParams {
        models: vec![ModelKind::GmmClip],
        ..PipelineParams::default()
    };
    let leaky = leaky_original_split(&data, 0.7, 42).unwrap();
    // Every leaky test clip is a training clip.
    assert_eq!(leaky.shared_clips().len(), leaky.test.len());
    // The honest evaluation refuses such a split unless asked to show the leak.
    assert!(evaluate_with_split(&data, &leaky, &p, false, &|_| {}).is_err());
    let l = evaluate_with_split(&data, &leaky, &p, true, &|_| {}).unwrap();
    let h = evaluate(&data, &SplitParams::default(), &p, &|_| {}).unwrap();
    let (la, ha) = (acc(&l, ModelKind::GmmClip), acc(&h, ModelKind::GmmClip));
    println!("gmm-clip leaky {la:.4} honest {ha:.4}");
    assert!(la >= ha + 0.25, "leaky {la} honest {ha}");
}

#[test]
fn trained_models_predict_round_trip_through_a_model_directory_and_rank_speakers() {
    // 4 x 14 clips: smartcore's SVC needs at least as many clips as features (52).
    let (data, feats, labels, speakers) = common::synth_features(4, 14);
    let params = PipelineParams {
        models: ModelKind::ALL.to_vec(),
        ..PipelineParams::default()
    };
    let events = std::sync::atomic::AtomicUsize::new(0);
    let m = SpeakerModels::train(
        &feats,
        &labels,
        speakers.clone(),
        data.names.clone(),
        &params,
        &|_| {
            events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        },
    )
    .unwrap();
    let events = events.into_inner();
    assert!(events >= 16, "{events} events");
    assert_eq!(m.kinds(), ModelKind::ALL.to_vec());
    assert_eq!(m.clip_counts, vec![14; 4]);
    // Training clips are recognised by the frame models.
    let p = m.predict(&feats[0], 3).unwrap();
    assert_eq!(p.guesses.len(), 8);
    assert_eq!(
        p.by(ModelKind::GmmUbm).unwrap().speaker,
        speakers[labels[0]]
    );
    assert_eq!(p.similar.len(), 3);
    assert_eq!(p.similar[0].speaker, m.display_name(&speakers[labels[0]]));
    let prob = p.by(ModelKind::Mlp).unwrap().score.unwrap();
    assert!((0.0..=1.0).contains(&prob));

    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("model");
    m.save(&md).unwrap();
    assert!(md.join(MODELS_FILE).exists() && md.join("history.json").exists());
    let back = SpeakerModels::load(&md).unwrap();
    for f in feats.iter().take(6) {
        assert_eq!(back.predict(f, 3).unwrap(), m.predict(f, 3).unwrap());
    }
    // Saving again replaces the directory and leaves no temporary behind.
    back.save(&md).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("model")]);

    // A recording of two speakers, segment by segment.
    let a = data.clips[data.clips_of(&speakers[0])[0]].load().unwrap();
    let b = data.clips[data.clips_of(&speakers[1])[0]].load().unwrap();
    let mut samples = a.samples.clone();
    samples.extend_from_slice(&b.samples);
    let rec = m
        .predict_recording(&Audio::new(samples, a.sample_rate).unwrap(), 1.0, 2)
        .unwrap();
    assert!(rec.segments.len() >= 3);
    let first = rec.segments[0].result.as_ref().unwrap();
    assert_eq!(first.by(ModelKind::GmmUbm).unwrap().speaker, speakers[0]);
    let last = rec.segments.last().unwrap().result.as_ref().unwrap();
    assert_eq!(last.by(ModelKind::GmmUbm).unwrap().speaker, speakers[1]);
    // Silence cannot be scored but does not fail the other segments.
    let mut with_silence = a.samples.clone();
    with_silence.extend(std::iter::repeat_n(0.0, a.sample_rate as usize * 2));
    let rec = m
        .predict_recording(&Audio::new(with_silence, a.sample_rate).unwrap(), 1.0, 2)
        .unwrap();
    assert!(rec.segments[0].result.is_ok());
    let last = rec.segments.last().unwrap().result.as_ref().unwrap_err();
    assert!(last.contains("silent"), "{last}");
}

#[test]
fn damaged_missing_and_foreign_model_directories_are_errors() {
    let (data, feats, labels, speakers) = common::synth_features(3, 6);
    let params = PipelineParams {
        models: vec![ModelKind::GmmFrame],
        ..PipelineParams::default()
    };
    let m = SpeakerModels::train(
        &feats,
        &labels,
        speakers,
        data.names.clone(),
        &params,
        &|_| {},
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("m");
    m.save(&md).unwrap();
    let good = std::fs::read_to_string(md.join(MODELS_FILE)).unwrap();

    let expect_model_err = |path: &std::path::Path, what: &str| match SpeakerModels::load(path) {
        Err(Error::Model { reason, .. }) => println!("{what}: {reason}"),
        other => panic!("{what}: {other:?}"),
    };
    expect_model_err(&dir.path().join("nope"), "missing");
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    expect_model_err(&file, "a file");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    expect_model_err(&empty, "empty dir");
    for (what, body) in [
        ("truncated", good[..good.len() / 2].to_string()),
        ("empty file", String::new()),
        ("foreign", r#"{"hello": "world"}"#.to_string()),
        ("other kind", good.replace("\"SpeakerModels\"", "\"Mlp\"")),
        ("not json", "\u{1}\u{2}binary".to_string()),
        // A speaker list that disagrees with the models inside.
        (
            "inconsistent",
            good.replacen("\"speakers\":[\"spk01\"", "\"speakers\":[\"intruder\"", 1),
        ),
    ] {
        std::fs::write(md.join(MODELS_FILE), &body).unwrap();
        expect_model_err(&md, what);
    }
    // Saving over a directory that is not a model directory is refused.
    let other = dir.path().join("photos");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("cat.jpg"), "meow").unwrap();
    assert!(matches!(m.save(&other), Err(Error::Model { .. })));
    assert_eq!(
        std::fs::read_to_string(other.join("cat.jpg")).unwrap(),
        "meow"
    );
}

#[test]
fn training_rejects_unusable_inputs() {
    let (data, feats, labels, speakers) = common::synth_features(3, 4);
    let p = PipelineParams::default();
    let names = BTreeMap::new();
    // One speaker.
    assert!(SpeakerModels::train(
        &feats[..4],
        &[0; 4],
        vec!["a".into()],
        names.clone(),
        &p,
        &|_| {}
    )
    .is_err());
    // A speaker with a single clip.
    let mut l = labels.clone();
    let lone = l.iter().position(|&c| c == 2).unwrap();
    for (i, v) in l.iter_mut().enumerate() {
        if *v == 2 && i != lone {
            *v = 1;
        }
    }
    assert!(matches!(
        SpeakerModels::train(&feats, &l, speakers.clone(), names.clone(), &p, &|_| {}),
        Err(Error::TooShort { .. })
    ));
    // Labels out of range, lengths that differ, bad parameters.
    let mut bad = labels.clone();
    bad[0] = 9;
    assert!(
        SpeakerModels::train(&feats, &bad, speakers.clone(), names.clone(), &p, &|_| {}).is_err()
    );
    assert!(SpeakerModels::train(
        &feats[1..],
        &labels,
        speakers.clone(),
        names.clone(),
        &p,
        &|_| {}
    )
    .is_err());
    let no_models = PipelineParams {
        models: vec![],
        ..PipelineParams::default()
    };
    assert!(matches!(
        SpeakerModels::train(
            &feats,
            &labels,
            speakers.clone(),
            names.clone(),
            &no_models,
            &|_| {}
        ),
        Err(Error::InvalidParameter { .. })
    ));
    let bad_fraction = PipelineParams {
        validation_fraction: 1.5,
        ..PipelineParams::default()
    };
    assert!(bad_fraction.validate().is_err());
    // Silence holds no speech; a one-sample clip is too short.
    let silence = Audio::new(vec![0.0; 16000], 16000).unwrap();
    assert!(matches!(extract(&silence, &p), Err(Error::NoSpeech { .. })));
    let hum = Audio::new(
        (0..16000).map(|i| 1e-4 * (i as f32 * 0.1).sin()).collect(),
        16000,
    )
    .unwrap();
    assert!(matches!(extract(&hum, &p), Err(Error::NoSpeech { .. })));
    let one = Audio::new(vec![0.1], 16000).unwrap();
    assert!(matches!(extract(&one, &p), Err(Error::TooShort { .. })));
    let _ = data;
}

#[test]
fn model_names_parse() {
    assert_eq!(
        ModelKind::parse_list("mlp, gmm-ubm").unwrap(),
        vec![ModelKind::Mlp, ModelKind::GmmUbm]
    );
    assert_eq!(
        ModelKind::parse_list("main").unwrap(),
        ModelKind::MAIN.to_vec()
    );
    assert_eq!(ModelKind::parse_list("all").unwrap().len(), 8);
    assert_eq!(
        ModelKind::parse_list("svc,rf").unwrap(),
        vec![ModelKind::Svm, ModelKind::RandomForest]
    );
    assert!(matches!(
        ModelKind::parse_list("gmm,"),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(ModelKind::parse_list("").is_err());
    for k in ModelKind::ALL {
        assert_eq!(k.name().parse::<ModelKind>().unwrap(), k);
    }
}
