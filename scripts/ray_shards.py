#!/usr/bin/env python3
"""Sharded training with Ray: the UBM once, the N shards as Ray tasks, one merge.

Each step calls the `speaker-similarity` binary; Ray only places the calls:

  1. `train --ubm-only`             one task: the UBM on a bounded frame sample
  2. `train --ubm U --shard K/N`    N tasks (ray.remote), in parallel where CPUs allow
  3. `merge --out MODEL SHARDS...`  here, once every shard is done

On this machine `ray.init()` starts a local Ray; on a cluster, give
`--address ray://HEAD:10001` (or `auto` on a cluster node) and nothing else
changes: that is the one line that differs (`ray.init(address=...)`). On a
cluster the binary, the data set and WORK must be at the same paths on every
node (a shared file system), as the tasks pass paths, not data.

  .venv-ray/bin/python scripts/ray_shards.py --bin target/release/speaker-similarity \\
      --data DIR --work WORK --shards 3

Prints one JSON object: the directories written and the seconds of each step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import ray


def call(binary: str, args: list[str]) -> dict:
    """Run the binary with `args` (and --json); its JSON answer and the seconds."""
    t = time.perf_counter()
    p = subprocess.run([binary, *args, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return {"answer": json.loads(p.stdout), "seconds": time.perf_counter() - t}


@ray.remote(num_cpus=1)
def train_ubm(binary: str, data: str, out: str, extra: list[str]) -> dict:
    return call(binary, ["train", "--data", data, "--ubm-only", "--out", out, *extra])


@ray.remote(num_cpus=1)
def train_shard(binary: str, data: str, ubm: str, k: int, n: int, out: str, extra: list[str]) -> dict:
    return call(
        binary,
        ["train", "--data", data, "--ubm", ubm, "--shard", f"{k}/{n}", "--out", out, *extra],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the speaker-similarity binary")
    ap.add_argument("--data", required=True, help="data set directory")
    ap.add_argument("--work", required=True, help="directory for ubm/, shard-K/ and model/")
    ap.add_argument("--shards", type=int, default=3, help="N, the number of shards (default 3)")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    ap.add_argument(
        "--train-arg",
        action="append",
        default=[],
        help="extra flag for every train call (repeat: --train-arg=--seed --train-arg=7)",
    )
    a = ap.parse_args(argv)
    if a.shards < 1:
        ap.error("--shards must be at least 1")
    binary = str(Path(a.bin).resolve())
    data = str(Path(a.data).resolve())
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    # The one line that differs on a cluster: ray.init(address="ray://HEAD:10001").
    if a.address is None:
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=a.address)
    t_init = time.perf_counter() - t0
    try:
        ubm = str(work / "ubm")
        u = ray.get(train_ubm.remote(binary, data, ubm, a.train_arg))
        t1 = time.perf_counter()
        shard_dirs = [str(work / f"shard-{k}") for k in range(a.shards)]
        tasks = [
            train_shard.remote(binary, data, ubm, k, a.shards, d, a.train_arg)
            for k, d in enumerate(shard_dirs)
        ]
        shards = ray.get(tasks)
        t2 = time.perf_counter()
    finally:
        ray.shutdown()
    model = str(work / "model")
    m = call(binary, ["merge", "--out", model, *shard_dirs])
    t3 = time.perf_counter()
    print(
        json.dumps(
            {
                "ubm_dir": ubm,
                "shard_dirs": shard_dirs,
                "model_dir": model,
                "merge": m["answer"]["summary"]["merge"],
                "seconds": {
                    "ray_init": t_init,
                    "ubm": t1 - t0 - t_init,
                    "shards_wall": t2 - t1,
                    "shards_each": [s["seconds"] for s in shards],
                    "merge": t3 - t2,
                    "total": t3 - t0,
                },
                "ubm_task": u["answer"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
