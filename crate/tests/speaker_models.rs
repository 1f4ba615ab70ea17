//! The one model interface: the registry's tables agree, every registered model
//! trains, scores and saves through `TrainedModel`, prediction and evaluation use the
//! same scores, parameters are checked once and travel checked, and models that share
//! parameters across speakers refuse enrolment with a typed error.

mod common;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Mutex;

use speaker_similarity::models::speaker::{
    ClipBatch, Enrolment, ModelKind, ModelSettings, ParamGuard, ScoreUnit, TrainedModel,
};
use speaker_similarity::pipeline::{extract_dataset, ClipFeatures, PipelineParams, SpeakerModels};
use speaker_similarity::progress::{Progress, Stage};
use speaker_similarity::synth::{SynthCorpus, SynthParams};
use speaker_similarity::Error;

#[test]
fn the_registry_tables_agree() {
    let names: BTreeSet<&str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), ModelKind::ALL.len(), "names are unique");
    let mut all_names: Vec<&str> = names.iter().copied().collect();
    for k in ModelKind::ALL {
        assert_eq!(k.name().parse::<ModelKind>().unwrap(), k);
        assert_eq!(k.to_string(), k.name());
        assert!(!k.description().is_empty());
        for a in k.aliases() {
            assert_eq!(a.parse::<ModelKind>().unwrap(), k, "alias {a}");
            all_names.push(a);
        }
    }
    let unique: BTreeSet<&str> = all_names.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all_names.len(),
        "aliases clash: {all_names:?}"
    );
    // The aliases of the command line before the registry.
    for (alias, kind) in [
        ("svc", ModelKind::Svm),
        ("rf", ModelKind::RandomForest),
        ("lr", ModelKind::Logistic),
        ("logistic-regression", ModelKind::Logistic),
        ("nn", ModelKind::Mlp),
    ] {
        assert_eq!(alias.parse::<ModelKind>().unwrap(), kind);
    }
    assert_eq!(
        ModelKind::MAIN,
        [
            ModelKind::Mlp,
            ModelKind::GmmClip,
            ModelKind::GmmFrame,
            ModelKind::GmmUbm
        ]
    );
    assert_eq!(
        ModelKind::parse_list("main").unwrap(),
        ModelKind::MAIN.to_vec()
    );
    assert_eq!(
        ModelKind::parse_list("all").unwrap(),
        ModelKind::ALL.to_vec()
    );
    let err = "nope".parse::<ModelKind>().unwrap_err().to_string();
    assert!(err.contains("gmm-ubm") && err.contains("logistic"), "{err}");
    // Only the baselines are optional.
    for k in ModelKind::ALL {
        assert_eq!(k.optional(), !ModelKind::MAIN.contains(&k), "{k}");
    }
    // One settings field per model, named after it.
    let settings = serde_json::to_value(ModelSettings::default()).unwrap();
    let fields: Vec<String> = settings.as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields.len(), ModelKind::ALL.len());
    for k in ModelKind::ALL {
        assert!(
            fields.contains(&k.name().replace('-', "_")),
            "{k}: {fields:?}"
        );
    }
}

fn small_set(speakers: usize, clips: usize) -> (Vec<ClipFeatures>, Vec<usize>, Vec<String>) {
    let (_, feats, labels, ids) = common::synth_features(speakers, clips);
    (feats, labels, ids)
}

