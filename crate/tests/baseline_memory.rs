//! The SVC baseline frees what it fits: 1,000 cycles of clone, save/load and predict
//! keep the resident memory flat. (smartcore's SVC borrows its training data; an
//! earlier wrapper leaked data and parameters on every clone, load and lost race.)
//! One test in its own binary, so no other test moves the resident set meanwhile.
#![cfg(target_os = "linux")]

use ndarray::Array2;
use speaker_similarity::models::{Baseline, BaselineKind};
use speaker_similarity::persist::{load, save};

/// Resident set size of this process, in KiB (`VmRSS` of /proc/self/status, the
/// second field of /proc/self/statm in kB).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn svc_clone_load_and_predict_keep_memory_flat() {
    // Three well separated classes, 60 rows of 16 features: 7.5 KiB of training
    // data, so a leak of one copy per clone and per load would add ~15 MiB over the
    // 1,000 cycles, well above the slack.
    let (n, d) = (60, 16);
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        (if j % 3 == y[i] { 4.0 } else { 0.0 }) + ((i * 7 + j * 3) % 10) as f32 * 0.1
    });
    let fitted = Baseline::fit(BaselineKind::Svc, x.view(), &y).unwrap();
    let want = fitted.predict(x.view()).unwrap();
    assert_eq!(want, y, "the SVC separates the classes");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svc.json");
    let cycle = || {
        let copy = fitted.clone();
        assert_eq!(copy.predict(x.view()).unwrap(), want);
        save(&path, &copy).unwrap();
        let back: Baseline = load(&path).unwrap();
        assert_eq!(back.predict(x.view()).unwrap(), want);
    };
    // Warm-up: the allocator's arenas, thread stacks and file buffers settle.
    for _ in 0..100 {
        cycle();
    }
    let before = rss_kib();
    for _ in 0..1000 {
        cycle();
    }
    let after = rss_kib();
    let grown = after as i64 - before as i64;
    println!("resident set: {before} KiB before, {after} KiB after 1000 cycles ({grown:+} KiB)");
    assert!(
        grown < 3 * 1024,
        "1000 cycles grew the resident set by {grown} KiB ({before} -> {after})"
    );
}
