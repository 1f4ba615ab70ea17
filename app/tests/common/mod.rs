//! What the binary's end-to-end tests share: the binary with `SPEAKER_DATA` unset
//! (so a test never reads the caller's data set), and running it.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `speaker-similarity` binary cargo built for the tests, without `SPEAKER_DATA`.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_speaker-similarity"));
    c.env_remove("SPEAKER_DATA");
    c
}

/// Run the binary with `args` and collect its output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// Run the binary with `args`; it must succeed. Returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Every `.wav` file below `dir`, sorted.
pub fn wavs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wav") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
