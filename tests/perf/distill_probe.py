"""distill_probe.py NAME < frames.jsonl: held-out probes of the embeddings
emb.NAME of grid tiles (frame-cat --full output), for
tests/perf/distill-probe.sh.

Two tasks defined from the shipped slides' tiles, each split in space so
no test tile overlaps a training tile: per slide and resolution, the tiles
whose left edge is left of the median go to training, the others to
test.
  slide:      which slide the tile is from (CMU-1-Small-Region or
              TCGA-CR-7395-01A-01-TS1)
  resolution: 0.5 or 1.0 micrometre per pixel (the same tissue at two
              scales; colour alone cannot tell them apart)
Probes: logistic regression on standardised features (sklearn 1.2,
lbfgs, C = 1, 5000 iterations) scored by balanced accuracy, and a
20-nearest-neighbour vote by cosine similarity (DINO's k-NN probe,
unweighted) scored by balanced accuracy. Prints one line per task:
task n_train n_test linear knn.
"""
import base64
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler


def main():
    name = sys.argv[1]
    X, slide, mpp, xpos = [], [], [], []
    for line in sys.stdin:
        f = json.loads(line)
        t = f["emb"][name]
        X.append(np.frombuffer(base64.b64decode(t["data"]["$base64"]),
                               dtype="<f4"))
        slide.append(f["slide_id"])
        mpp.append(round(f["mpp"], 2))
        xpos.append(f["x"])
    X = np.stack(X).astype(np.float64)
    slide, mpp, xpos = np.array(slide), np.array(mpp), np.array(xpos)
    train = np.zeros(len(X), bool)
    for s in np.unique(slide):
        for m in np.unique(mpp):
            sel = (slide == s) & (mpp == m)
            if sel.any():
                train |= sel & (xpos < np.median(xpos[sel]))
    test = ~train
    for task, y in (("slide", slide), ("resolution", mpp.astype(str))):
        sc = StandardScaler().fit(X[train])
        clf = LogisticRegression(C=1.0, max_iter=5000)
        clf.fit(sc.transform(X[train]), y[train])
        lin = balanced_accuracy_score(y[test], clf.predict(sc.transform(X[test])))
        Z = X / np.linalg.norm(X, axis=1, keepdims=True)
        sim = Z[test] @ Z[train].T
        nn = np.argsort(-sim, axis=1)[:, :20]
        ytr = y[train]
        pred = []
        for row in nn:
            vals, counts = np.unique(ytr[row], return_counts=True)
            pred.append(vals[np.argmax(counts)])
        knn = balanced_accuracy_score(y[test], np.array(pred))
        print("%s %d %d %.4f %.4f" % (task, train.sum(), test.sum(), lin, knn))


if __name__ == "__main__":
    main()
