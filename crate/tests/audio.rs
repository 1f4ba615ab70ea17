//! Audio loading: every WAV layout users meet, FLAC/MP3/OGG, resampling against librosa,
//! crop/segments, and a typed error for every kind of bad file.
//!
//! The WAV files are written by the tests themselves; the encoded files and the librosa
//! resampling references come from `scripts/fixtures_audio.py`.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use speaker_similarity::audio::{self, Audio};
use speaker_similarity::Error;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The test tone of `scripts/fixtures_audio.py`.
fn tone_at(t: f64) -> f64 {
    0.5 * (2.0 * PI * 440.0 * t).sin() + 0.25 * (2.0 * PI * 1234.5 * t).sin()
}

fn tone(sr: u32, n: usize) -> Vec<f64> {
    (0..n).map(|i| tone_at(i as f64 / sr as f64)).collect()
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    U8,
    I16,
    I24,
    I32,
    F32,
}

impl Layout {
    fn spec(self, channels: u16, sample_rate: u32) -> hound::WavSpec {
        let (bits, fmt) = match self {
            Layout::U8 => (8, hound::SampleFormat::Int),
            Layout::I16 => (16, hound::SampleFormat::Int),
            Layout::I24 => (24, hound::SampleFormat::Int),
            Layout::I32 => (32, hound::SampleFormat::Int),
            Layout::F32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: bits,
            sample_format: fmt,
        }
    }

    /// Quantisation step of the layout, in full-scale units.
    fn step(self) -> f64 {
        match self {
            Layout::U8 => 1.0 / 128.0,
            Layout::I16 => 1.0 / 32768.0,
            Layout::I24 => 1.0 / 8388608.0,
            Layout::I32 => 1.0 / 2147483648.0,
            Layout::F32 => 1e-7,
        }
    }
}

/// Write a WAV whose channel `c` holds `tone * gain(c)` and return the expected mono
/// mixdown as the decoder should produce it (quantised per channel, then averaged).
fn write_wav(path: &Path, layout: Layout, channels: u16, sr: u32, n: usize) -> Vec<f64> {
    let spec = layout.spec(channels, sr);
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let y = tone(sr, n);
    let gain = |c: u16| 0.9 - 0.1 * c as f64;
    let mut expected = vec![0.0; n];
    for (i, &v) in y.iter().enumerate() {
        for c in 0..channels {
            let x = v * gain(c);
            let q = match layout {
                Layout::U8 => {
                    let s = (x * 128.0).round().clamp(-128.0, 127.0) as i8;
                    w.write_sample(s).unwrap();
                    s as f64 / 128.0
                }
                Layout::I16 => {
                    let s = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                    w.write_sample(s).unwrap();
                    s as f64 / 32768.0
                }
                Layout::I24 => {
                    let s = (x * 8388608.0).round() as i32;
                    w.write_sample(s).unwrap();
                    s as f64 / 8388608.0
                }
                Layout::I32 => {
                    let s = (x * 2147483648.0).round().min(2147483647.0) as i32;
                    w.write_sample(s).unwrap();
                    s as f64 / 2147483648.0
                }
                Layout::F32 => {
                    w.write_sample(x as f32).unwrap();
                    x as f32 as f64
                }
            };
            expected[i] += q / channels as f64;
        }
    }
    w.finalize().unwrap();
    expected
}

