//! The seed corpus, made at start-up: small valid WAV files of every encoding hound
//! reads (written here), the repository's tiny FLAC/MP3/OGG test tones (made by
//! `scripts/fixtures_audio.py`), multipart forms, and a real model directory trained
//! on a tiny synthetic corpus (so the JSON always matches the current format).

use std::collections::BTreeMap;
use std::io::Cursor;

use speaker_similarity::models::{
    Baseline, BaselineKind, DiagGmm, GmmClassifier, GmmParams, GmmUbmClassifier, Mlp, MlpParams,
    StandardScaler, Ubm,
};
use speaker_similarity::persist::{to_json, Persist};
use speaker_similarity::pipeline::{
    clip_matrix, extract_dataset, ModelKind, PipelineParams, SpeakerModels,
};
use speaker_similarity::synth::{SynthCorpus, SynthParams};
use speaker_similarity::Audio;

/// A short tone with a little noise, in [-0.8, 0.8].
fn tone(n: usize, rate: u32) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            0.6 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                + 0.2 * (2.0 * std::f64::consts::PI * 1375.0 * t).sin()
        })
        .collect()
}

fn wav(channels: u16, rate: u32, bits: u16, float: bool, frames: usize) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut c = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut c, spec).expect("valid spec");
        for x in tone(frames, rate) {
            for ch in 0..channels {
                let x = x * if ch % 2 == 0 { 1.0 } else { -0.5 };
                if float {
                    w.write_sample(x as f32).expect("in memory");
                } else {
                    let scale = (1i64 << (bits - 1)) as f64;
                    let v = (x * scale).round().clamp(-scale, scale - 1.0) as i32;
                    w.write_sample(v).expect("in memory");
                }
            }
        }
        w.finalize().expect("in memory");
    }
    c.into_inner()
}

/// WAV seeds: 8/16/24/32-bit integer and 32-bit float, mono, stereo and 3 channels
/// (WAVE_FORMAT_EXTENSIBLE), at several rates.
pub fn wavs() -> Vec<Vec<u8>> {
    vec![
        wav(1, 8000, 8, false, 400),
        wav(1, 16000, 16, false, 800),
        wav(2, 22050, 16, false, 600),
        wav(1, 44100, 24, false, 500),
        wav(2, 48000, 24, false, 300),
        wav(1, 16000, 32, false, 700),
        wav(1, 16000, 32, true, 700),
        wav(2, 11025, 32, true, 300),
        wav(3, 16000, 16, false, 300),
    ]
}

/// The repository's small encoded test tones.
pub fn flacs() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../../crate/tests/fixtures/audio/tone_16k_mono.flac").to_vec(),
        include_bytes!("../../crate/tests/fixtures/audio/tone_44k_stereo24.flac").to_vec(),
    ]
}

/// MP3 seed.
pub fn mp3s() -> Vec<Vec<u8>> {
    vec![include_bytes!("../../crate/tests/fixtures/audio/tone_16k_mono.mp3").to_vec()]
}

/// OGG/Vorbis seed.
pub fn oggs() -> Vec<Vec<u8>> {
    vec![include_bytes!("../../crate/tests/fixtures/audio/tone_16k_mono.ogg").to_vec()]
}

/// Input of the `features` target: `[rate u32 LE][mode u8][payload]` (see
/// `targets::features_audio`).
pub fn features() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (rate, mode) in [
        (16000u32, 0u8),
        (8000, 0),
        (44100, 1),
        (22050, 2),
        (1, 2),
        (768_000, 2),
    ] {
        let mut v = rate.to_le_bytes().to_vec();
        v.push(mode);
        match mode {
            0 => {
                for x in tone(rate as usize / 10, rate) {
                    v.extend_from_slice(&((x * 32767.0) as i16).to_le_bytes());
                }
            }
            1 => {
                for x in tone(rate as usize / 20, rate) {
                    v.extend_from_slice(&(x as f32).to_le_bytes());
                }
            }
            _ => {
                // pattern 0 (tone), length, amplitude
                v.push(0);
                v.extend_from_slice(&(rate / 2).max(1).to_le_bytes());
                v.extend_from_slice(&0.5f32.to_le_bytes());
            }
        }
        out.push(v);
    }
    out
}

