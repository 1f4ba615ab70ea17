#!/usr/bin/env python3
"""Register the `rust` Jupyter kernelspec as evcxr_jupyter behind kernel/evcxr-slot.

    python kernel/install.py [--evcxr PATH]

`evcxr_jupyter --install` writes its stock kernelspec (logos, kernel.js, kernel.json)
into a temporary folder; this script keeps those files, copies the launcher
`evcxr-slot` beside them with the absolute path of evcxr_jupyter filled in, points
kernel.json at it and installs the folder as the kernelspec `rust` where Jupyter
looks first: the first folder of $JUPYTER_PATH when set (as evcxr does), else the
user's Jupyter data folder. Replacing the folder is atomic (a sibling, then a rename).
Idempotent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "rust"


def kernels_root() -> Path:
    jp = os.environ.get("JUPYTER_PATH")
    if jp:
        return Path(jp.split(os.pathsep)[0]) / "kernels"
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "kernels"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evcxr", default=shutil.which("evcxr_jupyter"), help="evcxr_jupyter binary")
    a = ap.parse_args()
    if not a.evcxr or not os.access(a.evcxr, os.X_OK):
        sys.exit("evcxr_jupyter not found: cargo install --locked evcxr_jupyter")
    evcxr = str(Path(a.evcxr).resolve())
    root = kernels_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rust-kernel-", dir=root) as tmp:
        stock = Path(tmp) / "stock"
        stock.mkdir()
        env = dict(os.environ, JUPYTER_PATH=str(stock))
        r = subprocess.run([evcxr, "--install"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"evcxr_jupyter --install failed:\n{r.stdout}{r.stderr}")
        spec_dir = stock / "kernels" / NAME
        spec = json.loads((spec_dir / "kernel.json").read_text())
        launcher = (HERE / "evcxr-slot").read_text().replace("@EVCXR_JUPYTER@", evcxr)
        (spec_dir / "evcxr-slot").write_text(launcher)
        (spec_dir / "evcxr-slot").chmod(0o755)
        dest = root / NAME
        # {resource_dir} is the installed kernelspec folder (jupyter_client fills it in).
        spec["argv"] = ["bash", "{resource_dir}/evcxr-slot", "--control_file", "{connection_file}"]
        spec["metadata"] = {"speaker_similarity": "persistent evcxr build slots (kernel/evcxr-slot)"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
        old = Path(tmp) / "old"
        if dest.exists():
            dest.rename(old)
        spec_dir.rename(dest)
    print(f"kernelspec `{NAME}` -> {dest} (evcxr_jupyter {evcxr}, build slots via evcxr-slot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
