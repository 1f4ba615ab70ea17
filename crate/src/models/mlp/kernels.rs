//! Hand-written kernels for the mini-batch step of [`Mlp`](super::Mlp): dense
//! forward, the three products of the backward pass and Adam. Mini-batches are
//! small (16 rows in the original), so general matrix-multiply set-up (packing)
//! would dominate; and after ReLU and dropout most hidden activations are zero,
//! so the kernels skip them: a zero input contributes nothing to the forward
//! product or to the weight gradient, and the gradient of a zero activation is
//! masked to zero anyway. Each kernel is compiled twice, for baseline x86-64 and
//! for AVX2 + FMA (with fused multiply-adds), and the second is chosen at run time
//! when the CPU has them (see [`crate::simd`]).

use crate::simd::MulAdd;

/// Columns per register tile: 64 `f32` = 8 AVX registers of accumulators.
const TILE: usize = 64;

/// `acc[..w] += av · src[..w]` for a full tile (constant bounds, so the
/// accumulators stay in registers).
#[inline(always)]
fn axpy_tile<const FMA: bool>(acc: &mut [f32; TILE], av: f32, src: &[f32]) {
    let src: &[f32; TILE] = src.try_into().expect("a full tile");
    for l in 0..TILE {
        acc[l] = f32::madd::<FMA>(av, src[l], acc[l]);
    }
}

/// Nonzero entries of a strided sequence, gathered without branches (the
/// sparsity pattern of ReLU + dropout is random, so a branch per entry would
/// be mispredicted half the time).
#[inline(always)]
fn gather_nonzero(vals: impl Iterator<Item = f32>, idx: &mut [u32], val: &mut [f32]) -> usize {
    let mut m = 0;
    for (j, v) in vals.enumerate() {
        idx[m] = j as u32;
        val[m] = v;
        m += usize::from(v != 0.0);
    }
    m
}

/// `out[b×n] = bias + a[b×k] · w[k×n]`, skipping zero entries of `a`. Output
/// columns are processed in register tiles: each weight is loaded once per row
/// and the accumulators are stored once. `idx`, `val`: scratch of length ≥ k.
#[inline(always)]
fn forward_g<const FMA: bool>(
    a: &[f32],
    k: usize,
    w: &[f32],
    bias: &[f32],
    out: &mut [f32],
    idx: &mut [u32],
    val: &mut [f32],
) {
    let n = bias.len();
    let full = n / TILE * TILE;
    for (ar, o) in a.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
        let m = gather_nonzero(ar.iter().copied(), idx, val);
        let (idx, val) = (&idx[..m], &val[..m]);
        for j0 in (0..full).step_by(TILE) {
            let mut acc = [0.0f32; TILE];
            acc.copy_from_slice(&bias[j0..j0 + TILE]);
            for (&kk, &av) in idx.iter().zip(val) {
                let r = kk as usize * n + j0;
                axpy_tile::<FMA>(&mut acc, av, &w[r..r + TILE]);
            }
            o[j0..j0 + TILE].copy_from_slice(&acc);
        }
        if full < n {
            let o = &mut o[full..];
            o.copy_from_slice(&bias[full..]);
            for (&kk, &av) in idx.iter().zip(val) {
                let r = kk as usize * n;
                for (ov, &wv) in o.iter_mut().zip(&w[r + full..r + n]) {
                    *ov = f32::madd::<FMA>(av, wv, *ov);
                }
            }
        }
    }
}

/// `gw[k×n] = aᵀ g` (a: b×k, g: b×n) skipping zero entries of `a`, and
/// `gb[n] = Σ_rows g`. Register-tiled over the columns of `gw`. `idx`, `val`:
/// scratch of length ≥ b.
#[inline(always)]
fn backward_params_g<const FMA: bool>(
    a: &[f32],
    k: usize,
    g: &[f32],
    gw: &mut [f32],
    gb: &mut [f32],
    idx: &mut [u32],
    val: &mut [f32],
) {
    let n = gb.len();
    let b = g.len() / n;
    let full = n / TILE * TILE;
    for (kk, gr) in gw.chunks_exact_mut(n).enumerate() {
        let m = gather_nonzero((0..b).map(|i| a[i * k + kk]), idx, val);
        let (idx, val) = (&idx[..m], &val[..m]);
        for j0 in (0..full).step_by(TILE) {
            let mut acc = [0.0f32; TILE];
            for (&i, &av) in idx.iter().zip(val) {
                let r = i as usize * n + j0;
                axpy_tile::<FMA>(&mut acc, av, &g[r..r + TILE]);
            }
            gr[j0..j0 + TILE].copy_from_slice(&acc);
        }
        if full < n {
            let gr = &mut gr[full..];
            gr.fill(0.0);
            for (&i, &av) in idx.iter().zip(val) {
                let r = i as usize * n;
                for (gv, &x) in gr.iter_mut().zip(&g[r + full..r + n]) {
                    *gv = f32::madd::<FMA>(av, x, *gv);
                }
            }
        }
    }
    gb.fill(0.0);
    for row in g.chunks_exact(n) {
        for (s, &v) in gb.iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// Dot product with 8 independent accumulators (vectorisable).
#[inline(always)]
fn dot<const FMA: bool>(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let xc = x.chunks_exact(8);
    let yc = y.chunks_exact(8);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] = f32::madd::<FMA>(a[l], b[l], acc[l]);
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for (a, b) in xr.iter().zip(yr) {
        s = f32::madd::<FMA>(*a, *b, s);
    }
    s
}

/// `gprev[b×k] = (g[b×n] · wᵀ) ⊙ [a > 0] · scale`: the gradient through the
/// layer, then through dropout (kept units scaled by `scale`) and ReLU, using the
/// post-dropout activation `a` (b×k). Entries with `a ≤ 0` are not computed.
/// `idx`, `val`: scratch of length ≥ k.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_input_g<const FMA: bool>(
    g: &[f32],
    n: usize,
    w: &[f32],
    a: &[f32],
    scale: f32,
    gprev: &mut [f32],
    idx: &mut [u32],
    val: &mut [f32],
) {
    let k = w.len() / n;
    for ((gr, ar), gp) in g
        .chunks_exact(n)
        .zip(a.chunks_exact(k))
        .zip(gprev.chunks_exact_mut(k))
    {
        // Positive activations only (ReLU > 0 and kept by dropout).
        let m = gather_nonzero(
            ar.iter().map(|&v| if v > 0.0 { 1.0 } else { 0.0 }),
            idx,
            val,
        );
        gp.fill(0.0);
        for &kk in &idx[..m] {
            let kk = kk as usize;
            gp[kk] = dot::<FMA>(gr, &w[kk * n..(kk + 1) * n]) * scale;
        }
    }
}

