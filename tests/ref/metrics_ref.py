#!/usr/bin/env python3
"""metrics_ref.py: reference values for tests/test_metrics.c from
scikit-learn 1.2, scikit-survival 0.21 and pandas. Reads one query a line
(from the file named, or stdin), writes one answer a line: numbers as
repr() (round-trips to the same double), or ERR when the library raises
or returns NaN.

Queries (numbers as written by %.17g):
  aucb N y... s...            roc_auc_score(y, s)
  auc N K y... p... (n x k)   roc_auc_score(y, p[:,1]) for k = 2, else
                              multi_class='ovr', average='macro', labels
  cls N K y... pred...        accuracy, balanced accuracy, f1 macro,
                              f1 weighted, quadratic kappa (labels 0..k-1)
  cindex N ev... t... r...    concordance_index_censored: c, concordant,
                              discordant, tied_risk, tied_time
  bins N NB EPS ev... t...    PORPOISE's labels: pandas.qcut edges of the
                              event times, ends widened by EPS, pandas.cut
                              (right=False): edges then bins
  boot N B SEED LEVEL y... s...  percentile CI of roc_auc_score over B
                              resamples drawn as metrics_boot.c draws
"""
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, balanced_accuracy_score,
                             cohen_kappa_score, f1_score, roc_auc_score)
from sksurv.metrics import concordance_index_censored

warnings.simplefilter("ignore")
M64 = (1 << 64) - 1


def fmt(vals):
    vals = [float(v) for v in vals]
    if any(np.isnan(v) for v in vals):
        raise ValueError("nan")
    return " ".join(repr(v) for v in vals)


def splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def answer(w):
    q = w[0]
    if q == "aucb":
        n = int(w[1])
        y = [int(v) for v in w[2:2 + n]]
        s = [float(v) for v in w[2 + n:2 + 2 * n]]
        return fmt([roc_auc_score(y, s)])
    if q == "auc":
        n, k = int(w[1]), int(w[2])
        y = np.array([int(v) for v in w[3:3 + n]])
        p = np.array([float(v) for v in w[3 + n:3 + n + n * k]]).reshape(n, k)
        if k == 2:
            return fmt([roc_auc_score(y, p[:, 1])])
        return fmt([roc_auc_score(y, p, multi_class="ovr", average="macro",
                                  labels=list(range(k)))])
    if q == "cls":
        n, k = int(w[1]), int(w[2])
        y = [int(v) for v in w[3:3 + n]]
        p = [int(v) for v in w[3 + n:3 + 2 * n]]
        return fmt([accuracy_score(y, p), balanced_accuracy_score(y, p),
                    f1_score(y, p, average="macro"),
                    f1_score(y, p, average="weighted"),
                    cohen_kappa_score(y, p, weights="quadratic",
                                      labels=list(range(k)))])
    if q == "cindex":
        n = int(w[1])
        ev = np.array([v == "1" for v in w[2:2 + n]])
        t = np.array([float(v) for v in w[2 + n:2 + 2 * n]])
        r = np.array([float(v) for v in w[2 + 2 * n:2 + 3 * n]])
        return fmt(concordance_index_censored(ev, t, r))
    if q == "bins":
        n, nb, eps = int(w[1]), int(w[2]), float(w[3])
        ev = np.array([int(v) for v in w[4:4 + n]])
        t = pd.Series([float(v) for v in w[4 + n:4 + 2 * n]])
        _, edges = pd.qcut(t[ev == 1], q=nb, retbins=True, labels=False)
        edges[-1] = t.max() + eps
        edges[0] = t.min() - eps
        bins, _ = pd.cut(t, bins=edges, retbins=True, labels=False,
                         right=False, include_lowest=True)
        return fmt(list(edges) + list(bins))
    if q == "boot":
        n, b, seed, level = int(w[1]), int(w[2]), int(w[3]), float(w[4])
        y = np.array([int(v) for v in w[5:5 + n]])
        s = np.array([float(v) for v in w[5 + n:5 + 2 * n]])
        state, vals = seed, []
        for _ in range(b):
            idx = []
            for _ in range(n):
                state, z = splitmix(state)
                idx.append(int((z >> 11) * 2.0 ** -53 * n))
            if len(set(y[idx])) == 2:
                vals.append(roc_auc_score(y[idx], s[idx]))
        vals = np.array(vals)
        return fmt([np.quantile(vals, (1 - level) / 2),
                    np.quantile(vals, (1 + level) / 2), len(vals)])
    raise ValueError("unknown query " + q)


def main():
    f = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    out = []
    for line in f:
        w = line.split()
        if not w:
            continue
        try:
            out.append(answer(w))
        except Exception:
            out.append("ERR")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
