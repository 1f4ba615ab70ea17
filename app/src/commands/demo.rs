//! `speaker-similarity demo`: the tutorial pipeline end to end, with plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use speaker_similarity::dataset::{leaky_original_split, Dataset};
use speaker_similarity::features::{self, MfccParams, ZcrParams};
use speaker_similarity::pipeline::{self, ModelKind, PipelineParams};
use speaker_similarity::plot::{self, Chart};

use super::evaluate::{print_report, to_json, SplitArgs};
use super::CmdResult;
use crate::data::DataArgs;
use crate::progress::EvalProgress;

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Folder for the report, plots and the trained model directory.
    #[arg(long, default_value = "out/demo", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Skip the demonstration of the original project's leaky split.
    #[arg(long)]
    pub no_leak_demo: bool,
}

fn save(chart: &Chart, out: &Path, name: &str, written: &mut Vec<String>) -> CmdResult {
    for ext in ["svg", "png"] {
        let p = out.join(format!("{name}.{ext}"));
        chart.save(&p)?;
        written.push(p.display().to_string());
    }
    Ok(())
}

/// Run `demo`.
pub fn run(mut a: Args) -> CmdResult {
    if a.split.models == "main" {
        // The demo compares everything, baselines included.
        a.split.models = "all".into();
    }
    let (split, params) = a.split.params()?;
    let (data, what) = a.data.open()?;
    std::fs::create_dir_all(&a.out)?;
    let mut written = Vec::new();
    let mut report = String::new();
    println!("== data: {what}");
    writeln!(report, "data: {what}")?;

    // 1. Explore: durations, sample rates (the original notebook's first look).
    let summary = data.summary();
    println!("{summary}");
    writeln!(report, "{summary}")?;
    if !summary.durations.is_empty() {
        let h = plot::histogram(&summary.durations, 30, "Clip durations", "seconds")?;
        save(&h, &a.out, "durations", &mut written)?;
    }

    // 2. One clip: waveform with ZCR, MFCC.
    if let Some((i, audio)) = first_readable(&data) {
        let zcr = features::zero_crossing_rate(&audio.samples, &ZcrParams::default())?;
        let clip = &data.clips[i];
        let title = format!(
            "{} ({})",
            clip.file_name(),
            data.display_name(&clip.speaker)
        );
        let w = plot::waveform(&audio, Some((zcr.as_slice().unwrap_or(&[]), 512)), &title)?;
        save(&w, &a.out, "waveform", &mut written)?;
        let m = features::mfcc(
            &audio,
            &MfccParams {
                n_mfcc: 13,
                hop_length: 256,
                ..MfccParams::default()
            },
        )?;
        let hop_s = 256.0 / audio.sample_rate as f64;
        let hm = plot::heatmap(
            m.view(),
            "MFCC (13 coefficients, hop 256)",
            "coefficient",
            Some(hop_s),
        )?;
        save(&hm, &a.out, "mfcc", &mut written)?;
    }

    // 3. Honest evaluation of every model.
    println!("== training and evaluating {} models", params.models.len());
    let progress = EvalProgress::new(false);
    let mut e = pipeline::evaluate(&data, &split, &params, &|ev| progress.on(ev))?;
    print_report(&e, false);
    writeln!(report, "{}", serde_json::to_string_pretty(&to_json(&e))?)?;
    for r in &e.models {
        writeln!(
            report,
            "\n{} (accuracy {:.4}):\n{}",
            r.model, r.accuracy, r.report
        )?;
    }

    let names: Vec<String> = e
        .models
        .iter()
        .map(|r| r.model.name().to_string())
        .collect();
    let acc: Vec<f64> = e.models.iter().map(|r| r.accuracy).collect();
    save(
        &plot::bars(&names, &acc, "Test accuracy per model", "accuracy")?,
        &a.out,
        "accuracy",
        &mut written,
    )?;
    if let Some(confusion) = e.confusion(e.best) {
        let confusion = confusion?;
        let labels: Vec<String> = e
            .speakers
            .iter()
            .map(|s| data.display_name(s).to_string())
            .collect();
        let cm = plot::confusion_matrix(
            confusion.counts.view(),
            &labels,
            &format!("Confusion matrix — {}", e.best),
        )?;
        save(&cm, &a.out, "confusion", &mut written)?;
    }
    let curves: Vec<(&str, &[speaker_similarity::similarity::DetPoint])> = e
        .verification
        .iter()
        .map(|v| (v.embedding.as_str(), v.det.as_slice()))
        .collect();
    if !curves.is_empty() {
        save(
            &plot::det_curves(&curves, "Speaker verification (DET)")?,
            &a.out,
            "det",
            &mut written,
        )?;
    }
    let trained = e.trained.take().ok_or("evaluation kept no models")?;
    if let Some(h) = trained.history() {
        let c = plot::training_curves(&h.loss, &h.accuracy, &h.val_loss, &h.val_accuracy)?;
        save(&c, &a.out, "training_history", &mut written)?;
    }
    // Similarity: the enrolled speakers among themselves, and one test voice.
    let enrolled = trained.embedding().enrolled();
    let sim: Array2<f32> = enrolled.similarity_matrix();
    let enrolled_names: Vec<String> = enrolled
        .names()
        .iter()
        .map(|s| data.display_name(s).to_string())
        .collect();
    save(
        &plot::similarity_matrix(
            sim.view(),
            &enrolled_names,
            "Similarity between enrolled speakers",
        )?,
        &a.out,
        "speaker_similarity",
        &mut written,
    )?;
    if let Some(&i) = data.split(&split)?.test.first() {
        let audio = data.clips[i].load()?;
        let f = pipeline::extract(&audio, &trained.params)?;
        let ranked = trained.most_similar(&f, 5)?;
        let title = format!(
            "Who does a test clip of {} sound like?",
            data.display_name(&data.clips[i].speaker)
        );
        save(
            &plot::similarity_bars(&ranked, &title)?,
            &a.out,
            "similar",
            &mut written,
        )?;
    }
    let model_dir = a.out.join("model");
    trained.save(&model_dir)?;

    // 4. What the original project's split did: its test clips were inside its
    //    training set, so its accuracy measured memory, not recognition.
    if !a.no_leak_demo {
        let leaky = leaky_original_split(&data, 1.0 - split.test_fraction, split.seed)?;
        let p = PipelineParams {
            models: vec![ModelKind::Mlp, ModelKind::GmmClip],
            ..(*params).clone()
        };
        let quiet = EvalProgress::new(true);
        let l = pipeline::evaluate_with_split(&data, &leaky, &p, true, &|ev| quiet.on(ev))?;
        let shared = leaky.shared_clips().len();
        println!(
            "\n== the original project's split: {shared} of {} test clips were also training clips",
            leaky.test.len()
        );
        writeln!(
            report,
            "\nleaky split: {shared} of {} test clips inside the training set",
            leaky.test.len()
        )?;
        for r in &l.models {
            let honest = e.result(r.model).map(|h| h.accuracy).unwrap_or(f64::NAN);
            let line = format!(
                "{:<9} leaky accuracy {:.4}  vs honest {:.4}",
                r.model.name(),
                r.accuracy,
                honest
            );
            println!("{line}");
            writeln!(report, "{line}")?;
        }
    }

    let report_path = a.out.join("report.txt");
    super::write_file_atomic(&report_path, report.as_bytes())?;
    super::write_file_atomic(
        &a.out.join("evaluation.json"),
        serde_json::to_string_pretty(&to_json(&e))?.as_bytes(),
    )?;
    println!(
        "\nwrote {} and {} plots ({} files) to {}; models in {}",
        report_path.display(),
        written.len() / 2,
        written.len(),
        a.out.display(),
        model_dir.display()
    );
    Ok(())
}

fn first_readable(data: &Dataset) -> Option<(usize, speaker_similarity::audio::Audio)> {
    data.clips
        .iter()
        .enumerate()
        .take(20)
        .find_map(|(i, c)| c.load().ok().map(|a| (i, a)))
}
