//! `pipeline::SplitFeatures`: the labelled features of a split, as the notebooks and
//! `evaluate` use them.

use std::collections::BTreeSet;

use speaker_similarity::dataset::{leaky_original_split, Clip, Dataset, SplitParams};
use speaker_similarity::features::{clip_vector_with, frame_features_with};
use speaker_similarity::pipeline::{
    clip_matrix, extract_dataset, validation_split, PipelineParams, SplitFeatures,
};
use speaker_similarity::synth::{SynthCorpus, SynthParams};
use speaker_similarity::{Audio, Error};

fn corpus() -> Dataset {
    SynthCorpus::generate(&SynthParams {
        speakers: 3,
        clips_per_speaker: 6,
        clip_seconds: (0.6, 0.9),
        ..SynthParams::default()
    })
    .unwrap()
}

#[test]
fn labels_rows_and_frames_follow_the_split() {
    let data = corpus();
    let params = PipelineParams::default();
    let split = data.split(&SplitParams::default()).unwrap();
    let f = SplitFeatures::extract(&data, &split, &params, &|_| {}).unwrap();
    assert_eq!(f.speakers, data.speakers());
    assert!(f.unusable.is_empty() && f.skipped.is_empty());
    // Every clip of the split is there, in the split's order, with its speaker's class.
    assert_eq!(f.train_clips, split.train);
    assert_eq!(f.test_clips, split.test);
    for (clips, y) in [(&f.train_clips, &f.y_train), (&f.test_clips, &f.y_test)] {
        for (&i, &c) in clips.iter().zip(y.iter()) {
            assert_eq!(f.speakers[c], data.clips[i].speaker);
        }
    }
    // Rows are the clips' own features.
    let x = f.x_test().unwrap();
    assert_eq!(x.dim(), (split.test.len(), 52));
    let audio = data.clips[split.test[1]].load().unwrap();
    assert_eq!(
        x.row(1).to_vec(),
        clip_vector_with(&audio, &params.clip).unwrap()
    );
    assert_eq!(
        f.test_frames()[1],
        frame_features_with(&audio, &params.frames).unwrap().view()
    );
    assert_eq!(f.x_train().unwrap().nrows(), split.train.len());
    // Frames per speaker: all of that speaker's training frames.
    let per = f.train_frames_by_speaker().unwrap();
    assert_eq!(per.len(), 3);
    for (c, m) in per.iter().enumerate() {
        let n: usize = f
            .train
            .iter()
            .zip(&f.y_train)
            .filter(|(_, &y)| y == c)
            .map(|(t, _)| t.frames.nrows())
            .sum();
        assert_eq!(m.nrows(), n);
        assert_eq!(m.ncols(), params.frames.dim());
    }
    // Pooled frames: every step-th frame, at most `max`.
    let total: usize = per.iter().map(|m| m.nrows()).sum();
    assert_eq!(f.pooled_train_frames(usize::MAX).unwrap().nrows(), total);
    let max = total / 3;
    let pooled = f.pooled_train_frames(max).unwrap();
    let step = total.div_ceil(max);
    assert!(step > 1);
    assert_eq!(pooled.nrows(), total.div_ceil(step));
    assert!(pooled.nrows() <= max);
    assert_eq!(pooled.row(1), per[0].row(step));
    assert!(matches!(
        f.pooled_train_frames(0),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn one_extraction_serves_the_honest_and_the_leaky_split() {
    let data = corpus();
    let params = PipelineParams::default();
    let all: Vec<usize> = (0..data.len()).collect();
    let extracted = extract_dataset(&data, &all, &params, &|_| {}).unwrap();
    let honest = data.split(&SplitParams::default()).unwrap();
    let leaky = leaky_original_split(&data, 0.7, 42).unwrap();
    let h = SplitFeatures::from_extracted(&data, &honest, &extracted).unwrap();
    let l = SplitFeatures::from_extracted(&data, &leaky, &extracted).unwrap();
    let train: BTreeSet<usize> = h.train_clips.iter().copied().collect();
    assert!(h.test_clips.iter().all(|i| !train.contains(i)));
    // The original's bug: every test clip is a training clip.
    let train: BTreeSet<usize> = l.train_clips.iter().copied().collect();
    assert!(l.test_clips.iter().all(|i| train.contains(i)));
    assert_eq!(l.test_clips.len(), 3 * 2); // 6 - round(0.7 * 6) = 2 per speaker
}

#[test]
fn unusable_clips_are_reported_and_speakers_without_two_are_skipped() {
    let tone = |n: usize| {
        Audio::new(
            (0..n).map(|i| (i as f32 * 0.07).sin() * 0.3).collect(),
            16000,
        )
        .unwrap()
    };
    let mut clips = Vec::new();
    for s in ["a", "b"] {
        for k in 0..4 {
            clips.push(Clip::in_memory(
                format!("{s}/{k}.wav"),
                s,
                None,
                tone(12000 + 800 * k),
            ));
        }
    }
    // Speaker c: 3 clips, all too short for a clip vector (100 samples).
    for k in 0..3 {
        clips.push(Clip::in_memory(format!("c/{k}.wav"), "c", None, tone(100)));
    }
    let data = Dataset::from_clips("<test>", None, clips, Default::default()).unwrap();
    let split = data.split(&SplitParams::default()).unwrap();
    let f = SplitFeatures::extract(&data, &split, &PipelineParams::default(), &|_| {}).unwrap();
    assert_eq!(f.speakers, ["a", "b"]);
    assert_eq!(f.unusable.len(), 3);
    assert!(f.unusable.iter().all(|(p, _)| p.starts_with("c")));
    assert_eq!(f.skipped.len(), 1);
    assert_eq!(f.skipped[0].speaker, "c");
    assert!(f.test_clips.iter().all(|&i| data.clips[i].speaker != "c"));
}

#[test]
fn clip_matrix_and_validation_split() {
    let data = corpus();
    let all: Vec<usize> = (0..4).collect();
    let (ok, _) = extract_dataset(&data, &all, &PipelineParams::default(), &|_| {}).unwrap();
    let feats: Vec<_> = ok.into_iter().map(|(_, f)| f).collect();
    let x = clip_matrix(&feats).unwrap();
    assert_eq!(x.dim(), (4, 52));
    assert_eq!(x.row(3).to_vec(), feats[3].clip);
    let mut bad = feats[0].clone();
    bad.clip.pop();
    assert!(matches!(
        clip_matrix([&feats[1], &bad]),
        Err(Error::Shape { .. })
    ));

    // 10 rows of class 0, 5 of class 1, 2 of class 2 (too few to hold any out).
    let labels: Vec<usize> = [vec![0; 10], vec![1; 5], vec![2; 2]].concat();
    let (fit, val) = validation_split(&labels, 3, 0.2, 7);
    let count = |idx: &[usize], c: usize| idx.iter().filter(|&&i| labels[i] == c).count();
    assert_eq!((count(&val, 0), count(&val, 1), count(&val, 2)), (2, 1, 0));
    assert_eq!(fit.len() + val.len(), labels.len());
    assert!(val.iter().all(|i| !fit.contains(i)));
    assert!(fit.windows(2).all(|w| w[0] < w[1]) && val.windows(2).all(|w| w[0] < w[1]));
    // Seeded: the same seed gives the same split, another seed another one.
    assert_eq!(validation_split(&labels, 3, 0.2, 7), (fit, val.clone()));
    assert_ne!(validation_split(&labels, 3, 0.2, 8).1, val);
}
