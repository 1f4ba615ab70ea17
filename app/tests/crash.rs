//! Crash safety: the real binary killed with SIGKILL at random (seeded) points while
//! it writes its output. Afterwards the output path holds the earlier output, whole
//! and byte for byte the same, or the complete new output; when there was no
//! earlier output, it holds nothing or the complete new output. Beside it there is
//! at most a hidden `.NAME.tmp-*` staging directory, never read, and removed by the
//! next run that writes the same path.
//!
//! Each command is a [`Scenario`]: `train --out`, `synth`, `enroll` (a new
//! speaker, a replaced one), `remove` and `export`. For model directories the test also loads what is left and
//! predicts a clip with it: the same predictions as the earlier model's, or as the
//! complete new one's. The seed is `CRASH_SEED` (printed), default 12.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_speaker-similarity");

/// Every file under `dir` by relative path, with its bytes.
type Snapshot = BTreeMap<PathBuf, Vec<u8>>;

fn snapshot(dir: &Path) -> Option<Snapshot> {
    if !dir.exists() {
        return None;
    }
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, without_timings(std::fs::read(&p).unwrap()));
            }
        }
    }
    Some(out)
}

/// The bytes of a file with the one part that differs between two runs of the same
/// training blanked: the measured training times (`"train_seconds":{...}`).
fn without_timings(mut bytes: Vec<u8>) -> Vec<u8> {
    let key = b"\"train_seconds\":{";
    if let Some(i) = bytes.windows(key.len()).position(|w| w == key) {
        if let Some(j) = bytes[i..].iter().position(|&b| b == b'}') {
            bytes.drain(i + key.len()..i + j);
        }
    }
    bytes
}

fn copy_tree(from: &Path, to: &Path) {
    for rel in snapshot(from).unwrap().into_keys() {
        let p = to.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), p).unwrap();
    }
}

