"""How hard is a speaker corpus? Calibration aid for the synthetic corpus (`synth`).

Reads a folders-layout directory (speaker/[session/]clip.wav, e.g. written by
`speaker-similarity synth OUT`), splits every speaker's clips 70/30 (seeded; with
`--by-session`, whole sessions go to test), and prints the test accuracy of:
- the original project's recipe: one 16-component diagonal GMM per speaker on raw
  52-dim clip vectors (MFCC means, delta means, 13 ZCR splits, 13 LPC);
- logistic regression and an MLP on standardised clip vectors;
- a 16-component GMM per speaker on frame MFCC+delta with per-utterance CMVN.
Features come from librosa and models from scikit-learn (requirements-ref.txt), so
the numbers approximate, not reproduce, this crate's pipeline. The synthetic corpus
should leave a visible gap between the first line and the last.

Usage: python scripts/calibrate_synth.py DIR [--by-session]
"""
import glob
import os
import sys
import warnings

import librosa
import numpy as np
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")


def features(path):
    y, sr = librosa.load(path, sr=16000)
    head = y[: 2 * sr]
    mfcc = librosa.feature.mfcc(y=head, sr=sr, n_mfcc=13, hop_length=256)
    delta = librosa.feature.delta(mfcc)
    x = y - y.mean()
    x = x / (np.abs(x).max() + 1e-12)
    w = len(x) // 13
    zcr = [np.sum(np.abs(np.diff(np.sign(x[k * w:(k + 1) * w])))) / 2 / max(w - 1, 1) for k in range(13)]
    lpc = librosa.lpc(y, order=12)
    clip = np.hstack([mfcc.mean(1), delta.mean(1), zcr, lpc])
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, n_fft=512, hop_length=160, n_mels=40)
    f = np.vstack([m, librosa.feature.delta(m)]).T
    f = f[m[0] > np.percentile(m[0], 30)]  # drop the quietest frames
    f = (f - f.mean(0)) / (f.std(0) + 1e-8)
    return clip, f


def main():
    root = sys.argv[1]
    by_session = "--by-session" in sys.argv
    files = sorted(glob.glob(os.path.join(root, "*", "**", "*.wav"), recursive=True))
    rel = [os.path.relpath(f, root).split(os.sep) for f in files]
    spk = np.array([r[0] for r in rel])
    ses = [r[1] if len(r) > 2 else f for r, f in zip(rel, files)]
    out = Parallel(n_jobs=2)(delayed(features)(f) for f in files)
    X = np.array([o[0] for o in out])
    frames = [o[1] for o in out]
    rng = np.random.RandomState(42)
    train, test = [], []
    for s in sorted(set(spk)):
        idx = np.where(spk == s)[0]
        target = min(max(1, round(0.3 * len(idx))), len(idx) - 1)
        if by_session:
            groups = sorted(set(ses[i] for i in idx))
            rng.shuffle(groups)
            taken, n = [], 0
            for g in groups[:-1]:
                if n >= target:
                    break
                taken.append(g)
                n += sum(1 for i in idx if ses[i] == g)
            test += [i for i in idx if ses[i] in taken]
            train += [i for i in idx if ses[i] not in taken]
        else:
            idx = idx.copy()
            rng.shuffle(idx)
            test += list(idx[:target])
            train += list(idx[target:])
    train, test = np.array(train), np.array(test)
    classes = np.array(sorted(set(spk)))

    def acc(pred):
        return float(np.mean(np.asarray(pred) == spk[test]))

    res = {}
    scores = []
    for c in classes:
        xi = X[train][spk[train] == c]
        g = GaussianMixture(n_components=min(16, len(xi)), covariance_type="diag", n_init=3, random_state=0)
        scores.append(g.fit(xi).score_samples(X[test]))
    res["original GMM16, clip vectors"] = acc(classes[np.argmax(scores, 0)])
    sc = StandardScaler().fit(X[train])
    lr = LogisticRegression(max_iter=5000).fit(sc.transform(X[train]), spk[train])
    res["logistic regression, clip vectors"] = acc(lr.predict(sc.transform(X[test])))
    mlp = MLPClassifier((100, 200, 200, 200), max_iter=500, random_state=0)
    res["MLP, clip vectors"] = acc(mlp.fit(sc.transform(X[train]), spk[train]).predict(sc.transform(X[test])))
    scores = []
    for c in classes:
        fi = np.vstack([frames[i] for i in train if spk[i] == c])
        g = GaussianMixture(n_components=16, covariance_type="diag", random_state=0).fit(fi)
        scores.append([g.score(frames[i]) for i in test])
    res["GMM16 per speaker, frames+CMVN"] = acc(classes[np.argmax(scores, 0)])
    print(f"{root}: {len(files)} clips, {len(classes)} speakers, split by {'session' if by_session else 'clip'}, "
          f"train {len(train)}, test {len(test)}")
    for k, v in res.items():
        print(f"  {k:36s} {v:.3f}")


if __name__ == "__main__":
    main()
