#!/usr/bin/env python3
"""The whole `evaluate` against its Python equivalent, on the same data, in one run.

    .venv-ref/bin/python bench/pipeline_vs_python.py [--data DIR] [--seed 42]

Python side (librosa 0.11 + scikit-learn + numpy), mirroring our defaults step by step:
  - the same per-speaker 70/30 split (we read ours from `evaluate --json`'s counts and
    make the Python split with the same sizes: round(0.3 n) test clips per speaker,
    shuffled with numpy's generator — a different shuffle, the same protocol);
  - clip vectors: the original recipe (MFCC/delta means of the first 2 s, 13 ZCR
    splits, LPC 12) with librosa, at 16 kHz;
  - frame features: 20 MFCC + delta (n_fft 512, hop 160, 40 mels, 20-7600 Hz), frames
    within 40 dB of the loudest, no CMVN;
  - MLPClassifier(hidden (256, 128), adam, batch 32, early stopping on a 20 %
    validation part) on standardised clip vectors;
  - per-speaker GaussianMixture(16, diag, n_init=3) on clip vectors (the original);
  - per-speaker GaussianMixture(32, diag, k-means++, max_iter 50) on frames;
  - UBM GaussianMixture(128, diag, k-means++, max_iter 50) on at most 50 000 frames,
    MAP adaptation of the means (relevance 16) per speaker in numpy, scored by the
    mean log-likelihood ratio.
Ours: `target/release/speaker-similarity evaluate --data DIR --json` (all cores).
Python uses all cores too (BLAS threads); librosa's feature extraction runs in one
process, as the original notebook did.
Prints the wall time of each side, the ratio, and both sides' accuracies.
"""
import argparse
import json
import warnings
import subprocess
import sys
import time
from pathlib import Path

import librosa
import numpy as np
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from fixtures_librosa import paa_zcr_splits  # noqa: E402

AUDIO = (".wav", ".flac", ".mp3", ".ogg")


def list_clips(root: Path):
    """(path, speaker) for a folders layout or an FSDD directory."""
    clips = []
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO)
    for p in files:
        rel = p.relative_to(root)
        if len(rel.parts) == 1:  # FSDD: digit_speaker_index.wav
            clips.append((p, p.stem.split("_")[1]))
        else:
            clips.append((p, rel.parts[0]))
    return clips


def clip_vector(y, sr):
    head = y[: 2 * sr]
    mfcc = librosa.feature.mfcc(y=head, sr=sr, n_mfcc=13, hop_length=256)
    delta = librosa.feature.delta(mfcc)
    zcr = paa_zcr_splits(y.astype(np.float64) * 2.0 ** 15, 13)
    lpc = librosa.lpc(y, order=12)
    return np.hstack((mfcc.mean(axis=1), delta.mean(axis=1), zcr, lpc))


def frame_features(y, sr):
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, n_fft=512, hop_length=160, n_mels=40,
                                fmin=20, fmax=7600)
    delta = librosa.feature.delta(mfcc)
    frames = librosa.util.frame(np.pad(y, 256), frame_length=512, hop_length=160)
    energy = 10 * np.log10(np.maximum((frames ** 2).sum(axis=0), 1e-10))[: mfcc.shape[1]]
    keep = energy >= energy.max() - 40
    if keep.sum() < 10:
        keep = np.argsort(energy)[-10:]
    return np.vstack((mfcc, delta)).T[keep]


def map_adapt(ubm, x, r=16.0):
    resp = ubm.predict_proba(x)
    n = resp.sum(axis=0)
    ex = resp.T @ x / np.maximum(n, 1e-10)[:, None]
    alpha = (n / (n + r))[:, None]
    means = alpha * ex + (1 - alpha) * ubm.means_
    g = GaussianMixture(ubm.n_components, covariance_type="diag")
    g.weights_, g.means_, g.covariances_ = ubm.weights_, means, ubm.covariances_
    g.precisions_cholesky_ = ubm.precisions_cholesky_
    return g


