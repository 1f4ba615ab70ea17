//! Short-time Fourier transform: the power spectrogram `|STFT|^2`, as
//! `np.abs(librosa.stft(y, n_fft, hop_length))**2` in librosa 0.11.
//!
//! Semantics mirrored from `librosa.stft`: window = periodic Hann of length
//! `win_length = n_fft` (`scipy.signal.get_window('hann', n_fft, fftbins=True)`),
//! `center=True` with zero padding of `n_fft / 2` samples on each side (librosa
//! 0.11's default `pad_mode='constant'`; librosa < 0.10 padded by reflection), frame
//! `t` starting at padded sample `t * hop_length`, so there are
//! `1 + (len + 2 * (n_fft / 2) - n_fft) / hop_length` frames and frame `t` is
//! centred on input sample `t * hop_length`. A clip shorter than `n_fft` still gives
//! frames (librosa warns and pads the same way).
//!
//! librosa multiplies the `f32` samples by an `f64` window and runs the FFT in
//! `f64` before storing `complex64`; here everything is `f32` (realfft). The
//! parity tests measure the effect: about 1e-5 relative on MFCCs, far inside 1e-3.

use std::sync::Arc;

use ndarray::Array2;
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::error::{Error, Result};

/// Largest FFT length accepted (2^20 samples).
pub const MAX_N_FFT: usize = 1 << 20;

/// The periodic Hann window of length `n` (`scipy.signal.get_window('hann', n)`):
/// `w[k] = 0.5 - 0.5 cos(2 pi k / n)`, computed in `f64` and rounded to `f32`.
pub fn hann_window(n: usize) -> Vec<f32> {
    (0..n)
        .map(|k| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) as f32)
        .collect()
}

/// Number of STFT frames librosa gives for `len` samples with `center=True`:
/// `1 + (len + 2 * (n_fft / 2) - n_fft) / hop_length` (0 when that is negative,
/// which only happens for an empty signal and odd `n_fft`).
pub fn n_frames(len: usize, n_fft: usize, hop_length: usize) -> usize {
    let padded = len + 2 * (n_fft / 2);
    if padded < n_fft || hop_length == 0 {
        0
    } else {
        1 + (padded - n_fft) / hop_length
    }
}

/// Check `n_fft` and `hop_length`.
pub(crate) fn check_fft_params(n_fft: usize, hop_length: usize) -> Result<()> {
    if !(2..=MAX_N_FFT).contains(&n_fft) {
        return Err(Error::param(
            "n_fft",
            format!("{n_fft} is outside 2..={MAX_N_FFT}"),
        ));
    }
    if hop_length == 0 {
        return Err(Error::param("hop_length", "must be a positive integer"));
    }
    Ok(())
}

/// A reusable STFT: FFT plan, window and buffers for one `n_fft`.
pub(crate) struct StftPlan {
    n_fft: usize,
    window: Vec<f32>,
    frame: Vec<f32>,
    power: Vec<f32>,
    engine: Engine,
}

/// How the power spectrum of a real frame is computed.
enum Engine {
    /// Odd `n_fft`: realfft.
    Real {
        fft: Arc<dyn RealToComplex<f32>>,
        spectrum: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
    },
    /// Even `n_fft = 2h`: the frame's even/odd samples as one complex signal of
    /// length `h`, a complex FFT (rustfft), then the split
    /// `X[k] = (Z[k] + conj Z[h-k]) / 2 + W^k (Z[k] - conj Z[h-k]) / 2i`,
    /// `W = exp(-2 pi i / n_fft)`, computed straight to `|X[k]|^2` in planar,
    /// vectorisable loops (realfft's own post-processing is scalar and cost as
    /// much as the FFT itself).
    Half {
        fft: Arc<dyn rustfft::Fft<f32>>,
        buf: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
        /// `Re W^k`, `Im W^k` for `k = 0..=h`.
        wr: Vec<f32>,
        wi: Vec<f32>,
        /// `Z` in planar form, `Z[h] = Z[0]`.
        zr: Vec<f32>,
        zi: Vec<f32>,
    },
}

