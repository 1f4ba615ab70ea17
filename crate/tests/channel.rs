//! Channel robustness: evaluation on degraded test clips, bandwidth-matched models
//! chosen per query, multi-condition training, and model directories that keep them.

mod common;

use speaker_similarity::dataset::{Dataset, SplitParams};
use speaker_similarity::degrade::{self, Condition};
use speaker_similarity::pipeline::{
    evaluate, evaluate_under, extract_dataset, train_robust, ModelKind, NarrowbandParams,
    PipelineParams, SpeakerModels,
};
use speaker_similarity::synth::{SynthCorpus, SynthParams};

fn synth(speakers: usize, clips: usize) -> Dataset {
    SynthCorpus::generate(&SynthParams {
        speakers,
        clips_per_speaker: clips,
        ..SynthParams::default()
    })
    .unwrap()
}

fn gmm_params() -> PipelineParams {
    PipelineParams {
        models: vec![ModelKind::GmmFrame, ModelKind::GmmUbm],
        ubm: speaker_similarity::models::GmmParams {
            n_components: 16,
            ..PipelineParams::default().ubm
        },
        ..PipelineParams::default()
    }
}

#[test]
fn evaluation_under_a_condition_tests_degraded_copies_of_the_same_test_clips() {
    let data = synth(4, 8);
    let split = SplitParams::default();
    let params = gmm_params().plain();
    let clean = evaluate(&data, &split, &params, &|_| {}).unwrap();
    assert_eq!(clean.query_condition, "clean");
    for cond in ["telephone+white:15", "babble:10", "reverb:0.5"] {
        let c = Condition::parse(cond).unwrap();
        let e = evaluate_under(&data, &split, &params, &c, &|_| {}).unwrap();
        assert_eq!(e.query_condition, cond);
        // Same split, same training: only the queries differ.
        assert_eq!(
            (e.train_clips, e.test_clips),
            (clean.train_clips, clean.test_clips)
        );
        assert_eq!(e.y_true, clean.y_true);
        assert!(e.similar_accuracy.is_some());
        println!(
            "{cond}: gmm-ubm {:.3} (clean {:.3})",
            e.result(ModelKind::GmmUbm).unwrap().accuracy,
            clean.result(ModelKind::GmmUbm).unwrap().accuracy
        );
    }
    // The clean condition through evaluate_under is evaluate.
    let again = evaluate_under(&data, &split, &params, &Condition::clean(), &|_| {}).unwrap();
    for (a, b) in again.models.iter().zip(&clean.models) {
        assert_eq!(a.predictions, b.predictions);
    }
}

#[test]
fn narrowband_queries_go_to_the_narrowband_models_and_survive_a_model_directory() {
    let data = synth(3, 6);
    let all: Vec<usize> = (0..data.len()).collect();
    let params = PipelineParams {
        narrowband: Some(NarrowbandParams::default()),
        augment: vec!["band:200:3700:2+pink:20".into()],
        ..gmm_params()
    };
    let (feats, failed) = extract_dataset(&data, &all, &params, &|_, _| {});
    assert!(failed.is_empty());
    let speakers = data.speakers();
    let clips: Vec<usize> = feats.iter().map(|(i, _)| *i).collect();
    let labels: Vec<usize> = clips
        .iter()
        .map(|&i| speakers.binary_search(&data.clips[i].speaker).unwrap())
        .collect();
    let f: Vec<_> = feats.into_iter().map(|(_, f)| f).collect();
    let m = train_robust(
        &data,
        &clips,
        &f,
        &labels,
        speakers.clone(),
        data.names.clone(),
        &params,
        &mut |_| {},
    )
    .unwrap();
    // One augmented copy per clip: twice the clips behind each speaker's models.
    assert_eq!(m.clip_counts.iter().sum::<usize>(), 2 * f.len());
    let nb = m.narrowband.as_ref().expect("narrowband models");
    assert_eq!(nb.params.frames.fmax, Some(3400.0));
    assert_eq!(nb.clip_counts, m.clip_counts);

    let clip = data.clips[0].load().unwrap();
    assert!(std::ptr::eq(m.route(&clip).unwrap(), &m));
    let phone = degrade::apply(&clip, &Condition::parse("telephone").unwrap(), 1, &[]).unwrap();
    assert!(std::ptr::eq(m.route(&phone).unwrap(), nb.as_ref()));
    // Upsampled back to 16 kHz it is still narrowband by its spectrum.
    let up = phone.resample(16000).unwrap();
    assert!(std::ptr::eq(m.route(&up).unwrap(), nb.as_ref()));
    let p = m.predict_audio(&phone, 2).unwrap();
    assert_eq!(
        p.by(ModelKind::GmmUbm).unwrap().speaker,
        speakers[labels[0]]
    );

    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("m");
    m.save(&md).unwrap();
    let back = SpeakerModels::load(&md).unwrap();
    assert!(back.narrowband.is_some());
    assert_eq!(back.predict_audio(&phone, 2).unwrap(), p);
}

#[test]
fn augmented_training_rejects_clean_or_broken_conditions() {
    for bad in ["clean", "hiss:3", "babble:10:0"] {
        let p = PipelineParams {
            augment: vec![bad.into()],
            ..PipelineParams::default()
        };
        assert!(p.validate().is_err(), "{bad}");
    }
}
