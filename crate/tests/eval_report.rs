//! eval against scikit-learn (scripts/fixtures_sklearn.py -> report_sklearn.json).

use serde_json::Value;
use speaker_similarity::eval::{accuracy, ClassificationReport, ConfusionMatrix};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report_sklearn.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn get<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn report_text_and_numbers_equal_sklearn() {
    let f = fixture();
    let names: Vec<String> = get(&f["names"]);
    let yt: Vec<usize> = get(&f["y_true"]);
    let yp: Vec<usize> = get(&f["y_pred"]);
    let r = ClassificationReport::new(&yt, &yp, &names).unwrap();
    for rep in f["reports"].as_array().unwrap() {
        let digits = rep["digits"].as_u64().unwrap() as usize;
        let text = r.clone().with_digits(digits).to_string();
        assert_eq!(text, rep["text"].as_str().unwrap(), "digits={digits}");
    }
    let p: Vec<f64> = get(&f["precision"]);
    let rc: Vec<f64> = get(&f["recall"]);
    let f1: Vec<f64> = get(&f["f1"]);
    let s: Vec<usize> = get(&f["support"]);
    for (i, m) in r.per_class.iter().enumerate() {
        assert!((m.precision - p[i]).abs() < 1e-12);
        assert!((m.recall - rc[i]).abs() < 1e-12);
        assert!((m.f1 - f1[i]).abs() < 1e-12);
        assert_eq!(m.support, s[i]);
    }
    // Class 3 is never predicted: precision 0/0 -> 0.0, like sklearn's default.
    assert_eq!(r.per_class[3].precision, 0.0);
    let macro_: Vec<f64> = get(&f["avg"]["macro"]);
    let weighted: Vec<f64> = get(&f["avg"]["weighted"]);
    for (a, b) in [r.macro_avg.precision, r.macro_avg.recall, r.macro_avg.f1]
        .iter()
        .zip(&macro_)
    {
        assert!((a - b).abs() < 1e-12);
    }
    for (a, b) in [
        r.weighted_avg.precision,
        r.weighted_avg.recall,
        r.weighted_avg.f1,
    ]
    .iter()
    .zip(&weighted)
    {
        assert!((a - b).abs() < 1e-12);
    }
    assert!((r.accuracy - f["accuracy"].as_f64().unwrap()).abs() < 1e-15);
    assert_eq!(accuracy(&yt, &yp).unwrap(), r.accuracy);
    // smartcore's accuracy agrees.
    let (ti, pi): (Vec<i32>, Vec<i32>) = (
        yt.iter().map(|&v| v as i32).collect(),
        yp.iter().map(|&v| v as i32).collect(),
    );
    assert!((smartcore::metrics::accuracy(&ti, &pi) - r.accuracy).abs() < 1e-15);
    let cm = ConfusionMatrix::new(&yt, &yp, &names).unwrap();
    let want: Vec<Vec<usize>> = get(&f["confusion"]);
    for (i, row) in want.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            assert_eq!(cm.counts[[i, j]], c);
        }
    }
    let norm = cm.normalized();
    assert!((norm.row(0).sum() - 1.0).abs() < 1e-12);
    assert!(cm.to_string().contains("id10004"));
}

#[test]
fn short_names_and_absent_class_layout() {
    let f = fixture();
    let c = &f["case2"];
    let names: Vec<String> = get(&c["names"]);
    let r = ClassificationReport::new(
        &get::<Vec<usize>>(&c["y_true"]),
        &get::<Vec<usize>>(&c["y_pred"]),
        &names,
    )
    .unwrap();
    assert_eq!(r.to_string(), c["text"].as_str().unwrap());
}

#[test]
fn bad_inputs_are_errors() {
    let names = vec!["a".to_string()];
    assert!(accuracy(&[0, 1], &[0]).is_err());
    assert!(accuracy(&[], &[]).is_err());
    assert!(ClassificationReport::new(&[0, 1], &[0, 0], &names).is_err());
    assert!(ConfusionMatrix::new(&[0], &[3], &names).is_err());
}
