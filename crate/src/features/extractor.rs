//! [`FeatureExtractor`]: FFT plans, windows, mel banks, DCT matrices and scratch
//! buffers, built once per parameter set and reused. The free functions of
//! [`crate::features`] use one extractor per thread, so calling them in a loop (or
//! from rayon workers) builds nothing twice.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use ndarray::Array2;
use realfft::RealFftPlanner;

use super::dot::dot_f32;
use super::mel::{MelFilterbank, MelSpectrogramParams};
use super::mfcc::{dct_ortho_matrix, power_to_db_in_place, MfccParams};
use super::stft::{check_fft_params, StftPlan};
use super::{check_audio, check_samples};
use crate::audio::Audio;
use crate::error::Result;

/// Cached plans are dropped when a cache grows past this many entries (a program
/// that cycles through many parameter sets keeps bounded memory).
const MAX_CACHED: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct MelKey {
    sample_rate: u64,
    n_fft: usize,
    n_mels: usize,
    fmin: u64,
    fmax: u64,
}

/// Reusable feature extraction state: realfft plans and Hann windows per `n_fft`,
/// sparse mel filterbanks per `(sample rate, n_fft, n_mels, fmin, fmax)`, DCT
/// matrices per `(n_mels, n_mfcc)`, and scratch buffers. Results are identical to
/// the free functions (which use a thread-local extractor); keep your own when you
/// want control over its lifetime. Its methods take `&mut self` (they reuse
/// scratch buffers): keep one per thread.
///
/// ```
/// use speaker_similarity::{Audio, features::{FeatureExtractor, MfccParams}};
/// # fn main() -> speaker_similarity::Result<()> {
/// let mut ex = FeatureExtractor::new();
/// let audio = Audio::new(vec![0.0; 16000], 16000)?;
/// let a = ex.mfcc(&audio, &MfccParams::default())?;
/// let b = ex.mfcc(&audio, &MfccParams::default())?; // plans reused
/// assert_eq!(a, b);
/// # Ok(())
/// # }
/// ```
pub struct FeatureExtractor {
    planner: RealFftPlanner<f32>,
    stft: HashMap<usize, StftPlan>,
    mel: HashMap<MelKey, Arc<MelFilterbank>>,
    dct: HashMap<(usize, usize), Arc<DctPlan>>,
    /// Frame-major mel spectrogram (`frames x n_mels`) of the last call.
    pub(crate) mel_buf: Vec<f32>,
    /// Frame energies (sum of squared windowed samples) of the last call, when asked.
    pub(crate) energy_buf: Vec<f32>,
    /// Forward and backward prediction errors of Burg's LPC.
    pub(crate) lpc_buf: (Vec<f32>, Vec<f32>),
    /// The signal in `f64` for LPC's autocorrelation.
    pub(crate) lpc_f64: Vec<f64>,
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for FeatureExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureExtractor")
            .field("fft_sizes", &self.stft.keys().collect::<Vec<_>>())
            .field("mel_banks", &self.mel.len())
            .field("dct_matrices", &self.dct.len())
            .finish()
    }
}

impl FeatureExtractor {
    /// An empty extractor; plans are built on first use.
    pub fn new() -> Self {
        FeatureExtractor {
            planner: RealFftPlanner::new(),
            stft: HashMap::new(),
            mel: HashMap::new(),
            dct: HashMap::new(),
            mel_buf: Vec::new(),
            energy_buf: Vec::new(),
            lpc_buf: (Vec::new(), Vec::new()),
            lpc_f64: Vec::new(),
        }
    }

    fn stft_plan(&mut self, n_fft: usize) -> &mut StftPlan {
        if self.stft.len() >= MAX_CACHED && !self.stft.contains_key(&n_fft) {
            self.stft.clear();
        }
        let planner = &mut self.planner;
        self.stft
            .entry(n_fft)
            .or_insert_with(|| StftPlan::new(n_fft, planner))
    }

