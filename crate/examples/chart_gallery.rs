//! One chart of every kind `plot` draws, on the built-in synthetic corpus, written as
//! SVG (and PNG with the `png` feature) into a folder. `tests/test_charts.py` opens
//! each in headless Chromium and checks that no text leaves the canvas, no two labels
//! overlap and no legend covers data.
//!
//! ```sh
//! cargo run -p speaker_similarity --features png --example chart_gallery -- out/charts
//! ```
//!
//! The data are real outputs of the library on the synthetic corpus: clip durations,
//! a clip's waveform, zero-crossing rate and MFCC, clip vectors enrolled per speaker
//! (cosine scoring: similarity matrix, ranking, verification trials, DET curve,
//! nearest-speaker confusion matrix) and an MLP's training history.

use std::path::PathBuf;

use ndarray::{Array2, Axis};
use speaker_similarity::features::{self, MfccParams, ZcrParams};
use speaker_similarity::models::{Mlp, MlpParams};
use speaker_similarity::plot::{self, Chart};
use speaker_similarity::similarity::{self, EnrolledSpeakers};
use speaker_similarity::{synth, Result};

fn save(chart: &Chart, dir: &std::path::Path, name: &str) -> Result<()> {
    chart.save(dir.join(format!("{name}.svg")))?;
    #[cfg(feature = "png")]
    chart.save(dir.join(format!("{name}.png")))?;
    println!("{name}");
    Ok(())
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "out/charts".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let data = synth::default_dataset();
    let speakers = data.speakers();
    let names: Vec<String> = speakers
        .iter()
        .map(|s| data.display_name(s).to_string())
        .collect();

    // Exploration: durations, clips per speaker.
    let summary = data.summary();
    save(
        &plot::histogram(&summary.durations, 30, "Clip durations", "seconds")?,
        &dir,
        "histogram",
    )?;
    let per_speaker: Vec<f64> = speakers
        .iter()
        .map(|s| data.clips_of(s).len() as f64)
        .collect();
    save(
        &plot::bars(&names, &per_speaker, "Clips per speaker", "clips")?,
        &dir,
        "bars",
    )?;

    // One clip: waveform with ZCR, MFCC heat map, three MFCC tracks.
    let clip = &data.clips[0];
    let audio = clip.load()?;
    let zcr = features::zero_crossing_rate(&audio.samples, &ZcrParams::default())?;
    let title = format!(
        "{} ({})",
        clip.file_name(),
        data.display_name(&clip.speaker)
    );
    save(
        &plot::waveform(&audio, Some((zcr.as_slice().unwrap_or(&[]), 512)), &title)?,
        &dir,
        "waveform",
    )?;
    let hop = 256;
    let m = features::mfcc(
        &audio,
        &MfccParams {
            n_mfcc: 13,
            hop_length: hop,
            ..MfccParams::default()
        },
    )?;
    let hop_s = hop as f64 / audio.sample_rate as f64;
    save(
        &plot::heatmap(
            m.view(),
            "MFCC (13 coefficients)",
            "coefficient",
            Some(hop_s),
        )?,
        &dir,
        "heatmap",
    )?;
    let tracks: Vec<(String, Vec<(f64, f64)>)> = (1..4)
        .map(|k| {
            let pts = m
                .row(k)
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64 * hop_s, v as f64))
                .collect();
            (format!("MFCC {k}"), pts)
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = tracks
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    save(
        &plot::lines(&series, "MFCC 1-3 over time", "time (s)", "value")?,
        &dir,
        "lines",
    )?;

    // Clip vectors: the first half of each speaker's clips enrols, the second half
    // queries (disjoint).
    let mut enrol_rows = Vec::new();
    let mut queries: Vec<(String, Vec<f32>)> = Vec::new();
    let mut query_label = Vec::new();
    let mut train_x = Vec::new();
    let mut train_y = Vec::new();
    for (k, s) in speakers.iter().enumerate() {
        let idx = data.clips_of(s);
        let half = idx.len() / 2;
        let mut sum = vec![0f32; 0];
        for (j, &i) in idx.iter().enumerate() {
            let v = features::clip_vector(&data.clips[i].load()?)?;
            if j < half {
                if sum.is_empty() {
                    sum = vec![0.0; v.len()];
                }
                sum.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
                train_x.extend_from_slice(&v);
                train_y.push(k);
            } else {
                queries.push((names[k].clone(), v));
                query_label.push(k);
            }
        }
        enrol_rows.push(
            sum.iter()
                .map(|v| v / half.max(1) as f32)
                .collect::<Vec<_>>(),
        );
    }
    let dim = enrol_rows[0].len();
    let means = Array2::from_shape_vec(
        (enrol_rows.len(), dim),
        enrol_rows.into_iter().flatten().collect(),
    )
    .map_err(|e| speaker_similarity::Error::shape("matrix", format_args!("rows of {dim}"), e))?;
    let enrolled = EnrolledSpeakers::enroll(names.clone(), means.view(), true)?;
    save(
        &plot::similarity_matrix(
            enrolled.similarity_matrix().view(),
            &names,
            "Similarity between enrolled speakers",
        )?,
        &dir,
        "similarity_matrix",
    )?;
    let ranked = enrolled.most_similar(&queries[0].1, 5)?;
    save(
        &plot::similarity_bars(
            &ranked,
            &format!("Who does a clip of {} sound like?", queries[0].0),
        )?,
        &dir,
        "similarity_bars",
    )?;
    let trials = similarity::verification_trials(&enrolled, &queries)?;
    let det = similarity::det_curve(&trials)?;
    save(
        &plot::det_curves(&[("clip vectors", &det)], "Speaker verification (DET)")?,
        &dir,
        "det_curves",
    )?;
    let eer = similarity::eer(&trials)?;
    save(
        &plot::det_curves_marked(
            &[("clip vectors", &det)],
            &[(&format!("EER {:.1} %", 100.0 * eer.eer), eer.eer, eer.eer)],
            "Speaker verification (DET), the EER marked",
        )?,
        &dir,
        "det_curves_marked",
    )?;
    let target: Vec<f64> = trials
        .iter()
        .filter(|t| t.target)
        .map(|t| t.score as f64)
        .collect();
    let other: Vec<f64> = trials
        .iter()
        .filter(|t| !t.target)
        .map(|t| t.score as f64)
        .collect();
    save(
        &plot::histograms(
            &[("target", &target), ("non-target", &other)],
            30,
            "Verification scores",
            "cosine similarity",
        )?,
        &dir,
        "histograms",
    )?;
    let n = names.len();
    let mut counts = Array2::<usize>::zeros((n, n));
    for ((_, q), &truth) in queries.iter().zip(&query_label) {
        let s = enrolled.scores(q)?;
        let best = (0..n).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap_or(0);
        counts[[truth, best]] += 1;
    }
    save(
        &plot::confusion_matrix(counts.view(), &names, "Confusion matrix - nearest speaker")?,
        &dir,
        "confusion_matrix",
    )?;

    // An MLP on the enrolment clips, validated on the queries.
    let x = Array2::from_shape_vec((train_y.len(), dim), train_x).map_err(|e| {
        speaker_similarity::Error::shape("matrix", format_args!("rows of {dim}"), e)
    })?;
    let qx = ndarray::stack(
        Axis(0),
        &queries
            .iter()
            .map(|(_, v)| ndarray::ArrayView1::from(v.as_slice()))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| speaker_similarity::Error::shape("matrix", format_args!("rows of {dim}"), e))?;
    let params = MlpParams {
        epochs: 60,
        ..MlpParams::default()
    };
    let (_, history) = Mlp::fit(
        x.view(),
        &train_y,
        n,
        Some((qx.view(), &query_label)),
        &params,
        &|_| {},
    )?;
    save(
        &plot::training_curves(
            &history.loss,
            &history.accuracy,
            &history.val_loss,
            &history.val_accuracy,
        )?,
        &dir,
        "training_curves",
    )?;
    Ok(())
}