def python_pipeline(root: Path, seed: int):
    t0 = time.perf_counter()
    clips = list_clips(root)
    speakers = sorted({s for _, s in clips})
    feats = []
    for p, s in clips:
        y, sr = librosa.load(p, sr=16000)
        feats.append((clip_vector(y, sr), frame_features(y, sr), speakers.index(s)))
    t_feat = time.perf_counter() - t0

    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(len(speakers)):
        idx = [i for i, f in enumerate(feats) if f[2] == c]
        rng.shuffle(idx)
        n_test = min(max(round(0.3 * len(idx)), 1), len(idx) - 1)
        test += idx[:n_test]
        train += idx[n_test:]
    X = np.array([feats[i][0] for i in train])
    y = np.array([feats[i][2] for i in train])
    Xt = np.array([feats[i][0] for i in test])
    yt = np.array([feats[i][2] for i in test])
    acc = {}

    scaler = StandardScaler().fit(X)
    mlp = MLPClassifier(hidden_layer_sizes=(256, 128), batch_size=32, max_iter=200,
                        early_stopping=True, validation_fraction=0.2, n_iter_no_change=30,
                        random_state=seed)
    mlp.fit(scaler.transform(X), y)
    acc["mlp"] = float((mlp.predict(scaler.transform(Xt)) == yt).mean())

    k = min(16, min(int((y == c).sum()) for c in range(len(speakers))))
    gmms = [GaussianMixture(k, covariance_type="diag", n_init=3, random_state=seed).fit(X[y == c])
            for c in range(len(speakers))]
    scores = np.stack([g.score_samples(Xt) for g in gmms], axis=1)
    acc["gmm-clip"] = float((scores.argmax(axis=1) == yt).mean())

    per_speaker = [np.vstack([feats[i][1] for i in train if feats[i][2] == c])
                   for c in range(len(speakers))]
    frame_gmms = [GaussianMixture(32, covariance_type="diag", init_params="k-means++",
                                  max_iter=50, random_state=seed).fit(f) for f in per_speaker]
    pred = [np.argmax([g.score_samples(feats[i][1]).sum() for g in frame_gmms]) for i in test]
    acc["gmm-frame"] = float((np.array(pred) == yt).mean())

    pooled = np.vstack(per_speaker)
    step = int(np.ceil(len(pooled) / 50_000))
    ubm = GaussianMixture(128, covariance_type="diag", init_params="k-means++", max_iter=50,
                          random_state=seed).fit(pooled[::step])
    adapted = [map_adapt(ubm, f) for f in per_speaker]
    pred = []
    for i in test:
        x = feats[i][1]
        base = ubm.score_samples(x)
        pred.append(np.argmax([(a.score_samples(x) - base).mean() for a in adapted]))
    acc["gmm-ubm"] = float((np.array(pred) == yt).mean())
    return time.perf_counter() - t0, t_feat, acc, len(train), len(test)


def main():
    warnings.filterwarnings("ignore")  # scikit-learn's ConvergenceWarning at max_iter 50
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "dsp34"))
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    root = Path(args.data)
    binary = ROOT / "target" / "release" / "speaker-similarity"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "speaker-similarity"], cwd=ROOT,
                       check=True)

    t = time.perf_counter()
    out = subprocess.run([str(binary), "evaluate", "--data", str(root), "--seed", str(args.seed),
                          "--json"], capture_output=True, text=True, check=True)
    ours = time.perf_counter() - t
    ev = json.loads(out.stdout)

    py, py_feat, py_acc, n_train, n_test = python_pipeline(root, args.seed)

    print(f"data: {root} ({ev['speakers']} speakers, {ev['train_clips']} train / "
          f"{ev['test_clips']} test clips; Python split {n_train} / {n_test})")
    print(f"{'model':<10} {'ours':>8} {'python':>8}")
    for m in ["mlp", "gmm-clip", "gmm-frame", "gmm-ubm"]:
        print(f"{m:<10} {ev['models'][m]['accuracy']:>8.4f} {py_acc[m]:>8.4f}")
    print(f"features: ours {ev['feature_seconds']:.2f} s, python {py_feat:.2f} s "
          f"({py_feat / ev['feature_seconds']:.1f}x)")
    print(f"whole evaluate: ours {ours:.2f} s, python {py:.2f} s -> {py / ours:.1f}x faster")


if __name__ == "__main__":
    main()
