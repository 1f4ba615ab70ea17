//! Audio in: decode WAV, FLAC, MP3 and OGG/Vorbis to mono `f32`, resample, crop and
//! cut into segments.
//!
//! WAV goes through [hound] (8-bit unsigned, 16/24/32-bit integer, 32-bit float,
//! 1–8 channels and more); every other container, and WAV encodings hound does not
//! read (A-law, µ-law, ADPCM, 64-bit float), go through [symphonia]. Samples are
//! scaled as librosa/soundfile do (integer PCM divided by 2^(bits-1), unsigned 8-bit
//! centred first) and channels are averaged to mono, as `librosa.load(mono=True)`.
//!
//! The format is recognised from the bytes, never from the file name alone, and every
//! bad input is an [`Error`] that names the file and the problem.
//!
//! ```
//! use speaker_similarity::audio::Audio;
//! # fn main() -> speaker_similarity::Result<()> {
//! // One second of a 440 Hz tone at 22.05 kHz, resampled to 16 kHz.
//! let tone: Vec<f32> = (0..22050)
//!     .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 22050.0).sin() * 0.5)
//!     .collect();
//! let audio = Audio::new(tone, 22050)?;
//! let resampled = audio.resample(16000)?;
//! assert_eq!(resampled.samples.len(), 16000);
//! // WAV bytes round-trip through the decoder.
//! let back = Audio::from_bytes(&resampled.to_wav_bytes(), "tone.wav")?;
//! assert_eq!(back.sample_rate, 16000);
//! assert_eq!(back.segments(0.25)?.len(), 4);
//! # Ok(())
//! # }
//! ```

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod untrusted;

/// The highest sample rate accepted (768 kHz): anything above is a damaged header.
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// Mono audio: samples in [-1, 1] (nominally) at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// The samples, mono.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

/// A piece of a longer recording, as cut by [`Audio::segments`].
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Where the segment starts in the recording, in seconds.
    pub start: f64,
    /// The segment's audio.
    pub audio: Audio,
}

/// What a file's header says, without decoding all of it where the format allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioInfo {
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels in the file (before mixdown).
    pub channels: u16,
    /// Samples per channel.
    pub frames: u64,
}

impl AudioInfo {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64
    }
}

impl Audio {
    /// Wrap samples, checking that the rate is usable and every sample is finite.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Result<Self> {
        check_rate(sample_rate)?;
        check_finite(&samples, "audio buffer")?;
        Ok(Audio {
            samples,
            sample_rate,
        })
    }

    /// Decode an audio file (WAV, FLAC, MP3, OGG/Vorbis) to mono.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        decode(&bytes, path)
    }

    /// Decode audio held in memory (an upload, say). `name` is used in error messages
    /// and as a hint for the container; the bytes decide the format.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        decode(bytes, Path::new(name))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }

    /// Resample to `rate` Hz with rubato's synchronous FFT resampler (band-limited,
    /// Blackman-Harris anti-aliasing window), trimmed to `ceil(len * rate / sr)`
    /// samples as `librosa.resample` returns. The same rate returns a copy.
    pub fn resample(&self, rate: u32) -> Result<Audio> {
        check_rate(rate)?;
        if rate == self.sample_rate {
            return Ok(self.clone());
        }
        let samples = resample_mono(&self.samples, self.sample_rate, rate)?;
        Ok(Audio {
            samples,
            sample_rate: rate,
        })
    }

    /// The first `seconds` of the audio (all of it when shorter), as
    /// `librosa.load(duration=seconds)` reads.
    pub fn crop(&self, seconds: f64) -> Result<Audio> {
        check_seconds("seconds", seconds)?;
        let n = ((seconds * self.sample_rate as f64).round() as usize).min(self.samples.len());
        Ok(Audio {
            samples: self.samples[..n].to_vec(),
            sample_rate: self.sample_rate,
        })
    }

    /// Cut into consecutive segments of `seconds` each, as the original web app cut
    /// recordings into 2 s parts. A final remainder is kept when it is at least half a
    /// segment long, so no speech at the end is lost and no scrap is scored alone; a
    /// recording shorter than one segment gives one segment holding all of it.
    pub fn segments(&self, seconds: f64) -> Result<Vec<Segment>> {
        check_seconds("seconds", seconds)?;
        let seg = (seconds * self.sample_rate as f64).round() as usize;
        if seg == 0 {
            return Err(Error::param(
                "seconds",
                format!(
                    "{seconds} s is less than one sample at {} Hz",
                    self.sample_rate
                ),
            ));
        }
        let mut out = Vec::new();
        let mut start = 0;
        while start < self.samples.len() {
            let end = (start + seg).min(self.samples.len());
            let keep = end - start == seg || end - start >= seg.div_ceil(2) || out.is_empty();
            if keep {
                out.push(Segment {
                    start: start as f64 / self.sample_rate as f64,
                    audio: Audio {
                        samples: self.samples[start..end].to_vec(),
                        sample_rate: self.sample_rate,
                    },
                });
            }
            start = end;
        }
        Ok(out)
    }

    /// Encode as a 16-bit PCM mono WAV file in memory (samples scaled by 32768, the
    /// inverse of decoding, and clipped to the 16-bit range).
    pub fn to_wav_bytes(&self) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: self.sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = Cursor::new(Vec::with_capacity(44 + 2 * self.samples.len()));
        {
            // Writing to memory with a valid spec cannot fail; the only errors hound
            // reports here are I/O errors of the sink, and a Vec sink has none.
            let mut writer = hound::WavWriter::new(&mut cursor, spec).expect("in-memory WAV");
            for &s in &self.samples {
                // The inverse of the decoder's x / 32768, clipped to the i16 range.
                let v = (s as f64 * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                writer.write_sample(v).expect("in-memory WAV");
            }
            writer.finalize().expect("in-memory WAV");
        }
        cursor.into_inner()
    }

    /// Write a 16-bit PCM WAV file. The file appears complete or not at all: it is
    /// written beside the target and renamed into place.
    pub fn write_wav(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_wav_bytes())
    }
}

