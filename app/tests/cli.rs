//! End-to-end tests of the `speaker-similarity` command line: every subcommand on
//! data the tests write themselves (and on the shared real speech), bad arguments,
//! bad data and bad model directories give a message and a non-zero exit, and
//! nothing is left half-written.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{bin, ok, run, silent_wav, wavs};

/// Runs, must fail with exit code `code`; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    err
}

fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

fn shared() -> PathBuf {
    for c in [
        std::env::var("SPEAKER_SHARED_DATASETS")
            .ok()
            .map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")),
        Some(PathBuf::from("/work/shared/datasets")),
    ]
    .into_iter()
    .flatten()
    {
        if c.is_dir() {
            return c;
        }
    }
    panic!("../shared/datasets not found (set SPEAKER_SHARED_DATASETS)");
}

/// A small synthetic corpus written by the `synth` subcommand.
fn corpus(dir: &Path, speakers: usize, clips: usize) -> PathBuf {
    let out = dir.join("corpus");
    let s = ok(&[
        "synth",
        out.to_str().unwrap(),
        "--speakers",
        &speakers.to_string(),
        "--clips",
        &clips.to_string(),
    ]);
    assert!(
        s.contains(&format!("wrote {} clips", speakers * clips)),
        "{s}"
    );
    out
}

/// The speaker of a clip of a data set: its first directory below `data`.
fn speaker_dir(data: &Path, clip: &Path) -> String {
    let first = clip
        .strip_prefix(data)
        .unwrap()
        .components()
        .next()
        .unwrap();
    first.as_os_str().to_str().unwrap().to_string()
}

