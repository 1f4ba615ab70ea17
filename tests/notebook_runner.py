"""Execute the tutorial notebooks headless with the real Rust kernel (evcxr_jupyter).

Shared by `tests/run_notebooks.py` (the main job, `make run` / `make notebooks`) and
`tests/test_notebooks.py` (pytest, on the shared FSDD data set).

evcxr reports problems in three ways, and all three count as failures here:
- a compile error is an `error` output;
- a panic is ordinary stream output ("thread ... panicked at ...") with a success status;
- an error returned with `?` from a cell is printed on stderr, also with a success status.
So a notebook passes only with no error output, no "panicked at" anywhere, and nothing on
stderr. The notebooks print their results as parseable lines (`ACCURACY mlp 0.9867`,
`EER supervector 0.0622`), collected in `Result.metrics`.

Start-up is measured too (`Result.startup`): the kernel's start, the `:dep` cell, and the
first result after it, with the state of the kernel's build slot (kernel/evcxr-slot):
`warm` when a previous kernel built in that slot, `cold` for a fresh one, `no slot`
for a kernel without the launcher (evcxr's own fresh folder: cold at every start).
"""

from __future__ import annotations

import copy
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
KERNEL = "rust"
# The `:dep` cell of a cold build slot compiles the crate and its dependencies: minutes on 2 cores.
CELL_TIMEOUT = int(os.environ.get("NOTEBOOK_CELL_TIMEOUT", "1800"))
STARTUP_TIMEOUT = 120

