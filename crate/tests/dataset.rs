//! Data-set reading, layout detection, splits and summaries.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use speaker_similarity::dataset::{
    leaky_original_split, Clip, Dataset, Layout, SkipReason, SplitParams,
};
use speaker_similarity::{Audio, Error};

/// A tiny valid WAV (0.1 s of a tone at 8 kHz) at `root/rel`.
fn wav(root: &Path, rel: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let samples = (0..800).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    Audio::new(samples, 8000).unwrap().write_wav(&path).unwrap();
}

fn text(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
}

fn rel_paths(d: &Dataset) -> Vec<String> {
    d.clips
        .iter()
        .map(|c| {
            c.path
                .strip_prefix(&d.root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect()
}

#[test]
fn folders_layout_is_detected_with_sessions_and_junk_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "bob/take2.wav");
    wav(r, "bob/monday/take1.WAV");
    wav(r, "alice/a.wav");
    wav(r, "alice/sub/deeper/b.flac"); // a WAV in disguise: only the name counts here
    wav(r, "alice/.hidden.wav");
    wav(r, ".trash/x.wav");
    wav(r, "carol/c.mp3");
    text(r, "LICENSE", "MIT");
    text(r, "alice/notes.txt", "not audio");
    text(r, "carol/c.wav.txt", "not audio");
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.layout, Some(Layout::Folders));
    assert_eq!(d.speakers(), ["alice", "bob", "carol"]);
    assert_eq!(
        rel_paths(&d),
        [
            "alice/a.wav",
            "alice/sub/deeper/b.flac",
            "bob/take2.wav",
            "bob/monday/take1.WAV",
            "carol/c.mp3"
        ]
    );
    let sessions: Vec<Option<&str>> = d.clips.iter().map(|c| c.session.as_deref()).collect();
    assert_eq!(sessions, [None, Some("sub"), None, Some("monday"), None]);
    assert_eq!(d.clips_of("bob"), [2, 3]);
    assert_eq!(d.sessions_of("bob"), ["monday"]);
    assert_eq!(d.display_name("bob"), "bob");
    assert_eq!(d.labels(), [0, 0, 1, 1, 2]);
    assert!(d.has_sessions() && !d.is_synthetic());
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn audio_at_the_root_of_a_folders_set_is_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "stray.wav");
    wav(r, "a/1.wav");
    wav(r, "b/1.wav");
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.layout, Some(Layout::Folders));
    assert_eq!(d.len(), 2);
    assert_eq!(d.warnings.len(), 1);
    assert!(
        d.warnings[0].contains("1 audio file ignored"),
        "{:?}",
        d.warnings
    );
}

#[test]
fn voxceleb_layout_is_detected_with_names_from_meta_above_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let r = base.join("vox_dev_wav").join("wav");
    wav(&r, "id10001/1zcIwhmdeo4/00001.wav");
    wav(&r, "id10001/1zcIwhmdeo4/00002.wav");
    wav(&r, "id10001/7gWzIy6yIIk/00001.wav");
    wav(&r, "id10002/xTV-jFAUKcw/00001.wav");
    text(
        base,
        "vox_dev_wav/vox1_meta.csv",
        "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n\
         id10001\tA.J._Buckley\tm\tIreland\tdev\n\
         this line is malformed\n\
         id10002\tAJ_Buckley_II\tm\tUSA\tdev\n\
         \tNo_Id\tm\tUSA\tdev\n\
         id10003\tAaron_Tveit\tm\tUSA\tdev\n",
    );
    let d = Dataset::open(&r).unwrap();
    assert_eq!(d.layout, Some(Layout::VoxCeleb));
    assert_eq!(d.speakers(), ["id10001", "id10002"]);
    assert_eq!(d.display_name("id10001"), "A.J. Buckley");
    assert_eq!(d.display_name("id10002"), "AJ Buckley II");
    // Only speakers present are kept.
    assert_eq!(d.names.len(), 2);
    assert_eq!(d.sessions_of("id10001"), ["1zcIwhmdeo4", "7gWzIy6yIIk"]);
    assert!(
        d.warnings.iter().any(|w| w.contains("2 malformed lines")),
        "{:?}",
        d.warnings
    );
    // Forced to folders, the same files read as folders: video = session, no names.
    let f = Dataset::open_with(&r, Some(Layout::Folders)).unwrap();
    assert_eq!(f.layout, Some(Layout::Folders));
    assert_eq!(f.len(), 4);
    assert_eq!(f.sessions_of("id10001"), d.sessions_of("id10001"));
    assert!(f.names.is_empty());
}