#[test]
fn help_lists_every_subcommand_and_bad_arguments_are_usage_errors() {
    let help = ok(&["--help"]);
    for sub in [
        "features", "train", "evaluate", "predict", "similar", "serve", "demo", "synth",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
    assert!(ok(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
    fails(&["frobnicate"], 2);
    fails(&["predict"], 2);
    fails(&["features", "x.wav", "--kind", "spectrum"], 2);
    fails(&["evaluate", "--test-fraction", "abc"], 2);
    let e = fails(&["evaluate", "--test-fraction", "1.5"], 1);
    assert!(e.contains("test_fraction"), "{e}");
    let e = fails(&["evaluate", "--models", "mlp,deep-magic"], 1);
    assert!(
        e.contains("unknown model `deep-magic`") && e.contains("gmm-ubm"),
        "{e}"
    );
    let e = fails(&["evaluate", "--layout", "mp4"], 2);
    assert!(e.contains("mp4"), "{e}");
}

#[derive(serde::Deserialize)]
struct Fixture {
    signals: Vec<Signal>,
}

#[derive(serde::Deserialize)]
struct Signal {
    name: String,
    mfcc: Vec<Vec<f32>>,
    clean_frames: Vec<bool>,
    zcr: Vec<f32>,
    lpc_f32: Vec<f32>,
}

fn matrix(v: &Value) -> (Vec<usize>, Vec<Vec<f32>>) {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    (shape, data)
}

#[test]
fn features_json_is_laid_out_as_librosa_and_equals_it() {
    let fx: Fixture = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../crate/tests/fixtures/librosa_features.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let sig = fx
        .signals
        .iter()
        .find(|s| s.name.starts_with("dsp34/"))
        .unwrap();
    let file = shared().join(&sig.name);
    let f = file.to_str().unwrap();

    let (shape, m) = matrix(&json(&["features", f, "--kind", "mfcc", "--json"]));
    assert_eq!(shape, vec![20, sig.mfcc[0].len()]);
    let mut worst = 0f32;
    for (r, row) in m.iter().enumerate() {
        for c in (0..row.len()).filter(|&c| sig.clean_frames[c]) {
            let (a, b) = (row[c], sig.mfcc[r][c]);
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
    }
    assert!(worst < 1e-3, "MFCC max relative error {worst}");

    let (shape, z) = matrix(&json(&["features", f, "--kind", "zcr", "--json"]));
    assert_eq!(shape, vec![1, sig.zcr.len()]);
    assert_eq!(z[0], sig.zcr);

    let (shape, l) = matrix(&json(&["features", f, "--kind", "lpc", "--json"]));
    assert_eq!(shape, vec![1, 13]);
    for (a, b) in l[0].iter().zip(&sig.lpc_f32) {
        assert!((a - b).abs() < 5e-4, "LPC {a} vs {b}");
    }
    let (shape, d) = matrix(&json(&["features", f, "--kind", "delta", "--json"]));
    assert_eq!(shape, vec![20, sig.mfcc[0].len()]);
    assert!(d.iter().flatten().all(|v| v.is_finite()));
    let (shape, c) = matrix(&json(&["features", f, "--kind", "clip", "--json"]));
    assert_eq!(shape, vec![1, 52]);
    assert_eq!(c[0][39], 1.0, "first LPC coefficient");

    let text = ok(&["features", f, "--kind", "clip"]);
    assert!(text.contains("mfcc_0") && text.contains("lpc_12"), "{text}");
    let text = ok(&["features", f]);
    assert!(text.contains("20 x 65"), "{text}");
}

#[test]
fn features_of_bad_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.wav");
    let e = fails(&["features", missing.to_str().unwrap()], 1);
    assert!(e.starts_with("error: ") && e.contains("nope.wav"), "{e}");
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "not audio at all").unwrap();
    let e = fails(&["features", text.to_str().unwrap()], 1);
    assert!(e.contains("not an audio file"), "{e}");
    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, "").unwrap();
    let e = fails(&["features", empty.to_str().unwrap()], 1);
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn synth_writes_a_corpus_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = corpus(dir.path(), 3, 4);
    assert_eq!(wavs(&out).len(), 12);
    assert!(out.join("speakers.tsv").exists());
    let before = std::fs::read(&wavs(&out)[0]).unwrap();
    let e = fails(
        &[
            "synth",
            out.to_str().unwrap(),
            "--speakers",
            "3",
            "--clips",
            "4",
            "--seed",
            "7",
        ],
        1,
    );
    assert!(
        e.contains("overwrite") || e.contains("not empty") || e.contains("non-empty"),
        "{e}"
    );
    assert_eq!(std::fs::read(&wavs(&out)[0]).unwrap(), before);
    let e = fails(
        &[
            "synth",
            dir.path().join("x").to_str().unwrap(),
            "--speakers",
            "1",
        ],
        1,
    );
    assert!(e.contains("speakers"), "{e}");
}

#[test]
fn evaluate_json_reports_every_model_on_disjoint_parts() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 4, 10);
    let v = json(&["evaluate", "--data", data.to_str().unwrap(), "--json"]);
    assert_eq!(v["speakers"], 4);
    assert_eq!(v["train_clips"], 28);
    assert_eq!(v["test_clips"], 12);
    let models = v["models"].as_object().unwrap();
    for m in ["mlp", "gmm-clip", "gmm-frame", "gmm-ubm"] {
        let a = models[m]["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a), "{m}: {a}");
        assert!(models[m]["train_seconds"].as_f64().unwrap() >= 0.0);
    }
    let best = v["best"].as_str().unwrap();
    let best_acc = models[best]["accuracy"].as_f64().unwrap();
    assert!(models
        .values()
        .all(|m| m["accuracy"].as_f64().unwrap() <= best_acc));
    assert!(best_acc >= 0.75, "best {best} {best_acc}");

    let text = ok(&[
        "evaluate",
        "--data",
        data.to_str().unwrap(),
        "--models",
        "gmm-frame,knn",
    ]);
    assert!(
        text.contains("28 training clips, 12 test clips (disjoint)"),
        "{text}"
    );
    assert!(
        text.contains("knn") && text.contains("precision") && !text.contains("gmm-ubm "),
        "{text}"
    );
}