impl StftPlan {
    /// Plan an FFT of length `n_fft` (checked by the caller).
    pub(crate) fn new(n_fft: usize, planner: &mut RealFftPlanner<f32>) -> Self {
        let engine = if n_fft.is_multiple_of(2) {
            let h = n_fft / 2;
            let fft = rustfft::FftPlanner::new().plan_fft_forward(h);
            let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
            let (wr, wi) = (0..=h)
                .map(|k| {
                    let a = -2.0 * std::f64::consts::PI * k as f64 / n_fft as f64;
                    (a.cos() as f32, a.sin() as f32)
                })
                .unzip();
            Engine::Half {
                fft,
                buf: vec![Complex::new(0.0, 0.0); h],
                scratch,
                wr,
                wi,
                zr: vec![0.0; h + 1],
                zi: vec![0.0; h + 1],
            }
        } else {
            let fft = planner.plan_fft_forward(n_fft);
            Engine::Real {
                spectrum: fft.make_output_vec(),
                scratch: fft.make_scratch_vec(),
                fft,
            }
        };
        StftPlan {
            n_fft,
            window: hann_window(n_fft),
            frame: vec![0.0; n_fft],
            power: vec![0.0; n_fft / 2 + 1],
            engine,
        }
    }

    /// Number of frequency bins, `1 + n_fft / 2`.
    pub(crate) fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// The FFT length.
    pub(crate) fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// The power spectrum of the last [`power_of_frame`](Self::power_of_frame).
    pub(crate) fn power(&self) -> &[f32] {
        &self.power
    }