#[test]
fn every_registered_model_trains_scores_saves_and_answers_through_one_path() {
    // 4 x 14 clips: smartcore's SVC needs at least as many clips as features (52).
    let (feats, labels, speakers) = small_set(4, 14);
    let params = PipelineParams {
        models: ModelKind::ALL.to_vec(),
        ..PipelineParams::default()
    }
    .check()
    .unwrap();
    let events = Mutex::new(Vec::new());
    let m = SpeakerModels::train(
        &feats,
        &labels,
        speakers.clone(),
        Default::default(),
        &params,
        &|p| events.lock().unwrap().push(p),
    )
    .unwrap();
    let events = events.into_inner().unwrap();
    assert_eq!(m.kinds(), ModelKind::ALL.to_vec());
    for k in ModelKind::ALL {
        assert!(events.contains(&Progress::Started(k)), "{k} started");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Progress::Finished(f, s) if *f == k && *s >= 0.0)),
            "{k} finished"
        );
    }
    assert!(events
        .iter()
        .any(|e| matches!(e, Progress::Epoch(ModelKind::Mlp, l) if l.epoch == 1)));

    let test = &feats[..9];
    let all_scores = m.scores(test).unwrap();
    assert_eq!(all_scores.len(), ModelKind::ALL.len());
    let classes = m.predict_classes(test).unwrap();
    for ((kind, s), (kind2, predicted)) in all_scores.iter().zip(&classes) {
        assert_eq!(kind, kind2);
        assert_eq!(s.values.dim(), (test.len(), speakers.len()));
        assert!(s.values.iter().all(|v| v.is_finite()), "{kind}");
        assert_eq!(&s.predictions(), predicted);
        let unit = match kind {
            ModelKind::Mlp => ScoreUnit::Probability,
            ModelKind::GmmClip => ScoreUnit::LogLikelihood,
            ModelKind::GmmFrame => ScoreUnit::FrameLogLikelihood,
            ModelKind::GmmUbm => ScoreUnit::FrameLogLikelihoodRatio,
            _ => ScoreUnit::Vote,
        };
        assert_eq!(s.unit, unit, "{kind}");
        if unit == ScoreUnit::Probability || unit == ScoreUnit::Vote {
            for row in s.values.rows() {
                assert!((row.sum() - 1.0).abs() < 1e-5, "{kind}: a row sums to 1");
            }
        }
        // The model directly, through the common interface, gives the same.
        let direct = m
            .get(*kind)
            .unwrap()
            .model()
            .scores(&ClipBatch::new(test).unwrap());
        assert_eq!(&direct.unwrap(), s);
    }
    // predict() is the same scores, one clip at a time.
    for (i, f) in test.iter().enumerate() {
        let p = m.predict(f, 2).unwrap();
        for (g, (kind, s)) in p.guesses.iter().zip(&all_scores) {
            assert_eq!(g.model, *kind);
            let (c, v) = s.best()[i];
            assert_eq!(g.speaker, speakers[c]);
            match s.unit {
                ScoreUnit::Vote => assert_eq!(g.score, None),
                _ => assert!((g.score.unwrap() - v).abs() <= 1e-9 * v.abs().max(1.0)),
            }
        }
    }
    // No clip: empty scores, not an error.
    for (_, s) in m.scores(&[]).unwrap() {
        assert_eq!(s.values.dim(), (0, speakers.len()));
    }

    // The embeddings: GMM-UBM's supervector first, the clip vectors always.
    let names: Vec<&str> = m.embeddings().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["supervector", "clip-vector"]);
    assert_eq!(m.embedding().name(), "supervector");
    assert_eq!(
        m.history().unwrap().loss.len(),
        m.history().unwrap().accuracy.len()
    );

    // Tagged on disk by the command-line names, and back bit-identical.
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path().join("m")).unwrap();
    let text = std::fs::read_to_string(dir.path().join("m/models.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 2);
    let tags: Vec<&str> = v["model"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ModelKind::ALL.map(|k| k.name()));
    let back = SpeakerModels::load(dir.path().join("m")).unwrap();
    assert_eq!(back.scores(test).unwrap(), all_scores);
}

#[test]
fn models_that_share_parameters_refuse_enrolment_with_a_typed_error() {
    let (feats, labels, speakers) = small_set(3, 6);
    let params = PipelineParams {
        models: vec![ModelKind::Mlp, ModelKind::Knn],
        ..PipelineParams::default()
    };
    let mut m = SpeakerModels::train(
        &feats,
        &labels,
        speakers,
        Default::default(),
        &params,
        &|_| {},
    )
    .unwrap();
    for t in m.models.iter_mut() {
        assert_eq!(t.model().enrolment(), Enrolment::Retrain, "{}", t.kind());
        let e = t.model_mut().enroll("new", &feats[..2]).unwrap_err();
        assert!(matches!(e, Error::RetrainNeeded { .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("run `speaker-similarity train` again"));
        assert!(matches!(
            t.model_mut().remove("spk01"),
            Err(Error::RetrainNeeded { .. })
        ));
    }
    let _: &TrainedModel = &m.models[0];
}

#[test]
fn parameters_are_checked_once_where_they_enter_and_travel_checked() {
    let raw = PipelineParams::default();
    // A raw set is checked (and copied) on entry; a checked one passes through as is.
    assert!(matches!(raw.checked().unwrap(), Cow::Owned(_)));
    let valid = raw.clone().check().unwrap();
    assert!(matches!(valid.checked().unwrap(), Cow::Borrowed(_)));
    assert_eq!(*valid, raw);
    // Every model's hyperparameters are part of the check.
    let mut bad = PipelineParams::default();
    bad.settings.gmm_ubm.max_frames = 10;
    let e = bad.clone().check().unwrap_err().to_string();
    assert!(e.contains("max_frames"), "{e}");
    bad = PipelineParams::default();
    bad.settings.mlp.epochs = 0;
    assert!(bad.clone().check().is_err());
    bad = PipelineParams::default();
    bad.settings.gmm_frame.n_components = 0;
    assert!(matches!(
        bad.check(),
        Err(Error::InvalidParameter {
            name: "n_components",
            ..
        })
    ));
    // Checked parameters validate again when read from JSON.
    let mut json = serde_json::to_value(&valid).unwrap();
    json["validation_fraction"] = serde_json::json!(1.5);
    let back: Result<speaker_similarity::pipeline::ValidParams, _> = serde_json::from_value(json);
    assert!(back
        .unwrap_err()
        .to_string()
        .contains("validation_fraction"));
}

#[test]
fn extraction_reports_progress_with_the_common_event() {
    let data = SynthCorpus::generate(&SynthParams {
        speakers: 2,
        clips_per_speaker: 3,
        ..SynthParams::default()
    })
    .unwrap();
    let all: Vec<usize> = (0..data.len()).collect();
    let seen = Mutex::new(Vec::new());
    extract_dataset(&data, &all, &PipelineParams::default(), &|p| {
        seen.lock().unwrap().push(p)
    })
    .unwrap();
    let mut done: Vec<usize> = seen
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|p| match p {
            Progress::Items {
                stage: Stage::Features,
                done,
                total: 6,
            } => done,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    done.sort_unstable();
    assert_eq!(done, [1, 2, 3, 4, 5, 6]);
    let scanned = Mutex::new(0);
    let summary = data.summary_with(&|p| {
        if let Progress::Items {
            stage: Stage::Scan, ..
        } = p
        {
            *scanned.lock().unwrap() += 1;
        }
    });
    assert_eq!(summary.clips, 6);
    assert_eq!(scanned.into_inner().unwrap(), 6);
    // Invalid parameters are refused before any clip is read.
    let bad = PipelineParams {
        validation_fraction: 0.0,
        ..PipelineParams::default()
    };
    assert!(extract_dataset(&data, &all, &bad, &|_| panic!("no progress")).is_err());
}
