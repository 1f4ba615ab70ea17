//! Open-set verdicts: calibration at training time from folds of the training clips
//! only, never-enrolled voices rejected, silence never named.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, ArrayView2};
use speaker_similarity::audio::Audio;
use speaker_similarity::calibration::Reason;
use speaker_similarity::models::speaker::FrameSource;
use speaker_similarity::models::{GmmUbmClassifier, TrainingSet};
use speaker_similarity::pipeline::{
    clip_matrix, extract_dataset, held_out_trials, ClipFeatures, ModelKind, OpenSetCalibration,
    OpenSetParams, PipelineParams, ScoreNorm, SpeakerModels, ValidParams, CALIBRATION_BATCH,
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
fn leave_one_out_targets_equal_models_adapted_without_the_clip() {
    let o = open_set();
    let speakers = o.models.speakers.clone();
    let seed = o.models.params.seed;
    let data = TrainingSet::new(&o.train, &o.labels, &speakers, seed, 0.2).unwrap();
    let m = o.models.gmm_ubm().unwrap();
    let t = held_out_trials(
        m,
        &data,
        &o.models.params.settings.gmm_ubm,
        &OpenSetParams::default(),
        false,
    )
    .unwrap();
    let ubm = m.classifier.ubm();
    let r = m.classifier.relevance_factor();
    let mut checked = 0;
    for n in 0..t.own.len() {
        let Some(own) = t.own[n] else {
            // A never-enrolled trial: the other speakers only.
            assert_eq!(t.gmm[n].len(), speakers.len() - 1);
            continue;
        };
        let clip = t.clips[n];
        assert_eq!(o.labels[clip], own);
        // The reference: MAP-adapt the UBM to the speaker's other clips' frames,
        // stacked, and score the held-out clip against it.
        let others: Vec<ArrayView2<f32>> = (0..o.train.len())
            .filter(|&i| i != clip && o.labels[i] == own)
            .map(|i| o.train[i].frames.view())
            .collect();
        let stacked = ndarray::concatenate(ndarray::Axis(0), &others).unwrap();
        let adapted = ubm.map_adapt(stacked.view(), r).unwrap();
        // Scored as a query is: with the model's top-C setting.
        assert_eq!(m.classifier.top_c(), Some(5));
        let own_model =
            // (A classifier needs two classes: the model twice.)
            GmmUbmClassifier::from_adapted(
                ubm.clone(),
                &[speakers[own].clone(), "twin".into()],
                vec![adapted.clone(), adapted],
                r,
            )
            .unwrap()
                .with_top_c(m.classifier.top_c())
                .unwrap();
        let want = own_model
            .scores_clips(&[o.train[clip].frames.view()])
            .unwrap()[[0, 0]];
        assert!(
            (t.gmm[n][own] - want).abs() < 1e-4 * want.abs().max(1.0),
            "clip {clip}: {} vs {want}",
            t.gmm[n][own]
        );
        // The other candidates are scored by the full models, as a query is.
        let full = m
            .classifier
            .scores_clips(&[o.train[clip].frames.view()])
            .unwrap();
        for j in (0..speakers.len()).filter(|&j| j != own) {
            assert_eq!(t.gmm[n][j], full[[0, j]]);
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        o.train.len(),
        "every training clip is a target trial"
    );
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
    // Every clip is a target trial (against its own speaker left without it),
    // and once a never-enrolled voice: 4 speakers in 4 speaker folds, so against
    // the 3 others' models made without its speaker.
    assert_eq!(cal.target_trials, o.train.len());
    assert_eq!(cal.nontarget_trials, o.train.len() * 3);
    assert_eq!(cal.model, ModelKind::GmmUbm);
    assert!(cal.method.calibration.scale > 0.0);
    // Refitting on the training clips alone gives the same calibration.
    let speakers = o.models.speakers.clone();
    let seed = o.models.params.seed;
    let data = TrainingSet::new(&o.train, &o.labels, &speakers, seed, 0.2).unwrap();
    let again = OpenSetCalibration::fit(&o.models, &data, &OpenSetParams::default()).unwrap();
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

/// A frame source over clips held in memory that records the largest request.
struct CountingFrames<'a> {
    clips: &'a [ClipFeatures],
    largest: AtomicUsize,
    requests: AtomicUsize,
    read: AtomicUsize,
}

impl FrameSource for CountingFrames<'_> {
    fn frames(&self, clips: &[usize]) -> speaker_similarity::Result<Vec<Array2<f32>>> {
        self.largest.fetch_max(clips.len(), Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.read.fetch_add(clips.len(), Ordering::Relaxed);
        Ok(clips
            .iter()
            .map(|&i| self.clips[i].frames.clone())
            .collect())
    }
}

#[test]
fn calibration_from_streamed_frames_reads_a_batch_at_a_time_and_equals_in_memory() {
    // 12 speakers (t-norm and s-norm are tried), more clips than one batch.
    let (speakers, per_speaker) = (12, 12);
    let all = corpus(speakers, per_speaker);
    let train: Vec<ClipFeatures> = all.iter().map(|(f, _, _)| f.clone()).collect();
    let labels: Vec<usize> = all.iter().map(|(_, s, _)| *s).collect();
    let ids: Vec<String> = (0..speakers).map(|i| format!("spk{i:02}")).collect();
    assert!(train.len() > CALIBRATION_BATCH);
    let p = params();
    let memory = SpeakerModels::train(
        &train,
        &labels,
        ids.clone(),
        Default::default(),
        &p,
        &|_| {},
    )
    .unwrap();
    let cal = memory.calibration.clone().expect("calibrated");
    assert_eq!(cal.choices.len(), 9, "{:?}", cal.skipped);

    let source = CountingFrames {
        clips: &train,
        largest: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        read: AtomicUsize::new(0),
    };
    let x = clip_matrix(&train).unwrap();
    let set =
        TrainingSet::streaming(x, &source, &labels, &ids, p.seed, p.validation_fraction).unwrap();
    // Two worker threads, so "a few speakers at a time" is 4 speakers' clips (48)
    // whatever the machine: fewer than all 144.
    let threads = 2;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let streamed = pool
        .install(|| SpeakerModels::train_set(&set, Default::default(), &p, &|_| {}))
        .unwrap();
    assert_eq!(streamed.calibration, memory.calibration);
    // s-norm too, whose statistics score every training clip with the full models.
    let snorm = OpenSetParams {
        norm: Some(ScoreNorm::Snorm),
        ..OpenSetParams::default()
    };
    let s = pool
        .install(|| OpenSetCalibration::fit(&streamed, &set, &snorm))
        .unwrap();
    assert_eq!(s.z_stats.len(), speakers);
    let in_memory = TrainingSet::new(&train, &labels, &ids, p.seed, p.validation_fraction).unwrap();
    assert_eq!(
        OpenSetCalibration::fit(&memory, &in_memory, &snorm).unwrap(),
        s
    );
    // Never every clip's frames at once: a batch, or a few speakers' clips (twice
    // as many speakers as threads, as the frame models read them).
    let few_speakers = 2 * threads * per_speaker;
    let bound = CALIBRATION_BATCH.max(few_speakers);
    let largest = source.largest.load(Ordering::Relaxed);
    assert!(
        largest <= bound && largest < train.len(),
        "{largest} clips in one request (bound {bound}, {} clips)",
        train.len()
    );
    assert!(source.requests.load(Ordering::Relaxed) > 1);
    // What streaming costs: how often each clip's frames were read (extracted
    // again, from a data set), training and both calibrations together.
    eprintln!(
        "{} requests, largest {largest} clips, {:.1} reads per clip",
        source.requests.load(Ordering::Relaxed),
        source.read.load(Ordering::Relaxed) as f64 / train.len() as f64
    );
}