/// Adam (Keras / TensorFlow `ResourceApplyAdam`): `m += (g − m)(1 − β₁)`,
/// `v += (g² − v)(1 − β₂)`, `p −= lr_t · m / (√v + ε)`.
#[inline(always)]
fn adam_g<const FMA: bool>(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &AdamStep) {
    let (c1, c2) = (1.0 - h.beta1, 1.0 - h.beta2);
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = f32::madd::<FMA>(g - *m, c1, *m);
        *v = f32::madd::<FMA>(g * g - *v, c2, *v);
        *p -= h.lr_t * *m / (v.sqrt() + h.epsilon);
    }
}

/// Hyperparameters of one Adam step.
pub(crate) struct AdamStep {
    pub lr_t: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
}

crate::simd::kernel! {
    /// `out[b×n] = bias + a[b×k] · w[k×n]`, skipping zero entries of `a` (see
    /// [`forward_g`]).
    pub(crate) fn forward(a: &[f32], k: usize, w: &[f32], bias: &[f32], out: &mut [f32], idx: &mut [u32], val: &mut [f32]) {
        simd "avx2,fma" forward_simd => forward_g::<true>,
        scalar forward_scalar => forward_g::<false>,
    }
}

crate::simd::kernel! {
    /// `gw = aᵀ g`, `gb = Σ_rows g` (see [`backward_params_g`]).
    pub(crate) fn backward_params(a: &[f32], k: usize, g: &[f32], gw: &mut [f32], gb: &mut [f32], idx: &mut [u32], val: &mut [f32]) {
        simd "avx2,fma" backward_params_simd => backward_params_g::<true>,
        scalar backward_params_scalar => backward_params_g::<false>,
    }
}

crate::simd::kernel! {
    /// The gradient through a layer, dropout and ReLU (see [`backward_input_g`]).
    pub(crate) fn backward_input(g: &[f32], n: usize, w: &[f32], a: &[f32], scale: f32, gprev: &mut [f32], idx: &mut [u32], val: &mut [f32]) {
        simd "avx2,fma" backward_input_simd => backward_input_g::<true>,
        scalar backward_input_scalar => backward_input_g::<false>,
    }
}

