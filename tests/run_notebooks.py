#!/usr/bin/env python3
"""Run the tutorial notebooks headless with the Rust kernel, top to bottom.

    tests/run_notebooks.py --out out/notebooks                  # synthetic corpus
    tests/run_notebooks.py --out out/notebooks --data DIR       # a data set
    tests/run_notebooks.py --update                             # refresh notebooks/ in place
    tests/run_notebooks.py --out DIR 02_neural_network          # some notebooks only
    tests/run_notebooks.py --startup                            # kernel start-up, cold then warm

Executed copies go to --out; with --update the outputs are written back into
notebooks/ (how the committed outputs are made: on the synthetic corpus, no --data).
Exits non-zero when a notebook shows an error, a panic or anything on stderr.

Each notebook's line gives its start-up: the `:dep` cell's time with the state of the
kernel's build slot (warm: reused from an earlier kernel; cold: a fresh slot), and the
time from the kernel's start to the first result after `:dep`. `--startup` measures
that on a minimal notebook (`:dep` the crate, one call) in a fresh set of
build slots: once cold, then `--repeat` times warm.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbformat  # noqa: E402

from notebook_runner import (  # noqa: E402
    NOTEBOOK_DIR,
    check_kernel,
    execute,
    notebooks,
    startup_notebook,
    strip_timing,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="folder for the executed notebooks")
    ap.add_argument("--data", type=Path, help="data set folder (default: $SPEAKER_DATA, else the synthetic corpus)")
    ap.add_argument("--update", action="store_true", help="write the outputs back into notebooks/")
    ap.add_argument("--startup", action="store_true",
                    help="measure kernel start-up on a minimal notebook: cold, then warm")
    ap.add_argument("--repeat", type=int, default=2, help="warm starts measured by --startup (default 2)")
    ap.add_argument("names", nargs="*", help="notebooks to run (name or prefix; default: all)")
    a = ap.parse_args()
    if a.startup:
        check_kernel()
        return startup(a.repeat)
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
        if r.startup:
            print(f"    start-up: {r.startup}", flush=True)
        print(f"    slowest: {r.slowest()}", flush=True)
        if r.problems:
            failed += 1
            for p in r.problems[:5]:
                print(f"    PROBLEM {p}", flush=True)
        elif a.update:
            nbformat.write(strip_timing(r.notebook), path)
    print(f"{len(chosen)} notebooks in {total:.0f} s" + (f", {failed} FAILED" if failed else ""))
    return 1 if failed else 0


def startup(repeat: int) -> int:
    """Cold, then warm start-up of the minimal notebook in fresh build slots."""
    import os
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="evcxr-slots-"))
    os.environ["EVCXR_SLOTS"] = str(root)  # read by kernel/evcxr-slot and the runner
    name = NOTEBOOK_DIR / "startup.ipynb"  # never written: runs in notebooks/
    rows = []
    try:
        for run in range(1 + max(0, repeat)):
            r = execute(name, nb=startup_notebook())
            if r.problems:
                for p in r.problems[:5]:
                    print(f"PROBLEM {p}", flush=True)
                return 1
            s = r.startup
            rows.append(s)
            print(f"start {run + 1}: {s}" if s else f"start {run + 1}: no timing", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ok = [s for s in rows if s]
    for state in ("cold", "warm", "no slot"):
        sel = [s for s in ok if s.state == state]
        if sel:
            dep = sorted(s.dep for s in sel)[len(sel) // 2]
            first = sorted(s.first_result for s in sel)[len(sel) // 2]
            print(f"{state}: median of {len(sel)}: :dep {dep:.1f} s, first result {first:.1f} s after kernel start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
