#!/usr/bin/env python3
"""The open-world protocol of issue 10, end to end, through the release binary.

On a folder-per-speaker data set laid out as dsp34 (`SPK/SPK-WW-RR.wav`, words 00-19):
- enrolment folder: words 00-13 of the first 24 speakers (sorted by id);
- `speaker-similarity train --data ENROL --out MODEL` with its defaults (plus any
  method flags given with --train-arg);
- queries: words 14-19 of those 24 speakers under each condition, one clip per
  `similar --json -k 1` and `predict --json` call; and words 14-19 of the other
  speakers (never enrolled);
- top-1 correct of `similar` (the most similar enrolled speaker) and of `predict`
  (the headline GMM's speaker of the whole recording), per condition, and the
  equal error rate of enrolled (clean) vs never-enrolled queries by the best
  `similar` score.

Conditions:
- `clean`;
- `telephone` — the protocol's reference telephone channel, made HERE with scipy and
  independent of the library (so the library is not tested on its own augmentation):
  resampled to 8 kHz (`scipy.signal.resample_poly`), 4th-order Butterworth band-pass
  300-3400 Hz (`scipy.signal.butter(4, [300, 3400], "bandpass", fs=8000)`, causal
  `sosfilt`), white Gaussian noise at 15 dB SNR (clip power over noise power, over the
  whole clip);
- any library condition (`babble:10`, `white:15`, `reverb:0.5`, `telephone+white:15`,
  ...) made by `speaker-similarity degrade` (babble from the never-enrolled
  speakers' words 00-13: other speakers than every query's, and no query clip).

Needs numpy, scipy and soundfile (requirements-ref.txt; `make fixtures` makes
.venv-ref). Run from the repository root after `cargo build --release`:

    .venv-ref/bin/python scripts/open_world_protocol.py --data ../shared/datasets/dsp34 \\
        --work out/open_world --conditions clean,telephone,babble:10,white:15,reverb:0.5

It prints a table and writes WORK/results.json. To add a measurement (the open-set
verdicts, say), add a function that takes the per-query records `run_queries`
returns — every record keeps the whole JSON answers of both commands.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

ENROL_WORDS = range(0, 14)
QUERY_WORDS = range(14, 20)
N_ENROLLED = 24


def clips_of(speaker_dir, words):
    out = []
    for p in sorted(speaker_dir.glob("*.wav")):
        parts = p.stem.split("-")
        if len(parts) >= 3 and parts[-2].isdigit() and int(parts[-2]) in words:
            out.append(p)
    return out


def link(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        dst.symlink_to(src.resolve())
    except OSError:
        shutil.copy(src, dst)


def reference_telephone(x, rate, seed, snr_db=15.0):
    """The protocol's telephone channel with scipy: 8 kHz, Butterworth 300-3400 Hz,
    white noise at snr_db."""
    if rate != 8000:
        g = np.gcd(int(rate), 8000)
        x = signal.resample_poly(x, 8000 // g, int(rate) // g)
    sos = signal.butter(4, [300.0, 3400.0], btype="bandpass", fs=8000, output="sos")
    y = signal.sosfilt(sos, x)
    p_sig = np.mean(y**2)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(len(y))
    noise *= np.sqrt(p_sig / np.mean(noise**2) / 10 ** (snr_db / 10))
    y = y + noise
    peak = np.max(np.abs(y))
    if peak > 1.0:
        y = y / peak
    return y.astype(np.float32), 8000


def build_folders(data, work):
    speakers = sorted(p.name for p in data.iterdir() if p.is_dir())
    if len(speakers) <= N_ENROLLED:
        sys.exit(f"{data}: {len(speakers)} speakers; the protocol needs more than {N_ENROLLED}")
    enrolled, unknown = speakers[:N_ENROLLED], speakers[N_ENROLLED:]
    for s in enrolled:
        for c in clips_of(data / s, ENROL_WORDS):
            link(c, work / "enrol" / s / c.name)
        for c in clips_of(data / s, QUERY_WORDS):
            link(c, work / "queries" / "clean" / s / c.name)
    for s in unknown:
        for c in clips_of(data / s, QUERY_WORDS):
            link(c, work / "unknown" / s / c.name)
        for c in clips_of(data / s, ENROL_WORDS):
            link(c, work / "babble_pool" / s / c.name)
    return enrolled, unknown


def make_condition(cond, work, binary, seed):
    clean = work / "queries" / "clean"
    out = work / "queries" / cond.replace(":", "_").replace("+", "__")
    if cond == "clean":
        return clean
    if out.exists():
        shutil.rmtree(out)
    if cond == "telephone":
        for i, f in enumerate(sorted(clean.glob("*/*.wav"))):
            x, rate = sf.read(f, dtype="float64")
            if x.ndim > 1:
                x = x.mean(axis=1)
            y, r = reference_telephone(x, rate, seed * 100003 + i)
            dst = out / f.parent.name / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            sf.write(dst, y, r, subtype="PCM_16")
        return out
    cmd = [str(binary), "degrade", str(clean), str(out), "--condition", cond,
           "--seed", str(seed)]
    if "babble" in cond:
        cmd += ["--babble", str(work / "babble_pool")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def ask(binary, model, f):
    sim = subprocess.run([str(binary), "similar", "--model", str(model), str(f), "--json", "-k", "1"],
                         capture_output=True, text=True)
    pred = subprocess.run([str(binary), "predict", "--model", str(model), str(f), "--json"],
                          capture_output=True, text=True)
    rec = {"file": str(f), "speaker": f.parent.name}
    rec["similar"] = json.loads(sim.stdout) if sim.returncode == 0 else {"error": sim.stderr.strip()}
    rec["predict"] = json.loads(pred.stdout) if pred.returncode == 0 else {"error": pred.stderr.strip()}
    return rec


def run_queries(binary, model, folder, jobs):
    files = sorted(folder.glob("*/*.wav"))
    with ThreadPoolExecutor(jobs) as ex:
        return list(ex.map(lambda f: ask(binary, model, f), files))


def top1(records):
    def similar_of(r):
        s = r["similar"].get("similar") or [{}]
        return s[0].get("speaker")

    def predict_of(r):
        g = (r["predict"].get("overall") or {}).get("gmm") or {}
        return g.get("speaker")

    n = len(records)
    return {
        "queries": n,
        "similar_top1": sum(similar_of(r) == r["speaker"] for r in records) / max(n, 1),
        "predict_top1": sum(predict_of(r) == r["speaker"] for r in records) / max(n, 1),
        "errors": sum("error" in r["similar"] or "error" in r["predict"] for r in records),
    }


def best_similar_score(r):
    s = r["similar"].get("similar") or []
    return s[0]["score"] if s else -np.inf


def eer(pos, neg):
    """Equal error rate of scores: positives should score above negatives."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    th = np.unique(np.concatenate([pos, neg]))
    best = (2.0, 0.0)
    for t in th:
        miss = np.mean(pos < t)
        fa = np.mean(neg >= t)
        if abs(miss - fa) < best[0]:
            best = (abs(miss - fa), (miss + fa) / 2)
    return best[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("DSP34", "../shared/datasets/dsp34")))
    ap.add_argument("--work", type=Path, default=Path("out/open_world"))
    ap.add_argument("--bin", type=Path, default=None, help="the speaker-similarity binary")
    ap.add_argument("--conditions", default="clean,telephone,babble:10,white:15,reverb:0.5")
    ap.add_argument("--train-arg", action="append", default=[],
                    help="extra argument for `train` (repeat), e.g. --train-arg=--narrowband=off")
    ap.add_argument("--label", default="defaults", help="name of this run in the results")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-unknown", action="store_true", help="skip the never-enrolled queries")
    a = ap.parse_args()

    binary = a.bin or Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "release" / "speaker-similarity"
    if not binary.exists():
        sys.exit(f"{binary}: not found; run `cargo build --release -p speaker-similarity` or give --bin")
    a.work.mkdir(parents=True, exist_ok=True)
    enrolled, unknown = build_folders(a.data, a.work)
    model = a.work / "models" / a.label
    if model.exists():
        shutil.rmtree(model)
    subprocess.run([str(binary), "train", "--data", str(a.work / "enrol"), "--out", str(model),
                    "--json", *a.train_arg], check=True, stdout=subprocess.DEVNULL)

    results = {"label": a.label, "train_args": a.train_arg, "enrolled": len(enrolled),
               "never_enrolled": len(unknown), "conditions": {}}
    records = {}
    for cond in [c.strip() for c in a.conditions.split(",") if c.strip()]:
        folder = make_condition(cond, a.work, binary, a.seed)
        records[cond] = run_queries(binary, model, folder, a.jobs)
        results["conditions"][cond] = top1(records[cond])
        r = results["conditions"][cond]
        print(f"{a.label:24} {cond:22} similar {100 * r['similar_top1']:5.1f} %  "
              f"predict {100 * r['predict_top1']:5.1f} %  ({r['queries']} queries, {r['errors']} errors)",
              flush=True)
    if not a.no_unknown and "clean" in records:
        unk = run_queries(binary, model, a.work / "unknown", a.jobs)
        pos = [best_similar_score(r) for r in records["clean"]]
        neg = [best_similar_score(r) for r in unk]
        results["open_set_eer_similar_score"] = eer(pos, neg)
        print(f"{a.label:24} enrolled vs never-enrolled EER by best similar score: "
              f"{100 * results['open_set_eer_similar_score']:.1f} %")
    out = a.work / f"results_{a.label}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