#[test]
fn voxceleb_meta_beside_the_root_and_damaged_meta_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "id10001/v1/00001.wav");
    wav(r, "id10009/v2/00001.wav");
    // No header, garbage bytes, a line with only an id.
    fs::write(
        r.join("vox1_meta.csv"),
        b"id10009\tSome_Body\n\xff\xfe\x00garbage\nid10001\n",
    )
    .unwrap();
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.layout, Some(Layout::VoxCeleb));
    assert_eq!(d.display_name("id10009"), "Some Body");
    assert_eq!(d.display_name("id10001"), "id10001");
    assert!(d.warnings.iter().any(|w| w.contains("2 malformed lines")));
}

#[test]
fn fsdd_layout_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "0_george_0.wav");
    wav(r, "1_george_10.wav");
    wav(r, "7_jackson_32.wav");
    wav(r, "3_yweweler-2_1.WAV");
    text(r, "README.md", "digits");
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.layout, Some(Layout::Fsdd));
    assert_eq!(d.speakers(), ["george", "jackson", "yweweler-2"]);
    assert!(d.clips.iter().all(|c| c.session.is_none()));
    assert!(!d.has_sessions());
}

#[test]
fn a_non_fsdd_name_at_the_root_means_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "0_george_0.wav");
    wav(r, "george.wav");
    wav(r, "a/1.wav");
    wav(r, "b/1.wav");
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.layout, Some(Layout::Folders));
    // Forced FSDD reads the matching file only... and one speaker is an error.
    let e = Dataset::open_with(r, Some(Layout::Fsdd)).unwrap_err();
    assert!(matches!(e, Error::Dataset { .. }), "{e}");
    assert!(e.to_string().contains("one speaker"), "{e}");
}

#[test]
fn forced_layout_that_fits_nothing_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "0_george_0.wav");
    wav(r, "0_jackson_0.wav");
    let e = Dataset::open_with(r, Some(Layout::VoxCeleb)).unwrap_err();
    assert!(matches!(e, Error::Dataset { .. }));
    assert!(e.to_string().contains("voxceleb layout"), "{e}");
}

#[test]
fn layout_names_parse_and_print() {
    for (s, l) in [
        ("folders", Layout::Folders),
        ("voxceleb", Layout::VoxCeleb),
        ("fsdd", Layout::Fsdd),
    ] {
        assert_eq!(s.parse::<Layout>().unwrap(), l);
        assert_eq!(l.to_string(), s);
    }
    assert!(matches!(
        "wav".parse::<Layout>(),
        Err(Error::InvalidParameter { name: "layout", .. })
    ));
}

#[test]
fn bad_directories_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    // Missing.
    let e = Dataset::open(r.join("nope")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    // Empty.
    let e = Dataset::open(r).unwrap_err();
    assert!(matches!(e, Error::Dataset { .. }), "{e}");
    assert!(e.to_string().contains("no audio files"), "{e}");
    // Only non-audio and hidden files.
    text(r, "LICENSE", "x");
    wav(r, ".hidden/a.wav");
    assert!(matches!(
        Dataset::open(r).unwrap_err(),
        Error::Dataset { .. }
    ));
    // A file, not a directory.
    let e = Dataset::open(r.join("LICENSE")).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    // One speaker.
    wav(r, "solo/a.wav");
    wav(r, "solo/b.wav");
    let e = Dataset::open(r).unwrap_err();
    assert!(e.to_string().contains("only one speaker (solo)"), "{e}");
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "a/1.wav");
    wav(r, "b/1.wav");
    std::os::unix::fs::symlink(r.join("a"), r.join("a").join("again")).unwrap();
    std::os::unix::fs::symlink(r, r.join("b").join("root")).unwrap();
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.len(), 2);
    assert!(d.warnings.iter().any(|w| w.contains("not followed")));
}

#[test]
fn speakers_tsv_gives_display_names() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "a/1.wav");
    wav(r, "b/1.wav");
    text(
        r,
        "speakers.tsv",
        "id\tname\na\tAda Lovelace\nbroken line\n",
    );
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.display_name("a"), "Ada Lovelace");
    assert_eq!(d.display_name("b"), "b");
    assert_eq!(d.warnings.len(), 1);
}

