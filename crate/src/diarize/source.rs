//! Where diarization reads audio from: a recording in memory, or a WAV file read
//! chunk by chunk (so a 2 h file never sits in memory whole).
//!
//! Every source serves mono 16 kHz samples by position; other rates are resampled
//! chunk by chunk, with a margin on both sides that is cut off again.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::audio::Audio;
use crate::error::{Error, Result};
use crate::vad::VAD_RATE;

/// Mono 16 kHz audio, read by position.
pub trait AudioSource {
    /// Number of samples at 16 kHz.
    fn len(&self) -> usize;
    /// Whether the source holds no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Samples `start .. start + len` (clipped to the end; zeros before 0 are not
    /// asked for).
    fn read(&mut self, start: usize, len: usize) -> Result<Vec<f32>>;
    /// Duration in seconds.
    fn duration(&self) -> f64 {
        self.len() as f64 / f64::from(VAD_RATE)
    }
}

/// A recording in memory (resampled to 16 kHz once).
pub struct MemorySource {
    samples: Vec<f32>,
}

impl MemorySource {
    /// From any audio (resampled to 16 kHz when needed).
    pub fn new(audio: &Audio) -> Result<Self> {
        let samples = if audio.sample_rate == VAD_RATE {
            audio.samples.clone()
        } else {
            audio.resample(VAD_RATE)?.samples
        };
        Ok(MemorySource { samples })
    }
}

impl AudioSource for MemorySource {
    fn len(&self) -> usize {
        self.samples.len()
    }
    fn read(&mut self, start: usize, len: usize) -> Result<Vec<f32>> {
        let a = start.min(self.samples.len());
        let b = start.saturating_add(len).min(self.samples.len());
        Ok(self.samples[a..b].to_vec())
    }
}

/// A WAV file read chunk by chunk through hound (8/16/24/32-bit integer, 32-bit
/// float; channels averaged).
pub struct WavSource {
    path: PathBuf,
    reader: hound::WavReader<BufReader<File>>,
    rate: u32,
    channels: usize,
    frames: usize,
    scale: f64,
    float: bool,
}

impl WavSource {
    /// Open `path`; an error when it is not a WAV file hound reads (callers then load
    /// it whole with [`Audio::load`] and use a [`MemorySource`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let reader = hound::WavReader::open(&path).map_err(|e| Error::NotAudio {
            path: path.clone(),
            reason: format!("not a WAV file read in chunks: {e}"),
        })?;
        let spec = reader.spec();
        let float = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => true,
            (hound::SampleFormat::Int, 8 | 16 | 24 | 32) => false,
            (_, b) => {
                return Err(Error::Unsupported {
                    path,
                    reason: format!("{b}-bit samples"),
                })
            }
        };
        if spec.channels == 0
            || !(1_000..=crate::audio::MAX_SAMPLE_RATE).contains(&spec.sample_rate)
        {
            return Err(Error::Decode {
                path,
                reason: format!(
                    "{} channels at {} Hz in the header are not usable",
                    spec.channels, spec.sample_rate
                ),
            });
        }
        let frames = reader.duration() as usize;
        if frames == 0 {
            return Err(Error::NoSamples { path });
        }
        Ok(WavSource {
            path,
            rate: spec.sample_rate,
            channels: spec.channels as usize,
            frames,
            scale: 1.0 / (1u64 << (spec.bits_per_sample.max(1) - 1)) as f64,
            float,
            reader,
        })
    }

    fn read_native(&mut self, start: usize, len: usize) -> Result<Vec<f32>> {
        let a = start.min(self.frames);
        let b = start.saturating_add(len).min(self.frames);
        let damaged = |why: String| Error::Decode {
            path: self.path.clone(),
            reason: why,
        };
        self.reader
            .seek(a as u32)
            .map_err(|e| damaged(format!("cannot seek to sample {a}: {e}")))?;
        let n = (b - a) * self.channels;
        let mut inter = Vec::with_capacity(n);
        if self.float {
            for s in self.reader.samples::<f32>().take(n) {
                inter.push(s.map_err(|e| damaged(format!("bad data near sample {a}: {e}")))?);
            }
        } else {
            let sc = self.scale;
            for s in self.reader.samples::<i32>().take(n) {
                let v = s.map_err(|e| damaged(format!("bad data near sample {a}: {e}")))?;
                inter.push((f64::from(v) * sc) as f32);
            }
        }
        let ch = self.channels;
        let mono: Vec<f32> = inter
            .chunks_exact(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect();
        if let Some(i) = mono.iter().position(|x| !x.is_finite()) {
            return Err(damaged(format!("sample {} is not a finite number", a + i)));
        }
        Ok(mono)
    }
}

impl AudioSource for WavSource {
    fn len(&self) -> usize {
        (self.frames as u128 * u128::from(VAD_RATE) / u128::from(self.rate)) as usize
    }

    fn read(&mut self, start: usize, len: usize) -> Result<Vec<f32>> {
        let total = self.len();
        let end = start.saturating_add(len).min(total);
        if start >= end {
            return Ok(Vec::new());
        }
        if self.rate == VAD_RATE {
            return self.read_native(start, end - start);
        }
        // Resample a stretch with 0.1 s of margin on both sides, then cut it off.
        let r = f64::from(self.rate) / f64::from(VAD_RATE);
        let margin = (0.1 * f64::from(self.rate)) as usize;
        let a = ((start as f64 * r) as usize).saturating_sub(margin);
        let b = (end as f64 * r) as usize + margin;
        let native = self.read_native(a, b - a)?;
        if native.is_empty() {
            return Ok(vec![0.0; end - start]);
        }
        let up = Audio::new(native, self.rate)?.resample(VAD_RATE)?.samples;
        let off = (a as f64 / r).round() as usize;
        let mut out: Vec<f32> = (start..end)
            .map(|i| up.get(i.saturating_sub(off)).copied().unwrap_or(0.0))
            .collect();
        out.truncate(end - start);
        Ok(out)
    }
}