fn form(boundary: &str, parts: &[(&str, Option<&str>, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut v = format!("multipart/form-data; boundary={boundary}\n").into_bytes();
    for (name, file, ctype, body) in parts {
        v.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut d = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = file {
            d.push_str(&format!("; filename=\"{f}\""));
        }
        v.extend_from_slice(d.as_bytes());
        v.extend_from_slice(b"\r\n");
        if let Some(c) = ctype {
            v.extend_from_slice(format!("Content-Type: {c}\r\n").as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v.extend_from_slice(body);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    v
}

/// Input of the `upload` target: the `Content-Type` header, a newline, the body.
pub fn uploads() -> Vec<Vec<u8>> {
    let w = wav(1, 8000, 16, false, 80);
    vec![
        form(
            "XyZ123",
            &[("audio", Some("clip.wav"), Some("audio/wav"), &w)],
        ),
        form(
            "----WebKitFormBoundary7MA4YWxkTrZu0gW",
            &[
                ("title", None, None, b"my voice"),
                ("audio", Some("r\u{e9}c \"1\".wav"), Some("audio/wav"), &w),
            ],
        ),
        form("b", &[("file", None, None, b"RIFF")]),
        form("b0", &[("other", Some("C:\\x\\y.mp3"), None, b"ID3")]),
        form("q", &[("note", None, Some("text/plain"), b"no file here")]),
        b"multipart/form-data; boundary=\"quoted b\"\n--quoted b\r\nContent-Disposition: form-data; name=audio_data\r\n\r\nabc\r\n--quoted b--\r\n".to_vec(),
    ]
}

/// A model directory's `models.json`, the envelopes of its parts for the
/// `model-file` target (first byte: the kind's index in `targets::KINDS`), and a
/// clip to predict on.
pub struct ModelSeeds {
    /// `models.json` of a real trained model directory.
    pub models_json: Vec<u8>,
    /// `[kind index] ++ envelope JSON` for each model kind.
    pub files: Vec<Vec<u8>>,
    /// A clip of one of the speakers.
    pub clip: Audio,
}

/// Train every main model (and two baselines) on 3 synthetic speakers x 6 clips,
/// with tiny sizes so it takes a second, and save the directory.
#[allow(clippy::field_reassign_with_default)] // each tiny size on its own line
pub fn models() -> ModelSeeds {
    let data = SynthCorpus::generate(&SynthParams {
        speakers: 3,
        clips_per_speaker: 6,
        clip_seconds: (1.0, 1.5),
        ..SynthParams::default()
    })
    .expect("synthetic corpus");
    let mut p = PipelineParams::default();
    p.models = vec![
        ModelKind::Mlp,
        ModelKind::GmmClip,
        ModelKind::GmmFrame,
        ModelKind::GmmUbm,
        ModelKind::Knn,
        ModelKind::Logistic,
    ];
    p.settings.mlp.hidden = vec![8];
    p.settings.mlp.epochs = 5;
    p.settings.gmm_clip.n_components = 2;
    p.settings.gmm_clip.n_init = 1;
    p.settings.gmm_frame.n_components = 2;
    p.settings.gmm_frame.max_iter = 5;
    p.settings.gmm_ubm.ubm.n_components = 4;
    p.settings.gmm_ubm.ubm.max_iter = 5;
    p.settings.gmm_ubm.max_frames = 2000;
    let all: Vec<usize> = (0..data.len()).collect();
    let (feats, failed) = extract_dataset(&data, &all, &p, &|_| {}).expect("seed features");
    assert!(failed.is_empty(), "seed features: {failed:?}");
    let speakers = data.speakers();
    let labels: Vec<usize> = feats
        .iter()
        .map(|(i, _)| {
            speakers
                .binary_search(&data.clips[*i].speaker)
                .expect("known speaker")
        })
        .collect();
    let feats: Vec<_> = feats.into_iter().map(|(_, f)| f).collect();
    let m = SpeakerModels::train(
        &feats,
        &labels,
        speakers.clone(),
        BTreeMap::new(),
        &p,
        &|_| {},
    )
    .expect("seed models train");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("m");
    m.save(&out).expect("seed model directory");
    let models_json =
        std::fs::read(out.join(speaker_similarity::pipeline::MODELS_FILE)).expect("models.json");

    fn env<T: Persist>(kind: u8, m: &T) -> Vec<u8> {
        let mut v = vec![kind];
        v.extend_from_slice(to_json(m).expect("serialise").as_bytes());
        v
    }
    // The single model files, fitted directly on the same features.
    let small = |n_components| GmmParams {
        n_components,
        max_iter: 5,
        ..GmmParams::default()
    };
    let x = clip_matrix(&feats).expect("clip vectors");
    let scaler = StandardScaler::fit(x.view()).expect("scaler");
    let xs = scaler.transform(x.view()).expect("scaled");
    let g = DiagGmm::fit(x.view(), &small(2)).expect("gmm");
    let per_class: Vec<ndarray::Array2<f32>> = (0..speakers.len())
        .map(|c| {
            let rows: Vec<ndarray::ArrayView2<f32>> = feats
                .iter()
                .zip(&labels)
                .filter(|(_, &l)| l == c)
                .map(|(f, _)| f.frames.view())
                .collect();
            ndarray::concatenate(ndarray::Axis(0), &rows).expect("frames")
        })
        .collect();
    let views: Vec<ndarray::ArrayView2<f32>> = per_class.iter().map(|a| a.view()).collect();
    let clf = GmmClassifier::fit_rows(x.view(), &labels, &speakers, &small(2)).expect("gmm-clip");
    let ubm = Ubm::fit(views[0], &small(4)).expect("ubm");
    let gu = GmmUbmClassifier::fit(ubm.clone(), &views, &speakers, 16.0).expect("gmm-ubm");
    let mlp_params = MlpParams {
        hidden: vec![8],
        epochs: 5,
        ..MlpParams::default()
    };
    let (mlp, _) = Mlp::fit(
        xs.view(),
        &labels,
        speakers.len(),
        None,
        &mlp_params,
        &|_| {},
    )
    .expect("mlp");
    let knn = Baseline::fit(BaselineKind::Knn, xs.view(), &labels).expect("knn");
    let files = vec![
        env(0, &g),
        env(5, &scaler),
        env(1, &clf),
        env(2, &ubm),
        env(3, &gu),
        env(4, &mlp),
        env(6, &knn),
    ];
    let clip = data.clips[0]
        .audio
        .as_ref()
        .expect("synthetic clips are in memory")
        .as_ref()
        .clone();
    ModelSeeds {
        models_json,
        files,
        clip,
    }
}
