//! Model directories written by earlier builds: `fixtures/model_v1` was written by
//! `speaker-similarity train` before the models moved behind one interface (format
//! version 1; see fixtures/model_v1.README). Today's code converts it and predicts
//! what the old build predicted; what it cannot read it refuses with a message that
//! says to run `train` again — never a panic.

use std::path::{Path, PathBuf};

use serde_json::Value;
use speaker_similarity::pipeline::{ModelKind, Prediction, SpeakerModels, MODELS_FILE};
use speaker_similarity::{Audio, Error};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load_err(dir: &Path) -> String {
    match SpeakerModels::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e @ Error::Model { .. }) => e.to_string(),
        Err(other) => panic!("expected Error::Model, got {other:?}"),
    }
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// A prediction against what the old build's `predict --json` printed for it.
fn same_prediction(p: &Prediction, want: &Value, what: &str) {
    let models = want["models"].as_array().unwrap();
    assert_eq!(p.guesses.len(), models.len(), "{what}");
    for (g, w) in p.guesses.iter().zip(models) {
        assert_eq!(g.model.name(), w["model"], "{what}");
        assert_eq!(g.speaker, w["speaker"], "{what}");
        assert_eq!(g.name, w["name"], "{what}");
        close(g.score.unwrap(), w["score"].as_f64().unwrap(), what);
    }
    let similar = want["similar"].as_array().unwrap();
    assert_eq!(p.similar.len(), similar.len(), "{what}");
    for (s, w) in p.similar.iter().zip(similar) {
        assert_eq!(s.speaker, w["speaker"], "{what}");
        assert!(
            (s.score as f64 - w["score"].as_f64().unwrap()).abs() < 1e-5,
            "{what}"
        );
    }
}

#[test]
fn a_version_1_model_directory_loads_and_predicts_what_the_old_build_did() {
    let dir = fixture("model_v1");
    // The fixture really is what the old build wrote: version 1 of SpeakerModels,
    // with its per-model fields.
    let text = std::fs::read_to_string(dir.join(MODELS_FILE)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["kind"], "SpeakerModels");
    assert!(v["model"]["gmm_frame"].is_object() && v["model"]["mlp"].is_null());

    let m = SpeakerModels::load(&dir).unwrap();
    assert_eq!(m.kinds(), [ModelKind::GmmClip, ModelKind::GmmFrame]);
    assert_eq!(m.speakers, ["spk01", "spk02", "spk03"]);
    assert_eq!(m.display_name("spk02"), "Cyrus Pitchford");
    assert_eq!(m.params.settings.gmm_frame.n_components, 32);
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("model_v1_predict.json")).unwrap())
            .unwrap();
    let audio = Audio::load(fixture("model_v1_query.wav")).unwrap();
    let r = m.predict_recording(&audio, 2.0, 3).unwrap();
    close(r.duration, want["duration"].as_f64().unwrap(), "duration");
    same_prediction(&r.overall, &want["overall"], "overall");
    let segments = want["segments"].as_array().unwrap();
    assert_eq!(r.segments.len(), segments.len());
    for (s, w) in r.segments.iter().zip(segments) {
        close(s.start, w["start"].as_f64().unwrap(), "start");
        match &s.result {
            Ok(p) => same_prediction(p, w, "segment"),
            Err(e) => assert_eq!(w["error"], e.as_str()),
        }
    }

    // Saved again, it is a version-2 directory that predicts the same.
    let tmp = tempfile::tempdir().unwrap();
    m.save(tmp.path().join("m")).unwrap();
    let text = std::fs::read_to_string(tmp.path().join("m").join(MODELS_FILE)).unwrap();
    assert!(text.contains("\"version\":2"));
    let again = SpeakerModels::load(tmp.path().join("m")).unwrap();
    assert_eq!(again.predict_recording(&audio, 2.0, 3).unwrap(), r);
}

#[test]
fn a_model_directory_of_a_newer_version_is_refused_with_its_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fixture("model_v1").join(MODELS_FILE)).unwrap();
    let newer = text.replacen("\"version\":1", "\"version\":99", 1);
    assert_ne!(newer, text);
    std::fs::write(dir.join(MODELS_FILE), newer).unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("format version 99") && msg.contains("newer"),
        "{msg}"
    );
}

#[test]
fn a_model_directory_labelled_version_1_that_is_not_one_asks_to_train_again() {
    // The version number is the switch: a file labelled version 1 is read as version
    // 1, and what does not convert is refused with the message to train again.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fixture("model_v1").join(MODELS_FILE)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["model"] = serde_json::json!({ "models": [], "speakers": ["a", "b"] });
    std::fs::write(dir.join(MODELS_FILE), v.to_string()).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("could not be converted"), "{msg}");
    assert!(
        msg.contains("run `speaker-similarity train` again"),
        "{msg}"
    );
}

#[test]
fn a_gmm_ubm_directory_with_full_speaker_mixtures_loads_and_predicts_what_the_old_build_did() {
    // Written by main at 2965bde (fixtures/model_v2_gmm_ubm.README), when every
    // GMM-UBM speaker was a full adapted mixture in f64; today's code keeps only the
    // offsets of the adapted means, in f32.
    let dir = fixture("model_v2_gmm_ubm");
    let text = std::fs::read_to_string(dir.join(MODELS_FILE)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 2);
    let clf = &v["model"]["models"][0]["model"]["classifier"];
    assert!(clf["speakers"].is_array() && clf["offsets"].is_null());

    let m = SpeakerModels::load(&dir).unwrap();
    assert_eq!(m.kinds(), [ModelKind::GmmUbm]);
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("model_v2_gmm_ubm_predict.json")).unwrap(),
    )
    .unwrap();
    let audio = Audio::load(fixture("model_v2_gmm_ubm_query.wav")).unwrap();
    let r = m.predict_recording(&audio, 2.0, 2).unwrap();
    same_prediction(&r.overall, &want["overall"], "overall");

    // Saved again, it stores the offsets (a quarter of the size) and predicts the same.
    let tmp = tempfile::tempdir().unwrap();
    m.save(tmp.path().join("m")).unwrap();
    let again_text = std::fs::read_to_string(tmp.path().join("m").join(MODELS_FILE)).unwrap();
    let again_v: Value = serde_json::from_str(&again_text).unwrap();
    let clf = &again_v["model"]["models"][0]["model"]["classifier"];
    assert!(clf["offsets"].is_array() && clf["speakers"].is_null());
    assert!(
        again_text.len() < text.len() * 2 / 3,
        "{} vs {}",
        again_text.len(),
        text.len()
    );
    let again = SpeakerModels::load(tmp.path().join("m")).unwrap();
    assert_eq!(again.predict_recording(&audio, 2.0, 2).unwrap(), r);
}

#[test]
fn a_gmm_ubm_speaker_whose_variances_are_not_the_ubms_is_refused_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fixture("model_v2_gmm_ubm").join(MODELS_FILE)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let var = &mut v["model"]["models"][0]["model"]["classifier"]["speakers"][1]["variances"];
    let first = var["data"][0].as_f64().unwrap();
    var["data"][0] = Value::from(first * 2.0);
    std::fs::write(dir.join(MODELS_FILE), serde_json::to_string(&v).unwrap()).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("retrain") || msg.contains("train"), "{msg}");
}
