use ndarray::linalg::general_mat_mul;
use ndarray::Array2;
use std::time::Instant;
fn main() {
    let (b, d2, k) = (512usize, 80usize, 32usize);
    let z = Array2::<f64>::from_shape_fn((b, d2), |(i, j)| ((i * 31 + j * 7) % 13) as f64 * 0.1);
    let w = Array2::<f64>::from_shape_fn((d2, k), |(i, j)| ((i * 3 + j * 5) % 11) as f64 * 0.01);
    let mut lp = Array2::<f64>::zeros((b, k));
    let mut st = Array2::<f64>::zeros((k, d2));
    let nb = 196;
    let t = Instant::now();
    for _ in 0..nb { general_mat_mul(1.0, &z, &w, 0.0, &mut lp); }
    println!("gemm1 {:.1} ms", t.elapsed().as_secs_f64()*1e3);
    let t = Instant::now();
    for _ in 0..nb { general_mat_mul(1.0, &lp.t(), &z, 0.0, &mut st); }
    println!("gemm2 {:.1} ms", t.elapsed().as_secs_f64()*1e3);
    let t = Instant::now();
    let mut s = 0.0;
    for _ in 0..nb { for v in lp.iter() { s += (v - 3.0f64).exp(); } }
    println!("exp {:.1} ms {s}", t.elapsed().as_secs_f64()*1e3);
    let zf = z.mapv(|v| v as f32); let wf = w.mapv(|v| v as f32); let mut lpf = lp.mapv(|v| v as f32);
    let t = Instant::now();
    for _ in 0..nb { general_mat_mul(1.0, &zf, &wf, 0.0, &mut lpf); }
    println!("sgemm1 {:.1} ms", t.elapsed().as_secs_f64()*1e3);
}
