//! The fuzz targets: each takes bytes and returns a short signature of what
//! happened (an error's kind and message with numbers blanked, or "ok" with a
//! coarse shape). New signatures grow the corpus: feedback without instrumentation.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use axum::body::Bytes;
use axum::http::{header::CONTENT_TYPE, HeaderValue, Request};
use speaker_similarity::features::{clip_vector, frame_features};
use speaker_similarity::models::{
    Baseline, DiagGmm, GmmClassifier, GmmUbmClassifier, Mlp, StandardScaler, Ubm,
};
use speaker_similarity::persist::from_json;
use speaker_similarity::pipeline::{SpeakerModels, MODELS_FILE};
use speaker_similarity::{Audio, Error};

#[path = "../../app/src/web/multipart.rs"]
#[allow(dead_code)]
mod multipart;

/// How a target's inputs are mutated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Raw bytes.
    Bytes,
    /// Ogg pages: bytes, then every page's CRC made valid again.
    Ogg,
    /// JSON after `prefix` bytes: structured JSON mutations most of the time.
    Json {
        /// Bytes before the JSON text (the `model-file` kind selector).
        prefix: usize,
    },
}

/// One fuzz target.
pub struct Target {
    /// Name used on the command line and in findings' file names.
    pub name: &'static str,
    /// What it exercises.
    pub about: &'static str,
    /// Valid starting inputs.
    pub seeds: Vec<Vec<u8>>,
    /// Tokens worth inserting.
    pub dict: Vec<&'static [u8]>,
    /// How inputs are mutated.
    pub shape: Shape,
    /// Longest input generated.
    pub max_len: usize,
    /// Structured inputs from raw entropy (`arbitrary`), used for some executions.
    pub generate: Option<fn(&mut Unstructured) -> arbitrary::Result<Vec<u8>>>,
    /// Run one input; the signature of the outcome.
    pub run: Box<dyn Fn(&[u8]) -> String + Send + Sync>,
}

/// Blank digit runs and cut to 64 characters, so that signatures name kinds of
/// outcomes, not values.
pub fn signature(s: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
        if out.len() >= 64 {
            break;
        }
    }
    out
}

fn err_sig(e: &Error) -> String {
    let msg = e.to_string();
    // Drop the path prefix the messages start with.
    let msg = msg.split_once(": ").map_or(msg.as_str(), |(_, m)| m);
    let kind = format!("{e:?}");
    let kind = kind.split([' ', '(', '{']).next().unwrap_or("");
    signature(&format!("{kind}:{msg}"))
}

