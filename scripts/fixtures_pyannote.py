"""Reference fixtures for crate/tests/der_pyannote.rs: pyannote.metrics'
DiarizationErrorRate on reference/hypothesis RTTM pairs.

The pairs are drawn at random (seeded): 2-5 reference speakers with turns, pauses and
overlapping speech; hypotheses with shifted boundaries, permuted and renamed labels,
a speaker split in two, a merged pair, missed turns and false alarms. Each pair is
scored with collar 0, 0.5 (NIST's +-0.25 s) and 1.0 s, skip_overlap=False. Times are
rounded to milliseconds, the precision of the RTTM files, so both sides read the same
numbers.

Run:  .venv-ref/bin/python scripts/fixtures_pyannote.py
"""
import json
import pathlib
import warnings

import numpy as np
import pyannote.metrics
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

OUT = pathlib.Path(__file__).resolve().parent.parent / "crate" / "tests" / "fixtures" / "der"
COLLARS = [0.0, 0.5, 1.0]
warnings.filterwarnings("ignore", message=".*'uem' was approximated.*")


def reference(rng, n_speakers, n_turns, overlap):
    """Turns (start, end, label); no label overlaps itself."""
    turns, t, prev = [], float(rng.uniform(0.0, 2.0)), None
    labels = [f"spk{k}" for k in range(n_speakers)]
    for _ in range(n_turns):
        cand = [l for l in labels if l != prev]
        lab = cand[int(rng.integers(len(cand)))]
        dur = float(rng.uniform(0.6, 8.0))
        start = t
        if turns and rng.random() < overlap:
            # Start inside the previous turn (never before its start).
            ps, pe, _ = turns[-1]
            start = max(ps + 0.1, pe - float(rng.uniform(0.1, 1.5)))
        start, end = round(start, 3), round(start + dur, 3)
        turns.append((start, end, lab))
        prev = lab
        t = max(end, t) + float(rng.uniform(0.0, 1.5))
    return merge_same_label(turns)


def hypothesis(rng, ref, kind):
    names = sorted({l for _, _, l in ref})
    perm = rng.permutation(len(names))
    rename = {n: f"H{int(p)}" for n, p in zip(names, perm)}
    out = []
    for s, e, l in ref:
        if kind in ("miss", "mixed") and rng.random() < 0.15:
            continue
        s2 = max(0.0, s + float(rng.normal(0.0, 0.3)))
        e2 = e + float(rng.normal(0.0, 0.3))
        lab = rename[l]
        if kind in ("confuse", "mixed") and rng.random() < 0.2:
            lab = rename[names[int(rng.integers(len(names)))]]
        if kind == "split" and l == names[0] and rng.random() < 0.5:
            lab = "extra"
        if kind == "merge" and len(names) > 2 and l == names[1]:
            lab = rename[names[0]]
        if e2 - s2 > 0.05:
            out.append((round(s2, 3), round(e2, 3), lab))
    if kind in ("fa", "mixed"):
        end = max(e for _, e, _ in ref)
        for _ in range(3):
            s = float(rng.uniform(0.0, end))
            out.append((round(s, 3), round(s + float(rng.uniform(0.2, 2.0)), 3), "noise"))
    return merge_same_label(out)


def merge_same_label(out):
    """A speaker cannot overlap itself: merge same-label overlaps like the Rust side
    does, so pyannote does not count a label twice."""
    merged = []
    for lab in sorted({l for _, _, l in out}):
        segs = sorted((s, e) for s, e, l in out if l == lab)
        cur = list(segs[0])
        for s, e in segs[1:]:
            if s <= cur[1]:
                cur[1] = max(cur[1], e)
            else:
                merged.append((cur[0], cur[1], lab))
                cur = [s, e]
        merged.append((cur[0], cur[1], lab))
    merged.sort()
    return merged


def annotation(turns, uri):
    a = Annotation(uri=uri)
    for i, (s, e, l) in enumerate(turns):
        a[Segment(s, e), i] = l
    return a


def rttm(turns, uri):
    return "".join(
        f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {l} <NA> <NA>\n" for s, e, l in turns
    )


def main():
    rng = np.random.default_rng(11)
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    kinds = ["perfect", "shift", "confuse", "miss", "fa", "split", "merge", "mixed"]
    for i in range(16):
        kind = kinds[i % len(kinds)]
        n_spk = 2 + i % 4
        ref = reference(rng, n_spk, int(rng.integers(6, 25)), overlap=[0.0, 0.2, 0.4][i % 3])
        hyp = ref if kind == "perfect" else hypothesis(rng, ref, kind)
        if kind == "perfect":
            hyp = [(s, e, f"X{l}") for s, e, l in ref]
        uri = f"case{i:02d}"
        # Read back exactly what the files hold.
        (OUT / f"{uri}.ref.rttm").write_text(rttm(ref, uri))
        (OUT / f"{uri}.hyp.rttm").write_text(rttm(hyp, uri))
        R, H = annotation(ref, uri), annotation(hyp, uri)
        results = []
        for collar in COLLARS:
            metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
            d = metric(R, H, detailed=True)
            results.append(
                {
                    "collar": collar,
                    "der": float(d["diarization error rate"]),
                    "total": float(d["total"]),
                    "missed": float(d["missed detection"]),
                    "false_alarm": float(d["false alarm"]),
                    "confusion": float(d["confusion"]),
                }
            )
        cases.append({"uri": uri, "kind": kind, "speakers": n_spk, "results": results})
    (OUT / "der_pyannote.json").write_text(
        json.dumps({"pyannote_metrics_version": pyannote.metrics.__version__, "cases": cases}, indent=1)
    )
    print(f"wrote {len(cases)} RTTM pairs to {OUT}")


if __name__ == "__main__":
    main()
