//! Open-set verdicts: calibration at training time from folds of the training clips
//! only, never-enrolled voices rejected, silence never named.

use speaker_similarity::audio::Audio;
use speaker_similarity::calibration::Reason;
use speaker_similarity::pipeline::{
    extract_dataset, open_set_folds, ClipFeatures, ModelKind, OpenSetCalibration, OpenSetParams,
    PipelineParams, SpeakerModels, ValidParams,
};
use speaker_similarity::synth::{SynthCorpus, SynthParams};

/// Clips of a synthetic corpus: (features, speaker index, clip index within speaker).
fn corpus(speakers: usize, clips: usize) -> Vec<(ClipFeatures, usize, usize)> {
    let data = SynthCorpus::generate(&SynthParams {
        speakers,
        clips_per_speaker: clips,
        // One session per speaker and no near-twins: the test checks the open-set
        // mechanism, not cross-session robustness (measured by the protocol).
        sessions_per_speaker: 1,
        confusable_fraction: 0.0,
        ..SynthParams::default()
    })
    .unwrap();
    let all: Vec<usize> = (0..data.len()).collect();
    let (feats, failed) =
        extract_dataset(&data, &all, &PipelineParams::default(), &|_| {}).unwrap();
    assert!(failed.is_empty());
    let ids = data.speakers();
    let mut seen = vec![0usize; ids.len()];
    feats
        .into_iter()
        .map(|(i, f)| {
            let s = ids.binary_search(&data.clips[i].speaker).unwrap();
            seen[s] += 1;
            (f, s, seen[s] - 1)
        })
        .collect()
}

fn params() -> ValidParams {
    let mut p = PipelineParams {
        models: vec![ModelKind::GmmUbm],
        ..PipelineParams::default()
    };
    p.settings.gmm_ubm.ubm.n_components = 32;
    p.check().unwrap()
}

/// 6 synthetic speakers, 12 clips each: speakers 0-3 enrolled with clips 0-7;
/// queries are clips 8-11 of the enrolled speakers and every clip of speakers 4-5.
struct OpenSet {
    models: SpeakerModels,
    train: Vec<ClipFeatures>,
    labels: Vec<usize>,
    enrolled_queries: Vec<(ClipFeatures, usize)>,
    unknown_queries: Vec<ClipFeatures>,
}

fn open_set() -> OpenSet {
    let all = corpus(6, 12);
    let (mut train, mut labels, mut enrolled_queries, mut unknown_queries) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (f, s, c) in all {
        if s >= 4 {
            unknown_queries.push(f);
        } else if c < 8 {
            train.push(f);
            labels.push(s);
        } else {
            enrolled_queries.push((f, s));
        }
    }
    let speakers: Vec<String> = (0..4).map(|i| format!("spk{i}")).collect();
    let models = SpeakerModels::train(
        &train,
        &labels,
        speakers,
        Default::default(),
        &params(),
        &|_| {},
    )
    .unwrap();
    OpenSet {
        models,
        train,
        labels,
        enrolled_queries,
        unknown_queries,
    }
}

#[test]
fn folds_hold_out_every_training_clip_once_and_keep_one_per_speaker() {
    let labels = [0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2];
    let folds = open_set_folds(&labels, 3, 3, 1);
    let mut all: Vec<usize> = folds.concat();
    all.sort_unstable();
    assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
    for held in &folds {
        for c in 0..3 {
            let kept = (0..labels.len())
                .filter(|i| labels[*i] == c && !held.contains(i))
                .count();
            assert!(kept >= 1, "class {c} keeps a clip");
        }
    }
}

#[test]
fn calibration_uses_only_training_clips_and_rejects_never_enrolled_voices() {
    let o = open_set();
    let cal = o
        .models
        .calibration
        .clone()
        .expect("calibrated at train time");
    // The trials are the training clips, each once, and nothing else: the
    // calibration cannot have seen a query (they are not among its inputs, and the
    // indices it records are exactly those of the training features).
    assert_eq!(cal.trial_clips, (0..o.train.len()).collect::<Vec<_>>());
    // 4 speakers in 4 speaker folds: each fold leaves one speaker out (UBM
    // included). A clip is a target trial in the 3 folds its speaker is enrolled
    // in, and a never-enrolled voice against the 3 other speakers in the fourth.
    assert_eq!(cal.target_trials, o.train.len() * 3);
    assert_eq!(cal.nontarget_trials, o.train.len() * 3);
    assert_eq!(cal.model, ModelKind::GmmUbm);
    assert!(cal.method.calibration.scale > 0.0);
    // Refitting on the training clips alone gives the same calibration.
    let again =
        OpenSetCalibration::fit(&o.models, &o.train, &o.labels, &OpenSetParams::default()).unwrap();
    assert_eq!(again, cal);

    let unknown: Vec<_> = o.models.verdicts(&o.unknown_queries, None).unwrap();
    let rejected = unknown.iter().filter(|v| !v.accepted).count();
    for v in &unknown {
        assert_eq!(v.accepted, v.speaker.is_some());
        assert_eq!(v.threshold, cal.threshold);
        if !v.accepted {
            assert_eq!(v.reason, Some(Reason::Unknown));
            assert!(v.closest.is_some() && v.score.unwrap() < cal.threshold);
        }
    }
    let clips: Vec<ClipFeatures> = o.enrolled_queries.iter().map(|(f, _)| f.clone()).collect();
    let enrolled = o.models.verdicts(&clips, None).unwrap();
    let named = enrolled
        .iter()
        .zip(&o.enrolled_queries)
        .filter(|(v, (_, s))| v.speaker.as_deref() == Some(format!("spk{s}").as_str()))
        .count();
    for c in &cal.choices {
        eprintln!(
            "{:14} cv eer {:.3} identified {:.3}",
            c.label(),
            c.cv_eer,
            c.cv_identified
        );
    }
    eprintln!(
        "{} threshold {:.3}: {rejected}/{} never-enrolled rejected, {named}/{} enrolled named",
        cal.method.label(),
        cal.threshold,
        unknown.len(),
        enrolled.len()
    );
    // Measured: 22 of 24 never-enrolled rejected, 16 of 16 enrolled named (cosine
    // scores, speaker-fold calibration); a little slack for other platforms' float
    // rounding, not for a worse method.
    assert!(
        rejected >= 20,
        "{rejected}/{} never-enrolled queries rejected",
        unknown.len()
    );
    assert!(
        named >= 15,
        "{named}/{} enrolled queries named",
        enrolled.len()
    );
    // A threshold far below every score accepts all; far above, none.
    assert!(o
        .models
        .verdicts(&o.unknown_queries, Some(-1e9))
        .unwrap()
        .iter()
        .all(|v| v.accepted));
    assert!(o
        .models
        .verdicts(&clips, Some(1e9))
        .unwrap()
        .iter()
        .all(|v| !v.accepted && v.reason == Some(Reason::Unknown)));

    // Silence: no speech, never a speaker.
    let silence = Audio::new(vec![0.0; 16_000 * 2], 16_000).unwrap();
    let v = o.models.verdict_audio(&silence, None).unwrap();
    assert_eq!(v.reason, Some(Reason::NoSpeech));
    assert!(!v.accepted && v.speaker.is_none() && v.score.is_none());
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["reason"], "no speech");
    assert!(json["speaker"].is_null());

    // A model set without calibration (an old model directory) says so.
    let mut old = o.models.clone();
    old.calibration = None;
    let e = old.verdicts(&o.unknown_queries, None).unwrap_err();
    assert!(e.to_string().contains("open-set calibration"), "{e}");
}