fn bucket(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// Decoded audio on into the features, as an upload goes: longer than the web app's
/// default limit (600 s) is refused there, so it stops here too; the first 10 s are
/// resampled to 16 kHz and give a clip vector and frame features.
pub fn features_of(audio: &Audio) -> String {
    if audio.duration() > 600.0 {
        return "too-long".into();
    }
    let go = || -> speaker_similarity::Result<(usize, usize)> {
        let a = audio.crop(10.0)?.resample(16_000)?;
        let v = clip_vector(&a)?;
        let f = frame_features(&a)?;
        assert!(v.iter().all(|x| x.is_finite()), "clip vector not finite");
        assert!(f.iter().all(|x| x.is_finite()), "frame features not finite");
        Ok((v.len(), f.nrows()))
    };
    match go() {
        Ok((d, n)) => format!("feat:{d}:{}", bucket(n)),
        Err(e) => err_sig(&e),
    }
}

fn decode_sig(bytes: &[u8], name: &str) -> String {
    match Audio::from_bytes(bytes, name) {
        Ok(a) => format!(
            "ok:{}:{}:{}",
            bucket(a.sample_rate as usize),
            bucket(a.len()),
            features_of(&a)
        ),
        Err(e) => err_sig(&e),
    }
}

#[derive(Arbitrary, Debug)]
struct WavHeader {
    riff: u8,
    riff_len: Option<u32>,
    format_tag: u16,
    channels: u16,
    rate: u32,
    byte_rate: Option<u32>,
    block_align: Option<u16>,
    bits: u8,
    extensible: Option<(u16, u16, u32, [u8; 16])>,
    fmt_len_delta: i8,
    extra: Option<([u8; 4], u8)>,
    data_len: Option<u32>,
    data: Vec<u8>,
}

fn gen_wav(u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let h = WavHeader::arbitrary(u)?;
    let pick = |i: u8| [b"RIFF", b"RIFX", b"RF64", b"RIFF"][i as usize % 4];
    let tag = match h.format_tag % 8 {
        0 => 1,
        1 => 3,
        2 => 0xfffe,
        3 => 6,
        4 => 7,
        5 => 2,
        6 => 0x11,
        _ => h.format_tag,
    };
    let bits = [8u16, 16, 24, 32, 64, 4, 0, 12][h.bits as usize % 8];
    let channels = h.channels % 10;
    let rate = match h.rate % 6 {
        0 => 16000,
        1 => 44100,
        2 => 0,
        3 => 768_001,
        4 => 1,
        _ => h.rate,
    };
    let align = h
        .block_align
        .unwrap_or((channels as u32 * bits as u32 / 8) as u16);
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(
        &h.byte_rate
            .unwrap_or(rate.wrapping_mul(align as u32))
            .to_le_bytes(),
    );
    fmt.extend_from_slice(&align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if let Some((cb, valid, mask, guid)) = h.extensible {
        fmt.extend_from_slice(&(cb % 40).to_le_bytes());
        fmt.extend_from_slice(&valid.to_le_bytes());
        fmt.extend_from_slice(&mask.to_le_bytes());
        fmt.extend_from_slice(&guid);
    }
    let fmt_len = (fmt.len() as i64 + h.fmt_len_delta as i64 / 16).max(0) as u32;
    let mut body = b"WAVE".to_vec();
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&fmt_len.to_le_bytes());
    body.extend_from_slice(&fmt);
    if let Some((id, n)) = h.extra {
        body.extend_from_slice(&id);
        body.extend_from_slice(&(n as u32).to_le_bytes());
        body.extend(std::iter::repeat_n(0u8, n as usize));
    }
    body.extend_from_slice(b"data");
    body.extend_from_slice(&h.data_len.unwrap_or(h.data.len() as u32).to_le_bytes());
    body.extend_from_slice(&h.data);
    let mut v = pick(h.riff).to_vec();
    v.extend_from_slice(&h.riff_len.unwrap_or(body.len() as u32).to_le_bytes());
    v.extend_from_slice(&body);
    Ok(v)
}

#[derive(Arbitrary, Debug)]
struct FormPart {
    name: u8,
    file_name: Option<String>,
    content_type: Option<u8>,
    extra_header: Option<(String, String)>,
    body: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Form {
    boundary: u8,
    custom_boundary: String,
    quoted: bool,
    crlf: bool,
    preamble: Option<Vec<u8>>,
    parts: Vec<FormPart>,
    close: u8,
    epilogue: Option<Vec<u8>>,
}

fn gen_form(u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let f = Form::arbitrary(u)?;
    let boundary = match f.boundary % 4 {
        0 => "XyZ".to_string(),
        1 => "----WebKitFormBoundaryABC".to_string(),
        2 => "a".repeat(70),
        _ => f.custom_boundary.clone(),
    };
    let nl: &[u8] = if f.crlf { b"\r\n" } else { b"\n" };
    let mut v = if f.quoted {
        format!("multipart/form-data; boundary=\"{boundary}\"\n")
    } else {
        format!("multipart/form-data; boundary={boundary}\n")
    }
    .into_bytes();
    if let Some(p) = &f.preamble {
        v.extend_from_slice(p);
        v.extend_from_slice(nl);
    }
    for p in f.parts.iter().take(6) {
        v.extend_from_slice(format!("--{boundary}").as_bytes());
        v.extend_from_slice(nl);
        let name = ["audio", "file", "audio_data", "x", "", "audio\""][p.name as usize % 6];
        let mut d = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(file) = &p.file_name {
            d.push_str(&format!("; filename=\"{file}\""));
        }
        v.extend_from_slice(d.as_bytes());
        v.extend_from_slice(nl);
        if let Some(c) = p.content_type {
            let c = [
                "audio/wav",
                "application/octet-stream",
                "",
                "text/plain; charset=utf-8",
            ][c as usize % 4];
            v.extend_from_slice(format!("Content-Type: {c}").as_bytes());
            v.extend_from_slice(nl);
        }
        if let Some((k, val)) = &p.extra_header {
            v.extend_from_slice(format!("{k}: {val}").as_bytes());
            v.extend_from_slice(nl);
        }
        v.extend_from_slice(nl);
        v.extend_from_slice(&p.body);
        v.extend_from_slice(nl);
    }
    match f.close % 3 {
        0 => v.extend_from_slice(format!("--{boundary}--").as_bytes()),
        1 => v.extend_from_slice(format!("--{boundary}").as_bytes()),
        _ => {}
    }
    v.extend_from_slice(nl);
    if let Some(e) = &f.epilogue {
        v.extend_from_slice(e);
    }
    Ok(v)
}

/// The `features` target's input as audio: `[rate u32 LE][mode][payload]`; mode 0:
/// 16-bit samples, 1: raw `f32` samples (non-finite ones are refused by
/// `Audio::new`), 2: a pattern `[kind][length u32][amplitude f32]` expanded to up
/// to 10 s (silence, DC, tone, square, impulses, ramps).
pub fn features_audio(bytes: &[u8]) -> speaker_similarity::Result<Audio> {
    let rate = u32::from_le_bytes(
        bytes
            .get(..4)
            .unwrap_or(&[0x80u8, 0x3e, 0, 0][..])
            .try_into()
            .unwrap(),
    );
    let mode = bytes.get(4).copied().unwrap_or(0);
    let payload = bytes.get(5..).unwrap_or(&[]);
    let samples: Vec<f32> = match mode % 3 {
        0 => payload
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0)
            .collect(),
        1 => payload
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => {
            let kind = payload.first().copied().unwrap_or(0);
            let len = payload
                .get(1..5)
                .map_or(0, |c| u32::from_le_bytes(c.try_into().unwrap()));
            let amp = payload
                .get(5..9)
                .map_or(0.5, |c| f32::from_le_bytes(c.try_into().unwrap()));
            let cap = (rate.clamp(1, 768_000) as usize)
                .saturating_mul(10)
                .min(1 << 23);
            let n = (len as usize).min(cap);
            (0..n)
                .map(|i| {
                    let t = i as f32;
                    amp * match kind % 6 {
                        0 => (t * 0.0627).sin(),
                        1 => 1.0,
                        2 => 0.0,
                        3 => {
                            if (i / 50) % 2 == 0 {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                        4 => {
                            if i % 997 == 0 {
                                1.0
                            } else {
                                0.0
                            }
                        }
                        _ => (i % 256) as f32 / 128.0 - 1.0,
                    }
                })
                .collect()
        }
    };
    Audio::new(samples, rate)
}

thread_local! {
    static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
}

/// A private scratch folder of this thread (removed at exit).
fn scratch() -> PathBuf {
    SCRATCH.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| tempfile::tempdir().expect("scratch dir"))
            .path()
            .to_path_buf()
    })
}