/// Decode an audio file to mono (see [`Audio::load`]).
pub fn load(path: impl AsRef<Path>) -> Result<Audio> {
    Audio::load(path)
}

/// Decode an audio file and resample it to `rate` Hz when it is at another rate, as
/// `librosa.load(path, sr=rate)`.
pub fn load_at(path: impl AsRef<Path>, rate: u32) -> Result<Audio> {
    Audio::load(path)?.resample(rate)
}

/// Read a file's sample rate, channel count and length. WAV files are read from the
/// header alone; other formats are decoded.
pub fn info(path: impl AsRef<Path>) -> Result<AudioInfo> {
    let path = path.as_ref();
    if let Ok(reader) = hound::WavReader::open(path) {
        let spec = reader.spec();
        if spec.sample_rate > 0 && spec.channels > 0 {
            return Ok(AudioInfo {
                sample_rate: spec.sample_rate,
                channels: spec.channels,
                frames: reader.duration() as u64,
            });
        }
    }
    let bytes = read_file(path)?;
    let (audio, channels) = decode_any(&bytes, path)?;
    Ok(AudioInfo {
        sample_rate: audio.sample_rate,
        channels,
        frames: audio.samples.len() as u64,
    })
}

/// Write `bytes` to `path` through a temporary file in the same directory and a
/// rename, so a crash or error never leaves a half-written file behind.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// [`write_atomic`] with the content written by `write` into a buffered writer
/// (a large file need not be held in memory first).
pub(crate) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::param("path", format!("{} has no file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut f)?;
        f.flush()?;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::NotAudio {
            path: path.to_path_buf(),
            reason: "it is a directory".into(),
        });
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn check_rate(rate: u32) -> Result<()> {
    if rate == 0 || rate > MAX_SAMPLE_RATE {
        return Err(Error::param(
            "sample_rate",
            format!("{rate} Hz is outside 1 Hz to {MAX_SAMPLE_RATE} Hz"),
        ));
    }
    Ok(())
}

fn check_seconds(name: &'static str, seconds: f64) -> Result<()> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(Error::param(
            name,
            format!("{seconds} is not a positive number of seconds"),
        ));
    }
    Ok(())
}

/// Error unless every sample is finite.
pub(crate) fn check_finite(samples: &[f32], what: &str) -> Result<()> {
    match samples.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what: what.to_string(),
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}

fn decode(bytes: &[u8], path: &Path) -> Result<Audio> {
    decode_any(bytes, path).map(|(audio, _)| audio)
}