    /// Compute the power spectrum of centred frame `t` of `y` (hop `hop_length`)
    /// into [`power`](Self::power). The frame is cut from the zero-padded signal
    /// without building the padded copy. Always inlined, so a caller compiled with
    /// AVX gets AVX code for the windowing and power loops.
    #[inline(always)]
    pub(crate) fn power_of_frame(&mut self, y: &[f32], t: usize, hop_length: usize) {
        let n_fft = self.n_fft;
        let pad = (n_fft / 2) as isize;
        let len = y.len() as isize;
        // Frame t covers input samples [s0, s0 + n_fft).
        let s0 = (t * hop_length) as isize - pad;
        let j_lo = (-s0).clamp(0, n_fft as isize) as usize;
        let j_hi = (len - s0).clamp(0, n_fft as isize) as usize;
        let full = j_lo == 0 && j_hi == n_fft;
        if let (true, Engine::Half { buf, .. }) = (full, &mut self.engine) {
            // Interior frame: window straight into the packed complex buffer.
            let s0 = s0 as usize;
            // SAFETY: `Complex<f32>` is `#[repr(C)]` { re, im }, so `buf` is `2 * len`
            // contiguous, initialised `f32`s; the slice borrows `buf` exclusively.
            let packed: &mut [f32] = unsafe {
                std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<f32>(), 2 * buf.len())
            };
            // One flat multiply the compiler vectorises at full width.
            for ((b, &x), &w) in packed.iter_mut().zip(&y[s0..s0 + n_fft]).zip(&self.window) {
                *b = x * w;
            }
        } else {
            let frame = &mut self.frame;
            frame[..j_lo].fill(0.0);
            if j_hi > j_lo {
                let src = &y[(s0 + j_lo as isize) as usize..(s0 + j_hi as isize) as usize];
                for ((o, &x), &w) in frame[j_lo..j_hi]
                    .iter_mut()
                    .zip(src)
                    .zip(&self.window[j_lo..j_hi])
                {
                    *o = x * w;
                }
            }
            frame[j_hi.max(j_lo)..].fill(0.0);
            if let Engine::Half { buf, .. } = &mut self.engine {
                let (pairs, _) = frame.as_chunks::<2>();
                for (b, p) in buf.iter_mut().zip(pairs) {
                    *b = Complex::new(p[0], p[1]);
                }
            }
        }
        match &mut self.engine {
            Engine::Real {
                fft,
                spectrum,
                scratch,
            } => {
                // Lengths are those the plan was made for, so realfft cannot fail.
                fft.process_with_scratch(&mut self.frame, spectrum, scratch)
                    .expect("buffers sized by the plan");
                for (p, c) in self.power.iter_mut().zip(spectrum.iter()) {
                    *p = c.re * c.re + c.im * c.im;
                }
            }
            Engine::Half {
                fft,
                buf,
                scratch,
                wr,
                wi,
                zr,
                zi,
            } => {
                fft.process_with_scratch(buf, scratch);
                let h = buf.len();
                for ((r, i), c) in zr.iter_mut().zip(zi.iter_mut()).zip(buf.iter()) {
                    *r = c.re;
                    *i = c.im;
                }
                zr[h] = zr[0];
                zi[h] = zi[0];
                // Bins k and h - k share their even/odd parts: with
                // a = Z[k], b = conj Z[h - k] and the twiddle (c, s) of bin k,
                //   X[k]     = (er + P) + i (ei + Q),
                //   X[h - k] = (er - P) + i (Q - ei),
                // where P = c or - s oi and Q = c oi + s or. One pass over
                // k = 0..h/2 gives both halves with half the twiddle products.
                // front: bins 0..m; back: bins m..=h, its last m filled from h down
                // (for even h, back[0] is the middle bin h/2, which pairs with itself).
                let m = h.div_ceil(2);
                let power = &mut self.power[..=h];
                let (front, back) = power.split_at_mut(m);
                // Bins h - k of the pairs go to `frame` (free after the FFT) in k
                // order, then into place reversed: reversed stores do not vectorise.
                for ((((pk, pm), (&ar, &ai)), (&br, &bi)), (&c, &s)) in front
                    .iter_mut()
                    .zip(self.frame[..m].iter_mut())
                    .zip(zr[..m].iter().zip(&zi[..m]))
                    .zip(
                        zr[h + 1 - m..=h]
                            .iter()
                            .rev()
                            .zip(zi[h + 1 - m..=h].iter().rev()),
                    )
                    .zip(wr[..m].iter().zip(&wi[..m]))
                {
                    let er = 0.5 * (ar + br);
                    let ei = 0.5 * (ai - bi);
                    let or = 0.5 * (ai + bi);
                    let oi = -0.5 * (ar - br);
                    let p = c * or - s * oi;
                    let q = c * oi + s * or;
                    *pk = (er + p) * (er + p) + (ei + q) * (ei + q);
                    *pm = (er - p) * (er - p) + (q - ei) * (q - ei);
                }
                let tail_len = back.len() - m;
                for (o, &v) in back[tail_len..].iter_mut().rev().zip(&self.frame[..m]) {
                    *o = v;
                }
                let tail = h + 1 - 2 * m;
                if tail == 1 {
                    // The middle bin: a = b, so er = Re Z, ei = 0, or = Im Z, oi = 0.
                    let (er, or, c, s) = (zr[m], zi[m], wr[m], wi[m]);
                    let (p, q) = (c * or, s * or);
                    power[m] = (er + p) * (er + p) + q * q;
                }
            }
        }
    }

    /// [`power_of_frame`](Self::power_of_frame) for every frame, handing each
    /// power spectrum to `f(frame_index, power)`.
    pub(crate) fn for_each_power_frame(
        &mut self,
        y: &[f32],
        hop_length: usize,
        mut f: impl FnMut(usize, &[f32]),
    ) {
        for t in 0..n_frames(y.len(), self.n_fft, hop_length) {
            self.power_of_frame(y, t, hop_length);
            f(t, &self.power);
        }
    }
}