/// Every model kind the `model-file` target loads, by the input's first byte.
pub const KINDS: [&str; 7] = [
    "DiagGmm",
    "GmmClassifier",
    "Ubm",
    "GmmUbmClassifier",
    "Mlp",
    "StandardScaler",
    "Baseline",
];

fn model_file(bytes: &[u8]) -> String {
    let Some((&k, rest)) = bytes.split_first() else {
        return "empty".into();
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return "not-utf8".into();
    };
    let p = Path::new("fuzz.json");
    let kind = KINDS[k as usize % KINDS.len()];
    let r = match k as usize % KINDS.len() {
        0 => from_json::<DiagGmm>(text, p).map(|_| ()),
        1 => from_json::<GmmClassifier>(text, p).map(|_| ()),
        2 => from_json::<Ubm>(text, p).map(|_| ()),
        3 => from_json::<GmmUbmClassifier>(text, p).map(|_| ()),
        4 => from_json::<Mlp>(text, p).map(|_| ()),
        5 => from_json::<StandardScaler>(text, p).map(|_| ()),
        _ => from_json::<Baseline>(text, p).map(|_| ()),
    };
    match r {
        Ok(()) => format!("{kind}:ok"),
        Err(e) => format!("{kind}:{}", err_sig(&e)),
    }
}

