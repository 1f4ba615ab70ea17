//! The fuzzer's detectors: a panic, an oversized allocation and a slow input are
//! findings saved with their input; a target that does neither gives none. One test
//! (the allocator and the panic hook are process-wide).

use std::time::Duration;

use speaker_similarity_fuzz::driver::{run, Config};
use speaker_similarity_fuzz::targets::{Shape, Target};

fn target(name: &'static str, run: fn(&[u8]) -> String) -> Target {
    Target {
        name,
        about: "test",
        seeds: vec![b"seed".to_vec()],
        dict: vec![],
        shape: Shape::Bytes,
        max_len: 64,
        generate: None,
        run: Box::new(run),
    }
}

#[test]
fn panics_big_allocations_and_slow_inputs_are_findings_and_clean_targets_give_none() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        seconds: 12.0,
        seed: 7,
        hang: Duration::from_millis(300),
        max_alloc: 8 << 20,
        findings: dir.path().to_path_buf(),
        report_every: 100.0,
        corpus_cap: 10,
        exit_on_hang: false,
    };
    let targets = vec![
        target("clean", |b| format!("ok:{}", b.len() % 3)),
        target("panics", |b| {
            if b.first() == Some(&b's') && b.len() != 4 {
                panic!("boom on a mutated seed");
            }
            "ok".into()
        }),
        target("allocates", |b| {
            // Sized by the "header": the first byte, in MiB.
            let n = (*b.first().unwrap_or(&0) as usize) << 20;
            let v = vec![1u8; n];
            format!("ok:{}", v.len().min(1))
        }),
        target("slow", |b| {
            if b.len() == 5 {
                std::thread::sleep(Duration::from_millis(400));
            }
            "ok".into()
        }),
    ];
    let s = run(&config, targets);
    let kinds: Vec<(&str, &str)> = s.findings.iter().map(|f| (f.target, f.kind)).collect();
    assert!(!kinds.iter().any(|(t, _)| *t == "clean"), "{kinds:?}");
    assert!(kinds.contains(&("panics", "panic")), "{kinds:?}");
    // 's' = 115 MiB > 8 MiB: the seed itself is a finding.
    assert!(kinds.contains(&("allocates", "alloc")), "{kinds:?}");
    assert!(kinds.contains(&("slow", "hang")), "{kinds:?}");
    for f in &s.findings {
        assert!(f.file.exists(), "{f:?}");
        assert!(f.file.with_extension("txt").exists());
    }
    let panic = s.findings.iter().find(|f| f.kind == "panic").unwrap();
    assert!(
        panic.detail.contains("boom on a mutated seed"),
        "{}",
        panic.detail
    );
    let (_, clean) = s.targets.iter().find(|(n, _)| *n == "clean").unwrap();
    assert!(clean.execs > 10, "{clean:?}");
}
