#!/usr/bin/env python3
"""Reference fixtures from scikit-learn for the `calibration` tests.

Run with the reference environment (see requirements-ref.txt):
    .venv-ref/bin/python scripts/fixtures_calibration.py
Writes crate/tests/fixtures/calibration_sklearn.json:
  cases[]     seeded target / non-target score sets (Gaussian, overlapping, of unequal
              counts and spreads) with, for priors 0.5 and 0.2:
                scale, offset  prior-weighted logistic regression of scikit-learn
                               (LogisticRegression(C=inf), sample weights
                               prior/Nt and (1-prior)/Nn; offset = intercept - logit(prior))
                cost           sklearn.metrics.log_loss of those LLRs with the same weights
  open_set    open-set trials (enrolled / correct / score) with the DET points of
              sklearn.metrics.roc_curve (wrongly named enrolled queries never accepted)
"""
import json
import math
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_curve

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crate", "tests", "fixtures")
os.makedirs(OUT, exist_ok=True)


def logit(p):
    return math.log(p / (1 - p))


def calibrate(tar, non, prior):
    s = np.concatenate([tar, non])[:, None]
    y = np.concatenate([np.ones(len(tar)), np.zeros(len(non))])
    w = np.concatenate([np.full(len(tar), prior / len(tar)), np.full(len(non), (1 - prior) / len(non))])
    # Weights are rescaled to mean 1 for the solver; the minimiser is the same.
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    lr.fit(s, y, sample_weight=w * len(w))
    scale = float(lr.coef_[0, 0])
    offset = float(lr.intercept_[0]) - logit(prior)
    llr = scale * s[:, 0] + offset
    p = 1 / (1 + np.exp(-(llr + logit(prior))))
    cost = float(log_loss(y, p, sample_weight=w))
    return {"prior": prior, "scale": scale, "offset": offset, "cost": cost}


def main():
    rng = np.random.default_rng(20261201)
    cases = []
    for nt, nn, mt, st, mn, sn in [(40, 400, 2.0, 1.0, -1.0, 1.5), (15, 90, 0.3, 0.2, 0.0, 0.25), (200, 50, 10.0, 4.0, 2.0, 3.0)]:
        tar = rng.normal(mt, st, nt)
        non = rng.normal(mn, sn, nn)
        cases.append({
            "targets": tar.tolist(),
            "nontargets": non.tolist(),
            "fits": [calibrate(tar, non, p) for p in (0.5, 0.2)],
        })
    # Open set: 60 enrolled queries (10 named wrongly), 40 never-enrolled.
    enrolled = np.ones(100, dtype=bool)
    enrolled[60:] = False
    correct = np.zeros(100, dtype=bool)
    correct[:50] = True
    score = np.where(enrolled, rng.normal(3.0, 2.0, 100), rng.normal(-1.0, 2.0, 100))
    score[50:60] = rng.normal(0.0, 2.0, 10)  # wrong names score lower, as they tend to
    # A query is a detection when enrolled, correctly named and accepted; wrongly
    # named ones are positives that no threshold accepts (a score below all others for roc_curve, whose
    # point is dropped).
    sentinel = score.min() - 1000.0
    roc_score = np.where(enrolled & ~correct, sentinel, score)
    fpr, tpr, thr = roc_curve(enrolled.astype(int), roc_score, drop_intermediate=False)
    keep = thr > sentinel
    det = [{"threshold": None if np.isinf(t) else float(t), "false_alarm": float(f), "miss": float(1 - p)}
           for t, f, p in zip(thr[keep], fpr[keep], tpr[keep])]
    open_set = {
        "trials": [{"enrolled": bool(e), "correct": bool(c), "score": float(s)}
                   for e, c, s in zip(enrolled, correct, score)],
        "det": det,
    }
    obj = {"sklearn": sklearn.__version__, "cases": cases, "open_set": open_set}
    path = os.path.join(OUT, "calibration_sklearn.json")
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
