//! The synthetic speaker corpus.

use std::collections::BTreeSet;

use speaker_similarity::dataset::{Dataset, Layout, SplitParams};
use speaker_similarity::synth::{write_corpus, SynthCorpus, SynthParams};
use speaker_similarity::Error;

fn small() -> SynthParams {
    SynthParams {
        speakers: 4,
        clips_per_speaker: 6,
        sessions_per_speaker: 3,
        clip_seconds: (0.8, 1.2),
        ..SynthParams::default()
    }
}

/// Pitch of a clip by autocorrelation: the median over the loudest 40 ms frames
/// of the lag (2.5–14 ms, i.e. 70–400 Hz) with the highest normalised
/// autocorrelation.
fn pitch(samples: &[f32], sr: u32) -> f64 {
    let frame = (0.04 * sr as f64) as usize;
    let (lo, hi) = ((sr as f64 / 400.0) as usize, (sr as f64 / 70.0) as usize);
    let mut frames: Vec<(f64, usize)> = (0..samples.len().saturating_sub(frame + hi))
        .step_by(frame / 2)
        .map(|s| {
            let e: f64 = samples[s..s + frame].iter().map(|&x| (x * x) as f64).sum();
            (e, s)
        })
        .collect();
    frames.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut estimates: Vec<f64> = frames
        .iter()
        .take((frames.len() / 3).max(1))
        .map(|&(_, s)| {
            let x = &samples[s..s + frame + hi];
            let r = |lag: usize| -> f64 {
                let (mut num, mut e1, mut e2) = (0.0, 0.0, 0.0);
                for i in 0..frame {
                    let (a, b) = (x[i] as f64, x[i + lag] as f64);
                    num += a * b;
                    e1 += a * a;
                    e2 += b * b;
                }
                num / (e1 * e2).sqrt().max(1e-12)
            };
            let scores: Vec<f64> = (lo..=hi).map(r).collect();
            let best = scores.iter().cloned().fold(f64::MIN, f64::max);
            // The shortest lag close to the best avoids octave-down errors.
            let k = scores.iter().position(|&v| v >= 0.9 * best).unwrap();
            sr as f64 / (lo + k) as f64
        })
        .collect();
    estimates.sort_by(f64::total_cmp);
    estimates[estimates.len() / 2]
}

#[test]
fn same_seed_same_audio_other_seed_other_audio() {
    let p = small();
    let a = SynthCorpus::generate(&p).unwrap();
    let b = SynthCorpus::generate(&p).unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.clips.iter().zip(&b.clips) {
        assert_eq!(x.path, y.path);
        assert_eq!(x.load().unwrap(), y.load().unwrap());
    }
    // Same audio on one thread as on many.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c = pool.install(|| SynthCorpus::generate(&p).unwrap());
    for (x, y) in a.clips.iter().zip(&c.clips) {
        assert_eq!(x.load().unwrap(), y.load().unwrap());
    }
    // One clip rendered alone equals the same clip of the whole corpus.
    let corpus = SynthCorpus::new(&p).unwrap();
    let one = corpus.clip(2, 4).unwrap();
    let k = a.clips.iter().position(|c| c.path == one.path).unwrap();
    assert_eq!(one.load().unwrap(), a.clips[k].load().unwrap());
    let other = SynthCorpus::generate(&SynthParams { seed: 43, ..p }).unwrap();
    assert_ne!(a.clips[0].load().unwrap(), other.clips[0].load().unwrap());
}