/// Decode to mono; also returns the file's channel count.
fn decode_any(bytes: &[u8], path: &Path) -> Result<(Audio, u16)> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let riff = bytes.len() >= 4 && matches!(&bytes[..4], b"RIFF" | b"RIFX" | b"RF64");
    let decoded = if riff {
        match decode_wav(bytes, path) {
            // Encodings hound does not read (A-law, µ-law, ADPCM, 64-bit float, odd
            // bit depths): let symphonia try before giving up.
            Err(WavError::Unsupported(why)) => {
                decode_symphonia(bytes, path).map_err(|e| match e {
                    Error::NotAudio { .. } | Error::Unsupported { .. } => Error::Unsupported {
                        path: path.to_path_buf(),
                        reason: why,
                    },
                    other => other,
                })?
            }
            Err(WavError::Other(e)) => return Err(e),
            Ok(d) => d,
        }
    } else {
        decode_symphonia(bytes, path)?
    };
    let (samples, rate, channels) = decoded;
    check_rate(rate).map_err(|_| Error::Decode {
        path: path.to_path_buf(),
        reason: format!("sample rate {rate} Hz in the header is not usable"),
    })?;
    if samples.is_empty() {
        return Err(Error::NoSamples {
            path: path.to_path_buf(),
        });
    }
    check_finite(&samples, &path.display().to_string())?;
    Ok((
        Audio {
            samples,
            sample_rate: rate,
        },
        channels,
    ))
}

enum WavError {
    Unsupported(String),
    Other(Error),
}

type Decoded = (Vec<f32>, u32, u16);

fn decode_wav(bytes: &[u8], path: &Path) -> std::result::Result<Decoded, WavError> {
    let damaged = |reason: String| {
        WavError::Other(Error::Decode {
            path: path.to_path_buf(),
            reason,
        })
    };
    let reader = match hound::WavReader::new(Cursor::new(bytes)) {
        Ok(r) => r,
        Err(hound::Error::Unsupported) => {
            return Err(WavError::Unsupported(
                "WAV encoding not read by hound".into(),
            ))
        }
        // Reading from memory, the only I/O error is running out of bytes.
        Err(hound::Error::IoError(_)) => return Err(damaged("truncated WAV header".into())),
        Err(hound::Error::FormatError(msg)) if bytes.get(8..12).is_none_or(|w| w != b"WAVE") => {
            return Err(WavError::Other(Error::NotAudio {
                path: path.to_path_buf(),
                reason: format!("RIFF file that is not WAVE ({msg})"),
            }))
        }
        Err(e) => return Err(damaged(format!("bad WAV header: {e}"))),
    };
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(damaged("WAV header says 0 channels".into()));
    }
    let channels = spec.channels as usize;
    let declared = reader.len() as usize;
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            collect_samples(reader.into_samples::<f32>(), bytes.len(), |x| x)
        }
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            collect_samples(reader.into_samples::<i32>(), bytes.len(), move |x| {
                (x as f64 * scale) as f32
            })
        }
        (fmt, bits) => {
            return Err(WavError::Unsupported(format!(
                "{bits}-bit {} samples",
                match fmt {
                    hound::SampleFormat::Float => "float",
                    hound::SampleFormat::Int => "integer",
                }
            )))
        }
    }
    .map_err(|(read, e)| match e {
        // Reading from memory, the only I/O error is running out of bytes.
        hound::Error::IoError(_) => damaged(format!(
            "truncated data: the header announces {declared} samples, the file holds {read}"
        )),
        other => damaged(format!("bad WAV data after {read} samples: {other}")),
    })?;
    Ok((
        mixdown(&interleaved, channels),
        spec.sample_rate,
        spec.channels,
    ))
}

/// `size_hint` is the count the header declares: reserve no more than the file's
/// `len` bytes can hold (a header may claim 4 GB of samples in a 100-byte file).
fn collect_samples<S, I>(
    samples: I,
    len: usize,
    convert: impl Fn(S) -> f32,
) -> std::result::Result<Vec<f32>, (usize, hound::Error)>
where
    I: Iterator<Item = hound::Result<S>>,
{
    let mut out = Vec::with_capacity(samples.size_hint().0.min(len));
    for s in samples {
        match s {
            Ok(v) => out.push(convert(v)),
            Err(e) => return Err((out.len(), e)),
        }
    }
    Ok(out)
}

/// Average interleaved channels to mono. A trailing incomplete frame is dropped.
fn mixdown(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let inv = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * inv)
        .collect()
}

fn decode_symphonia(bytes: &[u8], path: &Path) -> Result<Decoded> {
    // symphonia is a large decoder fed with untrusted bytes; a bug in it must surface
    // as a typed error, not bring the caller down.
    let owned = bytes.to_vec();
    let p = path.to_path_buf();
    std::panic::catch_unwind(move || decode_symphonia_inner(owned, &p)).unwrap_or_else(|_| {
        Err(Error::Decode {
            path: path.to_path_buf(),
            reason: "the decoder failed on malformed data".into(),
        })
    })
}

