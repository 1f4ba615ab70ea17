"""Reference numbers for the `dataset` tests: what soundfile reads from the shared
speech data sets (clips per speaker, total frames, sample rates, shortest and longest
clip). Deterministic; writes crate/tests/fixtures/datasets_summary.json.

Usage: python scripts/fixtures_datasets.py [SHARED_DATASETS_DIR]
(default: $SPEAKER_SHARED_DATASETS, ../shared/datasets, /work/shared/datasets)
"""
import collections
import json
import os
import sys

import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crate", "tests", "fixtures", "datasets_summary.json")


def shared_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    for c in [os.environ.get("SPEAKER_SHARED_DATASETS"),
              os.path.join(HERE, "..", "..", "shared", "datasets"),
              "/work/shared/datasets"]:
        if c and os.path.isdir(c):
            return c
    sys.exit("shared data sets not found")


def speaker_of(name, rel):
    if name == "fsdd":
        return rel.split("_")[1]
    return rel.split(os.sep)[0]


def main():
    root = shared_dir()
    out = {}
    for name in ["fsdd", "dsp34"]:
        base = os.path.join(root, name)
        files = []
        for d, _, fs in os.walk(base):
            files += [os.path.relpath(os.path.join(d, f), base) for f in fs if f.lower().endswith(".wav")]
        files.sort()
        per = collections.Counter()
        frames = collections.Counter()
        rates = collections.Counter()
        durs = []
        for rel in files:
            info = sf.info(os.path.join(base, rel))
            spk = speaker_of(name, rel)
            per[spk] += 1
            frames[spk] += info.frames
            rates[str(info.samplerate)] += 1
            durs.append(info.frames / info.samplerate)
        out[name] = {
            "clips": len(files),
            "clips_per_speaker": dict(sorted(per.items())),
            "frames_per_speaker": dict(sorted(frames.items())),
            "sample_rates": dict(sorted(rates.items())),
            "min_seconds": min(durs),
            "max_seconds": max(durs),
            "total_seconds": sum(durs),
        }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