#[test]
fn counts_lengths_rate_and_range_are_as_asked() {
    let p = SynthParams {
        sample_rate: 8000,
        ..small()
    };
    let d = SynthCorpus::generate(&p).unwrap();
    assert_eq!(d.len(), 24);
    assert_eq!(d.speakers(), ["spk01", "spk02", "spk03", "spk04"]);
    assert!(d.is_synthetic() && d.layout.is_none());
    assert_eq!(d.names.len(), 4);
    let names: BTreeSet<&String> = d.names.values().collect();
    assert_eq!(names.len(), 4, "names are unique");
    for spk in d.speakers() {
        assert_eq!(d.clips_of(&spk).len(), 6);
        assert_eq!(d.sessions_of(&spk), ["s1", "s2", "s3"]);
    }
    for c in &d.clips {
        let a = c.load().unwrap();
        assert_eq!(a.sample_rate, 8000);
        let secs = a.duration();
        assert!((0.8..=1.2 + 1e-3).contains(&secs), "{secs}");
        assert!(a.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        let rms = (a.samples.iter().map(|s| s * s).sum::<f32>() / a.len() as f32).sqrt();
        assert!(rms > 0.005 && rms < 0.5, "rms {rms}");
        assert_eq!(c.path.components().count(), 3);
    }
    let s = d.summary();
    assert_eq!(s.sample_rates.get(&8000), Some(&24));
    assert!(s.failures.is_empty());
}

#[test]
fn clips_are_pitched_at_their_speakers_f0() {
    let p = SynthParams {
        speakers: 6,
        clips_per_speaker: 3,
        sessions_per_speaker: 3,
        clip_seconds: (1.5, 1.5),
        snr_db: (30.0, 30.0),
        ..SynthParams::default()
    };
    let corpus = SynthCorpus::new(&p).unwrap();
    let d = corpus.dataset();
    let mut per_speaker = Vec::new();
    for (s, profile) in corpus.profiles().iter().enumerate() {
        let mut est: Vec<f64> = d
            .clips_of(&profile.id)
            .iter()
            .map(|&i| pitch(&d.clips[i].load().unwrap().samples, p.sample_rate))
            .collect();
        est.sort_by(f64::total_cmp);
        let median = est[est.len() / 2];
        let ratio = median / profile.f0;
        // Session mood (±4 %), clip wander (±3 %) and intonation move the pitch a
        // little (accented, louder frames lean high), never by an octave.
        assert!(
            (0.85..1.2).contains(&ratio),
            "speaker {s}: f0 {:.1} Hz, estimated {median:.1} Hz ({est:?})",
            profile.f0
        );
        per_speaker.push(median);
    }
    // Female speakers (pairs 2,3 here) are higher than male ones (0,1,4,5).
    let profiles = corpus.profiles();
    for (i, a) in profiles.iter().enumerate() {
        for (j, b) in profiles.iter().enumerate() {
            if b.f0 > 1.5 * a.f0 {
                assert!(per_speaker[j] > 1.2 * per_speaker[i], "{i} vs {j}");
            }
        }
    }
}

#[test]
fn speakers_differ_and_twins_are_close() {
    let p = SynthParams::default();
    let corpus = SynthCorpus::new(&p).unwrap();
    let prof = corpus.profiles();
    assert_eq!(prof.len(), 12);
    assert_eq!(prof.iter().filter(|s| s.female).count(), 6);
    let twins: Vec<_> = prof.iter().filter(|s| s.twin_of.is_some()).collect();
    assert_eq!(twins.len(), 3, "half of the 6 pairs");
    for t in twins {
        let of = &prof[t.twin_of.unwrap()];
        assert_eq!(t.female, of.female);
        assert!((t.f0 / of.f0 - 1.0).abs() <= p.confusable_spread + 1e-12);
        assert!((t.vtl / of.vtl - 1.0).abs() <= p.confusable_spread / 2.0 + 1e-12);
        // Told apart by the fine traits.
        assert_ne!(t.open_quotient, of.open_quotient);
        assert_ne!(t.extra_formant, of.extra_formant);
    }
    for (i, a) in prof.iter().enumerate() {
        assert!((85.0..=265.0).contains(&a.f0), "{}", a.f0);
        assert!((0.78..=1.17).contains(&a.vtl), "{}", a.vtl);
        for b in &prof[i + 1..] {
            assert_ne!(a.f0, b.f0);
            assert_ne!(a.name, b.name);
        }
    }
    let none = SynthCorpus::new(&SynthParams {
        confusable_fraction: 0.0,
        ..p
    })
    .unwrap();
    assert!(none.profiles().iter().all(|s| s.twin_of.is_none()));
}

#[test]
fn a_session_split_of_the_corpus_keeps_sessions_apart() {
    let d = SynthCorpus::generate(&SynthParams {
        clip_seconds: (0.5, 0.5),
        ..SynthParams::default()
    })
    .unwrap();
    let s = d
        .split(&SplitParams {
            by_session: true,
            ..SplitParams::default()
        })
        .unwrap();
    s.check_disjoint().unwrap();
    s.check_sessions_disjoint(&d).unwrap();
    assert!(s.skipped.is_empty());
    // 20 clips in 4 sessions of 5: two sessions go to test.
    assert_eq!(s.test.len(), 12 * 10);
}

#[test]
fn a_written_corpus_reopens_as_folders() {
    let p = small();
    let d = SynthCorpus::generate(&p).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("corpus");
    assert_eq!(write_corpus(&d, &out, false).unwrap(), 24);
    let back = Dataset::open(&out).unwrap();
    assert_eq!(back.layout, Some(Layout::Folders));
    assert_eq!(back.len(), d.len());
    assert_eq!(back.speakers(), d.speakers());
    assert_eq!(back.names, d.names);
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    for (a, b) in d.clips.iter().zip(&back.clips) {
        assert_eq!(a.speaker, b.speaker);
        assert_eq!(a.session, b.session);
        assert_eq!(b.path, out.join(&a.path));
        let (x, y) = (a.load().unwrap(), b.load().unwrap());
        assert_eq!(x.len(), y.len());
        // 16-bit quantisation only (written ×32767, read ÷32768).
        let err = x
            .samples
            .iter()
            .zip(&y.samples)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(err <= 2.0 / 32767.0, "{err}");
    }
    // No temporary files left behind.
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            assert!(!e.file_name().to_string_lossy().starts_with('.'));
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    // A non-empty directory is refused, unless asked.
    let e = write_corpus(&d, &out, false).unwrap_err();
    assert!(matches!(e, Error::Dataset { .. }), "{e}");
    assert!(e.to_string().contains("not empty"), "{e}");
    assert_eq!(write_corpus(&d, &out, true).unwrap(), 24);
    // A file in the way is refused too.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert!(write_corpus(&d, &file, true).is_err());
    // An existing empty directory is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(write_corpus(&d, &empty, false).unwrap(), 24);
}

#[test]
fn parameters_are_validated() {
    let ok = SynthParams::default();
    ok.validate().unwrap();
    let bad = [
        SynthParams {
            speakers: 1,
            ..ok.clone()
        },
        SynthParams {
            clips_per_speaker: 0,
            ..ok.clone()
        },
        SynthParams {
            sessions_per_speaker: 0,
            ..ok.clone()
        },
        SynthParams {
            sample_rate: 4000,
            ..ok.clone()
        },
        SynthParams {
            clip_seconds: (2.0, 1.0),
            ..ok.clone()
        },
        SynthParams {
            clip_seconds: (0.1, 1.0),
            ..ok.clone()
        },
        SynthParams {
            clip_seconds: (f64::NAN, 1.0),
            ..ok.clone()
        },
        SynthParams {
            snr_db: (30.0, 10.0),
            ..ok.clone()
        },
        SynthParams {
            confusable_fraction: 1.5,
            ..ok.clone()
        },
        SynthParams {
            confusable_spread: -0.1,
            ..ok.clone()
        },
        SynthParams {
            session_variation: f64::INFINITY,
            ..ok.clone()
        },
        SynthParams {
            clip_variation: 4.0,
            ..ok.clone()
        },
    ];
    for p in bad {
        assert!(
            matches!(
                SynthCorpus::generate(&p),
                Err(Error::InvalidParameter { .. })
            ),
            "{p:?}"
        );
    }
    // Fewer clips than sessions: one session per clip, not an error.
    let d = SynthCorpus::generate(&SynthParams {
        speakers: 2,
        clips_per_speaker: 2,
        clip_seconds: (0.3, 0.3),
        ..ok.clone()
    })
    .unwrap();
    assert_eq!(d.sessions_of("spk01"), ["s1", "s2"]);
    let corpus = SynthCorpus::new(&small()).unwrap();
    assert!(corpus.clip(4, 0).is_err());
    assert!(corpus.clip(0, 6).is_err());
}

#[test]
fn extreme_but_valid_settings_render() {
    for p in [
        SynthParams {
            speakers: 2,
            clips_per_speaker: 1,
            sessions_per_speaker: 1,
            clip_seconds: (0.3, 0.3),
            sample_rate: 48_000,
            snr_db: (-10.0, -10.0),
            session_variation: 3.0,
            clip_variation: 3.0,
            confusable_fraction: 1.0,
            confusable_spread: 0.0,
            seed: u64::MAX,
        },
        SynthParams {
            speakers: 3,
            clips_per_speaker: 2,
            sessions_per_speaker: 2,
            clip_seconds: (0.5, 0.6),
            sample_rate: 8000,
            snr_db: (100.0, 100.0),
            session_variation: 0.0,
            clip_variation: 0.0,
            ..SynthParams::default()
        },
    ] {
        let d = SynthCorpus::generate(&p).unwrap();
        for c in &d.clips {
            let a = c.load().unwrap();
            assert!(a.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
            assert!(a.samples.iter().any(|&s| s != 0.0));
        }
    }
}