METRIC = re.compile(r"^(ACCURACY|EER|DER)\s+(\S+)\s+([-+0-9.eE]+)(\s|$)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def notebooks() -> list[Path]:
    """The tutorial notebooks, in reading order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def slots_root() -> Path:
    """Where kernel/evcxr-slot keeps its build slots (same default as the launcher)."""
    env = os.environ.get("EVCXR_SLOTS")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "speaker-similarity" / "evcxr-slots"


def slot_of(connection_file: str) -> dict | None:
    """The slot record kernel/evcxr-slot wrote for the kernel of `connection_file`."""
    import json

    root = slots_root()
    if not connection_file or not root.is_dir():
        return None
    for f in root.glob("slot-*.json"):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("connection_file") and Path(rec["connection_file"]).name == Path(connection_file).name:
            return rec
    return None


@dataclass
class Startup:
    """How long a notebook took to become useful, from the kernel's start."""

    kernel: float  # kernel process start until the first cell runs
    dep: float  # the `:dep` cell (evcxr building the crate)
    first_result: float  # kernel start until the end of the first cell with output after `:dep`
    state: str  # warm | cold | no slot
    slot: str = ""

    def __str__(self) -> str:
        where = f" {Path(self.slot).name}" if self.slot else ""
        return (f":dep {self.dep:.1f} s ({self.state}{where}), first result {self.first_result:.1f} s "
                f"after kernel start (kernel up {self.kernel:.1f} s)")


@dataclass
class Result:
    """What executing one notebook gave."""

    path: Path
    notebook: nbformat.NotebookNode
    seconds: float
    problems: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    svgs: int = 0
    cell_seconds: list[tuple[int, float]] = field(default_factory=list)
    stdout: str = ""
    startup: Startup | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    def slowest(self, n: int = 3) -> str:
        worst = sorted(self.cell_seconds, key=lambda c: -c[1])[:n]
        return ", ".join(f"cell {i} {s:.0f} s" for i, s in worst)


def check_kernel() -> None:
    """Fail early, with the fix, when the `rust` kernel is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise SystemExit(
            "The Jupyter kernel `rust` is not installed. Run `make kernel` "
            "(cargo install --locked evcxr_jupyter, then python kernel/install.py)."
        ) from None


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "\n".join([output.get("ename", ""), output.get("evalue", "")])
    data = output.get("data", {})
    return data.get("text/plain", "") if isinstance(data, dict) else ""


def _short(text: str, limit: int = 800) -> str:
    text = ANSI.sub("", text).strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def inspect(nb: nbformat.NotebookNode) -> tuple[list[str], dict[str, float], int, str]:
    """Problems, metrics, number of SVG outputs and all stdout of an executed notebook."""
    problems: list[str] = []
    metrics: dict[str, float] = {}
    svgs = 0
    stdout: list[str] = []
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        where = f"code cell {code_index} ({cell.source.strip().splitlines()[0][:60]!r})" \
            if cell.source.strip() else f"code cell {code_index}"
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            text = _text(out)
            if kind == "error":
                problems.append(f"{where}: error output: {_short(text)}")
            elif "panicked at" in text:
                problems.append(f"{where}: panic: {_short(text)}")
            elif kind == "stream" and out.get("name") == "stderr" and text.strip():
                problems.append(f"{where}: stderr: {_short(text)}")
            if kind == "stream" and out.get("name") == "stdout":
                stdout.append(text)
                for line in text.splitlines():
                    m = METRIC.match(line.strip())
                    if m:
                        metrics[f"{m.group(1)} {m.group(2)}"] = float(m.group(3))
            data = out.get("data", {})
            if isinstance(data, dict) and "image/svg+xml" in data:
                svgs += 1
    return problems, metrics, svgs, "".join(stdout)


def _cell_seconds(nb: nbformat.NotebookNode) -> list[tuple[int, float]]:
    from datetime import datetime

    out = []
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        ex = cell.get("metadata", {}).get("execution", {})
        a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if a and b:
            t0 = datetime.fromisoformat(a.replace("Z", "+00:00"))
            t1 = datetime.fromisoformat(b.replace("Z", "+00:00"))
            out.append((code_index, (t1 - t0).total_seconds()))
    return out


def _startup(nb: nbformat.NotebookNode, kernel_start: float, slot: dict | None) -> Startup | None:
    """Start-up times from nbclient's per-cell timestamps (`kernel_start` = epoch seconds
    just before the kernel was launched)."""
    from datetime import datetime

    def stamp(cell, key):
        v = cell.get("metadata", {}).get("execution", {}).get(key)
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() if v else None

    code = [c for c in nb.cells if c.cell_type == "code"]
    dep = next((i for i, c in enumerate(code) if c.source.lstrip().startswith(":dep")
                or "\n:dep" in c.source), None)
    if dep is None or not code:
        return None
    first = stamp(code[0], "iopub.execute_input")
    d0, d1 = stamp(code[dep], "iopub.execute_input"), stamp(code[dep], "shell.execute_reply")
    after = next((c for c in code[dep + 1:] if c.get("outputs")), None)
    done = stamp(after, "shell.execute_reply") if after is not None else None
    if None in (first, d0, d1, done):
        return None
    state = slot.get("state", "?") if slot else "no slot"
    return Startup(first - kernel_start, d1 - d0, done - kernel_start, state, slot.get("slot", "") if slot else "")


def strip_timing(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without nbclient's per-cell timestamps (for notebooks kept in git)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    return nb


STARTUP_CELLS = [
    ':dep speaker_similarity = { path = "../crate" }',
    "let clip = speaker_similarity::synth::default_dataset().clips[0].load().unwrap();\n"
    "speaker_similarity::features::clip_vector(&clip).unwrap().len()",
]


def startup_notebook() -> nbformat.NotebookNode:
    """The minimal notebook start-up is measured on: the tutorial notebooks' first
    cell (`:dep` the crate), then one call (a clip vector)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Rust", "language": "rust"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in STARTUP_CELLS]
    return nb


def execute(path: Path, data: Path | None = None, out_dir: Path | None = None,
            nb: nbformat.NotebookNode | None = None) -> Result:
    """Run one notebook top to bottom in a fresh `rust` kernel started in notebooks/
    (so `:dep ... path = "../crate"` resolves), with SPEAKER_DATA set to `data` (or
    unset: the synthetic corpus). Writes the executed copy to `out_dir` when given.
    `nb` runs that notebook instead of reading `path` (which still names it and sets
    the folder it runs in)."""
    if nb is None:
        nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env.pop("SPEAKER_DATA", None)
    if data is not None:
        env["SPEAKER_DATA"] = str(Path(data).resolve())
    # Plain text panics (no colour codes) and short backtraces keep outputs readable.
    env.setdefault("RUST_BACKTRACE", "0")
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        startup_timeout=STARTUP_TIMEOUT,
        allow_errors=True,
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    slot: dict | None = None

    def on_notebook_start(notebook):
        nonlocal slot
        slot = slot_of(getattr(client.km, "connection_file", "") or "")

    client.on_notebook_start = on_notebook_start
    t0 = time.monotonic()
    kernel_start = time.time()
    client.execute(env=env)
    seconds = time.monotonic() - t0
    problems, metrics, svgs, stdout = inspect(nb)
    result = Result(path, nb, seconds, problems, metrics, svgs, _cell_seconds(nb), stdout,
                    _startup(nb, kernel_start, slot))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / path.name)
    return result
