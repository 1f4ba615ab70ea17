#!/usr/bin/env python3
"""Reference values for crate/src/features, computed with librosa 0.11.0.

Writes (deterministic, small):
  crate/tests/fixtures/librosa_features.json  per-signal MFCC / delta / ZCR / LPC /
                                              zcr_splits / STFT and mel spot checks
  crate/tests/fixtures/librosa_mel_filters.json  librosa.filters.mel banks (sparse)
  crate/tests/fixtures/clip_vectors.json      the original project's 52-dim recipe
                                              and a frame-feature reference

Run from the repository root with the reference environment (see
requirements-ref.txt):
    /tmp/pyref/bin/python scripts/fixtures_librosa.py [--datasets DIR]
DIR defaults to the first existing of $SPEAKER_SHARED_DATASETS,
../shared/datasets, /work/shared/datasets.

Synthetic signals are generated from formulas that crate/tests/features_parity.rs
repeats exactly (f64 arithmetic, rounded to f32):
  tone    0.5 sin(2 pi 440 i / sr), sr 16000, 16000 samples
  chirp   0.5 sin(2 pi (100 t + (4000 - 100) t^2 / 2)), t = i / sr, sr 16000, 16000 samples
  noise   LCG s <- (1664525 s + 1013904223) mod 2^32 from s = 12345, value s / 2^32 - 0.5
          (state advanced before each sample), sr 22050, 22050 samples
  short   the tone's first 1600 samples (4 frames at hop 512: fewer than delta's 9)
  one     [0.5] at 16000 Hz
  silence 16000 zeros at 16000 Hz
Real speech is read at the file's own rate (librosa.load(sr=None)) so feature
parity is not mixed up with resampler differences.

pyAudioAnalysis is not installed (its import needs matplotlib and more); its
zero-crossing-rate path is re-implemented below in numpy from its source
(tyiannak/pyAudioAnalysis, pyAudioAnalysis/ShortTermFeatures.py), quoted inline.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crate" / "tests" / "fixtures"

SPEECH = [
    "dsp34/15307110189/15307110189-00-01.wav",
    "dsp34/16307130023/16307130023-13-02.wav",
    "dsp34/15307130213/15307130213-17-01.wav",
    "fsdd/0_george_0.wav",
    "fsdd/7_jackson_32.wav",
    "fsdd/3_theo_10.wav",
]
CLIP_VECTOR_FILES = [
    "dsp34/15307110189/15307110189-00-01.wav",
    "dsp34/16307130023/16307130023-13-02.wav",
    "dsp34/15307130213/15307130213-17-01.wav",
]
FRAME_FEATURE_FILE = "dsp34/16307130023/16307130023-13-02.wav"


def datasets_dir(arg):
    cands = [arg] if arg else []
    if os.environ.get("SPEAKER_SHARED_DATASETS"):
        cands.append(os.environ["SPEAKER_SHARED_DATASETS"])
    cands += [str(ROOT / ".." / "shared" / "datasets"), "/work/shared/datasets"]
    for c in cands:
        if c and Path(c).is_dir():
            return Path(c)
    raise SystemExit(f"shared datasets not found in {cands}")


def f32list(a):
    """Shortest strings that round-trip float32, as JSON numbers."""
    a = np.asarray(a, dtype=np.float32)
    return [float(str(v)) for v in a.ravel()]


def f32mat(a):
    a = np.asarray(a, dtype=np.float32)
    return [f32list(r) for r in a]


# ---------------------------------------------------------------- signals
def tone(n=16000, sr=16000, f=440.0):
    i = np.arange(n, dtype=np.float64)
    return (0.5 * np.sin(2 * np.pi * f * i / sr)).astype(np.float32)


def chirp(n=16000, sr=16000, f0=100.0, f1=4000.0):
    t = np.arange(n, dtype=np.float64) / sr
    T = n / sr
    return (0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * T)))).astype(np.float32)


def lcg_noise(n, seed=12345):
    s = seed
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        s = (1664525 * s + 1013904223) % (1 << 32)
        out[i] = s / 4294967296.0 - 0.5
    return out.astype(np.float32)


# ------------------------------------------------- pyAudioAnalysis (numpy)
def paa_zcr_splits(s, splits=13, fs=16000):
    """The original's zero_crossing_rate(clip, splits) via pyAudioAnalysis.

    extract_features.py:
        duration = len(s) / float(DEFAULT_SAMPLE_RATE); window = duration / splits
        [f, fn] = aF.feature_extraction(s, DEFAULT_SAMPLE_RATE,
                                        int(DEFAULT_SAMPLE_RATE*window),
                                        int(DEFAULT_SAMPLE_RATE*window))
        return f[0]
    ShortTermFeatures.feature_extraction:
        window = int(window); step = int(step)
        signal = np.double(signal); signal = signal / (2.0 ** 15)
        signal = dc_normalize(signal)
        ...
        while current_position + window - 1 < number_of_samples:
            x = signal[current_position:current_position + window]
            current_position = current_position + step
            ... feature_vector[0] = zero_crossing_rate(x)
    dc_normalize:
        sig_array_norm -= sig_array_norm.mean()
        sig_array_norm /= abs(sig_array_norm).max() + 1e-10
    zero_crossing_rate(frame):
        count = len(frame)
        count_zero = np.sum(np.abs(np.diff(np.sign(frame)))) / 2
        return np.float64(count_zero) / np.float64(count - 1.0)
    """
    duration = len(s) / float(fs)
    window = duration / splits
    win = int(fs * window)
    step = win
    signal = np.double(s)
    signal = signal / (2.0 ** 15)
    signal = signal - signal.mean()
    signal = signal / (abs(signal).max() + 1e-10)
    n = len(signal)
    pos = 0
    out = []
    if win < 2:
        return None
    while pos + win - 1 < n:
        x = signal[pos:pos + win]
        pos += step
        count_zero = np.sum(np.abs(np.diff(np.sign(x)))) / 2
        out.append(np.float64(count_zero) / np.float64(len(x) - 1.0))
    return out


# ------------------------------------------------------------- features
def try_(f):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(), None
    except Exception as e:  # recorded in the fixture
        return None, f"{type(e).__name__}: {e}"


def signal_record(name, y, sr, source, rng):
    rec = {"name": name, "sr": int(sr), "len": int(len(y)), "source": source}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
        M = librosa.feature.melspectrogram(y=y, sr=sr)
        Mdb = librosa.power_to_db(M)
        mf = librosa.feature.mfcc(y=y, sr=sr)  # n_mfcc 20, n_fft 2048, hop 512, 128 mels
    floor = float(Mdb.max()) - 80.0
    rec["mfcc"] = f32mat(mf)
    rec["mel_db_floor"] = floor
    # "clean" frame: every mel band more than 1 dB above the top_db floor.
    rec["clean_frames"] = [bool(v) for v in (Mdb.min(axis=0) > floor + 1.0)]
    d1, e1 = try_(lambda: librosa.feature.delta(mf))
    d2, e2 = try_(lambda: librosa.feature.delta(mf, order=2))
    rec["delta1"] = None if d1 is None else f32mat(d1)
    rec["delta2"] = None if d2 is None else f32mat(d2)
    rec["delta_error"] = e1
    rec["zcr"] = f32list(librosa.feature.zero_crossing_rate(y)[0])
    l32, el = try_(lambda: librosa.lpc(y, order=12))
    l64, _ = try_(lambda: librosa.lpc(y.astype(np.float64), order=12))
    bad = l32 is None or not np.all(np.isfinite(l32))
    rec["lpc_f32"] = None if bad else [float(v) for v in l32]
    rec["lpc_f64"] = None if bad else [float(v) for v in l64]
    rec["lpc_note"] = el if el else ("librosa returned non-finite values" if bad else None)
    z = paa_zcr_splits(y.astype(np.float64) * 2.0 ** 15)
    rec["zcr_splits"] = None if z is None else [float(v) for v in z]
    # Spot checks: the peak bin of a few frames plus seeded random positions.
    T = S.shape[1]
    pos = [(int(np.argmax(S[:, t])), t) for t in range(0, T, max(1, T // 4))]
    pos += [(int(rng.integers(0, S.shape[0])), int(rng.integers(0, T))) for _ in range(12)]
    rec["stft_spots"] = [[k, t, float(np.float32(S[k, t])), float(S[:, t].max())] for k, t in pos]
    mpos = [(int(np.argmax(M[:, t])), t) for t in range(0, T, max(1, T // 4))]
    mpos += [(int(rng.integers(0, M.shape[0])), int(rng.integers(0, T))) for _ in range(12)]
    rec["mel_spots"] = [[k, t, float(np.float32(M[k, t])), float(M[:, t].max())] for k, t in mpos]
    return rec


def mel_bank_record(sr, n_fft, n_mels, fmin, fmax):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    filters = []
    for row in W:
        nz = np.nonzero(row)[0]
        if len(nz) == 0:
            filters.append({"start": 0, "weights": []})
        else:
            s, e = int(nz[0]), int(nz[-1]) + 1
            filters.append({"start": s, "weights": f32list(row[s:e])})
    return {"sr": sr, "n_fft": n_fft, "n_mels": n_mels, "fmin": fmin, "fmax": fmax,
            "filters": filters}


def original_clip_vector(path):
    """The original extract_features.py, with librosa 0.11 (see notes/original_recipe.md)."""
    signal, sr = librosa.load(path, duration=2, sr=16000)
    mfcc = librosa.feature.mfcc(y=signal, n_mfcc=13, sr=sr, hop_length=256)
    delta = librosa.feature.delta(mfcc)
    mfcc_m = np.mean(mfcc.T, axis=0)
    delta_m = np.mean(delta.T, axis=0)
    full, _ = librosa.load(path, sr=16000)
    lpc = librosa.lpc(full, order=12)
    lpc64 = librosa.lpc(full.astype(np.float64), order=12)
    s, fs = sf.read(path, dtype="int16")
    assert fs == 16000
    zcr = paa_zcr_splits(s, 13)
    vec = np.hstack((mfcc_m, delta_m, zcr, lpc))
    return {"path": path, "vector": [float(v) for v in vec],
            "lpc_f64": [float(v) for v in lpc64], "mfcc_frames": int(mfcc.shape[1])}


def frame_feature_reference(path):
    """frame_features' definition in numpy/librosa (see crate/src/features/frames.rs)."""
    y, sr = librosa.load(path, sr=None)
    assert sr == 16000
    kw = dict(sr=sr, n_fft=512, hop_length=160, n_mels=40, fmin=20.0, fmax=7600.0, n_mfcc=20)
    m = librosa.feature.mfcc(y=y, **kw)
    d = librosa.feature.delta(m)
    raw = np.vstack((m, d)).T  # frames x 40
    # VAD: energy of each centred, Hann-windowed, zero-padded frame.
    win = scipy.signal.get_window("hann", 512, fftbins=True)
    yp = np.pad(y.astype(np.float64), 256)
    fr = librosa.util.frame(yp, frame_length=512, hop_length=160)
    e = np.sum((fr * win[:, None]) ** 2, axis=0)
    db = 10 * np.log10(np.maximum(e, 1e-10))
    keep = np.nonzero(db >= db.max() - 40.0)[0]
    if len(keep) < min(10, len(db)):
        keep = np.sort(np.argsort(-db, kind="stable")[:min(10, len(db))])
    x = raw[keep].astype(np.float64)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 1e-8, x.std(axis=0), 1.0)
    sub = list(range(0, raw.shape[0], 7))  # every 7th frame keeps the file small
    return {"path": path, "frames": int(raw.shape[0]), "rows": sub,
            "raw": f32mat(raw[sub]), "kept": [int(k) for k in keep],
            "cmvn_rows": list(range(0, len(keep), 7)),
            "cmvn": f32mat(x[::7])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets")
    args = ap.parse_args()
    data = datasets_dir(args.datasets)
    rng = np.random.default_rng(0)
    OUT.mkdir(parents=True, exist_ok=True)

    sigs = []
    sigs.append(signal_record("tone", tone(), 16000, "synthetic", rng))
    sigs.append(signal_record("chirp", chirp(), 16000, "synthetic", rng))
    sigs.append(signal_record("noise", lcg_noise(22050), 22050, "synthetic", rng))
    sigs.append(signal_record("short", tone()[:1600], 16000, "synthetic", rng))
    sigs.append(signal_record("one", np.array([0.5], dtype=np.float32), 16000, "synthetic", rng))
    sigs.append(signal_record("silence", np.zeros(16000, np.float32), 16000, "synthetic", rng))
    for rel in SPEECH:
        y, sr = librosa.load(data / rel, sr=None)
        sigs.append(signal_record(rel, y, sr, "dataset", rng))
    doc = {"librosa": librosa.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
           "signals": sigs}
    (OUT / "librosa_features.json").write_text(json.dumps(doc, separators=(",", ":")))

    banks = [mel_bank_record(16000, 2048, 128, 0.0, None),
             mel_bank_record(16000, 512, 40, 20.0, 7600.0),
             mel_bank_record(8000, 2048, 128, 0.0, None),
             mel_bank_record(22050, 2048, 128, 0.0, None),
             mel_bank_record(16000, 256, 128, 0.0, None)]  # has empty filters
    (OUT / "librosa_mel_filters.json").write_text(
        json.dumps({"librosa": librosa.__version__, "banks": banks}, separators=(",", ":")))

    clips = {"librosa": librosa.__version__,
             "clip_vectors": [dict(original_clip_vector(str(data / p)), path=p)
                              for p in CLIP_VECTOR_FILES],
             "frame_features": dict(frame_feature_reference(str(data / FRAME_FEATURE_FILE)),
                                    path=FRAME_FEATURE_FILE)}
    (OUT / "clip_vectors.json").write_text(json.dumps(clips, separators=(",", ":")))
    for f in ("librosa_features.json", "librosa_mel_filters.json", "clip_vectors.json"):
        print(f, (OUT / f).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
