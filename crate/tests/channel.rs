//! Channel robustness: evaluation on degraded test clips, bandwidth-matched models
//! chosen per query, multi-condition training, and model directories that keep them.

use speaker_similarity::dataset::{Dataset, SplitParams};
use speaker_similarity::degrade::{self, Condition};
use speaker_similarity::pipeline::{
    evaluate, evaluate_under, train_dataset, ModelKind, NarrowbandParams, PipelineParams,
    SpeakerModels,
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
    let mut p = PipelineParams {
        models: vec![ModelKind::GmmUbm],
        ..PipelineParams::default()
    };
    p.settings.gmm_ubm.ubm.n_components = 16;
    p
}

fn gmm_ubm(e: &speaker_similarity::pipeline::Evaluation) -> f64 {
    e.result(ModelKind::GmmUbm).unwrap().accuracy
}

#[test]
fn evaluation_under_a_condition_tests_degraded_copies_of_the_same_test_clips() {
    let data = synth(6, 10);
    let split = SplitParams::default();
    let plain = gmm_params().plain();
    let clean = evaluate(&data, &split, &plain, &|_| {}).unwrap();
    assert_eq!(clean.query_condition, "clean");
    // The clean condition through evaluate_under is evaluate.
    let again = evaluate_under(&data, &split, &plain, &Condition::clean(), &|_| {}).unwrap();
    assert_eq!(again.models[0].predictions, clean.models[0].predictions);
    assert_eq!(again.similar_accuracy, clean.similar_accuracy);

    let phone = Condition::parse("telephone+white:15").unwrap();
    let mut under = Vec::new();
    for cond in ["telephone+white:15", "babble:10", "reverb:0.5"] {
        let c = Condition::parse(cond).unwrap();
        let e = evaluate_under(&data, &split, &plain, &c, &|_| {}).unwrap();
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
            gmm_ubm(&e),
            gmm_ubm(&clean)
        );
        under.push(e);
    }
    // Degraded queries are other queries: the telephone line changes answers.
    assert_ne!(under[0].models[0].predictions, clean.models[0].predictions);
    // Seeded: the same condition gives the same answers again.
    let twice = evaluate_under(&data, &split, &plain, &phone, &|_| {}).unwrap();
    assert_eq!(twice.models[0].predictions, under[0].models[0].predictions);

    // Bandwidth-matched models score the telephone queries better than the
    // wideband ones, and leave the clean (wideband) queries' answers as they were.
    let nb = PipelineParams {
        narrowband: Some(NarrowbandParams::default()),
        ..gmm_params()
    };
    let nb_phone = evaluate_under(&data, &split, &nb, &phone, &|_| {}).unwrap();
    let nb_clean = evaluate(&data, &split, &nb, &|_| {}).unwrap();
    println!(
        "telephone+white:15 with narrowband models: gmm-ubm {:.3} (without {:.3})",
        gmm_ubm(&nb_phone),
        gmm_ubm(&under[0])
    );
    assert!(gmm_ubm(&nb_phone) > gmm_ubm(&under[0]));
    assert_eq!(nb_clean.models[0].predictions, clean.models[0].predictions);
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
    let t = train_dataset(&data, &all, &params, &|_| {}).unwrap();
    let m = t.models;
    // One augmented copy per clip: twice the clips behind each speaker's models.
    assert_eq!(m.clip_counts.iter().sum::<usize>(), 2 * t.train_clips.len());
    // The open-set calibration comes from the clean clips alone.
    let plain = train_dataset(&data, &all, &gmm_params().plain(), &|_| {}).unwrap();
    assert_eq!(
        m.calibration.is_some(),
        plain.models.calibration.is_some(),
        "{:?}",
        m.calibration_skipped
    );
    let nb = m.narrowband.as_ref().expect("narrowband models");
    assert_eq!(nb.params.frames.fmax, Some(3400.0));
    assert_eq!(nb.clip_counts, m.clip_counts);
    assert!(nb.narrowband.is_none());

    let clip = data.clips[0].load().unwrap();
    assert!(std::ptr::eq(m.route(&clip).unwrap(), &m));
    let phone = degrade::apply(&clip, &Condition::parse("telephone").unwrap(), 1, &[]).unwrap();
    assert!(std::ptr::eq(m.route(&phone).unwrap(), nb.as_ref()));
    // Upsampled back to 16 kHz it is still narrowband by its spectrum.
    let up = phone.resample(16000).unwrap();
    assert!(std::ptr::eq(m.route(&up).unwrap(), nb.as_ref()));
    let p = m.predict_audio(&phone, 2).unwrap();
    let speaker = &data.clips[0].speaker;
    assert_eq!(&p.by(ModelKind::GmmUbm).unwrap().speaker, speaker);
    assert_eq!(p, nb.predict_audio(&phone, 2).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("m");
    m.save(&md).unwrap();
    let back = SpeakerModels::load(&md).unwrap();
    assert!(back.narrowband.is_some());
    assert_eq!(back.predict_audio(&phone, 2).unwrap(), p);

    // Removing a speaker removes it from the narrowband models too.
    let mut fewer = back.clone();
    let gone = fewer.speakers[2].clone();
    let r = fewer.remove_speaker(&gone).unwrap();
    assert!(r.narrowband.is_some());
    assert_eq!(fewer.narrowband.as_ref().unwrap().speakers, fewer.speakers);
}