    /// The (cached) mel filterbank for these parameters at `sample_rate`.
    pub fn mel_filterbank(
        &mut self,
        sample_rate: f64,
        n_fft: usize,
        n_mels: usize,
        fmin: f64,
        fmax: Option<f64>,
    ) -> Result<Arc<MelFilterbank>> {
        let fmax_v = fmax.unwrap_or(sample_rate / 2.0);
        let key = MelKey {
            sample_rate: sample_rate.to_bits(),
            n_fft,
            n_mels,
            fmin: fmin.to_bits(),
            fmax: fmax_v.to_bits(),
        };
        if let Some(b) = self.mel.get(&key) {
            return Ok(Arc::clone(b));
        }
        let bank = Arc::new(MelFilterbank::new(
            sample_rate,
            n_fft,
            n_mels,
            fmin,
            Some(fmax_v),
        )?);
        if self.mel.len() >= MAX_CACHED {
            self.mel.clear();
        }
        self.mel.insert(key, Arc::clone(&bank));
        Ok(bank)
    }

    /// Row-major `n_mfcc x n_mels` DCT-II matrix.
    fn dct_matrix(&mut self, n_mels: usize, n_mfcc: usize) -> Arc<DctPlan> {
        if self.dct.len() >= MAX_CACHED && !self.dct.contains_key(&(n_mels, n_mfcc)) {
            self.dct.clear();
        }
        Arc::clone(
            self.dct
                .entry((n_mels, n_mfcc))
                .or_insert_with(|| Arc::new(DctPlan::new(n_mels, n_mfcc))),
        )
    }

    /// The power spectrogram, `1 + n_fft / 2` bins by frames (see
    /// [`stft_power`](super::stft_power)).
    pub fn stft_power(
        &mut self,
        y: &[f32],
        n_fft: usize,
        hop_length: usize,
    ) -> Result<Array2<f32>> {
        check_fft_params(n_fft, hop_length)?;
        check_samples(y, "stft input")?;
        let plan = self.stft_plan(n_fft);
        let bins = plan.n_bins();
        let frames = super::stft::n_frames(y.len(), n_fft, hop_length);
        let mut out = Array2::zeros((bins, frames));
        plan.for_each_power_frame(y, hop_length, |t, p| {
            for (k, &v) in p.iter().enumerate() {
                out[[k, t]] = v;
            }
        });
        Ok(out)
    }

    /// Fill `self.mel_buf` with the frame-major mel power spectrogram of `y`
    /// (and `self.energy_buf` with frame energies when `energies`), returning the
    /// frame count. Parameters are checked by the caller.
    pub(crate) fn mel_power_frames(
        &mut self,
        y: &[f32],
        sample_rate: f64,
        p: &MelSpectrogramParams,
        energies: bool,
    ) -> Result<usize> {
        let bank = self.mel_filterbank(sample_rate, p.n_fft, p.n_mels, p.fmin, p.fmax)?;
        let n_mels = p.n_mels;
        let n_fft = p.n_fft;
        let frames = super::stft::n_frames(y.len(), n_fft, p.hop_length);
        let mut mel = std::mem::take(&mut self.mel_buf);
        let mut energy = std::mem::take(&mut self.energy_buf);
        mel.clear();
        mel.resize(frames * n_mels, 0.0);
        energy.clear();
        if energies {
            energy.resize(frames, 0.0);
        }
        let plan = self.stft_plan(n_fft);
        let job = FrameJob {
            y,
            hop_length: p.hop_length,
            bank: &bank,
            mel: &mut mel,
            energy: energies.then_some(&mut energy[..]),
        };
        mel_frames(plan, job);
        self.mel_buf = mel;
        self.energy_buf = energy;
        Ok(frames)
    }

    /// The mel power spectrogram, `n_mels` by frames (see
    /// [`melspectrogram`](super::melspectrogram)).
    pub fn melspectrogram(
        &mut self,
        audio: &Audio,
        p: &MelSpectrogramParams,
    ) -> Result<Array2<f32>> {
        p.validate()?;
        check_audio(audio)?;
        let frames = self.mel_power_frames(&audio.samples, audio.sample_rate as f64, p, false)?;
        Ok(transpose(&self.mel_buf, frames, p.n_mels))
    }