fn decode_symphonia_inner(bytes: Vec<u8>, path: &Path) -> Result<Decoded> {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    let not_audio = |reason: String| Error::NotAudio {
        path: path.to_path_buf(),
        reason,
    };
    let damaged = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };

    // The container symphonia's probe would find, its header lengths checked, and
    // the bytes from it on handed to symphonia (see `untrusted`).
    let Some((start, container)) = untrusted::find_container(&bytes) else {
        return Err(not_audio("no known audio container".into()));
    };
    let mut bytes = bytes;
    bytes.drain(..start);
    untrusted::check(&bytes, container, path)?;
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(&ext.to_ascii_lowercase());
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => not_audio("no known audio container".into()),
            SymError::IoError(_) => not_audio("no known audio container".into()),
            other => damaged(format!("{other}")),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| not_audio("the container holds no audio track".into()))?;
    let track_id = track.id;
    let mut rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut channels = track
        .codec_params
        .channels
        .map(|c| c.count() as u16)
        .unwrap_or(0);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| Error::Unsupported {
            path: path.to_path_buf(),
            reason: format!("{e}"),
        })?;

    let mut samples: Vec<f32> = Vec::new();
    let mut buf: Option<SampleBuffer<f32>> = None;
    let mut bad_packets = 0usize;
    let mut good_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            // End of stream, or a truncated file: keep what was decoded.
            Err(SymError::IoError(_)) => break,
            Err(SymError::ResetRequired) => break,
            Err(SymError::DecodeError(_)) => {
                bad_packets += 1;
                if bad_packets > 64 {
                    break;
                }
                continue;
            }
            Err(e) => return Err(damaged(format!("{e}"))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                good_packets += 1;
                let spec = *decoded.spec();
                rate = spec.rate;
                let ch = spec.channels.count();
                channels = ch as u16;
                if ch == 0 {
                    continue;
                }
                let needed = decoded.capacity();
                if buf.as_ref().is_none_or(|b| b.capacity() < needed * ch) {
                    buf = Some(SampleBuffer::new(needed as u64, spec));
                }
                if let Some(b) = buf.as_mut() {
                    b.copy_interleaved_ref(decoded);
                    samples.extend(mixdown(b.samples(), ch));
                }
            }
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                bad_packets += 1;
                if bad_packets > 64 && good_packets == 0 {
                    return Err(damaged("no packet of the stream decodes".into()));
                }
            }
            Err(e) => return Err(damaged(format!("{e}"))),
        }
    }
    if samples.is_empty() && bad_packets > 0 {
        return Err(damaged("no packet of the stream decodes".into()));
    }
    Ok((samples, rate, channels))
}

fn resample_failed(from: u32, to: u32, e: impl std::fmt::Display) -> Error {
    Error::Resample {
        from,
        to,
        reason: e.to_string(),
    }
}

fn resample_mono(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    use audioadapter_buffers::direct::SequentialSliceOfVecs;
    use rubato::{Fft, FixedSync, Resampler, WindowFunction};

    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let input = vec![samples.iter().map(|&s| s as f64).collect::<Vec<f64>>()];
    let adapter = SequentialSliceOfVecs::new(&input, 1, samples.len())
        .map_err(|e| resample_failed(from, to, e))?;
    // rubato trims a delay of half an FFT block; with an odd block size that is half a
    // sample off and shifts the output by a fraction of a sample (0.18 samples for
    // 44.1 -> 16 kHz). An even number of minimal blocks keeps both sizes even.
    let (from_us, to_us) = (from as usize, to as usize);
    let min_in = from_us / gcd(from_us, to_us);
    let min_out = to_us / gcd(from_us, to_us);
    // Bound the output block too: from a tiny rate (a header claiming 1 Hz) 1024
    // input frames would be 16 million output frames of FFT buffers (1.5 GB).
    let blocks = 1024usize
        .div_ceil(min_in)
        .min((1usize << 17) / min_out)
        .max(2)
        .next_multiple_of(2);
    let mut resampler = Fft::<f64>::new_custom(
        from_us,
        to_us,
        blocks * min_in,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Both,
    )
    .map_err(|e| resample_failed(from, to, e))?;
    let out = resampler
        .process_all(&adapter, samples.len(), None)
        .map_err(|e| resample_failed(from, to, e))?;
    let expected = (samples.len() as u64 * to as u64).div_ceil(from as u64) as usize;
    let mut result: Vec<f32> = out.take_data().into_iter().map(|s| s as f32).collect();
    result.resize(expected, 0.0);
    Ok(result)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