#[test]
fn evaluate_query_condition_tests_degraded_copies_and_bad_conditions_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 4, 10);
    let d = data.to_str().unwrap();
    let base = ["evaluate", "--data", d, "--models", "gmm-ubm", "--json"];
    let clean = json(&base);
    assert_eq!(clean["query_condition"], "clean");
    let with = |cond: &str, extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend(["--query-condition", cond]);
        a.extend(extra);
        json(&a)
    };
    let phone = with("telephone+white:15", &["--narrowband", "off"]);
    assert_eq!(phone["query_condition"], "telephone+white:15");
    assert_eq!(phone["test_clips"], clean["test_clips"]);
    let acc = |v: &Value| v["models"]["gmm-ubm"]["accuracy"].as_f64().unwrap();
    let top1 = phone["similar_top1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top1), "{top1}");
    // Routed to the bandwidth-matched models, the same queries do better.
    let routed = with("telephone+white:15", &["--narrowband", "on"]);
    assert!(acc(&routed) > acc(&phone), "{routed} vs {phone}");
    let babble = with("babble:10", &[]);
    assert_eq!(babble["query_condition"], "babble:10");
    for bad in ["hiss:3", "white:abc", "telephone+"] {
        let mut a: Vec<&str> = base.to_vec();
        a.extend(["--query-condition", bad]);
        fails(&a, 1);
    }
    let e = fails(&["evaluate", "--data", d, "--narrowband", "maybe"], 1);
    assert!(e.contains("narrowband"), "{e}");
    // A narrowband normalisation without narrowband models is an error, not ignored.
    let e = fails(
        &["evaluate", "--data", d, "--narrowband-norm", "floor:6"],
        1,
    );
    assert!(e.contains("--narrowband on"), "{e}");
}

