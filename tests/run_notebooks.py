#!/usr/bin/env python3
"""Run the tutorial notebooks headless with the Rust kernel, top to bottom.

    tests/run_notebooks.py --out out/notebooks                  # synthetic corpus
    tests/run_notebooks.py --out out/notebooks --data DIR       # a data set
    tests/run_notebooks.py --update                             # refresh notebooks/ in place
    tests/run_notebooks.py --out DIR 02_neural_network          # some notebooks only

Executed copies go to --out; with --update the outputs are written back into
notebooks/ (how the committed outputs are made: on the synthetic corpus, no --data).
Exits non-zero when a notebook shows an error, a panic or anything on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbformat  # noqa: E402

from notebook_runner import check_kernel, execute, notebooks, strip_timing  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="folder for the executed notebooks")
    ap.add_argument("--data", type=Path, help="data set folder (default: $SPEAKER_DATA, else the synthetic corpus)")
    ap.add_argument("--update", action="store_true", help="write the outputs back into notebooks/")
    ap.add_argument("names", nargs="*", help="notebooks to run (name or prefix; default: all)")
    a = ap.parse_args()
    if a.out is None and not a.update:
        ap.error("give --out DIR and/or --update")
    if a.data is None:
        import os

        env = os.environ.get("SPEAKER_DATA")
        a.data = Path(env) if env else None
    if a.data is not None and not a.data.is_dir():
        ap.error(f"--data {a.data}: not a directory")
    if a.update and a.data is not None:
        ap.error("--update keeps the committed outputs on the synthetic corpus: no --data")
    check_kernel()

    chosen = [p for p in notebooks() if not a.names or any(p.stem.startswith(n) for n in a.names)]
    if not chosen:
        ap.error(f"no notebook matches {a.names}")
    print(f"data: {a.data if a.data else 'synthetic corpus'}", flush=True)
    failed = 0
    total = 0.0
    for path in chosen:
        print(f"{path.stem} ...", end=" ", flush=True)
        r = execute(path, data=a.data, out_dir=a.out)
        total += r.seconds
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in r.metrics.items())
        print(f"{r.seconds:.0f} s, {r.svgs} plots  {metrics}", flush=True)
        print(f"    slowest: {r.slowest()}", flush=True)
        if r.problems:
            failed += 1
            for p in r.problems[:5]:
                print(f"    PROBLEM {p}", flush=True)
        elif a.update:
            nbformat.write(strip_timing(r.notebook), path)
    print(f"{len(chosen)} notebooks in {total:.0f} s" + (f", {failed} FAILED" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