#[test]
fn every_wav_layout_channel_count_and_rate_decodes_to_the_expected_mono_signal() {
    let dir = tempfile::tempdir().unwrap();
    let layouts = [
        Layout::U8,
        Layout::I16,
        Layout::I24,
        Layout::I32,
        Layout::F32,
    ];
    let rates = [8000, 11025, 16000, 22050, 44100, 48000, 96000];
    let mut checked = 0;
    for layout in layouts {
        for channels in 1..=8u16 {
            for &sr in &rates {
                // All channel counts at one rate, all rates at 1, 2 and 8 channels.
                if sr != 16000 && ![1, 2, 8].contains(&channels) {
                    continue;
                }
                let n = (sr / 20) as usize; // 50 ms
                let path = dir.path().join(format!("{layout:?}_{channels}_{sr}.wav"));
                let expected = write_wav(&path, layout, channels, sr, n);
                let a = Audio::load(&path)
                    .unwrap_or_else(|e| panic!("{layout:?} {channels}ch {sr}: {e}"));
                assert_eq!(a.sample_rate, sr);
                assert_eq!(a.samples.len(), n, "{layout:?} {channels}ch {sr}");
                let max_err = a
                    .samples
                    .iter()
                    .zip(&expected)
                    .map(|(&s, &e)| (s as f64 - e).abs())
                    .fold(0.0, f64::max);
                // The only error allowed is f32 rounding of the mean.
                assert!(
                    max_err <= 2e-7,
                    "{layout:?} {channels}ch {sr} Hz: max error {max_err} (step {})",
                    layout.step()
                );
                let info = audio::info(&path).unwrap();
                assert_eq!(
                    (info.sample_rate, info.channels, info.frames),
                    (sr, channels, n as u64)
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 5 * (8 + 6 * 3));
}

#[test]
fn flac_is_lossless_and_stereo_24_bit_flac_is_mixed_down() {
    let a = Audio::load(fixtures().join("audio/tone_16k_mono.flac")).unwrap();
    assert_eq!(a.sample_rate, 16000);
    assert_eq!(a.samples.len(), 8000);
    let y = tone(16000, 8000);
    for (i, (&s, &e)) in a.samples.iter().zip(&y).enumerate() {
        assert!(
            (s as f64 - e).abs() <= 1.0 / 32768.0 + 1e-7,
            "sample {i}: {s} vs {e}"
        );
    }
    // Left = tone, right = -tone/2: the mono mixdown is tone/4.
    let b = Audio::load(fixtures().join("audio/tone_44k_stereo24.flac")).unwrap();
    assert_eq!(b.sample_rate, 44100);
    assert_eq!(b.samples.len(), 11025);
    let y = tone(44100, 11025);
    for (i, (&s, &e)) in b.samples.iter().zip(&y).enumerate() {
        assert!(
            (s as f64 - e / 4.0).abs() <= 2.0 / 8388608.0,
            "sample {i}: {s} vs {}",
            e / 4.0
        );
    }
}

/// Signal-to-noise ratio in dB of `got` against the tone, at the best alignment within
/// ±`max_lag` samples (lossy codecs add an encoder delay).
fn snr_db(got: &[f32], sr: u32, max_lag: i64) -> (f64, i64) {
    let mut best = (f64::NEG_INFINITY, 0);
    for lag in -max_lag..=max_lag {
        let (mut sig, mut err) = (0.0, 0.0);
        // Compare over the middle of the clip, away from codec start-up and tail.
        for i in 1000..(got.len() as i64 - 1000) {
            let j = i + lag;
            if j < 0 || j >= got.len() as i64 {
                continue;
            }
            let e = tone_at(i as f64 / sr as f64);
            sig += e * e;
            err += (got[j as usize] as f64 - e).powi(2);
        }
        let snr = 10.0 * (sig / err.max(1e-30)).log10();
        if snr > best.0 {
            best = (snr, lag);
        }
    }
    best
}

#[test]
fn mp3_and_ogg_vorbis_decode_to_the_tone() {
    for name in ["tone_16k_mono.mp3", "tone_16k_mono.ogg"] {
        let a = Audio::load(fixtures().join("audio").join(name)).unwrap();
        assert_eq!(a.sample_rate, 16000, "{name}");
        // 0.5 s encoded; MP3 frames pad the end, Vorbis is sample exact.
        assert!(
            (7500..=10000).contains(&a.samples.len()),
            "{name}: {} samples",
            a.samples.len()
        );
        let (snr, lag) = snr_db(&a.samples, 16000, 2000);
        assert!(snr > 20.0, "{name}: SNR {snr:.1} dB at lag {lag}");
    }
}

#[test]
fn the_format_is_recognised_from_the_bytes_not_the_name() {
    let flac = std::fs::read(fixtures().join("audio/tone_16k_mono.flac")).unwrap();
    let a = Audio::from_bytes(&flac, "upload.wav").unwrap();
    assert_eq!(a.samples.len(), 8000);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("really_flac.mp3");
    std::fs::write(&p, &flac).unwrap();
    assert_eq!(Audio::load(&p).unwrap().samples.len(), 8000);
}

#[derive(serde::Deserialize)]
struct ResampleFixture {
    cases: Vec<ResampleCase>,
}

#[derive(serde::Deserialize)]
struct ResampleCase {
    sr_in: u32,
    sr_out: u32,
    freqs: Vec<[f64; 2]>,
    seconds: f64,
    len_out: usize,
    stride: usize,
    librosa: Vec<f64>,
}

#[test]
fn resampling_matches_the_ideal_signal_and_librosa() {
    let text = std::fs::read_to_string(fixtures().join("audio_resample.json")).unwrap();
    let fx: ResampleFixture = serde_json::from_str(&text).unwrap();
    for c in &fx.cases {
        let n = (c.sr_in as f64 * c.seconds).round() as usize;
        let signal = |t: f64, nyquist: f64| -> f64 {
            c.freqs
                .iter()
                .filter(|[_, f]| *f < nyquist)
                .map(|[a, f]| a * (2.0 * PI * f * t).sin())
                .sum()
        };
        let y: Vec<f32> = (0..n)
            .map(|i| signal(i as f64 / c.sr_in as f64, f64::INFINITY) as f32)
            .collect();
        let out = Audio::new(y, c.sr_in).unwrap().resample(c.sr_out).unwrap();
        assert_eq!(out.sample_rate, c.sr_out);
        assert_eq!(out.samples.len(), c.len_out, "{} -> {}", c.sr_in, c.sr_out);

        // Interior samples (edges excluded: both resamplers see zero padding there).
        let edge = c.sr_out as usize / 20;
        let nyq = c.sr_out as f64 / 2.0;
        let (mut sig, mut err_ideal, mut err_librosa) = (0.0, 0.0, 0.0);
        for (k, &lib) in c.librosa.iter().enumerate() {
            let i = k * c.stride;
            if i < edge || i + edge >= c.len_out {
                continue;
            }
            let ideal = signal(i as f64 / c.sr_out as f64, nyq);
            let ours = out.samples[i] as f64;
            sig += ideal * ideal;
            err_ideal += (ours - ideal).powi(2);
            err_librosa += (ours - lib).powi(2);
        }
        let snr_ideal = 10.0 * (sig / err_ideal).log10();
        let snr_librosa = 10.0 * (sig / err_librosa).log10();
        println!(
            "{} -> {} Hz: SNR vs ideal {snr_ideal:.1} dB, vs librosa soxr_hq {snr_librosa:.1} dB",
            c.sr_in, c.sr_out
        );
        // Out-of-band content (6 kHz into 8 kHz) must be removed, the rest kept.
        assert!(
            snr_ideal > 100.0,
            "{} -> {}: {snr_ideal:.1} dB",
            c.sr_in,
            c.sr_out
        );
        assert!(
            snr_librosa > 100.0,
            "{} -> {}: {snr_librosa:.1} dB",
            c.sr_in,
            c.sr_out
        );
    }
}

#[test]
fn crop_and_segments() {
    let a = Audio::new(vec![0.1; 16000 * 5 + 8000], 16000).unwrap(); // 5.5 s
    assert_eq!(a.crop(2.0).unwrap().samples.len(), 32000);
    assert_eq!(a.crop(60.0).unwrap().samples.len(), a.samples.len());
    let segs = a.segments(2.0).unwrap();
    // 2 + 2 + 1.5 (kept: at least half a segment).
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[2].start, 4.0);
    assert_eq!(segs[2].audio.samples.len(), 24000);
    let b = Audio::new(vec![0.1; 16000 * 4 + 8000], 16000).unwrap(); // 4.5 s: 0.5 s dropped
    assert_eq!(b.segments(2.0).unwrap().len(), 2);
    let short = Audio::new(vec![0.1; 4000], 16000).unwrap(); // 0.25 s: one short segment
    let s = short.segments(2.0).unwrap();
    assert_eq!((s.len(), s[0].audio.samples.len()), (1, 4000));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-9] {
        assert!(
            matches!(a.segments(bad), Err(Error::InvalidParameter { .. })),
            "{bad}"
        );
    }
    for bad in [0.0, -2.0, f64::NAN] {
        assert!(
            matches!(a.crop(bad), Err(Error::InvalidParameter { .. })),
            "{bad}"
        );
    }
}

#[test]
fn constructor_and_resampler_reject_bad_values() {
    assert!(matches!(
        Audio::new(vec![0.0; 4], 0),
        Err(Error::InvalidParameter { .. })
    ));
    match Audio::new(vec![0.0, f32::NAN, 1.0], 8000) {
        Err(Error::NonFinite { index: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    let a = Audio::new(vec![0.0; 100], 8000).unwrap();
    assert!(matches!(a.resample(0), Err(Error::InvalidParameter { .. })));
    assert_eq!(a.resample(8000).unwrap(), a);
    let empty = Audio::new(vec![], 8000).unwrap();
    assert!(empty.resample(16000).unwrap().is_empty());
}

fn wav_bytes(layout: Layout, channels: u16, sr: u32, n: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.wav");
    write_wav(&p, layout, channels, sr, n);
    std::fs::read(p).unwrap()
}

fn load_bytes(bytes: &[u8], name: &str) -> Result<Audio, Error> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    Audio::load(&p)
}

#[test]
fn every_bad_file_is_a_typed_error_that_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.wav");
    let e = Audio::load(&missing).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("nope.wav"), "{e}");

    assert!(matches!(
        Audio::load(dir.path()),
        Err(Error::NotAudio { .. })
    ));
    assert!(matches!(
        load_bytes(b"", "empty.wav"),
        Err(Error::EmptyFile { .. })
    ));

    let good = wav_bytes(Layout::I16, 2, 16000, 1600);
    // Truncated header.
    for cut in [4, 12, 20, 30, 40] {
        let e = load_bytes(&good[..cut], "cut.wav").unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "cut at {cut}: {e:?}");
        assert!(e.to_string().contains("cut.wav"), "{e}");
    }
    // Truncated data (cut mid-frame too).
    for cut in [44 + 1000, 44 + 1001, good.len() - 3] {
        let e = load_bytes(&good[..cut], "short.wav").unwrap_err();
        match &e {
            Error::Decode { reason, .. } => assert!(reason.contains("truncated"), "{reason}"),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Not audio at all: text, random bytes, a RIFF file of another kind, a PNG header.
    let mut noise = vec![0u8; 4096];
    let mut x = 12345u32;
    for b in noise.iter_mut() {
        x = x.wrapping_mul(1664525).wrapping_add(1013904223);
        *b = (x >> 24) as u8;
    }
    let mut riff_avi = b"RIFF\x24\x00\x00\x00AVI LIST".to_vec();
    riff_avi.extend_from_slice(&[0u8; 64]);
    for (bytes, name) in [
        (b"hello, this is not a sound file\n".to_vec(), "text.wav"),
        (noise.clone(), "noise.bin"),
        (noise, "noise.mp3"),
        (riff_avi, "movie.wav"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "image.ogg"),
    ] {
        let e = load_bytes(&bytes, name).unwrap_err();
        assert!(
            matches!(e, Error::NotAudio { .. } | Error::Decode { .. }),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains(name), "{e}");
    }
    // A valid header with zero samples.
    let zero = wav_bytes(Layout::I16, 1, 16000, 0);
    assert!(matches!(
        load_bytes(&zero, "zero.wav"),
        Err(Error::NoSamples { .. })
    ));
    // NaN and infinity in a float WAV.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let p = dir.path().join("nan.wav");
        let mut w = hound::WavWriter::create(&p, Layout::F32.spec(1, 8000)).unwrap();
        for i in 0..100 {
            w.write_sample(if i == 42 { bad } else { 0.1f32 }).unwrap();
        }
        w.finalize().unwrap();
        match Audio::load(&p) {
            Err(Error::NonFinite {
                index: 42, what, ..
            }) => assert!(what.contains("nan.wav")),
            other => panic!("{bad}: {other:?}"),
        }
    }
    // A header whose sample rate is 0.
    let mut rate0 = good.clone();
    rate0[24..28].copy_from_slice(&0u32.to_le_bytes());
    let e = load_bytes(&rate0, "rate0.wav").unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    // Zero channels.
    let mut ch0 = good.clone();
    ch0[22..24].copy_from_slice(&0u16.to_le_bytes());
    let e = load_bytes(&ch0, "ch0.wav").unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    // Every prefix of a valid file: an error or a shorter clip, never a panic.
    for cut in 0..good.len().min(200) {
        let _ = Audio::from_bytes(&good[..cut], "prefix.wav");
    }
    let flac = std::fs::read(fixtures().join("audio/tone_16k_mono.flac")).unwrap();
    let mp3 = std::fs::read(fixtures().join("audio/tone_16k_mono.mp3")).unwrap();
    let ogg = std::fs::read(fixtures().join("audio/tone_16k_mono.ogg")).unwrap();
    for (bytes, name) in [(&flac, "x.flac"), (&mp3, "x.mp3"), (&ogg, "x.ogg")] {
        for cut in (0..bytes.len()).step_by(97) {
            let _ = Audio::from_bytes(&bytes[..cut], name);
        }
        // Corrupt the middle of the stream.
        let mut broken = bytes.clone();
        for b in broken[bytes.len() / 3..bytes.len() / 2].iter_mut() {
            *b ^= 0x5a;
        }
        let _ = Audio::from_bytes(&broken, name);
    }
}

#[test]
fn writing_is_atomic_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let a = Audio::new(tone(16000, 1600).iter().map(|&v| v as f32).collect(), 16000).unwrap();
    let p = dir.path().join("out.wav");
    a.write_wav(&p).unwrap();
    let b = Audio::load(&p).unwrap();
    assert_eq!(b.samples.len(), a.samples.len());
    for (x, y) in a.samples.iter().zip(&b.samples) {
        assert!((x - y).abs() <= 0.5 / 32768.0 + 1e-9);
    }
    // Into a directory that does not exist: an error, and nothing left behind.
    let e = a.write_wav(dir.path().join("missing/out.wav")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.wav")]);
}
