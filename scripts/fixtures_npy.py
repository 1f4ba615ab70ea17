"""Reference fixtures for crate/tests/npy.rs: small arrays saved by numpy.save, so
the crate's `.npy` writers can be compared with numpy byte for byte.

Run:  .venv-ref/bin/python scripts/fixtures_npy.py   (or `make fixtures`)
"""
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "crate" / "tests" / "fixtures" / "npy"
OUT.mkdir(parents=True, exist_ok=True)

# The values are simple formulas the Rust test rebuilds: value of element i (C order)
# of a float array is i * 0.5 - 1, of an int array i // 2.
a = (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, 4)
np.save(OUT / "f32_3x4.npy", a)
# What a C-order write of a transposed view must give.
np.save(OUT / "f32_4x3_transposed.npy", np.ascontiguousarray(a.T))
np.save(OUT / "f32_0x52.npy", np.zeros((0, 52), dtype=np.float32))
np.save(OUT / "i64_5.npy", np.arange(5, dtype=np.int64) // 2)
np.save(OUT / "f64_2x3x2.npy", (np.arange(12, dtype=np.float64) * 0.5 - 1).reshape(2, 3, 2))
# 250 rows of 40 (a frame matrix): the header's room for the first axis.
np.save(OUT / "f32_250x40.npy", (np.arange(10000, dtype=np.float32) * 0.5 - 1).reshape(250, 40))
print(f"wrote {len(list(OUT.glob('*.npy')))} files to {OUT}")