#[test]
fn load_all_reports_damaged_clips_instead_of_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    wav(r, "a/1.wav");
    wav(r, "a/2.wav");
    wav(r, "b/1.wav");
    text(r, "b/2.wav", "RIFF but not really");
    fs::write(r.join("b/3.wav"), b"").unwrap();
    let d = Dataset::open(r).unwrap();
    assert_eq!(d.len(), 5);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let (ok, failed) = d.load_all(&|p| {
        let speaker_similarity::progress::Progress::Items { stage, done, total } = p else {
            panic!("unexpected event {p:?}");
        };
        assert_eq!(stage, speaker_similarity::progress::Stage::Load);
        assert!(done <= total && total == 5);
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(calls.into_inner(), 5);
    assert_eq!(ok.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 4]);
    assert!(matches!(failed[1].1, Error::EmptyFile { .. }));
    assert_eq!(ok[0].1.samples.len(), 800);
    let s = d.summary();
    assert_eq!(s.failures.len(), 2);
    assert_eq!(s.durations.len(), 3);
}

// ---------------------------------------------------------------- splits

/// An in-memory data set of file clips (never loaded): `counts[s]` clips for speaker
/// `s`, in `sessions[s]` sessions (0 = no session).
fn fake(counts: &[usize], sessions: &[usize]) -> Dataset {
    let mut clips = Vec::new();
    for (s, (&n, &k)) in counts.iter().zip(sessions).enumerate() {
        for c in 0..n {
            let session = (k > 0).then(|| format!("v{}", c % k));
            clips.push(Clip::from_file(
                PathBuf::from(format!("/x/spk{s:02}/{c:03}.wav")),
                format!("spk{s:02}"),
                session,
            ));
        }
    }
    Dataset::from_clips("/x", Some(Layout::Folders), clips, BTreeMap::new()).unwrap()
}

fn check_split(d: &Dataset, p: &SplitParams, s: &speaker_similarity::dataset::Split) {
    s.check_disjoint().unwrap();
    assert!(s.shared_clips().is_empty());
    assert!(s.train.windows(2).all(|w| w[0] < w[1]));
    assert!(s.test.windows(2).all(|w| w[0] < w[1]));
    let skipped: HashSet<&str> = s.skipped.iter().map(|k| k.speaker.as_str()).collect();
    let covered: BTreeSet<usize> = s.train.iter().chain(&s.test).copied().collect();
    for spk in d.speakers() {
        let mine = d.clips_of(&spk);
        let n = mine.len();
        if skipped.contains(spk.as_str()) {
            assert!(mine.iter().all(|i| !covered.contains(i)));
            continue;
        }
        assert!(
            n >= p.min_clips_per_speaker,
            "{spk} with {n} clips was kept"
        );
        // Every clip of a kept speaker is in exactly one part...
        assert!(mine.iter().all(|i| covered.contains(i)));
        // ...and the speaker is in both parts.
        let n_test = mine.iter().filter(|i| s.test.contains(i)).count();
        assert!(n_test >= 1 && n_test < n, "{spk}: {n_test} of {n} in test");
        if !p.by_session {
            let want = ((p.test_fraction * n as f64).round() as usize).clamp(1, n - 1);
            assert_eq!(n_test, want, "{spk}");
        }
    }
    for k in &s.skipped {
        match k.reason {
            SkipReason::TooFewClips { needed } => {
                assert_eq!(needed, p.min_clips_per_speaker);
                assert!(k.clips < needed);
            }
            SkipReason::TooFewSessions { sessions } => {
                assert!(p.by_session);
                assert!(sessions < 2);
                assert!(k.clips >= p.min_clips_per_speaker);
            }
        }
        assert_eq!(d.clips_of(&k.speaker).len(), k.clips);
        assert!(k.to_string().starts_with(&k.speaker));
    }
    assert_eq!(covered.len(), s.train.len() + s.test.len());
}