#[test]
fn unreadable_clips_are_skipped_and_counted_and_bad_directories_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 3, 8);
    let files = wavs(&data);
    std::fs::write(&files[0], "this is not a wav file").unwrap();
    let bytes = std::fs::read(&files[5]).unwrap();
    std::fs::write(&files[5], &bytes[..30]).unwrap();
    let o = bin()
        .args([
            "evaluate",
            "--data",
            data.to_str().unwrap(),
            "--models",
            "gmm-frame",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["unusable_clips"], 2);
    assert_eq!(
        v["train_clips"].as_u64().unwrap() + v["test_clips"].as_u64().unwrap(),
        22
    );
    let text = ok(&[
        "evaluate",
        "--data",
        data.to_str().unwrap(),
        "--models",
        "gmm-frame",
    ]);
    assert!(text.contains("2 clip(s) could not be used"), "{text}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = fails(&["evaluate", "--data", empty.to_str().unwrap()], 1);
    assert!(e.contains("empty") && e.contains("no audio"), "{e}");
    let e = fails(
        &[
            "evaluate",
            "--data",
            dir.path().join("missing").to_str().unwrap(),
        ],
        1,
    );
    assert!(e.contains("missing"), "{e}");
    let e = fails(
        &[
            "train",
            "--data",
            files[1].to_str().unwrap(),
            "--out",
            dir.path().join("m").to_str().unwrap(),
        ],
        1,
    );
    assert!(e.contains("not a directory"), "{e}");
    assert!(!dir.path().join("m").exists());
    // SPEAKER_DATA is read when --data is absent.
    let o = bin()
        .env("SPEAKER_DATA", empty.to_str().unwrap())
        .args(["evaluate", "--models", "gmm-frame"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn train_predict_and_similar_share_a_model_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 4, 10);
    let model = dir.path().join("model");
    let m = model.to_str().unwrap();
    let out = ok(&["train", "--data", data.to_str().unwrap(), "--out", m]);
    assert!(out.contains("saved 4 model(s) for 4 speakers"), "{out}");
    assert!(model.join("models.json").exists() && model.join("evaluation.json").exists());
    assert!(model.join("history.json").exists());

    // A clip of the first speaker, then a two-speaker recording.
    let files = wavs(&data);
    let clip = files[0].to_str().unwrap();
    let v = json(&["predict", "--model", m, clip, "--json"]);
    let segs = v["segments"].as_array().unwrap();
    assert!(!segs.is_empty());
    assert_eq!(segs[0]["start"], 0.0);
    for key in ["mlp", "gmm", "similar"] {
        assert!(!v["overall"][key].is_null(), "{key}: {v}");
    }
    assert_eq!(v["overall"]["gmm"]["model"], "gmm-ubm");
    assert_eq!(
        v["overall"]["gmm"]["speaker"],
        speaker_dir(&data, &files[0])
    );
    assert_eq!(v["overall"]["similar"].as_array().unwrap().len(), 3);
    let p = v["overall"]["mlp"]["probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));

    let text = ok(&["predict", "--model", m, clip, "--segment", "1"]);
    assert!(
        text.contains("MLP (probability)") && text.contains("whole recording"),
        "{text}"
    );

    let v = json(&["similar", "--model", m, clip, "-k", "2", "--json"]);
    assert_eq!(v["embedding"], "supervector");
    let ranked = v["similar"].as_array().unwrap();
    assert_eq!(ranked.len(), 2);
    assert!(ranked[0]["score"].as_f64().unwrap() >= ranked[1]["score"].as_f64().unwrap());
    let text = ok(&["similar", "--model", m, clip]);
    assert!(
        text.contains("sounds most like") && text.contains(" 1. "),
        "{text}"
    );

    fails(&["predict", "--model", m, clip, "-k", "0"], 1);
    let e = fails(&["predict", "--model", m, clip, "--segment=-2"], 1);
    assert!(e.contains("seconds"), "{e}");
    let e = fails(
        &[
            "predict",
            "--model",
            dir.path().join("nope").to_str().unwrap(),
            clip,
        ],
        1,
    );
    assert!(e.contains("no such model directory"), "{e}");
    let e = fails(&["similar", "--model", data.to_str().unwrap(), clip], 1);
    assert!(e.contains("not a model directory"), "{e}");

    // A damaged model file is named as such.
    let models = model.join("models.json");
    let good = std::fs::read(&models).unwrap();
    std::fs::write(&models, &good[..good.len() / 3]).unwrap();
    let e = fails(&["predict", "--model", m, clip], 1);
    assert!(e.contains("truncated model file"), "{e}");
    std::fs::write(&models, &good).unwrap();

    // Training into a directory that holds other things is refused up front.
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::write(photos.join("cat.jpg"), "meow").unwrap();
    let e = fails(
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            photos.to_str().unwrap(),
        ],
        1,
    );
    assert!(e.contains("not a model directory"), "{e}");
    assert_eq!(std::fs::read_dir(&photos).unwrap().count(), 1);

    // --all trains on every clip.
    let all = dir.path().join("all");
    let v = json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        all.to_str().unwrap(),
        "--all",
        "--json",
        "--models",
        "gmm-frame",
    ]);
    assert_eq!(v["summary"]["train_clips"], 40);
    // Nothing temporary is left beside the model directories.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn demo_writes_the_report_plots_and_models() {
    let dir = tempfile::tempdir().unwrap();
    // 4 x 12 clips: too few for smartcore's SVC (it needs 52 training clips), which
    // the demo reports and leaves out.
    let data = corpus(dir.path(), 4, 12);
    let out = dir.path().join("demo");
    let text = ok(&[
        "demo",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(text.contains("leaky accuracy"), "{text}");
    for f in [
        "report.txt",
        "evaluation.json",
        "durations.svg",
        "waveform.svg",
        "mfcc.svg",
        "accuracy.png",
        "confusion.svg",
        "det.svg",
        "training_history.svg",
        "speaker_similarity.svg",
        "similar.png",
        "model/models.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("evaluation.json")).unwrap())
            .unwrap();
    assert_eq!(v["models"].as_object().unwrap().len(), 7);
    assert_eq!(v["skipped_models"][0]["model"], "svm");
    assert!(text.contains("skipped model svm"), "{text}");
}

#[test]
fn features_of_a_directory_are_clip_vectors_of_every_clip() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 3, 4);
    let files = wavs(&data);
    std::fs::write(&files[2], "broken").unwrap();
    let v = json(&["features", data.to_str().unwrap(), "--json"]);
    assert_eq!(v["columns"].as_array().unwrap().len(), 52);
    assert_eq!(v["clips"].as_array().unwrap().len(), 11);
    assert_eq!(v["unusable"], 1);
    // The CSV has a header and one row per usable clip; the values equal the
    // single-file command's.
    let csv = ok(&["features", data.to_str().unwrap()]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 12);
    assert!(lines[0].starts_with("path,speaker,mfcc_0,"));
    let single = json(&[
        "features",
        files[0].to_str().unwrap(),
        "--kind",
        "clip",
        "--json",
    ]);
    let first: Vec<f64> = lines[1]
        .split(',')
        .skip(2)
        .map(|x| x.parse().unwrap())
        .collect();
    for (a, b) in first.iter().zip(single["data"][0].as_array().unwrap()) {
        assert!((a - b.as_f64().unwrap()).abs() <= 1e-6 * a.abs().max(1.0));
    }
    let e = fails(&["features", data.to_str().unwrap(), "--kind", "mfcc"], 1);
    assert!(e.contains("--kind clip"), "{e}");
}

#[test]
fn predict_answers_with_a_model_directory_of_the_previous_format_as_it_did() {
    // crate/tests/fixtures/model_v1: written by `train` before the models moved
    // behind one interface (format version 1), with what `predict --json` answered.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crate/tests/fixtures");
    let model = fixtures.join("model_v1");
    let clip = fixtures.join("model_v1_query.wav");
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("model_v1_predict.json")).unwrap(),
    )
    .unwrap();
    let got = json(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--json",
        "-k",
        "3",
        clip.to_str().unwrap(),
    ]);
    let speakers = |v: &Value| -> Vec<String> {
        let mut out = Vec::new();
        for p in std::iter::once(&v["overall"]).chain(v["segments"].as_array().unwrap()) {
            out.push(p["gmm"]["model"].to_string());
            for g in p["models"].as_array().unwrap() {
                out.push(format!("{} {}", g["model"], g["speaker"]));
            }
            for s in p["similar"].as_array().unwrap() {
                out.push(s["speaker"].to_string());
            }
        }
        out
    };
    assert_eq!(speakers(&got), speakers(&want));
    let score = |v: &Value| v["overall"]["gmm"]["score"].as_f64().unwrap();
    assert!((score(&got) - score(&want)).abs() < 1e-6 * score(&want).abs());
    // A model directory of a newer format is refused, with a message, not a panic.
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer");
    std::fs::create_dir(&newer).unwrap();
    let text = std::fs::read_to_string(model.join("models.json")).unwrap();
    std::fs::write(
        newer.join("models.json"),
        text.replacen("\"version\":1", "\"version\":7", 1),
    )
    .unwrap();
    let e = fails(
        &[
            "predict",
            "--model",
            newer.to_str().unwrap(),
            clip.to_str().unwrap(),
        ],
        1,
    );
    assert!(e.contains("format version 7") && e.contains("newer"), "{e}");
}

