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
            .join("tests/fixtures/fuzz")
            .join(name),
    )
    .unwrap()
}

const BOUND: usize = 64 << 20;

#[test]
fn a_wav_header_claiming_gigabytes_of_samples_is_a_decode_error_without_reserving_them() {
    let _g = ONE.lock().unwrap();
    let bytes = fixture("wav_header_claims_huge_data.wav");
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
        let bytes = fixture(name);
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
