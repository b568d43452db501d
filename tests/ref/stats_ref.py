#!/usr/bin/env python3
"""stats_ref.py: reference values for tests/test_stats.c from scipy and
scikit-posthocs. Reads one query a line (from the file named, or stdin),
writes one answer a line: numbers as repr() (round-trips to the same
double), or ERR when the library raises.

Queries (all numbers as written by %.17g):
  rank N x...                      scipy.stats.rankdata
  friedman N K v... (row-major)    friedmanchisquare (stat, p), average
                                   ranks, then the Nemenyi p upper triangle
  qtukey ALPHA K                   studentized_range.ppf(1-ALPHA, K, inf)/sqrt2
  ptukey Q K                       studentized_range.cdf, .sf at df=inf
  wilcoxon ZM CORR ALT MODE N x... y...   scipy.stats.wilcoxon (stat, p)
  holm M p...                      statsmodels multipletests 'holm'
  chi2 X DF / fsf X D1 D2          chi2.sf / f.sf
"""
import sys
import warnings

import numpy as np
import scipy.stats as ss
import scikit_posthocs as sp
from statsmodels.stats.multitest import multipletests

warnings.simplefilter("ignore")


def fmt(vals):
    return " ".join(repr(float(v)) for v in vals)


def answer(w):
    q = w[0]
    if q == "rank":
        n = int(w[1])
        return fmt(ss.rankdata([float(v) for v in w[2:2 + n]]))
    if q == "friedman":
        n, k = int(w[1]), int(w[2])
        a = np.array([float(v) for v in w[3:3 + n * k]]).reshape(n, k)
        stat, p = ss.friedmanchisquare(*[a[:, j] for j in range(k)])
        avg = np.mean([ss.rankdata(-row) for row in a], axis=0)
        pm = np.asarray(sp.posthoc_nemenyi_friedman(a))
        up = [pm[i, j] for i in range(k) for j in range(i + 1, k)]
        return fmt([stat, p] + list(avg) + up)
    if q == "qtukey":
        alpha, k = float(w[1]), int(w[2])
        return fmt([ss.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)])
    if q == "ptukey":
        x, k = float(w[1]), int(w[2])
        return fmt([ss.studentized_range.cdf(x, k, np.inf),
                    ss.studentized_range.sf(x, k, np.inf)])
    if q == "wilcoxon":
        zm, corr, alt, mode, n = w[1], w[2] == "1", w[3], w[4], int(w[5])
        x = [float(v) for v in w[6:6 + n]]
        y = [float(v) for v in w[6 + n:6 + 2 * n]]
        r = ss.wilcoxon(x, y, zero_method=zm, correction=corr,
                        alternative=alt, method=mode)
        return fmt([r.statistic, r.pvalue])
    if q == "holm":
        m = int(w[1])
        return fmt(multipletests([float(v) for v in w[2:2 + m]],
                                 method="holm")[1])
    if q == "chi2":
        return fmt([ss.chi2.sf(float(w[1]), float(w[2]))])
    if q == "fsf":
        return fmt([ss.f.sf(float(w[1]), float(w[2]), float(w[3]))])
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
