//! The library's DER against pyannote.metrics' `DiarizationErrorRate` on the same
//! RTTM files (fixtures written by scripts/fixtures_pyannote.py): reference and
//! hypothesis pairs with overlaps, permuted labels, split and merged speakers, missed
//! turns, false alarms; collars 0, 0.5 and 1.0 s (total width, pyannote's convention).

use std::path::PathBuf;

use serde::Deserialize;
use speaker_similarity::diarize::{der, rttm};

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    uri: String,
    kind: String,
    results: Vec<Expected>,
}

#[derive(Deserialize)]
struct Expected {
    collar: f64,
    der: f64,
    total: f64,
    missed: f64,
    false_alarm: f64,
    confusion: f64,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/der")
}

#[test]
fn der_matches_pyannote_metrics() {
    let text = std::fs::read_to_string(dir().join("der_pyannote.json")).unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    assert!(fx.cases.len() >= 10);
    let mut kinds = std::collections::BTreeSet::new();
    for case in &fx.cases {
        let r = rttm::turns_of(
            &rttm::read(dir().join(format!("{}.ref.rttm", case.uri))).unwrap(),
            Some(&case.uri),
        );
        let h = rttm::turns_of(
            &rttm::read(dir().join(format!("{}.hyp.rttm", case.uri))).unwrap(),
            Some(&case.uri),
        );
        assert!(!r.is_empty() && !h.is_empty());
        kinds.insert(case.kind.clone());
        for e in &case.results {
            let got = der(&r, &h, e.collar).unwrap();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + b.abs());
            assert!(
                close(got.total, e.total)
                    && close(got.missed, e.missed)
                    && close(got.false_alarm, e.false_alarm)
                    && close(got.confusion, e.confusion)
                    && close(got.der(), e.der),
                "{} ({}) collar {}: ours total {} missed {} fa {} conf {} der {}, \
                 pyannote total {} missed {} fa {} conf {} der {}",
                case.uri,
                case.kind,
                e.collar,
                got.total,
                got.missed,
                got.false_alarm,
                got.confusion,
                got.der(),
                e.total,
                e.missed,
                e.false_alarm,
                e.confusion,
                e.der
            );
        }
    }
    // The fixtures exercise errors of every kind, not only perfect hypotheses.
    assert!(kinds.len() >= 6);
    assert!(fx
        .cases
        .iter()
        .flat_map(|c| &c.results)
        .any(|e| e.confusion > 1.0 && e.missed > 0.0 && e.false_alarm > 0.0));
}