fn run_ok(args: &[&str]) {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// xorshift64*: the kill points, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A command's arguments, writing to the path given.
type Args = Box<dyn Fn(&Path) -> Vec<String>>;
/// Makes an earlier output at the path given.
type MakeEarlier = Box<dyn Fn(&Path)>;

/// One command that writes one output path.
struct Scenario {
    name: &'static str,
    /// The command's arguments, writing to the path given.
    args: Args,
    /// Make the earlier output at the path given (None: there is none).
    earlier: Option<MakeEarlier>,
    /// Whether a complete output at this path is usable (for models: it loads).
    usable: fn(&Path) -> bool,
    /// For model directories: what it predicts for a fixed clip (compared between
    /// what a kill left and the earlier or new output).
    predicts: Option<Predicts>,
}

/// What a model directory predicts, as text.
type Predicts = Box<dyn Fn(&Path) -> String>;

fn models_load(dir: &Path) -> bool {
    speaker_similarity::pipeline::SpeakerModels::load(dir).is_ok()
        && dir.join("evaluation.json").exists()
}

/// A model directory that loads (`enroll` and `remove` drop the training
/// evaluation: it no longer describes the speaker set).
fn models_predict(dir: &Path) -> bool {
    speaker_similarity::pipeline::SpeakerModels::load(dir).is_ok()
}

/// The predictions of the model directory `dir` for `clip`, as text.
fn predictions(dir: &Path, clip: &Path) -> String {
    let m = speaker_similarity::pipeline::SpeakerModels::load(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let audio = speaker_similarity::audio::Audio::load(clip).unwrap();
    format!("{:?}", m.predict_recording(&audio, 1.0, 3).unwrap())
}

/// The WAV files of one speaker of a synthetic corpus, sorted.
fn clips_of(corpus: &Path, speaker: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![corpus.join(speaker)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wav") {
                out.push(p.display().to_string());
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no clips of {speaker}");
    out
}

/// A complete export: its manifest (written last) and its clip table.
fn export_reads(dir: &Path) -> bool {
    dir.join("export.json").exists() && dir.join("clips.csv").exists()
}

fn corpus_reads(dir: &Path) -> bool {
    speaker_similarity::dataset::Dataset::open(dir).is_ok_and(|d| !d.is_empty())
}

fn scenarios(root: &Path) -> Vec<Scenario> {
    let small = root.join("corpus-small");
    let big = root.join("corpus-big");
    run_ok(&[
        "synth",
        small.to_str().unwrap(),
        "--speakers",
        "3",
        "--clips",
        "6",
        "--seed",
        "5",
    ]);
    run_ok(&[
        "synth",
        big.to_str().unwrap(),
        "--speakers",
        "4",
        "--clips",
        "10",
    ]);
    let train = move |data: PathBuf| {
        move |out: &Path| {
            vec![
                "train".into(),
                "--data".into(),
                data.display().to_string(),
                "--all".into(),
                "--out".into(),
                out.display().to_string(),
            ]
        }
    };
    let model_of = |data: PathBuf| {
        move |out: &Path| {
            run_ok(&[
                "train",
                "--data",
                data.to_str().unwrap(),
                "--all",
                "--out",
                out.to_str().unwrap(),
            ])
        }
    };
    let old_model = model_of(small.clone());
    let query = clips_of(&big, "spk01")[0].clone();
    let predicts = || -> Option<Predicts> {
        let q = PathBuf::from(&query);
        Some(Box::new(move |dir: &Path| predictions(dir, &q)))
    };
    let enroll = |speaker: &'static str, name: Option<&'static str>, files: Vec<String>| {
        move |out: &Path| {
            let mut v: Vec<String> = vec![
                "enroll".into(),
                "--model".into(),
                out.display().to_string(),
                "--speaker".into(),
                speaker.into(),
            ];
            if let Some(n) = name {
                v.extend(["--name".to_string(), n.to_string()]);
            }
            v.extend(files.iter().cloned());
            v
        }
    };
    let export = |data: PathBuf| {
        move |out: &Path| {
            [
                "export",
                "--data",
                &data.display().to_string(),
                "--out",
                &out.display().to_string(),
                "--what",
                "clips,frames,embeddings",
            ]
            .map(String::from)
            .to_vec()
        }
    };
    let small_data = small.clone();
    let synth = |extra: &'static [&'static str]| {
        move |out: &Path| {
            let mut v = vec!["synth".to_string(), out.display().to_string()];
            v.extend(extra.iter().map(|s| s.to_string()));
            v
        }
    };
    vec![
        Scenario {
            name: "train --out (new)",
            args: Box::new(train(big.clone())),
            earlier: None,
            usable: models_load,
            predicts: predicts(),
        },
        Scenario {
            name: "train --out (over an earlier model)",
            args: Box::new(train(big.clone())),
            earlier: Some(Box::new(old_model)),
            usable: models_load,
            predicts: predicts(),
        },
        Scenario {
            name: "synth (new)",
            args: Box::new(synth(&["--speakers", "6", "--clips", "25"])),
            earlier: None,
            usable: corpus_reads,
            predicts: None,
        },
        Scenario {
            name: "synth --overwrite (over an earlier corpus)",
            args: Box::new(synth(&[
                "--speakers",
                "6",
                "--clips",
                "25",
                "--seed",
                "9",
                "--overwrite",
            ])),
            earlier: Some(Box::new(|out: &Path| {
                run_ok(&[
                    "synth",
                    out.to_str().unwrap(),
                    "--speakers",
                    "7",
                    "--clips",
                    "20",
                ])
            })),
            usable: corpus_reads,
            predicts: None,
        },
        Scenario {
            name: "enroll (a new speaker)",
            args: Box::new(enroll(
                "newcomer",
                Some("New Comer"),
                clips_of(&big, "spk04"),
            )),
            earlier: Some(Box::new(model_of(small.clone()))),
            usable: models_predict,
            predicts: predicts(),
        },
        Scenario {
            name: "enroll (replacing a speaker)",
            args: Box::new(enroll("spk01", None, clips_of(&big, "spk02"))),
            earlier: Some(Box::new(model_of(small.clone()))),
            usable: models_predict,
            predicts: predicts(),
        },
        Scenario {
            name: "remove",
            args: Box::new(|out: &Path| {
                [
                    "remove",
                    "--model",
                    &out.display().to_string(),
                    "--speaker",
                    "spk03",
                ]
                .map(String::from)
                .to_vec()
            }),
            earlier: Some(Box::new(model_of(big.clone()))),
            usable: models_predict,
            predicts: predicts(),
        },
        Scenario {
            name: "export (new)",
            args: Box::new(export(big.clone())),
            earlier: None,
            usable: export_reads,
            predicts: None,
        },
        Scenario {
            name: "export (over an earlier export)",
            args: Box::new(export(big.clone())),
            earlier: Some(Box::new(move |out: &Path| {
                run_ok(&[
                    "export",
                    "--data",
                    small_data.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                    "--format",
                    "parquet",
                ])
            })),
            usable: export_reads,
            predicts: None,
        },
    ]
}

/// The names beside `target` in its folder, other than `target` itself.
fn beside(target: &Path) -> Vec<String> {
    let name = target.file_name().unwrap().to_string_lossy().to_string();
    std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| *n != name)
        .collect()
}

#[test]
fn killed_writers_leave_the_earlier_output_whole_or_the_new_one_complete() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    eprintln!("CRASH_SEED={seed}");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let root = tempfile::tempdir().unwrap();
    let kills_per_scenario = 8;
    for (si, sc) in scenarios(root.path()).into_iter().enumerate() {
        // The reference: earlier output (if any) and the complete new output, from
        // one uninterrupted run, with its duration.
        let refdir = root.path().join(format!("ref{si}"));
        std::fs::create_dir_all(&refdir).unwrap();
        let ref_out = refdir.join("out");
        let earlier = sc.earlier.as_ref().map(|make| {
            let e = root.path().join(format!("earlier{si}"));
            std::fs::create_dir_all(&e).unwrap();
            let out = e.join("out");
            make(&out);
            out
        });
        let old = earlier.as_deref().and_then(snapshot);
        if let Some(e) = &earlier {
            copy_tree(e, &ref_out);
        }
        let args = (sc.args)(&ref_out);
        let t0 = Instant::now();
        let st = Command::new(BIN).args(&args).stdout(Stdio::null()).status();
        assert!(st.unwrap().success(), "{}: reference run", sc.name);
        let full = t0.elapsed();
        let new = snapshot(&ref_out).unwrap();
        assert!((sc.usable)(&ref_out), "{}: the reference output", sc.name);
        let old_pred = sc
            .predicts
            .as_ref()
            .zip(earlier.as_ref())
            .map(|(f, e)| f(e));
        let new_pred = sc.predicts.as_ref().map(|f| f(&ref_out));
        if let (Some(o), Some(n)) = (&old_pred, &new_pred) {
            assert_ne!(o, n, "{}: the new model predicts differently", sc.name);
        }
        assert_ne!(Some(&new), old.as_ref(), "{}: new output differs", sc.name);

        let (mut kept_old, mut got_new, mut got_none) = (0, 0, 0);
        let mut rerun_checked = false;
        for k in 0..kills_per_scenario {
            let dir = root.path().join(format!("run{si}-{k}"));
            std::fs::create_dir_all(&dir).unwrap();
            let out = dir.join("out");
            if let Some(e) = &earlier {
                copy_tree(e, &out);
            }
            let mut child = Command::new(BIN)
                .args((sc.args)(&out))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Half the kills at a random moment of the run, half at a random
            // moment after the staging directory appears (while writing).
            let at_write = rng.unit() < 0.5;
            let delay = Duration::from_secs_f64(full.as_secs_f64() * 1.1 * rng.unit());
            let small = Duration::from_micros(rng.next() % 30_000);
            let start = Instant::now();
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                let staging = beside(&out).iter().any(|n| n.starts_with(".out.tmp-"));
                if (at_write && staging) || (!at_write && start.elapsed() >= delay) {
                    if at_write {
                        std::thread::sleep(small);
                    }
                    let _ = child.kill(); // SIGKILL
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            let _ = child.wait();
            let now = snapshot(&out);
            let pred = || sc.predicts.as_ref().map(|f| f(&out));
            if now.is_some() && now == old {
                assert_eq!(
                    pred(),
                    old_pred,
                    "{}: kill {k}: the earlier model predicts differently",
                    sc.name
                );
                kept_old += 1;
            } else if now.as_ref() == Some(&new) {
                assert!(
                    (sc.usable)(&out),
                    "{}: kill {k}: new output unusable",
                    sc.name
                );
                assert_eq!(
                    pred(),
                    new_pred,
                    "{}: kill {k}: the new model predicts differently",
                    sc.name
                );
                got_new += 1;
            } else if now.is_none() && old.is_none() {
                got_none += 1;
            } else {
                panic!(
                    "{}: kill {k} (seed {seed}) left neither the earlier output nor the \
                     complete new one: {:?}",
                    sc.name,
                    now.map(|s| s.keys().cloned().collect::<Vec<_>>())
                );
            }
            // Beside it, at most the hidden staging directory of the killed process
            // (never read; the next write of the path removes it).
            for n in beside(&out) {
                assert!(
                    n.starts_with(&format!(".out.tmp-{}-", child.id())),
                    "{}: kill {k} left {n}",
                    sc.name
                );
            }
            // The next run writes the same path whole and removes the leftovers.
            if !rerun_checked && now.as_ref() != Some(&new) {
                rerun_checked = true;
                let st = Command::new(BIN)
                    .args((sc.args)(&out))
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(st.success());
                assert_eq!(snapshot(&out).as_ref(), Some(&new), "{}", sc.name);
                assert!(beside(&out).is_empty(), "{}: {:?}", sc.name, beside(&out));
            }
        }
        assert!(rerun_checked || got_new == kills_per_scenario);
        eprintln!(
            "{}: {kills_per_scenario} kills (run {:.2} s): {kept_old} left the earlier output, \
             {got_new} the new one, {got_none} nothing",
            sc.name,
            full.as_secs_f64()
        );
    }
}