    /// MFCCs into `out`, coefficient-major (`n_mfcc x frames`, librosa's layout);
    /// returns the frame count. Checks the parameters; the caller has checked that
    /// the samples are finite.
    pub(crate) fn mfcc_into(
        &mut self,
        y: &[f32],
        sample_rate: u32,
        p: &MfccParams,
        energies: bool,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        p.validate()?;
        p.check_rate(sample_rate)?;
        let frames = self.mel_power_frames(y, sample_rate as f64, &p.mel_params(), energies)?;
        let dct = self.dct_matrix(p.n_mels, p.n_mfcc);
        out.clear();
        out.resize(p.n_mfcc * frames, 0.0);
        let job = CepstrumJob {
            mel: &mut self.mel_buf,
            dct: &dct,
            n_mels: p.n_mels,
            frames,
            top_db: p.top_db,
            out,
        };
        cepstrum(job);
        if p.lifter > 0.0 {
            for k in 0..p.n_mfcc {
                let li = (std::f32::consts::PI * (k + 1) as f32 / p.lifter).sin();
                let g = 1.0 + (p.lifter / 2.0) * li;
                for v in &mut out[k * frames..(k + 1) * frames] {
                    *v *= g;
                }
            }
        }
        Ok(frames)
    }

    /// MFCCs, `n_mfcc` by frames (see [`mfcc`](super::mfcc)).
    pub fn mfcc(&mut self, audio: &Audio, p: &MfccParams) -> Result<Array2<f32>> {
        check_audio(audio)?;
        let mut out = Vec::new();
        let frames = self.mfcc_into(&audio.samples, audio.sample_rate, p, false, &mut out)?;
        // `out` holds exactly n_mfcc * frames values (mfcc_into sized it).
        Ok(Array2::from_shape_vec((p.n_mfcc, frames), out).expect("sized by mfcc_into"))
    }
}

/// Inputs of [`mel_frames`].
struct FrameJob<'a> {
    y: &'a [f32],
    hop_length: usize,
    bank: &'a MelFilterbank,
    mel: &'a mut [f32],
    energy: Option<&'a mut [f32]>,
}

crate::simd::kernel! {
    /// Window, FFT, power, mel bands (and energies) of every frame (see
    /// [`mel_frames_body`]).
    fn mel_frames(plan: &mut StftPlan, job: FrameJob<'_>) {
        simd "avx" mel_frames_simd => mel_frames_body,
        scalar mel_frames_scalar => mel_frames_body,
    }
}

/// Window, FFT, power, mel bands (and energies) of every frame. The kernels are
/// inlined here (no closures), so the AVX twin runs them with 256-bit vectors;
/// lane layouts are fixed in the source, so both give the same numbers.
#[inline(always)]
fn mel_frames_body(plan: &mut StftPlan, job: FrameJob<'_>) {
    let n_mels = job.bank.n_mels();
    let n_fft = plan.n_fft();
    let FrameJob {
        y,
        hop_length,
        bank,
        mel,
        mut energy,
    } = job;
    for (t, out) in mel.chunks_exact_mut(n_mels).enumerate() {
        plan.power_of_frame(y, t, hop_length);
        bank.apply(plan.power(), out);
        if let Some(e) = energy.as_deref_mut() {
            e[t] = parseval_energy(plan.power(), n_fft);
        }
    }
}

/// The DCT-II matrix in two layouts.
pub(crate) struct DctPlan {
    n_mfcc: usize,
    /// `n_mfcc x n_mels`, row-major.
    rows: Vec<f32>,
    /// Transposed, coefficients padded to a multiple of 8: for mel band `n`, the
    /// chunks `cols[n * chunks .. (n + 1) * chunks]` hold `D[0..8 chunks][n]`.
    cols: Vec<[f32; 8]>,
    chunks: usize,
}

impl DctPlan {
    fn new(n_mels: usize, n_mfcc: usize) -> Self {
        let d = dct_ortho_matrix(n_mels, n_mfcc);
        let chunks = n_mfcc.div_ceil(8);
        let mut cols = vec![[0.0f32; 8]; n_mels * chunks];
        for ((k, n), &v) in d.indexed_iter() {
            cols[n * chunks + k / 8][k % 8] = v;
        }
        DctPlan {
            n_mfcc,
            rows: d.iter().copied().collect(),
            cols,
            chunks,
        }
    }
}

