//! `identify` end to end through the binary, on a small synthetic model: the JSON
//! line has the issue's fields, an enrolled speaker's new clip is accepted and
//! named, voices that were never enrolled are rejected, silence is "no speech",
//! and `predict` / `similar` carry the same verdict object.

mod common;

use std::path::PathBuf;

use common::{bin, ok, silent_wav, wavs};
use serde_json::Value;

#[test]
fn identify_accepts_enrolled_rejects_never_enrolled_and_silence_is_no_speech() {
    let root = std::env::temp_dir().join(format!("ss-identify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let corpus = root.join("corpus");
    ok(&[
        "synth",
        corpus.to_str().unwrap(),
        "--speakers",
        "10",
        "--clips",
        "12",
        "--sessions",
        "1",
    ]);
    // Speakers sorted by id: the first 8 enrolled with clips 0-8, queried with
    // clips 9-11; the last 2 never enrolled.
    let mut speakers: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    speakers.sort();
    assert_eq!(speakers.len(), 10);
    let enrol = root.join("enrol");
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for (s, dir) in speakers.iter().enumerate() {
        let id = dir.file_name().unwrap().to_str().unwrap().to_string();
        for (c, f) in wavs(dir).into_iter().enumerate() {
            if s >= 8 {
                unknown.push(f);
            } else if c < 9 {
                let dst = enrol.join(&id).join(f.file_name().unwrap());
                std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
                std::fs::copy(&f, dst).unwrap();
            } else {
                known.push((f, id.clone()));
            }
        }
    }
    // The calibration never sees a query: they are not in the training folder.
    for (f, _) in &known {
        assert!(!f.starts_with(&enrol));
    }
    let model = root.join("model");
    ok(&[
        "train",
        "--data",
        enrol.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--all",
        "--models",
        "gmm-ubm",
    ]);
    let silence = root.join("silence.wav");
    silent_wav(&silence, 1.0);

    let mut args: Vec<String> = vec![
        "identify".into(),
        "--model".into(),
        model.to_str().unwrap().into(),
        "--json".into(),
    ];
    args.extend(known.iter().map(|(f, _)| f.to_str().unwrap().to_string()));
    args.extend(unknown.iter().map(|f| f.to_str().unwrap().to_string()));
    args.push(silence.to_str().unwrap().into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ok(&argv);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), known.len() + unknown.len() + 1);
    for v in &lines {
        for k in [
            "file",
            "speaker",
            "name",
            "score",
            "threshold",
            "accepted",
            "reason",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        // speaker null exactly when not accepted, and then a reason.
        assert_eq!(v["speaker"].is_null(), !v["accepted"].as_bool().unwrap());
        assert_eq!(v["reason"].is_null(), v["accepted"].as_bool().unwrap());
    }
    let named = known
        .iter()
        .zip(&lines)
        .filter(|((_, id), v)| v["speaker"] == id.as_str())
        .count();
    let rejected = lines[known.len()..known.len() + unknown.len()]
        .iter()
        .filter(|v| v["accepted"] == false && v["reason"] == "unknown")
        .count();
    eprintln!(
        "{named}/{} enrolled queries accepted and named, {rejected}/{} never-enrolled rejected",
        known.len(),
        unknown.len()
    );
    // Measured: 19/24 accepted and named, 21/24 rejected; slack for float
    // rounding elsewhere, not for a worse method.
    assert!(named >= 17, "{named}/{} named", known.len());
    assert!(rejected >= 19, "{rejected}/{} rejected", unknown.len());
    let s = lines.last().unwrap();
    assert_eq!(s["reason"], "no speech");
    assert!(s["speaker"].is_null() && s["score"].is_null());
    assert_eq!(s["accepted"], false);

    // --threshold is in the same unit: far above every score rejects all.
    let one = known[0].0.to_str().unwrap();
    let m = model.to_str().unwrap();
    let v: Value = serde_json::from_str(
        ok(&[
            "identify",
            "--model",
            m,
            "--json",
            "--threshold",
            "1e9",
            one,
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(v["accepted"], false);
    assert_eq!(v["threshold"], 1e9);

    // predict and similar show the same verdict object.
    let id: Value =
        serde_json::from_str(ok(&["identify", "--model", m, "--json", one]).trim()).unwrap();
    let p: Value = serde_json::from_str(&ok(&["predict", "--model", m, "--json", one])).unwrap();
    let pv = &p["overall"]["verdict"];
    for k in [
        "speaker",
        "name",
        "score",
        "threshold",
        "accepted",
        "reason",
    ] {
        assert_eq!(pv[k], id[k], "predict verdict {k}");
    }
    for seg in p["segments"].as_array().unwrap() {
        assert!(
            seg.get("verdict").is_some(),
            "segment without verdict: {seg}"
        );
    }
    let sim: Value = serde_json::from_str(&ok(&["similar", "--model", m, "--json", one])).unwrap();
    assert_eq!(sim["verdict"]["speaker"], id["speaker"]);
    assert_eq!(sim["verdict"]["score"], id["score"]);
    // predict on silence: whatever it answers for the whole, a segment is never
    // given a speaker.
    let o = bin()
        .args(["predict", "--model", m, "--json", silence.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    if o.status.success() {
        let ps: Value = serde_json::from_slice(&o.stdout).unwrap();
        for seg in ps["segments"].as_array().unwrap() {
            assert_eq!(seg["verdict"]["reason"], "no speech", "{seg}");
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