#[test]
fn splits_are_disjoint_cover_kept_speakers_and_report_the_rest() {
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..300u64 {
        let n_spk = rng.random_range(2..9);
        let counts: Vec<usize> = (0..n_spk).map(|_| rng.random_range(1..15)).collect();
        // Make sure at least one speaker can be split.
        let mut counts = counts;
        counts[0] = counts[0].max(4);
        let sessions: Vec<usize> = (0..n_spk).map(|_| rng.random_range(1..5)).collect();
        let d = fake(&counts, &sessions);
        let p = SplitParams {
            test_fraction: rng.random_range(0.05..0.95),
            seed: round,
            by_session: round % 3 == 0,
            min_clips_per_speaker: rng.random_range(2..5),
        };
        let s = match d.split(&p) {
            Ok(s) => s,
            // Only when nobody can be split (all single-session in session mode).
            Err(e) => {
                assert!(p.by_session, "{e}");
                continue;
            }
        };
        check_split(&d, &p, &s);
        if p.by_session {
            s.check_sessions_disjoint(&d).unwrap();
        }
        // Same seed, same split.
        assert_eq!(d.split(&p).unwrap(), s);
    }
}

#[test]
fn a_speaker_with_too_few_clips_is_reported_not_dropped() {
    let d = fake(&[10, 1, 10], &[0, 0, 0]);
    let s = d.split(&SplitParams::default()).unwrap();
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(s.skipped[0].speaker, "spk01");
    assert_eq!(s.skipped[0].clips, 1);
    assert_eq!(s.skipped[0].reason, SkipReason::TooFewClips { needed: 2 });
    assert!(s.skipped[0].to_string().contains("1 clip"));
    assert_eq!(s.train.len() + s.test.len(), 20);
    assert_eq!(s.test.len(), 6);
}

#[test]
fn session_split_never_shares_a_session() {
    // spk01 has a single session and is skipped in session mode.
    let d = fake(&[20, 12, 9], &[4, 1, 3]);
    let p = SplitParams {
        by_session: true,
        ..SplitParams::default()
    };
    let s = d.split(&p).unwrap();
    s.check_sessions_disjoint(&d).unwrap();
    check_split(&d, &p, &s);
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(
        s.skipped[0].reason,
        SkipReason::TooFewSessions { sessions: 1 }
    );
    // 20 clips in 4 sessions of 5: the target 6 takes two sessions.
    assert_eq!(s.test.iter().filter(|&&i| i < 20).count(), 10);
    // A clip split of the same data does share sessions: the check sees it.
    let by_clip = d.split(&SplitParams::default()).unwrap();
    assert!(by_clip.check_sessions_disjoint(&d).is_err());
    // No sessions at all: a session split is an error, not a silent clip split.
    let flat = fake(&[5, 5], &[0, 0]);
    assert!(matches!(
        flat.split(&p),
        Err(Error::InvalidParameter {
            name: "by_session",
            ..
        })
    ));
}

#[test]
fn adding_a_speaker_leaves_the_others_split_alone() {
    let small = fake(&[9, 11], &[0, 0]);
    let big = fake(&[9, 11, 7], &[0, 0, 0]);
    let p = SplitParams::default();
    let a = small.split(&p).unwrap();
    let b = big.split(&p).unwrap();
    let b_test: Vec<usize> = b.test.iter().copied().filter(|&i| i < 20).collect();
    assert_eq!(a.test, b_test);
    // Another seed gives another split.
    let c = small
        .split(&SplitParams {
            seed: 43,
            ..p.clone()
        })
        .unwrap();
    assert_ne!(a.test, c.test);
}

#[test]
fn split_parameters_are_validated() {
    let d = fake(&[4, 4], &[0, 0]);
    for f in [0.0, 1.0, -0.5, f64::NAN, f64::INFINITY] {
        let p = SplitParams {
            test_fraction: f,
            ..SplitParams::default()
        };
        assert!(matches!(
            d.split(&p),
            Err(Error::InvalidParameter {
                name: "test_fraction",
                ..
            })
        ));
    }
    let p = SplitParams {
        min_clips_per_speaker: 1,
        ..SplitParams::default()
    };
    assert!(p.validate().is_err());
    // Nobody splittable: an error naming the reasons.
    let tiny = fake(&[1, 1], &[0, 0]);
    let e = tiny.split(&SplitParams::default()).unwrap_err();
    assert!(e.to_string().contains("spk00: 1 clip"), "{e}");
}

