//! Sharded training end to end on synthetic corpora the tests write: `train
//! --ubm-only`, `train --ubm U --shard K/N`, `merge`. The merge of every shard must
//! give the model files `train --all` gives on the whole set (bit for bit, the
//! training times aside) and the same `predict --json` answers; wrong inputs (bad
//! K/N, an empty shard, overlapping or missing shards, another UBM, other
//! settings) are refused with a message that says what is wrong.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{ok, run, wavs};

/// Fails with a message (not a panic): exit code 1, or 2 for a flag the argument
/// parser refuses; returns stderr.
fn fails(args: &[&str]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(matches!(o.status.code(), Some(1 | 2)), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    err
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shard-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn corpus(dir: &Path, speakers: usize, clips: usize, seed: u64) -> PathBuf {
    let out = dir.join(format!("corpus-{seed}"));
    ok(&[
        "synth",
        s(&out),
        "--speakers",
        &speakers.to_string(),
        "--clips",
        &clips.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    out
}

/// A model directory's models.json without the training times (wall clock).
fn models(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("models.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let m = v["model"].as_object_mut().unwrap();
    assert!(m.remove("train_seconds").is_some());
    v
}

/// The models of one kind in a models.json value.
fn model<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["model"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// UBM, `n` shards and a merge of `data` into `dir/merged`; the shard directories.
fn shards_and_merge(dir: &Path, data: &Path, n: usize) -> (PathBuf, String) {
    let ubm = dir.join("ubm");
    ok(&["train", "--data", s(data), "--ubm-only", "--out", s(&ubm)]);
    let mut shard_dirs = Vec::new();
    for k in 0..n {
        let out = dir.join(format!("shard{k}"));
        let shard = format!("{k}/{n}");
        ok(&[
            "train",
            "--data",
            s(data),
            "--ubm",
            s(&ubm),
            "--shard",
            &shard,
            "--out",
            s(&out),
        ]);
        shard_dirs.push(out);
    }
    let merged = dir.join("merged");
    let mut args = vec!["merge", "--out", s(&merged)];
    // Any order.
    for d in shard_dirs.iter().rev() {
        args.push(s(d));
    }
    let report = ok(&args);
    (merged, report)
}

/// `predict --json` without its timing fields.
fn predict(model: &Path, file: &Path) -> Value {
    let out = ok(&["predict", "--model", s(model), "--json", s(file)]);
    let mut v: Value = serde_json::from_str(&out).unwrap();
    strip_timing(&mut v);
    v
}

fn strip_timing(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.contains("second") && !k.contains("time"));
            m.values_mut().for_each(strip_timing);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_timing),
        _ => {}
    }
}

#[test]
fn merge_equals_train() {
    let dir = tmp("equal");
    // 7 speakers into 3 shards: 3, 2 and 2 speakers.
    let data = corpus(&dir, 7, 6, 42);
    let whole = dir.join("whole");
    ok(&["train", "--data", s(&data), "--all", "--out", s(&whole)]);
    let (merged, report) = shards_and_merge(&dir, &data, 3);
    assert!(
        report.contains("joined from the shards' per-speaker parts: gmm-frame, gmm-ubm"),
        "{report}"
    );
    assert!(report.contains("retrained after the merge, from the 42 clip vectors stored in the shards: mlp, gmm-clip"), "{report}");

    // The UBM trained once is the one `train --all` fits.
    let ubm_text = std::fs::read_to_string(dir.join("ubm/ubm.json")).unwrap();
    let ubm: Value = serde_json::from_str(&ubm_text).unwrap();
    let a = models(&whole);
    assert_eq!(
        ubm["model"]["ubm"],
        model(&a, "gmm-ubm")["model"]["classifier"]["ubm"]
    );

    // Every model, the speakers, the embeddings: bit-identical. The open-set
    // calibration needs the training clips' frames, which a merge does not hold:
    // the merged directory says so instead of calibrating.
    let mut a = a;
    let mut b = models(&merged);
    let skipped = b["model"]["calibration_skipped"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(skipped.contains("holds no frames"), "{skipped}");
    assert!(b["model"]["calibration"].is_null());
    for v in [&mut a, &mut b] {
        let m = v["model"].as_object_mut().unwrap();
        m.remove("calibration");
        m.remove("calibration_skipped");
    }
    for kind in ["mlp", "gmm-clip", "gmm-frame", "gmm-ubm"] {
        assert!(model(&a, kind) == model(&b, kind), "{kind} differs");
    }
    assert_eq!(a, b);
    assert_eq!(
        std::fs::read(whole.join("history.json")).unwrap(),
        std::fs::read(merged.join("history.json")).unwrap()
    );
    // And so the same answers.
    for f in wavs(&data).iter().step_by(9) {
        assert_eq!(predict(&whole, f), predict(&merged, f), "{}", f.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_left_out_speaker_changes_only_the_gmm_frame_seeds_after_it() {
    let dir = tmp("leftout");
    let data = corpus(&dir, 6, 5, 7);
    // spk02 keeps a single clip: every training leaves it out.
    for f in wavs(&data.join("spk02")).into_iter().skip(1) {
        std::fs::remove_file(f).unwrap();
    }
    let whole = dir.join("whole");
    ok(&["train", "--data", s(&data), "--all", "--out", s(&whole)]);
    let (merged, report) = shards_and_merge(&dir, &data, 2);
    // Speakers after spk02 have class position = data set rank - 1.
    assert!(
        report.contains("note: gmm-frame: 4 speaker(s) (spk03, spk04, spk05, spk06)"),
        "{report}"
    );
    let (a, b) = (models(&whole), models(&merged));
    assert_eq!(a["model"]["speakers"], b["model"]["speakers"]);
    for kind in ["mlp", "gmm-clip", "gmm-ubm"] {
        assert!(model(&a, kind) == model(&b, kind), "{kind} differs");
    }
    // gmm-frame: the speakers before spk02 are identical, those after it differ
    // (another k-means seed) — the stated exception, and nothing more.
    let mix = |v: &Value| model(v, "gmm-frame")["model"]["classifier"]["models"].clone();
    let (ma, mb) = (mix(&a), mix(&b));
    assert_eq!(ma[0], mb[0]);
    for c in 1..5 {
        assert_ne!(ma[c], mb[c], "speaker {c}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_shards_are_refused_with_a_reason() {
    let dir = tmp("errors");
    let data = corpus(&dir, 4, 4, 3);
    let ubm = dir.join("ubm");
    ok(&["train", "--data", s(&data), "--ubm-only", "--out", s(&ubm)]);
    let shard = |k: &str, ubm: &Path, out: &str| -> Vec<String> {
        [
            "train",
            "--data",
            s(&data),
            "--ubm",
            s(ubm),
            "--shard",
            k,
            "--out",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([s(&dir.join(out)).to_string()])
        .collect()
    };

    for (bad, says) in [
        ("2/2", "K runs from 0 to N-1"),
        ("a/2", "is not K/N"),
        ("0/0", "at least 1"),
        ("1/2/3", "is not K/N"),
    ] {
        let err = fails(&args(&shard(bad, &ubm, "bad")));
        assert!(err.contains(says), "{bad}: {err}");
    }
    // More shards than speakers: an empty shard.
    let err = fails(&args(&shard("5/6", &ubm, "empty")));
    assert!(err.contains("shard 5/6 holds no speaker"), "{err}");
    // gmm-ubm without the shared UBM.
    let err = fails(&[
        "train",
        "--data",
        s(&data),
        "--shard",
        "0/2",
        "--out",
        s(&dir.join("x")),
    ]);
    assert!(err.contains("--ubm-only"), "{err}");
    // A UBM trained with other settings.
    let ubm7 = dir.join("ubm-seed7");
    ok(&[
        "train",
        "--data",
        s(&data),
        "--ubm-only",
        "--seed",
        "7",
        "--out",
        s(&ubm7),
    ]);
    let err = fails(&args(&shard("0/2", &ubm7, "x")));
    assert!(err.contains("other settings (seed differ)"), "{err}");
    // Not a UBM directory.
    let err = fails(&args(&shard("0/2", &data, "x")));
    assert!(err.contains("no ubm.json inside"), "{err}");

    ok(&args(&shard("0/2", &ubm, "s0")));
    ok(&args(&shard("1/2", &ubm, "s1")));
    let merged = dir.join("m");
    let merge = |shards: &[&str]| -> String {
        let mut a = vec!["merge".to_string(), "--out".into(), s(&merged).into()];
        a.extend(shards.iter().map(|x| s(&dir.join(x)).to_string()));
        let v: Vec<&str> = a.iter().map(String::as_str).collect();
        fails(&v)
    };
    let err = merge(&["s0", "s0"]);
    assert!(err.contains("is in two shards (0/2 and 0/2)"), "{err}");
    let err = merge(&["s1"]);
    assert!(err.contains("shard(s) 0/2 missing"), "{err}");
    // Shards of a 3-way split mixed with a 2-way one.
    ok(&args(&shard("2/3", &ubm, "t2")));
    let err = merge(&["s0", "s1", "t2"]);
    assert!(err.contains("overlap"), "{err}");
    // Shards adapted from another UBM (same settings, other data).
    let other = corpus(&dir, 4, 4, 99);
    let ubm_other = dir.join("ubm-other");
    ok(&[
        "train",
        "--data",
        s(&other),
        "--ubm-only",
        "--out",
        s(&ubm_other),
    ]);
    ok(&args(&shard("1/2", &ubm_other, "o1")));
    let err = merge(&["s0", "o1"]);
    assert!(err.contains("another UBM"), "{err}");
    // Not a shard directory.
    let err = merge(&["s0", "ubm"]);
    assert!(err.contains("no shard.json inside"), "{err}");
    // Nothing was written by the refused merges.
    assert!(!merged.exists());
    ok(&[
        "merge",
        "--out",
        s(&merged),
        s(&dir.join("s1")),
        s(&dir.join("s0")),
    ]);
    assert!(merged.join("models.json").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
