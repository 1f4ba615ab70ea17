#!/usr/bin/env python3
"""Reference fixtures from scikit-learn / numpy for the `models`, `eval` tests.

Run with the reference environment (see requirements-ref.txt):
    /tmp/pyref/bin/python scripts/fixtures_sklearn.py
Writes small, deterministic JSON files into crate/tests/fixtures/:
  gmm_sklearn.json      GaussianMixture(diag) EM from given initial parameters
                        (lower bound after each iteration, final parameters and
                        scores) and from k-means init (held-out score)
  report_sklearn.json   classification_report text and numbers (with a
                        zero-division class), confusion_matrix
  scaler_sklearn.json   StandardScaler mean_/scale_/transform (constant column)
  ubm_map.json          MAP adaptation of means (Reynolds et al. 2000) in numpy
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", UndefinedMetricWarning)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crate", "tests", "fixtures")
os.makedirs(OUT, exist_ok=True)


def f32list(a):
    """float32-representable values, written so that Rust parses them exactly."""
    return np.asarray(a, dtype=np.float32).astype(np.float64).tolist()


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def blobs(rng, n, centers, scales):
    k, d = centers.shape
    lab = rng.integers(0, k, size=n)
    x = centers[lab] + rng.standard_normal((n, d)) * scales[lab]
    return x.astype(np.float32)


def gmm_fixture():
    rng = np.random.default_rng(20240501)
    d, k = 5, 4
    centers = rng.uniform(-6, 6, size=(k, d))
    scales = rng.uniform(0.4, 1.8, size=(k, d))
    x = blobs(rng, 800, centers, scales)
    x_test = blobs(rng, 400, centers, scales)
    X = x.astype(np.float64)
    # Initial parameters: perturbed, so EM has work to do.
    w0 = np.array([0.1, 0.2, 0.3, 0.4])
    m0 = centers + rng.standard_normal((k, d)) * 1.5
    v0 = np.full((k, d), 2.0) + rng.uniform(0, 1, size=(k, d))
    iters = list(range(1, 31))
    lower_bounds, scores = [], []
    finals = {}
    for it in iters:
        g = GaussianMixture(n_components=k, covariance_type="diag", tol=0.0, max_iter=it,
                            weights_init=w0, means_init=m0, precisions_init=1.0 / v0,
                            reg_covar=1e-6, random_state=0).fit(X)
        lower_bounds.append(float(g.lower_bound_))
        scores.append(float(g.score(X)))
        if it in (1, 5, 30):
            finals[str(it)] = {"weights": g.weights_.tolist(), "means": g.means_.tolist(),
                               "variances": g.covariances_.tolist(),
                               "score_test": float(g.score(x_test.astype(np.float64))),
                               "score_samples_test_head": g.score_samples(x_test[:10].astype(np.float64)).tolist(),
                               "predict_proba_test_head": g.predict_proba(x_test[:5].astype(np.float64)).tolist()}
    # Default fit (k-means init, tol 1e-3) — compared on held-out data within 1%.
    kfits = {}
    for seed in range(5):
        g = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed).fit(X)
        kfits[str(seed)] = {"score_test": float(g.score(x_test.astype(np.float64))),
                            "score_train": float(g.score(X)), "n_iter": int(g.n_iter_),
                            "converged": bool(g.converged_)}
    # A harder case: more components than clusters, overlapping data.
    hard = {}
    for seed in range(5):
        g = GaussianMixture(n_components=7, covariance_type="diag", random_state=seed).fit(X)
        hard[str(seed)] = {"score_test": float(g.score(x_test.astype(np.float64))),
                           "score_train": float(g.score(X)), "n_iter": int(g.n_iter_)}
    write("gmm_sklearn.json", {
        "sklearn": sklearn.__version__, "n_components": k,
        "x": f32list(x), "x_test": f32list(x_test),
        "init": {"weights": w0.tolist(), "means": m0.tolist(), "variances": v0.tolist()},
        "iters": iters, "lower_bounds": lower_bounds, "scores": scores, "finals": finals,
        "kmeans_fits": kfits, "kmeans_fits_7": hard,
    })


def report_fixture():
    rng = np.random.default_rng(7)
    names = ["id10001", "id10002", "a_much_longer_name", "id10004", "x"]
    n = 60
    y_true = rng.integers(0, 5, size=n)
    y_pred = y_true.copy()
    flip = rng.random(n) < 0.35
    y_pred[flip] = rng.integers(0, 5, size=flip.sum())
    # class 3 is never predicted -> precision zero-division -> 0.0
    y_pred[y_pred == 3] = 0
    labels = list(range(5))
    reports = []
    for digits in (2, 4):
        text = classification_report(y_true, y_pred, labels=labels, target_names=names, digits=digits)
        reports.append({"digits": digits, "text": text})
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None)
    avg = {}
    for a in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=a)
        avg[a] = [float(ap), float(ar), float(af)]
    # Short names (width 12 from "weighted avg") and a class absent from both.
    y_true2 = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred2 = np.array([0, 1, 1, 1, 2, 0, 2])
    text2 = classification_report(y_true2, y_pred2, labels=[0, 1, 2, 3], target_names=["a", "b", "c", "d"])
    write("report_sklearn.json", {
        "names": names, "y_true": y_true.tolist(), "y_pred": y_pred.tolist(),
        "reports": reports, "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(),
        "support": s.tolist(), "avg": avg,
        "accuracy": float(np.mean(y_true == y_pred)),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "case2": {"y_true": y_true2.tolist(), "y_pred": y_pred2.tolist(), "names": ["a", "b", "c", "d"],
                  "text": text2},
    })


def scaler_fixture():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((30, 4)) * [1.0, 100.0, 0.01, 0.0] + [0.0, -300.0, 1.0, 5.0]).astype(np.float32)
    s = StandardScaler().fit(x.astype(np.float64))
    write("scaler_sklearn.json", {"x": f32list(x), "mean": s.mean_.tolist(), "scale": s.scale_.tolist(),
                                   "transformed": s.transform(x.astype(np.float64)).tolist()})


def log_gauss_diag(X, w, m, v):
    d = X.shape[1]
    lp = -0.5 * (d * np.log(2 * np.pi) + np.sum(np.log(v), axis=1))[None, :] \
         - 0.5 * (((X[:, None, :] - m[None, :, :]) ** 2) / v[None, :, :]).sum(axis=2)
    return lp + np.log(w)[None, :]


def logsumexp(a):
    mx = a.max(axis=1, keepdims=True)
    return (mx + np.log(np.exp(a - mx).sum(axis=1, keepdims=True)))[:, 0]


def ubm_fixture():
    rng = np.random.default_rng(11)
    d, k = 3, 4
    centers = rng.uniform(-4, 4, size=(k, d))
    x_bg = blobs(rng, 600, centers, np.full((k, d), 1.0))
    ubm = GaussianMixture(n_components=k, covariance_type="diag", random_state=0).fit(x_bg.astype(np.float64))
    w, m, v = ubm.weights_, ubm.means_, ubm.covariances_
    # Speaker data: shifted centres.
    x_spk = blobs(rng, 80, centers + 0.7, np.full((k, d), 1.0))
    X = x_spk.astype(np.float64)
    lp = log_gauss_diag(X, w, m, v)
    resp = np.exp(lp - logsumexp(lp)[:, None])
    n_k = resp.sum(axis=0)
    ex = (resp.T @ X) / np.maximum(n_k, 1e-300)[:, None]
    adapted = {}
    for r in (4.0, 16.0):
        alpha = n_k / (n_k + r)
        mu = alpha[:, None] * ex + (1 - alpha[:, None]) * m
        ll_ad = logsumexp(log_gauss_diag(X, w, mu, v))
        ll_ubm = logsumexp(lp)
        sv = (np.sqrt(w)[:, None] * mu / np.sqrt(v)).ravel()
        adapted[str(r)] = {"means": mu.tolist(), "llr": float(np.mean(ll_ad - ll_ubm)),
                           "supervector": sv.tolist()}
    write("ubm_map.json", {"weights": w.tolist(), "means": m.tolist(), "variances": v.tolist(),
                           "x": f32list(x_spk), "n_k": n_k.tolist(), "ex": ex.tolist(),
                           "adapted": adapted})


if __name__ == "__main__":
    gmm_fixture()
    report_fixture()
    scaler_fixture()
    ubm_fixture()