fn model_dir(bytes: &[u8], clip: &Audio) -> String {
    let dir = scratch().join("model");
    let file = dir.join(MODELS_FILE);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch model dir");
    if bytes.starts_with(b"\0DIR") {
        std::fs::create_dir_all(&file).expect("scratch");
    } else if !bytes.starts_with(b"\0NONE") {
        std::fs::write(&file, bytes).expect("scratch model file");
    }
    match SpeakerModels::load(&dir) {
        Err(e) => err_sig(&e),
        Ok(m) => {
            let names: Vec<&str> = m.speakers.iter().map(|s| m.display_name(s)).collect();
            let kinds = m.kinds().len();
            match m.predict_recording(clip, 1.0, 3) {
                Ok(p) => format!(
                    "ok:{kinds}:{}:{}:{}",
                    names.len(),
                    p.segments.len(),
                    p.overall.guesses.len()
                ),
                Err(e) => format!("loaded:{kinds}:{}", err_sig(&e)),
            }
        }
    }
}

fn upload(bytes: &[u8]) -> String {
    let split = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let (ct, body) = (&bytes[..split], bytes.get(split + 1..).unwrap_or(&[]));
    let Ok(ct) = HeaderValue::from_bytes(ct) else {
        return "bad-header".into();
    };
    let (parts, ()) = Request::builder()
        .method("POST")
        .uri("/api/predict")
        .header(CONTENT_TYPE, ct)
        .body(())
        .expect("request with a valid header")
        .into_parts();
    let body = Bytes::copy_from_slice(body);
    let r = RUNTIME.with(|rt| rt.block_on(multipart::file_field(parts, body, 1 << 20)));
    match r {
        Ok(f) => format!("file:{}:{}", f.file_name.is_some(), bucket(f.bytes.len())),
        Err(multipart::FormError::Malformed(m)) => signature(&format!("malformed:{m}")),
        Err(e) => format!("{e:?}"),
    }
}

fn path_load(bytes: &[u8]) -> String {
    let Some((&k, rest)) = bytes.split_first() else {
        return "empty".into();
    };
    let ext = ["wav", "flac", "mp3", "ogg", "bin"][k as usize % 5];
    let path = scratch().join(format!("in.{ext}"));
    std::fs::write(&path, rest).expect("scratch file");
    let info = speaker_similarity::audio::info(&path);
    let load = Audio::load(&path);
    let s = |r: &std::result::Result<String, Error>| match r {
        Ok(s) => s.clone(),
        Err(e) => err_sig(e),
    };
    format!(
        "{}|{}",
        s(&info.map(|i| format!("info:{}:{}", i.channels.min(9), bucket(i.frames as usize)))),
        s(&load.map(|a| format!("load:{}", bucket(a.len()))))
    )
}