#[test]
fn the_original_split_leaks_every_test_clip_into_training() {
    let d = fake(&[20, 33, 7, 100], &[0, 0, 0, 0]);
    let s = leaky_original_split(&d, 0.7, 42).unwrap();
    // Test sizes are n - round(0.7 n), as the original printed them.
    assert_eq!(s.test.len(), 6 + 10 + 2 + 30);
    assert_eq!(s.train.len(), 14 + 23 + 5 + 70);
    // Every single test clip is also a training clip.
    assert_eq!(s.shared_clips().len(), s.test.len());
    let e = s.check_disjoint().unwrap_err();
    assert!(e.to_string().contains("share 48 clips"), "{e}");
    // The correct split of the same data shares nothing.
    let ok = d.split(&SplitParams::default()).unwrap();
    assert!(ok.shared_clips().is_empty());
    assert!(leaky_original_split(&d, 1.0, 42).is_err());
}

// ---------------------------------------------------------------- real data

#[derive(serde::Deserialize)]
struct Reference {
    clips: usize,
    clips_per_speaker: BTreeMap<String, usize>,
    frames_per_speaker: BTreeMap<String, u64>,
    sample_rates: BTreeMap<String, usize>,
    min_seconds: f64,
    max_seconds: f64,
    total_seconds: f64,
}

/// Numbers soundfile reads (scripts/fixtures_datasets.py).
fn reference(name: &str) -> Reference {
    let text = include_str!("fixtures/datasets_summary.json");
    let mut all: BTreeMap<String, Reference> = serde_json::from_str(text).unwrap();
    all.remove(name).unwrap()
}

fn check_against_reference(d: &Dataset, r: &Reference) {
    assert_eq!(d.len(), r.clips);
    let per: BTreeMap<String, usize> = d
        .speakers()
        .into_iter()
        .map(|s| {
            let n = d.clips_of(&s).len();
            (s, n)
        })
        .collect();
    assert_eq!(per, r.clips_per_speaker);
    let s = d.summary();
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert_eq!(s.speakers, r.clips_per_speaker.len());
    assert_eq!(s.clips, r.clips);
    let rates: BTreeMap<String, usize> = s
        .sample_rates
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(rates, r.sample_rates);
    let rate: f64 = r.sample_rates.keys().next().unwrap().parse().unwrap();
    for sp in &s.per_speaker {
        let frames = r.frames_per_speaker[&sp.speaker] as f64;
        assert!((sp.seconds - frames / rate).abs() < 1e-6, "{}", sp.speaker);
        assert_eq!(sp.clips, r.clips_per_speaker[&sp.speaker]);
    }
    let (min, _, _, max) = s.duration_stats().unwrap();
    assert!((min - r.min_seconds).abs() < 1e-9);
    assert!((max - r.max_seconds).abs() < 1e-9);
    assert!((s.total_seconds() - r.total_seconds).abs() < 1e-6);
    let shown = s.to_string();
    assert!(shown.contains(&format!("{} speakers, {} clips", s.speakers, s.clips)));
}

#[test]
fn shared_fsdd_is_read_as_fsdd() {
    let d = Dataset::open(common::shared_datasets().join("fsdd")).unwrap();
    assert_eq!(d.layout, Some(Layout::Fsdd));
    assert_eq!(
        d.speakers(),
        ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    );
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    check_against_reference(&d, &reference("fsdd"));
    let s = d.split(&SplitParams::default()).unwrap();
    check_split(&d, &SplitParams::default(), &s);
    assert_eq!(s.test.len(), 6 * 150);
}

#[test]
fn shared_dsp34_is_read_as_folders_without_its_license() {
    let d = Dataset::open(common::shared_datasets().join("dsp34")).unwrap();
    assert_eq!(d.layout, Some(Layout::Folders));
    assert_eq!(d.n_speakers(), 34);
    assert!(d.clips.iter().all(|c| c.session.is_none()));
    assert!(!d.speakers().iter().any(|s| s.contains("LICENSE")));
    check_against_reference(&d, &reference("dsp34"));
    let s = d.split(&SplitParams::default()).unwrap();
    check_split(&d, &SplitParams::default(), &s);
    assert_eq!(s.test.len(), 34 * 12);
    // dsp34 has no sessions: a session split says so instead of splitting by clip.
    let by_session = SplitParams {
        by_session: true,
        ..SplitParams::default()
    };
    assert!(d.split(&by_session).is_err());
}
