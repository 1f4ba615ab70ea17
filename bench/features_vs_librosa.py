#!/usr/bin/env python3
"""Time the original project's clip-vector recipe in librosa 0.11 against ours, in one run.

    /tmp/pyref/bin/python bench/features_vs_librosa.py [--clips N] [--repeat R]

Both sides run single-threaded on the same 16 kHz dsp34 clips (about 2 s each),
decoded before timing, so the numbers are feature extraction only:
- librosa: mfcc(first 2 s, n_mfcc=13, hop_length=256) + delta + frame means,
  lpc(order=12) on the whole clip, and the pyAudioAnalysis 13-split ZCR (numpy,
  see scripts/fixtures_librosa.py) — the original extract_features.py minus file I/O.
  OMP/BLAS/numba threads are pinned to 1 before numpy is imported.
- ours: crate/examples/bench_features.rs (clip_vector, and frame_features for
  reference), built with `cargo build --release`.
Each clip is warmed up once and timed R times on each side. Per clip the median
and the minimum are kept; the summary prints the median over clips of both, and
the ratio of each. The minimum is the least disturbed by other processes on a
shared machine (librosa's median moves by 50% with background load, ours by a
few per cent), so it is the headline number.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
           "RAYON_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from fixtures_librosa import datasets_dir, paa_zcr_splits  # noqa: E402


def librosa_clip_vector(y, sr):
    head = y[: int(2 * sr)]
    mfcc = librosa.feature.mfcc(y=head, n_mfcc=13, sr=sr, hop_length=256)
    delta = librosa.feature.delta(mfcc)
    lpc = librosa.lpc(y, order=12)
    zcr = paa_zcr_splits(y.astype(np.float64) * 2.0 ** 15, 13)
    return np.hstack((mfcc.mean(axis=1), delta.mean(axis=1), zcr, lpc))


def times(f, repeat):
    """(median, min) of `repeat` timed calls after one warm-up, in seconds."""
    f()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), float(np.min(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--datasets")
    args = ap.parse_args()
    data = datasets_dir(args.datasets)
    clips = sorted((data / "dsp34").glob("*/*.wav"))[:: 97][: args.clips]
    if not clips:
        raise SystemExit(f"no dsp34 clips under {data}")

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "speaker_similarity",
                    "--example", "bench_features"], cwd=ROOT, check=True)
    exe = ROOT / "target" / "release" / "examples" / "bench_features"

    lib_med, lib_min = [], []
    for p in clips:
        y, sr = librosa.load(p, sr=None)
        assert sr == 16000
        med, mn = times(lambda: librosa_clip_vector(y, sr), args.repeat)
        lib_med.append(1e6 * med)
        lib_min.append(1e6 * mn)
    out = subprocess.run([str(exe), "--repeat", str(args.repeat * 4)] + [str(p) for p in clips],
                         check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    our_med = [r["clip_vector_us"] for r in ours]
    our_min = [r["clip_vector_min_us"] for r in ours]
    ff_med = [r["frame_features_us"] for r in ours]

    print(f"{'clip':44} {'librosa us (med/min)':>21} {'ours us (med/min)':>18} {'ratio med/min':>14}")
    for p, lm, ln, om, on in zip(clips, lib_med, lib_min, our_med, our_min):
        print(f"{str(p.relative_to(data)):44} {lm:10.0f} /{ln:8.0f} {om:8.0f} /{on:7.0f} "
              f"{lm / om:6.1f} /{ln / on:6.1f}")
    a, b = float(np.median(lib_min)), float(np.median(our_min))
    c, d = float(np.median(lib_med)), float(np.median(our_med))
    print(f"clip_vector, best of {args.repeat} runs (median over {len(clips)} clips): "
          f"librosa {a:.0f} us, ours {b:.0f} us, ratio {a / b:.1f}x  [single thread]")
    print(f"clip_vector, median of runs: librosa {c:.0f} us, ours {d:.0f} us, ratio {c / d:.1f}x")
    print(f"frame_features (ours, 40 dims per 10 ms frame), median: {float(np.median(ff_med)):.0f} us")


if __name__ == "__main__":
    main()
