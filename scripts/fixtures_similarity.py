"""Reference fixture for crate/tests/similarity.rs: scikit-learn's det_curve and the
usual EER computation (roc_curve + interpolation + root finding) on fixed scores.

Run:  .venv/bin/python scripts/fixtures_similarity.py
"""
import json
import pathlib

import numpy as np
import sklearn
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import det_curve, roc_curve

OUT = pathlib.Path(__file__).resolve().parent.parent / "crate" / "tests" / "fixtures"

rng = np.random.default_rng(7)
# Rounded to 2 decimals so that many scores tie, as real scores of short clips do.
target = np.round(rng.normal(1.0, 1.0, 300), 2).astype(np.float32)
nontarget = np.round(rng.normal(-1.0, 1.0, 3000), 2).astype(np.float32)
scores = np.concatenate([target, nontarget])
labels = np.concatenate([np.ones(len(target), int), np.zeros(len(nontarget), int)])

fpr, fnr, thr = det_curve(labels, scores, drop_intermediate=False)
roc_fpr, roc_tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
eer_brentq = brentq(lambda x: 1.0 - x - interp1d(roc_fpr, roc_tpr)(x), 0.0, 1.0)

OUT.mkdir(parents=True, exist_ok=True)
(OUT / "similarity_det.json").write_text(
    json.dumps(
        {
            "sklearn_version": sklearn.__version__,
            "scores": [float(s) for s in scores],
            "labels": [int(v) for v in labels],
            "det_threshold": [float(t) for t in thr],
            "det_false_alarm": [float(v) for v in fpr],
            "det_miss": [float(v) for v in fnr],
            "eer_brentq": float(eer_brentq),
        }
    )
)
print("wrote", OUT / "similarity_det.json", "EER", eer_brentq)
