//! Inputs the fuzzer (fuzz/) found, kept as regression tests: each gives a typed
//! error (or decodes), and no single allocation is sized by the untrusted header.
//! A counting allocator in this test binary measures the largest request.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use speaker_similarity::{Audio, Error};

struct Counting;
static BIGGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; the counter never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        BIGGEST.fetch_max(l.size(), Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        BIGGEST.fetch_max(n, Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;
/// The measurement is process-wide: one test at a time.
static ONE: Mutex<()> = Mutex::new(());

/// Run `f`; the largest single allocation it made.
fn biggest<T>(f: impl FnOnce() -> T) -> (T, usize) {
    BIGGEST.store(0, Relaxed);
    let r = f();
    (r, BIGGEST.load(Relaxed))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

const BOUND: usize = 64 << 20;

#[test]
fn a_wav_header_claiming_gigabytes_of_samples_is_a_decode_error_without_reserving_them() {
    let _g = ONE.lock().unwrap();
    let bytes = fixture("fuzz/wav_header_claims_huge_data.wav");
    let (r, big) = biggest(|| Audio::from_bytes(&bytes, "x.wav"));
    assert!(
        big < BOUND,
        "a {big}-byte allocation for a {}-byte file",
        bytes.len()
    );
    assert!(matches!(r, Err(Error::Decode { .. }) | Ok(_)), "{r:?}");
}

#[test]
fn flac_and_vorbis_comment_lengths_beyond_the_file_are_decode_errors() {
    let _g = ONE.lock().unwrap();
    for name in [
        "flac_comment_length_1_7gb.flac",
        "ogg_comment_length_1_7gb.ogg",
    ] {
        let bytes = fixture(&format!("fuzz/{name}"));
        let (r, big) = biggest(|| Audio::from_bytes(&bytes, name));
        assert!(big < BOUND, "{name}: a {big}-byte allocation");
        match r {
            Err(Error::Decode { reason, .. }) => {
                assert!(reason.contains("longer than"), "{reason}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn resampling_from_one_hertz_keeps_its_buffers_bounded() {
    let _g = ONE.lock().unwrap();
    // The fuzzer's input: 256 silent samples at 1 Hz (a header may claim 1 Hz).
    let a = Audio::new(vec![0.0; 256], 1).unwrap().crop(10.0).unwrap();
    let (r, big) = biggest(|| a.resample(16_000));
    let r = r.unwrap();
    assert_eq!(r.samples.len(), 160_000);
    assert!(big < BOUND, "a {big}-byte allocation");
}

/// Decode `bytes` under the allocation measurement: the result, after checking
/// that no single allocation reached [`BOUND`].
fn decode_bounded(bytes: &[u8], name: &str) -> speaker_similarity::Result<Audio> {
    let (r, big) = biggest(|| Audio::from_bytes(bytes, name));
    assert!(
        big < BOUND,
        "{name}: a {big}-byte allocation for a {}-byte file",
        bytes.len()
    );
    r
}

#[test]
fn a_flac_stream_after_leading_bytes_has_its_picture_length_checked_too() {
    let _g = ONE.lock().unwrap();
    // The fuzzer's input: two bytes (a FLAC frame sync) before `fLaC`, then a picture
    // block claiming 2.4 GB. symphonia's probe scans past leading bytes to the first
    // marker, so the check of metadata lengths must look there too.
    let bytes = fixture("fuzz/flac_after_two_bytes_2_4gb.flac");
    match decode_bounded(&bytes, "x.flac") {
        Err(Error::Decode { reason, .. }) => assert!(reason.contains("longer than"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A valid FLAC file after the same two bytes decodes as without them.
    let clean = fixture("audio/tone_16k_mono.flac");
    let want = Audio::from_bytes(&clean, "t.flac").unwrap();
    let mut shifted = vec![0xff, 0xf8];
    shifted.extend(&clean);
    assert_eq!(decode_bounded(&shifted, "t.flac").unwrap(), want);
}

/// An ID3v2.3 tag holding one `TIT2` frame whose 32-bit size claims `claim` bytes.
fn id3_with_frame(claim: u32) -> Vec<u8> {
    let mut frame = b"TIT2".to_vec();
    frame.extend(claim.to_be_bytes());
    frame.extend([0, 0]);
    frame.extend([0u8; 22]);
    let size = frame.len() as u32;
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend([
        (size >> 21 & 0x7f) as u8,
        (size >> 14 & 0x7f) as u8,
        (size >> 7 & 0x7f) as u8,
        (size & 0x7f) as u8,
    ]);
    tag.extend(frame);
    tag
}

#[test]
fn an_id3_frame_claiming_gigabytes_is_not_read_and_the_audio_after_it_decodes() {
    let _g = ONE.lock().unwrap();
    for name in ["audio/tone_16k_mono.mp3", "audio/tone_16k_mono.flac"] {
        let clean = fixture(name);
        let want = Audio::from_bytes(&clean, name).unwrap();
        let mut tagged = id3_with_frame(0xf000_0000);
        tagged.extend(&clean);
        let got = decode_bounded(&tagged, name).unwrap();
        assert_eq!(got.sample_rate, want.sample_rate, "{name}");
        assert_eq!(got.samples, want.samples, "{name}");
    }
}

#[test]
fn a_riff_info_entry_claiming_gigabytes_is_a_decode_error_where_symphonia_reads_the_wav() {
    let _g = ONE.lock().unwrap();
    // A-law (format 6): hound does not read it, symphonia does, and symphonia
    // reserves a LIST/INFO entry's declared length before reading it.
    let mut fmt = 6u16.to_le_bytes().to_vec();
    fmt.extend(1u16.to_le_bytes()); // channels
    fmt.extend(8000u32.to_le_bytes()); // rate
    fmt.extend(8000u32.to_le_bytes()); // byte rate
    fmt.extend(1u16.to_le_bytes()); // block align
    fmt.extend(8u16.to_le_bytes()); // bits
    fmt.extend(0u16.to_le_bytes()); // cbSize
    let chunk = |id: &[u8], len: u32, body: &[u8]| {
        let mut v = id.to_vec();
        v.extend(len.to_le_bytes());
        v.extend(body);
        v
    };
    let wav = |info_len: u32, list_len: u32| {
        let mut body = b"WAVE".to_vec();
        body.extend(chunk(b"fmt ", fmt.len() as u32, &fmt));
        body.extend(chunk(b"LIST", list_len, b"INFOINAM"));
        body.extend(info_len.to_le_bytes());
        body.extend(b"abcd");
        body.extend(chunk(b"data", 800, &[0xd5; 800]));
        chunk(b"RIFF", u32::MAX - 1, &body)
    };
    match decode_bounded(&wav(3_000_000_000, 0xffff_ff00), "x.wav") {
        Err(Error::Decode { reason, .. }) => assert!(reason.contains("longer than"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The same file with honest lengths decodes: 800 A-law samples at 8 kHz.
    let a = decode_bounded(&wav(4, 16), "x.wav").unwrap();
    assert_eq!((a.len(), a.sample_rate), (800, 8000));
}

#[test]
fn an_ogg_stream_after_leading_bytes_has_its_comment_lengths_checked_too() {
    let _g = ONE.lock().unwrap();
    let bytes = fixture("fuzz/ogg_comment_length_1_7gb.ogg");
    let mut shifted = b"junk".to_vec();
    shifted.extend(&bytes);
    match decode_bounded(&shifted, "x.ogg") {
        Err(Error::Decode { reason, .. }) => assert!(reason.contains("longer than"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let clean = fixture("audio/tone_16k_mono.ogg");
    let want = Audio::from_bytes(&clean, "t.ogg").unwrap();
    let mut shifted = b"junk".to_vec();
    shifted.extend(&clean);
    assert_eq!(decode_bounded(&shifted, "t.ogg").unwrap(), want);
}

#[test]
fn a_knn_baseline_with_a_stored_value_near_f64_max_is_refused_at_load() {
    use speaker_similarity::models::{Baseline, BaselineKind};
    use speaker_similarity::persist::{from_json, to_json};
    let _g = ONE.lock().unwrap();
    // The fuzzer's input (model-dir): a model directory whose KNN baseline held two
    // training values of 1e308. Squared distances became infinite and smartcore's
    // cover tree recursed until the stack overflowed (an abort, not a panic).
    let y: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let x = ndarray::Array2::from_shape_fn((12, 4), |(i, j)| (i * 4 + j) as f32 * 0.25);
    let b = Baseline::fit(BaselineKind::Knn, x.view(), &y).unwrap();
    let text = to_json(&b).unwrap();
    let origin = Path::new("knn.json");
    let back: Baseline = from_json(&text, origin).unwrap();
    assert_eq!(
        back.predict(x.view()).unwrap(),
        b.predict(x.view()).unwrap()
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let data = v
        .pointer_mut("/model/x/data")
        .and_then(|d| d.as_array_mut())
        .expect("the stored training data");
    data[0] = serde_json::json!(1e308);
    data[5] = serde_json::json!(-1e308);
    match from_json::<Baseline>(&v.to_string(), origin) {
        Err(e @ Error::Model { .. }) => assert!(e.to_string().contains("f32 range"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_fuzzers_model_directory_with_a_knn_value_of_1e308_is_a_typed_error() {
    let _g = ONE.lock().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/model_dir_knn_1e308");
    let (r, big) = biggest(|| speaker_similarity::pipeline::SpeakerModels::load(&dir));
    assert!(big < BOUND, "a {big}-byte allocation");
    match r {
        Err(e @ Error::Model { .. }) => assert!(e.to_string().contains("f32 range"), "{e}"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("the damaged model directory loaded"),
    }
}

#[test]
fn the_fuzzers_model_directory_with_2_pow_53_mel_bands_is_a_typed_error() {
    // Found by `make fuzz-smoke` (model-dir target): the frame features' n_mels
    // set to 2^53. It loaded, and the first prediction asked for 72 PB; now the
    // load refuses it (n_mels is bounded by MAX_N_MELS).
    let _g = ONE.lock().unwrap();
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/model_dir_n_mels_2e53");
    let (r, big) = biggest(|| {
        let m = speaker_similarity::pipeline::SpeakerModels::load(&dir)?;
        let clip = Audio::new(vec![0.1; 16_000], 16_000)?;
        m.predict_recording(&clip, 1.0, 3).map(|_| ())
    });
    assert!(big < BOUND, "a {big}-byte allocation");
    match r {
        Err(e @ Error::Model { .. }) => assert!(e.to_string().contains("n_mels"), "{e}"),
        Err(e) => panic!("{e:?}"),
        Ok(()) => panic!("the damaged model directory predicted"),
    }
}
