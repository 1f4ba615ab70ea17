//! Score calibration and open-set rates against scikit-learn
//! (fixtures by scripts/fixtures_calibration.py).

use serde_json::Value;
use speaker_similarity::calibration::{
    open_set_det, open_set_eer, CalibrationParams, LinearCalibration, OpenSetTrial,
};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/calibration_sklearn.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn linear_calibration_equals_weighted_logistic_regression() {
    let fx = fixture();
    for (i, case) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let tar = floats(&case["targets"]);
        let non = floats(&case["nontargets"]);
        for fit in case["fits"].as_array().unwrap() {
            let prior = fit["prior"].as_f64().unwrap();
            let params = CalibrationParams {
                prior,
                ..CalibrationParams::default()
            };
            let cal = LinearCalibration::fit(&tar, &non, &params).unwrap();
            let (scale, offset) = (
                fit["scale"].as_f64().unwrap(),
                fit["offset"].as_f64().unwrap(),
            );
            assert!(
                (cal.scale - scale).abs() <= 1e-5 * scale.abs().max(1.0)
                    && (cal.offset - offset).abs() <= 1e-5 * offset.abs().max(1.0),
                "case {i} prior {prior}: ours {cal:?}, sklearn {scale} {offset}"
            );
            let cost = cal.cost(&tar, &non, prior).unwrap();
            let want = fit["cost"].as_f64().unwrap();
            assert!(
                (cost - want).abs() < 1e-7,
                "case {i} prior {prior}: cost {cost} vs {want}"
            );
        }
    }
}

#[test]
fn open_set_det_equals_roc_curve_with_wrong_names_never_accepted() {
    let fx = fixture();
    let trials: Vec<OpenSetTrial> =
        serde_json::from_value(fx["open_set"]["trials"].clone()).unwrap();
    let det = open_set_det(&trials).unwrap();
    let want = fx["open_set"]["det"].as_array().unwrap();
    assert_eq!(det.len(), want.len());
    for (p, w) in det.iter().zip(want) {
        let t = w["threshold"].as_f64().unwrap_or(f64::INFINITY);
        assert!(
            p.threshold == t || (p.threshold - t).abs() < 1e-12,
            "{p:?} vs {w}"
        );
        assert!((p.false_alarm - w["false_alarm"].as_f64().unwrap()).abs() < 1e-12);
        assert!((p.miss - w["miss"].as_f64().unwrap()).abs() < 1e-12);
    }
    // The EER lies where the curve crosses FA = miss, between two of those points.
    let (eer, _) = open_set_eer(&trials).unwrap();
    let crossing = det
        .windows(2)
        .find(|w| w[0].false_alarm <= w[0].miss && w[1].false_alarm >= w[1].miss)
        .unwrap();
    assert!(eer >= crossing[0].false_alarm && eer <= crossing[1].false_alarm);
    assert!(eer >= crossing[1].miss && eer <= crossing[0].miss);
}