#[test]
fn an_enrolment_built_from_narrowband_audio_trains_no_second_set() {
    // Every clip at 8 kHz already: the main models are narrowband models.
    let data = synth(3, 5);
    let all: Vec<usize> = (0..data.len()).collect();
    // Off by default; on, a wideband corpus gets a second set.
    let t = train_dataset(&data, &all, &gmm_params(), &|_| {}).unwrap();
    assert!(t.models.narrowband.is_none(), "off by default");
    let on = PipelineParams {
        narrowband: Some(NarrowbandParams::default()),
        ..gmm_params()
    };
    let t = train_dataset(&data, &all, &on, &|_| {}).unwrap();
    assert!(t.models.narrowband.is_some(), "wideband synthetic corpus");
    let nb = NarrowbandParams {
        detect_hz: 7000.0,
        detect_db: 0.001,
        ..NarrowbandParams::default()
    };
    // With a rule that calls every clip narrowband, no second set is trained.
    let p = PipelineParams {
        narrowband: Some(nb),
        ..gmm_params()
    };
    let t = train_dataset(&data, &all, &p, &|_| {}).unwrap();
    assert!(t.models.narrowband.is_none());
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
    let p = PipelineParams {
        narrowband: Some(NarrowbandParams {
            fmax: 5000.0,
            ..NarrowbandParams::default()
        }),
        ..PipelineParams::default()
    };
    assert!(p.validate().is_err());
}

#[test]
fn an_enrolled_voice_joins_the_narrowband_models_when_given_their_features() {
    // Speakers 0-2 trained with narrowband models; speaker 3 enrolled later from
    // five clips, its sixth clip over the telephone as the query.
    let data = synth(4, 6);
    let (first, last): (Vec<usize>, Vec<usize>) = {
        let labels = data.labels();
        (0..data.len()).partition(|&i| labels[i] < 3)
    };
    let params = PipelineParams {
        narrowband: Some(NarrowbandParams::default()),
        ..gmm_params()
    };
    let m = train_dataset(&data, &first, &params, &|_| {})
        .unwrap()
        .models;
    let audio: Vec<_> = last
        .iter()
        .map(|&i| data.clips[i].load().unwrap())
        .collect();
    let (enrol, query) = audio.split_at(5);
    let wide: Vec<_> = enrol
        .iter()
        .map(|a| speaker_similarity::pipeline::extract(a, &m.params).unwrap())
        .collect();
    let narrow: Vec<_> = enrol
        .iter()
        .map(|a| {
            m.narrowband_features(a)
                .unwrap()
                .expect("the set has narrowband models")
        })
        .collect();
    let nb_params = &m.narrowband.as_ref().unwrap().params;
    assert_eq!(narrow[0].frames.ncols(), wide[0].frames.ncols());
    assert_eq!(nb_params.frames.fmax, Some(3400.0));
    let new = data.speakers()[3].clone();

    let mut with = m.clone();
    let r = with.enroll_with(&new, None, &wide, Some(&narrow)).unwrap();
    assert!(r
        .narrowband
        .as_deref()
        .unwrap()
        .contains("narrowband models too"));
    let nb = with.narrowband.as_ref().expect("narrowband models kept");
    assert_eq!(nb.speakers, with.speakers);
    assert_eq!(nb.clip_counts, with.clip_counts);
    // The other speakers' narrowband scores are untouched; the new voice's
    // telephone query goes to the narrowband models and is named.
    let phone = degrade::apply(&query[0], &Condition::parse("telephone").unwrap(), 3, &[]).unwrap();
    assert!(std::ptr::eq(with.route(&phone).unwrap(), nb.as_ref()));
    let p = with.predict_audio(&phone, 4).unwrap();
    assert_eq!(p.by(ModelKind::GmmUbm).unwrap().speaker, new);
    let old_nb = m.narrowband.as_ref().unwrap();
    let q = m.narrowband_features(&phone).unwrap().unwrap();
    let before = old_nb.predict(&q, 3).unwrap().similar;
    let after = nb.predict(&q, 4).unwrap().similar;
    for s in &before {
        let a = after.iter().find(|a| a.speaker == s.speaker).unwrap();
        assert_eq!(a.score, s.score, "speaker {}", s.speaker);
    }
    // Saved and loaded, the narrowband models keep the new voice.
    let dir = tempfile::tempdir().unwrap();
    with.save(dir.path().join("m")).unwrap();
    let back = SpeakerModels::load(dir.path().join("m")).unwrap();
    assert_eq!(back.narrowband.as_ref().unwrap().speakers, back.speakers);

    // From wideband features alone the narrowband models are dropped, and said so.
    let mut without = m.clone();
    let r = without.enroll(&new, None, &wide).unwrap();
    assert!(without.narrowband.is_none());
    assert!(r.narrowband.as_deref().unwrap().contains("dropped"));
}
