//! What the binary's end-to-end tests share: the binary with `SPEAKER_DATA` unset
//! (so a test never reads the caller's data set), and running it.
#![allow(dead_code)] // each test file uses its own subset

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
