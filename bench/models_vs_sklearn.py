#!/usr/bin/env python3
"""Time scikit-learn and this crate on the same data, in one run, and print ratios.

  /tmp/pyref/bin/python bench/models_vs_sklearn.py   (from the repository root)

Wall-clock medians are the headline; CPU time summed over threads is printed too
(more stable when other processes share the cores).

1. GaussianMixture(diag, 32 components): one EM iteration on 100k x 40 frames,
   started from the same initial parameters (warm: one iteration run first).
2. MLPClassifier(hidden (100, 200, 200, 200), batch 16, adam): one epoch on
   2367 x 52 rows, 39 classes (partial_fit after a warm-up epoch).
Data are generated here with a fixed seed and written to a temporary directory
(.npy + JSON) that the Rust example `bench_models` (release build) reads.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.neural_network import MLPClassifier

warnings.simplefilter("ignore", ConvergenceWarning)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPS = 5


def gmm_data(rng):
    n, d, k = 100_000, 40, 32
    centers = rng.normal(0, 3, size=(k, d))
    lab = rng.integers(0, k, size=n)
    x = (centers[lab] + rng.normal(0, 1, size=(n, d))).astype(np.float32)
    w0 = np.full(k, 1.0 / k)
    m0 = x[rng.choice(n, k, replace=False)].astype(np.float64)
    v0 = np.ones((k, d))
    return x, w0, m0, v0


def time_sklearn_em(x, w0, m0, v0):
    """Per-iteration ms: the E-step + M-step GaussianMixture.fit runs per
    iteration, timed on a warm model; and, as a check through the public API, the
    difference of fit(max_iter=3) and fit(max_iter=1) halved (init_params='random'
    so no k-means runs; the given initial parameters override it)."""
    X = x.astype(np.float64)
    mk = lambda it: GaussianMixture(n_components=len(w0), covariance_type="diag", max_iter=it, tol=0.0,
                                    init_params="random", random_state=0,
                                    weights_init=w0, means_init=m0, precisions_init=1.0 / v0)
    g = mk(1).fit(X)
    times = []
    c0 = time.process_time()
    for _ in range(REPS):
        t = time.perf_counter()
        _, log_resp = g._e_step(X)
        g._m_step(X, log_resp)
        times.append((time.perf_counter() - t) * 1e3)
    cpu = (time.process_time() - c0) / REPS * 1e3
    diffs = []
    for _ in range(3):
        t = time.perf_counter(); mk(3).fit(X); t3 = time.perf_counter() - t
        t = time.perf_counter(); mk(1).fit(X); t1 = time.perf_counter() - t
        diffs.append((t3 - t1) / 2 * 1e3)
    return float(np.median(times)), float(np.median(diffs)), cpu


def mlp_data(rng):
    n, d, c = 2367, 52, 39
    y = np.arange(n) % c
    centers = rng.normal(0, 1, size=(c, d))
    x = (centers[y] + rng.normal(0, 1.5, size=(n, d))).astype(np.float32)
    return x, y


def time_sklearn_mlp(x, y):
    classes = np.unique(y)
    m = MLPClassifier(hidden_layer_sizes=(100, 200, 200, 200), batch_size=16, solver="adam",
                      alpha=0.0, random_state=0)
    m.partial_fit(x, y, classes=classes)  # warm-up epoch
    times = []
    c0 = time.process_time()
    for _ in range(REPS):
        t = time.perf_counter()
        m.partial_fit(x, y)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), (time.process_time() - c0) / REPS * 1e3


def main():
    rng = np.random.default_rng(42)
    x, w0, m0, v0 = gmm_data(rng)
    xm, ym = mlp_data(rng)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "gmm_x.npy"), x)
        with open(os.path.join(tmp, "gmm_init.json"), "w") as f:
            json.dump({"weights": w0.tolist(), "means": m0.tolist(), "variances": v0.tolist()}, f)
        np.save(os.path.join(tmp, "mlp_x.npy"), xm)
        with open(os.path.join(tmp, "mlp_y.json"), "w") as f:
            json.dump(ym.tolist(), f)
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "speaker_similarity", "--example", "bench_models"],
                       cwd=ROOT, check=True)
        exe = os.path.join(ROOT, "target", "release", "examples", "bench_models")
        # Interleave: sklearn, Rust, sklearn again (load on a shared machine varies).
        sk_em_iter, sk_em_diff, sk_em_cpu = time_sklearn_em(x, w0, m0, v0)
        sk_mlp, sk_mlp_cpu = time_sklearn_mlp(xm, ym)
        out = subprocess.run([exe, "--gmm-npy", os.path.join(tmp, "gmm_x.npy"),
                              "--gmm-init", os.path.join(tmp, "gmm_init.json"),
                              "--mlp-npy", os.path.join(tmp, "mlp_x.npy"),
                              "--mlp-labels", os.path.join(tmp, "mlp_y.json"),
                              "--reps", str(REPS)], check=True, capture_output=True, text=True).stdout
        rust = json.loads(out.strip().splitlines()[-1])
        sk_em_iter_b, sk_em_diff_b, sk_em_cpu_b = time_sklearn_em(x, w0, m0, v0)
        sk_mlp_b, sk_mlp_cpu_b = time_sklearn_mlp(xm, ym)
    sk_em = min(sk_em_iter, sk_em_iter_b)
    sk_mlp_ms = min(sk_mlp, sk_mlp_b)
    print(f"threads (rayon): {rust['threads']}, cpus: {os.cpu_count()}, load avg: {os.getloadavg()}")
    print(f"EM iteration, 100000 x 40, 32 comps: sklearn {sk_em:8.1f} ms "
          f"(via fit(3)-fit(1): {min(sk_em_diff, sk_em_diff_b):.1f} ms) | rust {rust['em_iter_ms']:8.1f} ms "
          f"| ratio {sk_em / rust['em_iter_ms']:.1f}x (goal >= 4x)")
    print(f"MLP epoch, 2367 x 52, 39 classes, (100,200,200,200), batch 16: sklearn {sk_mlp_ms:8.1f} ms | "
          f"rust {rust['mlp_epoch_ms']:8.1f} ms (10-epoch mean {rust['mlp_epoch_ms_10']:.1f}) "
          f"| ratio {sk_mlp_ms / rust['mlp_epoch_ms']:.1f}x (goal >= 20x)")
    if rust.get("em_cpu_ms") and rust.get("mlp_cpu_ms"):
        em_c, mlp_c = min(sk_em_cpu, sk_em_cpu_b), min(sk_mlp_cpu, sk_mlp_cpu_b)
        print(f"CPU time (all threads): EM sklearn {em_c:.1f} ms vs rust {rust['em_cpu_ms']:.1f} ms "
              f"({em_c / rust['em_cpu_ms']:.1f}x); MLP epoch sklearn {mlp_c:.1f} ms vs rust "
              f"{rust['mlp_cpu_ms']:.1f} ms ({mlp_c / rust['mlp_cpu_ms']:.1f}x)")
    print(json.dumps({"sklearn_em_iter_ms": sk_em, "rust_em_iter_ms": rust["em_iter_ms"],
                      "sklearn_mlp_epoch_ms": sk_mlp_ms, "rust_mlp_epoch_ms": rust["mlp_epoch_ms"]}))


if __name__ == "__main__":
    sys.exit(main())
