//! Enrolment speed: one speaker enrolled from 10 clips into a model directory of
//! 100 speakers (synthetic corpus), against training all 101 again (the anchor).
//!
//! Run: `cargo run -p speaker_similarity --release --example enroll_speed`
//! (options: `SPEAKERS=100 CLIPS=10`). Prints seconds for each step: load the
//! model directory, enrol (fit the new speaker's parts), save the whole directory,
//! and the full retrain of the same models on all speakers, with the ratio.

use std::time::Instant;

use speaker_similarity::models::speaker::ModelKind;
use speaker_similarity::pipeline::{extract_dataset, ClipFeatures, PipelineParams, SpeakerModels};
use speaker_similarity::synth::{SynthCorpus, SynthParams};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> speaker_similarity::Result<()> {
    let speakers = env("SPEAKERS", 100);
    let clips = env("CLIPS", 10);
    let t = Instant::now();
    let data = SynthCorpus::generate(&SynthParams {
        speakers: speakers + 1,
        clips_per_speaker: clips,
        ..SynthParams::default()
    })?;
    let params = PipelineParams {
        models: ModelKind::MAIN.to_vec(),
        ..PipelineParams::default()
    }
    .check()?;
    let all: Vec<usize> = (0..data.len()).collect();
    let (feats, failed) = extract_dataset(&data, &all, &params, &|_| {})?;
    println!(
        "corpus: {} speakers x {clips} clips, features in {:.1} s ({} unusable)",
        speakers + 1,
        t.elapsed().as_secs_f64(),
        failed.len()
    );
    let ids = data.speakers();
    let new_id = ids[speakers].clone();
    let mut old: (Vec<ClipFeatures>, Vec<usize>) = (Vec::new(), Vec::new());
    let mut new = Vec::new();
    let mut every: (Vec<ClipFeatures>, Vec<usize>) = (Vec::new(), Vec::new());
    for (i, f) in feats {
        let c = ids
            .binary_search(&data.clips[i].speaker)
            .expect("known speaker");
        every.0.push(f.clone());
        every.1.push(c);
        if c == speakers {
            new.push(f);
        } else {
            old.0.push(f);
            old.1.push(c);
        }
    }

    let t = Instant::now();
    let m = SpeakerModels::train(
        &old.0,
        &old.1,
        ids[..speakers].to_vec(),
        Default::default(),
        &params,
        &|_| {},
    )?;
    let t_train_old = t.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().map_err(|e| speaker_similarity::Error::io(".", e))?;
    let model_dir = dir.path().join("model");
    m.save(&model_dir)?;
    println!("trained {speakers} speakers in {t_train_old:.1} s, saved");

    let t = Instant::now();
    let mut m = SpeakerModels::load(&model_dir)?;
    let t_load = t.elapsed().as_secs_f64();
    let r = m.enroll(&new_id, None, &new)?;
    let t_enrol = t.elapsed().as_secs_f64() - t_load;
    m.save(&model_dir)?;
    let total = t.elapsed().as_secs_f64();
    let t_save = total - t_load - t_enrol;
    println!(
        "enrol 1 speaker from {} clips into {speakers}: load {t_load:.3} s, enrol {t_enrol:.3} s, \
         save (whole directory) {t_save:.3} s, total {total:.3} s (goal <= 2 s); \
         updated {:?}, out of date {:?}",
        new.len(),
        r.updated.iter().map(|k| k.name()).collect::<Vec<_>>(),
        r.out_of_date
            .iter()
            .map(|(k, _)| k.name())
            .collect::<Vec<_>>(),
    );

    let t = Instant::now();
    SpeakerModels::train(
        &every.0,
        &every.1,
        ids.clone(),
        Default::default(),
        &params,
        &|_| {},
    )?;
    let t_full = t.elapsed().as_secs_f64();
    println!(
        "anchor: full retrain of {} speakers {t_full:.1} s; enrol+save is {:.0}x faster",
        speakers + 1,
        t_full / total
    );
    Ok(())
}