fn d(tokens: &[&'static [u8]]) -> Vec<&'static [u8]> {
    tokens.to_vec()
}

/// Every target, with its seeds (the model seeds are trained here: about a second).
pub fn all() -> Vec<Target> {
    let models = crate::seeds::models();
    let clip = models.clip.clone();
    let wav_dict = d(&[
        b"RIFF", b"WAVE", b"fmt ", b"data", b"LIST", b"fact", b"RF64", b"ds64",
    ]);
    let mut mixed = Vec::new();
    for (i, set) in [
        crate::seeds::wavs(),
        crate::seeds::flacs(),
        crate::seeds::mp3s(),
        crate::seeds::oggs(),
    ]
    .into_iter()
    .enumerate()
    {
        for s in set {
            let mut v = vec![i as u8];
            v.extend(s);
            mixed.push(v);
        }
    }
    vec![
        Target {
            name: "wav",
            about: "Audio::from_bytes on WAV (hound; symphonia for what hound does not read), then features",
            seeds: crate::seeds::wavs(),
            dict: wav_dict.clone(),
            shape: Shape::Bytes,
            max_len: 64 << 10,
            generate: Some(gen_wav),
            run: Box::new(|b| decode_sig(b, "fuzz.wav")),
        },
        Target {
            name: "flac",
            about: "Audio::from_bytes on FLAC (symphonia), then features",
            seeds: crate::seeds::flacs(),
            dict: d(&[b"fLaC", &[0xff, 0xf8], &[0xff, 0xf9], &[0x84, 0, 0, 0x28]]),
            shape: Shape::Bytes,
            max_len: 64 << 10,
            generate: None,
            run: Box::new(|b| decode_sig(b, "fuzz.flac")),
        },
        Target {
            name: "mp3",
            about: "Audio::from_bytes on MP3 (symphonia), then features",
            seeds: crate::seeds::mp3s(),
            dict: d(&[b"ID3", &[0xff, 0xfb], &[0xff, 0xf3], b"Xing", b"Info", b"LAME"]),
            shape: Shape::Bytes,
            max_len: 64 << 10,
            generate: None,
            run: Box::new(|b| decode_sig(b, "fuzz.mp3")),
        },
        Target {
            name: "ogg",
            about: "Audio::from_bytes on OGG/Vorbis (symphonia; page CRCs repaired after mutation), then features",
            seeds: crate::seeds::oggs(),
            dict: d(&[b"OggS", b"\x01vorbis", b"\x03vorbis", b"\x05vorbis"]),
            shape: Shape::Ogg,
            max_len: 64 << 10,
            generate: None,
            run: Box::new(|b| decode_sig(b, "fuzz.ogg")),
        },
        Target {
            name: "path",
            about: "audio::info and Audio::load on a file (first byte picks the extension)",
            seeds: mixed,
            dict: wav_dict,
            shape: Shape::Bytes,
            max_len: 64 << 10,
            generate: None,
            run: Box::new(path_load),
        },
        Target {
            name: "features",
            about: "clip_vector and frame_features on audio built from the input (rate, samples)",
            seeds: crate::seeds::features(),
            dict: Vec::new(),
            shape: Shape::Bytes,
            max_len: 64 << 10,
            generate: None,
            run: Box::new(|b| match features_audio(b) {
                Ok(a) => features_of(&a),
                Err(e) => err_sig(&e),
            }),
        },
        Target {
            name: "model-file",
            about: "persist::from_json for every model kind (first byte picks it)",
            seeds: models.files,
            dict: d(&[b"null", b"1e999", b"-1", b"[]", b"{}", b"\"", b"NaN"]),
            shape: Shape::Json { prefix: 1 },
            max_len: 4 << 20,
            generate: None,
            run: Box::new(model_file),
        },
        Target {
            name: "model-dir",
            about: "SpeakerModels::load of a model directory, then predict_recording with what loaded",
            seeds: vec![models.models_json, b"\0DIR".to_vec(), b"\0NONE".to_vec()],
            dict: vec![b"null", b"1e999", b"-1", b"[]", b"{}"],
            shape: Shape::Json { prefix: 0 },
            max_len: 4 << 20,
            generate: None,
            run: Box::new(move |b| model_dir(b, &clip)),
        },
        Target {
            name: "upload",
            about: "the web app's multipart parsing (app/src/web/multipart.rs: file_field)",
            seeds: crate::seeds::uploads(),
            dict: d(&[b"--", b"\r\n", b"\r\n\r\n", b"Content-Disposition: form-data; ", b"filename=", b"name=\"audio\"", b"boundary="]),
            shape: Shape::Bytes,
            max_len: 64 << 10,
            generate: Some(gen_form),
            run: Box::new(upload),
        },
    ]
}
