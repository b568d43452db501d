#!/usr/bin/env python3
"""rank_check.py: check rank-stats' JSON report against scipy and
scikit-posthocs, recomputed from the same table.

  rank_check.py gen DIR SEED...        write DIR/rSEED.tsv: random tables
  rank_check.py check TABLE.tsv REPORT.json ZERO_METHOD CORRECTION [...]
                                       (groups of four, one Python start)

check prints one line per mismatch and exits 1 if there is any.
Tolerances: ranks exact; statistics, chi-square and F p-values 1e-12
relative; Wilcoxon p 1e-12 (exact) or 1e-9 (normal); Nemenyi p 1e-7
relative + 1e-10."""
import json
import math
import random
import sys
import warnings

import numpy as np
import scipy.stats as ss
import scikit_posthocs as sp
from statsmodels.stats.multitest import multipletests

warnings.simplefilter("ignore")


def gen(seed, path):
    rnd = random.Random(int(seed))
    k, n, dec = rnd.randint(2, 9), rnd.randint(3, 60), rnd.randint(1, 3)
    with open(path, "w") as f:
        f.write("task\t" + "\t".join("model%d" % j for j in range(k)) + "\n")
        for i in range(n):
            row = [round(0.6 + 0.3 * rnd.random() + 0.02 * j, dec) for j in range(k)]
            f.write("task%d\t" % i + "\t".join(repr(v) for v in row) + "\n")


def close(a, b, rel, ab=0.0):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return a == b or abs(a - b) <= rel * abs(b) + ab


def check(table, report, zm="wilcox", corr="0"):
    rows = [l.rstrip("\n").split("\t") for l in open(table)]
    models = rows[0][1:]
    a = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    rep = json.load(open(report))
    bad = []
    ranks = np.array([ss.rankdata(-r) for r in a])
    avg = ranks.mean(axis=0)
    by = {m["model"]: m for m in rep["models"]}
    for j, name in enumerate(models):
        if by[name]["avg_rank"] != avg[j]:
            bad.append("avg rank %s: %r vs %r" % (name, by[name]["avg_rank"], avg[j]))
        if by[name]["task_ranks"] != list(ranks[:, j]):
            bad.append("task ranks of %s differ" % name)
    k = len(models)
    if k >= 3:
        stat, p = ss.friedmanchisquare(*[a[:, j] for j in range(k)])
        if not close(rep["friedman"]["chi2"], stat, 1e-12):
            bad.append("friedman chi2 %r vs %r" % (rep["friedman"]["chi2"], stat))
        if not close(rep["friedman"]["p"], p, 1e-12, 1e-300):
            bad.append("friedman p %r vs %r" % (rep["friedman"]["p"], p))
        # Demsar's chi2_F and Iman-Davenport's F_F, from the average ranks
        n = len(a)
        R = ranks.mean(axis=0)
        chi2f = 12 * n / (k * (k + 1)) * (np.sum(R ** 2) - k * (k + 1) ** 2 / 4)
        fr = rep["friedman"]
        if not close(fr["chi2_f"], chi2f, 1e-12, 1e-12):
            bad.append("chi2_F %r vs %r" % (fr["chi2_f"], chi2f))
        # the p-values of the reported statistics: the tails themselves
        want = ss.chi2.sf(fr["chi2_f"], k - 1)
        if not close(fr["p_chi2_f"], want, 1e-12, 1e-300):
            bad.append("chi2_F p %r vs %r" % (fr["p_chi2_f"], want))
        want = ss.f.sf(fr["ff"], k - 1, (k - 1) * (n - 1))
        if fr["df1"] != k - 1 or fr["df2"] != (k - 1) * (n - 1):
            bad.append("F_F df %r %r" % (fr["df1"], fr["df2"]))
        if not close(fr["p_ff"], want, 1e-12, 1e-300):
            bad.append("F_F p %r vs %r" % (fr["p_ff"], want))
    pm = np.asarray(sp.posthoc_nemenyi_friedman(a))
    order = [models.index(m["model"]) for m in rep["models"]]
    for x in range(k):
        for y in range(k):
            got = rep["nemenyi"]["p"][x][y]
            want = pm[order[x], order[y]]
            if not close(got, want, 1e-7, 1e-10):
                bad.append("nemenyi p %s/%s: %r vs %r" % (models[order[x]], models[order[y]], got, want))
    for a_ in (0.1, 0.05, 0.01):
        q = ss.studentized_range.ppf(1 - a_, k, np.inf) / np.sqrt(2)
        cd = q * math.sqrt(k * (k + 1) / (6 * len(a)))
        i = [0.1, 0.05, 0.01].index(a_)
        if not close(rep["nemenyi"]["cd"][i], cd, 1e-9):
            bad.append("CD %g: %r vs %r" % (a_, rep["nemenyi"]["cd"][i], cd))
    ps = []
    for pr in rep["wilcoxon"]["pairs"]:
        i, j = models.index(pr["a"]), models.index(pr["b"])
        try:
            r = ss.wilcoxon(a[:, i], a[:, j], zero_method=zm, correction=corr == "1")
            st, p = r.statistic, r.pvalue
        except ValueError:
            st, p = float("nan"), float("nan")
        exact = pr["test"] == "exact"
        if pr["p"] is not None and not close(pr["stat"], st, 0):
            bad.append("wilcoxon W %s/%s: %r vs %r" % (pr["a"], pr["b"], pr["stat"], st))
        if not close(pr["p"], p, 1e-12 if exact else 1e-9, 1e-300):
            bad.append("wilcoxon p %s/%s: %r vs %r" % (pr["a"], pr["b"], pr["p"], p))
        ps.append((pr["p_holm"], p))
    valid = [p for _, p in ps if not math.isnan(p)]
    if valid:
        adj = iter(multipletests(valid, method="holm")[1])
        for got, p in ps:
            if not math.isnan(p):
                want = next(adj)
                if not close(got, want, 1e-12):
                    bad.append("holm %r vs %r" % (got, want))
    for b in bad[:20]:
        print(table + ": " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        for seed in sys.argv[3:]:
            gen(seed, "%s/r%s.tsv" % (sys.argv[2], seed))
        sys.exit(0)
    a = sys.argv[2:]
    sys.exit(max(check(*a[i:i + 4]) for i in range(0, len(a), 4)))