/// The power spectrogram `|STFT(y)|^2`: `1 + n_fft / 2` rows (frequency bins, bin
/// `k` at `k * sr / n_fft` Hz) by frames, as
/// `np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))**2`.
///
/// Errors: empty or non-finite `y`, `n_fft < 2`, `hop_length == 0`.
///
/// ```
/// use speaker_similarity::features::stft_power;
/// # fn main() -> speaker_similarity::Result<()> {
/// let y: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.3).sin()).collect();
/// let s = stft_power(&y, 512, 128)?;
/// assert_eq!(s.dim(), (257, 1 + 4000 / 128));
/// # Ok(())
/// # }
/// ```
pub fn stft_power(y: &[f32], n_fft: usize, hop_length: usize) -> Result<Array2<f32>> {
    super::extractor::with_thread_extractor(|ex| ex.stft_power(y, n_fft, hop_length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_matches_librosa() {
        // librosa.stft(np.zeros(n), n_fft=2048, hop_length=512).shape[1]
        assert_eq!(n_frames(1, 2048, 512), 1);
        assert_eq!(n_frames(16000, 2048, 512), 32);
        assert_eq!(n_frames(32000, 2048, 256), 126);
        assert_eq!(n_frames(0, 2048, 512), 1);
        assert_eq!(n_frames(0, 5, 2), 0);
    }

    #[test]
    fn power_matches_a_naive_dft() {
        let y: Vec<f32> = (0..700)
            .map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        for (n_fft, hop) in [(6usize, 5usize), (64, 16), (65, 16), (512, 128), (511, 100)] {
            let mut planner = RealFftPlanner::new();
            let mut plan = StftPlan::new(n_fft, &mut planner);
            let w = hann_window(n_fft);
            let pad = (n_fft / 2) as isize;
            plan.for_each_power_frame(&y, hop, |t, p| {
                let frame: Vec<f64> = (0..n_fft)
                    .map(|j| {
                        let i = (t * hop) as isize - pad + j as isize;
                        if i < 0 || i >= y.len() as isize {
                            0.0
                        } else {
                            (y[i as usize] * w[j]) as f64
                        }
                    })
                    .collect();
                let energy: f64 = frame.iter().map(|v| v * v).sum();
                for (k, &got) in p.iter().enumerate() {
                    let (mut re, mut im) = (0.0f64, 0.0f64);
                    for (j, v) in frame.iter().enumerate() {
                        let a = -2.0 * std::f64::consts::PI * (k * j) as f64 / n_fft as f64;
                        re += v * a.cos();
                        im += v * a.sin();
                    }
                    let want = re * re + im * im;
                    let tol = 1e-5 * (want + energy * 1e-2);
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "n_fft {n_fft} t {t} k {k}: {got} vs {want}"
                    );
                }
            });
        }
    }

    #[test]
    fn hann_is_periodic() {
        let w = hann_window(4);
        assert_eq!(w, vec![0.0, 0.5, 1.0, 0.5]);
    }

    #[test]
    fn parseval_on_a_tone() {
        let mut planner = RealFftPlanner::new();
        let mut plan = StftPlan::new(64, &mut planner);
        let y: Vec<f32> = (0..256).map(|i| (i as f32 * 0.7).sin()).collect();
        plan.for_each_power_frame(&y, 16, |t, p| {
            if t == 5 {
                let s0 = t * 16 - 32;
                let energy: f64 = (0..64)
                    .map(|j| (y[s0 + j] * hann_window(64)[j]) as f64)
                    .map(|v| v * v)
                    .sum();
                let mut spec = p[0] as f64 + p[32] as f64;
                spec += 2.0 * p[1..32].iter().map(|&v| v as f64).sum::<f64>();
                assert!((spec / 64.0 - energy).abs() < 1e-4 * energy);
            }
        });
    }
}