#[test]
fn enroll_and_remove_change_one_speaker_and_bad_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 3, 8);
    let model = dir.path().join("model");
    let m = model.to_str().unwrap();
    ok(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        m,
        "--all",
    ]);
    let files = wavs(&data);
    let clips: Vec<&str> = files[..4].iter().map(|p| p.to_str().unwrap()).collect();
    let saved = || std::fs::read(model.join("models.json")).unwrap();
    let before = saved();

    // Bad input: a clear error, the model directory unchanged.
    let silence = dir.path().join("silence.wav");
    silent_wav(&silence, 2.0);
    let e = fails(
        &[
            "enroll",
            "--model",
            m,
            "--speaker",
            "new",
            silence.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        e.contains("no usable speech") && e.contains("unchanged"),
        "{e}"
    );
    let e = fails(&["enroll", "--model", m, "--speaker", "a/b", clips[0]], 1);
    assert!(e.contains("not allowed"), "{e}");
    let other = speaker_dir(&data, &files[0]);
    let e = fails(
        &[
            "enroll",
            "--model",
            m,
            "--speaker",
            "new",
            "--name",
            &other,
            clips[0],
        ],
        1,
    );
    assert!(e.contains("already names speaker"), "{e}");
    let missing = dir.path().join("no-such-model");
    let e = fails(
        &[
            "enroll",
            "--model",
            missing.to_str().unwrap(),
            "--speaker",
            "new",
            clips[0],
        ],
        1,
    );
    assert!(e.contains("no-such-model"), "{e}");
    assert!(!missing.exists());
    let e = fails(&["remove", "--model", m, "--speaker", "nobody"], 1);
    assert!(e.contains("not a speaker"), "{e}");
    fails(&["enroll", "--model", m, "--speaker", "new"], 2);
    assert_eq!(
        saved(),
        before,
        "a refused enrolment changed the model directory"
    );

    // Enrol: per-speaker models updated, the MLP out of date and left out.
    let mut args = vec![
        "enroll",
        "--model",
        m,
        "--speaker",
        "new",
        "--name",
        "New Voice",
        "--json",
    ];
    args.extend(&clips);
    let v = json(&args);
    assert_eq!(v["speakers"], 4);
    assert_eq!(v["clips"], 4);
    assert_eq!(v["replaced"], false);
    // "calibration" reports the open-set calibration: kept (raw scores need
    // nothing per speaker) when training made one, "none" when it could not (3
    // speakers leave 2 per speaker fold, too few to calibrate on this corpus).
    let calibrated =
        serde_json::from_slice::<serde_json::Value>(&before).unwrap()["calibration"].is_object();
    let expected = if calibrated { "kept" } else { "none" };
    assert_eq!(v["calibration"], expected, "{v}");
    assert_eq!(
        v["calibration"] == "none",
        v["calibration_detail"].is_null()
    );
    assert_eq!(
        v["updated"],
        serde_json::json!(["gmm-clip", "gmm-frame", "gmm-ubm"])
    );
    assert_eq!(v["out_of_date"][0]["model"], "mlp");
    assert!(v["seconds"]["total"].as_f64().unwrap() > 0.0);
    let p = json(&["predict", "--model", m, clips[0], "--json"]);
    assert!(p["overall"]["mlp"].is_null(), "{p}");
    let models: Vec<&str> = p["overall"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["model"].as_str().unwrap())
        .collect();
    assert!(!models.contains(&"mlp"), "{models:?}");

    let text = ok(&["remove", "--model", m, "--speaker", "new"]);
    assert!(text.contains("removed speaker new: 3 speakers"), "{text}");
    let v = json(&["remove", "--model", m, "--speaker", &other, "--json"]);
    assert_eq!(v["speakers"], 2);
    let e = fails(&["remove", "--model", m, "--speaker", "new"], 1);
    assert!(e.contains("not a speaker"), "{e}");
}