/// One frame's DCT as a sum of the matrix columns weighted by the dB values:
/// `acc += D[:, n] * db[n]`, 8 coefficients per vector and no horizontal sums.
/// Two interleaved partial sums (even/odd bands) keep the rounding close to the
/// 8-lane dot product.
#[inline(always)]
fn dct_frame<const C: usize>(cols: &[[f32; 8]], db: &[f32]) -> [[f32; 8]; C] {
    let mut even = [[0.0f32; 8]; C];
    let mut odd = [[0.0f32; 8]; C];
    let (pairs, rest) = db.as_chunks::<2>();
    let (col_pairs, col_rest) = cols.split_at(pairs.len() * 2 * C);
    for (v, c) in pairs.iter().zip(col_pairs.chunks_exact(2 * C)) {
        for j in 0..C {
            let (a, b) = (c[j], c[C + j]);
            even[j] = std::array::from_fn(|l| even[j][l] + a[l] * v[0]);
            odd[j] = std::array::from_fn(|l| odd[j][l] + b[l] * v[1]);
        }
    }
    for (&v, c) in rest.iter().zip(col_rest.chunks_exact(C)) {
        for j in 0..C {
            even[j] = std::array::from_fn(|l| even[j][l] + c[j][l] * v);
        }
    }
    std::array::from_fn(|j| std::array::from_fn(|l| even[j][l] + odd[j][l]))
}

/// Inputs of [`cepstrum`].
struct CepstrumJob<'a> {
    mel: &'a mut [f32],
    dct: &'a DctPlan,
    n_mels: usize,
    frames: usize,
    top_db: Option<f32>,
    out: &'a mut [f32],
}

crate::simd::kernel! {
    /// dB of the frame-major mel spectrogram, then the DCT of each frame (see
    /// [`cepstrum_body`]).
    fn cepstrum(job: CepstrumJob<'_>) {
        simd "avx" cepstrum_simd => cepstrum_body,
        scalar cepstrum_scalar => cepstrum_body,
    }
}

/// dB of the frame-major mel spectrogram, then the DCT of each frame into the
/// coefficient-major `out`.
#[inline(always)]
fn cepstrum_body(job: CepstrumJob<'_>) {
    power_to_db_in_place(job.mel, 1.0, 1e-10, job.top_db, true);
    let CepstrumJob {
        mel,
        dct,
        n_mels,
        frames,
        out,
        ..
    } = job;
    let n_mfcc = dct.n_mfcc;
    macro_rules! by_columns {
        ($c:literal) => {
            for (t, db) in mel.chunks_exact(n_mels).enumerate() {
                let acc = dct_frame::<$c>(&dct.cols, db);
                for k in 0..n_mfcc {
                    out[k * frames + t] = acc[k / 8][k % 8];
                }
            }
        };
    }
    match dct.chunks {
        1 => by_columns!(1),
        2 => by_columns!(2),
        3 => by_columns!(3),
        4 => by_columns!(4),
        _ => {
            for (t, db) in mel.chunks_exact(n_mels).enumerate() {
                for (k, row) in dct.rows.chunks_exact(n_mels).enumerate() {
                    out[k * frames + t] = dot_f32(row, db);
                }
            }
        }
    }
}

/// Energy of the windowed frame from its one-sided power spectrum (Parseval).
#[inline(always)]
fn parseval_energy(power: &[f32], n_fft: usize) -> f32 {
    let n = power.len();
    let mut s = power[0] as f64;
    let inner_end = if n_fft.is_multiple_of(2) { n - 1 } else { n };
    for &v in &power[1..inner_end] {
        s += 2.0 * v as f64;
    }
    if n_fft.is_multiple_of(2) {
        s += power[n - 1] as f64;
    }
    (s / n_fft as f64) as f32
}

/// `rows x cols` row-major buffer to its `cols x rows` transpose.
pub(crate) fn transpose(buf: &[f32], rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((cols, rows), |(c, r)| buf[r * cols + c])
}

thread_local! {
    static EXTRACTOR: RefCell<FeatureExtractor> = RefCell::new(FeatureExtractor::new());
}