crate::simd::kernel! {
    /// One Adam step (see [`adam_g`]).
    pub(crate) fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &AdamStep) {
        simd "avx2,fma" adam_simd => adam_g::<true>,
        scalar adam_scalar => adam_g::<false>,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    fn mat(r: usize, c: usize, seed: usize, zeros: bool) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| {
            let v = (((i * 31 + j * 17 + seed * 7) % 23) as f32 - 11.0) / 7.0;
            if zeros && (i + j + seed).is_multiple_of(3) {
                0.0
            } else {
                v
            }
        })
    }

    #[test]
    fn kernels_match_ndarray_products() {
        let (b, k, n) = (5, 19, 77);
        let a = mat(b, k, 1, true).mapv(|v| v.max(0.0));
        let w = mat(k, n, 2, false);
        let bias = Array1::from_shape_fn(n, |j| j as f32 * 0.1);
        let g = mat(b, n, 3, false);
        let mut out = vec![0.0; b * n];
        let (mut idx, mut val) = (vec![0u32; 64], vec![0f32; 64]);
        super::forward(
            a.as_slice().unwrap(),
            k,
            w.as_slice().unwrap(),
            bias.as_slice().unwrap(),
            &mut out,
            &mut idx,
            &mut val,
        );
        let want = a.dot(&w) + &bias;
        for (x, y) in out.iter().zip(want.iter()) {
            assert!((x - y).abs() < 1e-4);
        }
        let mut gw = vec![0.0; k * n];
        let mut gb = vec![0.0; n];
        super::backward_params(
            a.as_slice().unwrap(),
            k,
            g.as_slice().unwrap(),
            &mut gw,
            &mut gb,
            &mut idx,
            &mut val,
        );
        for (x, y) in gw.iter().zip(a.t().dot(&g).iter()) {
            assert!((x - y).abs() < 1e-4);
        }
        for (x, y) in gb.iter().zip(g.sum_axis(ndarray::Axis(0)).iter()) {
            assert!((x - y).abs() < 1e-4);
        }
        let mut gp = vec![0.0; b * k];
        super::backward_input(
            g.as_slice().unwrap(),
            n,
            w.as_slice().unwrap(),
            a.as_slice().unwrap(),
            2.0,
            &mut gp,
            &mut idx,
            &mut val,
        );
        let full = g.dot(&w.t());
        for ((x, y), av) in gp.iter().zip(full.iter()).zip(a.iter()) {
            let want = if *av > 0.0 { y * 2.0 } else { 0.0 };
            assert!((x - want).abs() < 1e-4);
        }
    }

    /// Random layer shapes (column counts below, at and above the 64-wide tile),
    /// ReLU-like sparse activations: the AVX2 + FMA twins against the portable
    /// ones, within 1e-5 of the sum of |products| of each output (the rounding
    /// scale of an f32 dot product of these lengths; FMA changes the last bits).
    #[test]
    fn simd_twins_match_scalar_twins() {
        use crate::simd::testing::{assert_close, rng, uniform_f32};
        let mut rng = rng(5);
        for (b, k, n) in [(16, 52, 256), (16, 256, 39), (7, 64, 64), (3, 130, 129)] {
            let mut a = uniform_f32(&mut rng, b * k, -1.0, 1.0);
            for v in &mut a {
                *v = v.max(0.0); // half of them zero
            }
            let w = uniform_f32(&mut rng, k * n, -1.0, 1.0);
            let bias = uniform_f32(&mut rng, n, -1.0, 1.0);
            let g = uniform_f32(&mut rng, b * n, -1.0, 1.0);
            let m = k.max(b);
            let (mut idx, mut val) = (vec![0u32; m], vec![0f32; m]);
            // Scale: |bias| + Σ|a||w| ≤ 1 + k (and b for the weight gradient).
            let tol = 1e-5;

            let (mut o1, mut o2) = (vec![0.0; b * n], vec![0.0; b * n]);
            super::forward_scalar(&a, k, &w, &bias, &mut o1, &mut idx, &mut val);
            let Some(()) = super::forward_simd(&a, k, &w, &bias, &mut o2, &mut idx, &mut val)
            else {
                return; // no AVX2 + FMA here: only the portable twins exist
            };
            assert_close(&o2, &o1, tol, 1.0 + k as f32, "forward");

            let (mut gw1, mut gw2) = (vec![0.0; k * n], vec![0.0; k * n]);
            let (mut gb1, mut gb2) = (vec![0.0; n], vec![0.0; n]);
            super::backward_params_scalar(&a, k, &g, &mut gw1, &mut gb1, &mut idx, &mut val);
            super::backward_params_simd(&a, k, &g, &mut gw2, &mut gb2, &mut idx, &mut val);
            assert_close(&gw2, &gw1, tol, b as f32, "weight gradient");
            assert_close(&gb2, &gb1, 0.0, 1.0, "bias gradient (no multiply)");

            let (mut gp1, mut gp2) = (vec![0.0; b * k], vec![0.0; b * k]);
            super::backward_input_scalar(&g, n, &w, &a, 2.0, &mut gp1, &mut idx, &mut val);
            super::backward_input_simd(&g, n, &w, &a, 2.0, &mut gp2, &mut idx, &mut val);
            assert_close(&gp2, &gp1, tol, 2.0 * n as f32, "input gradient");

            let h = super::AdamStep {
                lr_t: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
            };
            let p0 = w.clone();
            let m0 = uniform_f32(&mut rng, k * n, -0.1, 0.1);
            let v0 = uniform_f32(&mut rng, k * n, 0.0, 0.1);
            let (mut p1, mut m1, mut v1) = (p0.clone(), m0.clone(), v0.clone());
            let (mut p2, mut m2, mut v2) = (p0, m0, v0);
            for _ in 0..3 {
                super::adam_scalar(&mut p1, &w, &mut m1, &mut v1, &h);
                super::adam_simd(&mut p2, &w, &mut m2, &mut v2, &h);
            }
            // Moments of size ≤ 1 to 1e-6; parameters move by ≤ 3·lr_t per step
            // (|m| / √v is bounded), so they agree to 1e-6 absolute.
            assert_close(&m2, &m1, 1e-6, 1.0, "Adam first moment");
            assert_close(&v2, &v1, 1e-6, 1.0, "Adam second moment");
            assert_close(&p2, &p1, 1e-6, 1.0, "Adam parameters");
        }
    }
}