#[test]
fn enroll_keeps_the_narrowband_models_with_the_new_voice_in_them() {
    // Trained with bandwidth-matched models on three speakers; a fourth enrolled
    // from files: the narrowband models get it too, and a telephone copy of one of
    // its other clips is named by them.
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path(), 4, 6);
    let files = wavs(&data);
    let newcomer = speaker_dir(&data, &files[files.len() - 1]);
    let mine: Vec<&Path> = files
        .iter()
        .filter(|f| speaker_dir(&data, f) == newcomer)
        .map(|p| p.as_path())
        .collect();
    assert_eq!(mine.len(), 6);
    std::fs::rename(data.join(&newcomer), dir.path().join(&newcomer)).unwrap();
    let moved: Vec<PathBuf> = mine
        .iter()
        .map(|f| dir.path().join(f.strip_prefix(&data).unwrap()))
        .collect();
    let model = dir.path().join("model");
    let m = model.to_str().unwrap();
    ok(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        m,
        "--all",
        "--models",
        "gmm-ubm",
        "--narrowband",
        "on",
    ]);
    let mut args = vec!["enroll", "--model", m, "--speaker", "newcomer", "--json"];
    args.extend(moved[..5].iter().map(|p| p.to_str().unwrap()));
    let v = json(&args);
    assert_eq!(v["speakers"], 4);
    let nb = v["narrowband"].as_str().unwrap();
    assert!(nb.contains("narrowband models too"), "{nb}");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(model.join("models.json")).unwrap()).unwrap();
    let nb_speakers = saved["model"]["narrowband"]["speakers"].as_array().unwrap();
    assert_eq!(nb_speakers.len(), 4, "{nb_speakers:?}");
    assert!(nb_speakers.iter().any(|s| s == "newcomer"));

    let phone = dir.path().join("phone.wav");
    ok(&[
        "degrade",
        moved[5].to_str().unwrap(),
        phone.to_str().unwrap(),
        "--condition",
        "telephone",
    ]);
    let p = json(&["predict", "--model", m, phone.to_str().unwrap(), "--json"]);
    assert_eq!(p["overall"]["gmm"]["speaker"], "newcomer", "{p}");
}