/// Run `f` with this thread's cached extractor (a fresh one if it is in use).
pub(crate) fn with_thread_extractor<R>(f: impl FnOnce(&mut FeatureExtractor) -> R) -> R {
    EXTRACTOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut ex) => f(&mut ex),
        Err(_) => f(&mut FeatureExtractor::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX twins of the frame loop and of the cepstrum against the portable
    /// ones on random signals and random mel powers (FFT sizes 256 to 2048, with
    /// and without energies, every DCT layout): bit-identical, as both use the same
    /// lanes and no fused multiply-add.
    #[test]
    fn simd_twins_match_scalar_twins() {
        use crate::simd::testing::{assert_close, rng, uniform_f32};
        let mut rng = rng(17);
        let mut ex = FeatureExtractor::new();
        for (n_fft, hop, n_mels, sr) in [
            (2048, 512, 128, 22050.0),
            (512, 160, 40, 16000.0),
            (256, 64, 26, 8000.0),
        ] {
            let y = uniform_f32(&mut rng, 9000, -0.5, 0.5);
            let bank = ex.mel_filterbank(sr, n_fft, n_mels, 0.0, None).unwrap();
            let frames = super::super::stft::n_frames(y.len(), n_fft, hop);
            for energies in [false, true] {
                let mut runs = Vec::new();
                for simd in [false, true] {
                    let mut mel = vec![0.0f32; frames * n_mels];
                    let mut energy = vec![0.0f32; frames];
                    let job = FrameJob {
                        y: &y,
                        hop_length: hop,
                        bank: &bank,
                        mel: &mut mel,
                        energy: energies.then_some(&mut energy[..]),
                    };
                    let plan = ex.stft_plan(n_fft);
                    if simd {
                        if mel_frames_simd(plan, job).is_none() {
                            return; // no AVX here: only the portable twins exist
                        }
                    } else {
                        mel_frames_scalar(plan, job);
                    }
                    runs.push((mel, energy));
                }
                assert_close(&runs[1].0, &runs[0].0, 0.0, 1.0, "mel power");
                assert_close(&runs[1].1, &runs[0].1, 0.0, 1.0, "frame energies");
            }
            for (n_mfcc, top_db) in [
                (13, Some(80.0)),
                (20, None),
                (32, Some(80.0)),
                (40, Some(60.0)),
            ] {
                let n_mfcc = n_mfcc.min(n_mels);
                let dct = ex.dct_matrix(n_mels, n_mfcc);
                let mel0: Vec<f32> = uniform_f32(&mut rng, frames * n_mels, -12.0, 2.0)
                    .into_iter()
                    .map(|e| 10f32.powf(e))
                    .collect();
                let mut outs = Vec::new();
                for simd in [false, true] {
                    let mut mel = mel0.clone();
                    let mut out = vec![0.0f32; n_mfcc * frames];
                    let job = CepstrumJob {
                        mel: &mut mel,
                        dct: &dct,
                        n_mels,
                        frames,
                        top_db,
                        out: &mut out,
                    };
                    if simd {
                        cepstrum_simd(job).expect("AVX present (checked above)");
                    } else {
                        cepstrum_scalar(job);
                    }
                    outs.push(out);
                }
                assert_close(&outs[1], &outs[0], 0.0, 1.0, "MFCC");
            }
        }
    }

    #[test]
    fn every_dct_layout_gives_the_same_coefficients() {
        let y: Vec<f32> = (0..8000)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.3)
            .collect();
        let audio = Audio::new(y, 16000).unwrap();
        let mut ex = FeatureExtractor::new();
        // 40 coefficients take the row-by-row path, the others the column paths.
        let run = |ex: &mut FeatureExtractor, n_mfcc| {
            let p = MfccParams {
                n_mfcc,
                n_mels: 64,
                ..Default::default()
            };
            ex.mfcc(&audio, &p).unwrap()
        };
        let all = run(&mut ex, 40);
        for n in [5, 8, 13, 20, 32] {
            let part = run(&mut ex, n);
            for ((k, t), &v) in part.indexed_iter() {
                let w = all[[k, t]];
                assert!(
                    (v - w).abs() <= 1e-4 * w.abs().max(1.0),
                    "n_mfcc {n} [{k},{t}]: {v} vs {w}"
                );
            }
        }
    }
}
