#!/usr/bin/env python3
"""boot_ref.py: the bootstrap of rank-stats (rank.h, pfm_rank_bootstrap)
replayed in Python: the same splitmix64 draws, scipy's rankdata and
numpy.quantile; the intervals must equal the C program's bit for bit.

  boot_ref.py gen DIR SEED...      write DIR/bSEED.jsonl: result frames
                                   with folds and/or runs, shuffled
  boot_ref.py check FRAMES.jsonl REPORT.json ROUND [...]
                                   (groups of three; ROUND -1 = none)

check prints one line per mismatch and exits 1 if there is any."""
import json
import random
import sys

import numpy as np
import scipy.stats as ss

M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def unit_key(fr):
    """Sort key of a frame's fold/run, as pfm_rank_unit_cmp orders them."""
    f = (1, fr["fold"]) if "fold" in fr else (0,)
    r = fr.get("run")
    if r is None:
        rk = (0,)
    elif isinstance(r, int):
        rk = (1, r)
    else:
        rk = (2, r.encode())
    return f + rk


def gen(seed, path):
    rnd = random.Random(int(seed))
    k, n = rnd.randint(2, 6), rnd.randint(2, 15)
    kind = int(seed) % 4  # fold only, int run, string run, fold x run
    frames = []
    for i in range(n):
        task = "task%02d" % rnd.randint(0, 99) + "_%d" % i
        m = rnd.randint(1, 6)
        units = []
        for u in range(m):
            if kind == 0:
                units.append({"fold": u})
            elif kind == 1:
                units.append({"run": rnd.randint(-5, 1000) * 7 + u})
            elif kind == 2:
                units.append({"run": "seed-%d" % rnd.randint(0, 30) + "x" * u})
            else:
                units.append({"fold": u // 2, "run": u % 2})
        for j in range(k):
            base = 0.6 + 0.05 * j
            for u in units:
                v = round(base + 0.2 * rnd.random(), rnd.randint(2, 4))
                fr = {"type": "result", "v": 1, "task": task, "model": "m%d" % j,
                      "metric": "auroc", "value": v, "split": "test"}
                fr.update(u)
                frames.append(fr)
    rnd.shuffle(frames)
    with open(path, "w") as f:
        for fr in frames:
            f.write(json.dumps(fr) + "\n")


def check(frames_path, report_path, round_d):
    rep = json.load(open(report_path))
    round_d = int(round_d)
    boot = rep["bootstrap"]
    higher = rep["higher_is_better"]
    models = sorted(m["model"] for m in rep["models"])
    cells = {}  # task -> unit key -> model -> value
    for line in open(frames_path):
        fr = json.loads(line)
        if fr["metric"] != rep["metric"]:
            continue
        cells.setdefault(fr["task"], {}).setdefault(unit_key(fr), {})[fr["model"]] = fr["value"]
    tasks = sorted(cells, key=lambda s: s.encode())
    k, n, B = len(models), len(tasks), boot["replicates"]
    state = boot["seed"]
    reps = np.empty((2 * k, B))
    for b in range(B):
        rsum, msum = [0.0] * k, [0.0] * k
        for task in tasks:
            units = sorted(cells[task])
            m = len(units)
            idx = []
            for _ in range(m):
                state, z = splitmix64(state)
                idx.append(int((z >> 11) * 2.0 ** -53 * m))
            cell = []
            for model in models:
                s = 0.0
                for r in idx:
                    s += cells[task][units[r]][model]
                c = s / m
                cell.append(round(c, round_d) if round_d >= 0 else c)
            rk = ss.rankdata([-c if higher else c for c in cell])
            for j in range(k):
                rsum[j] += rk[j]
                msum[j] += cell[j]
        for j in range(k):
            reps[j, b] = rsum[j] / n
            reps[k + j, b] = msum[j] / n
    level = boot["level"]
    qlo, qhi = (1 - level) / 2, (1 + level) / 2
    by = {m["model"]: m for m in rep["models"]}
    bad = []
    for j, model in enumerate(models):
        want = [float(np.quantile(reps[j], qlo)), float(np.quantile(reps[j], qhi))]
        if by[model]["avg_rank_ci"] != want:
            bad.append("%s avg rank CI %r, reference %r" % (model, by[model]["avg_rank_ci"], want))
        want = [float(np.quantile(reps[k + j], qlo)), float(np.quantile(reps[k + j], qhi))]
        if by[model]["mean_ci"] != want:
            bad.append("%s mean CI %r, reference %r" % (model, by[model]["mean_ci"], want))
    for b in bad[:20]:
        print(frames_path + ": " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        for seed in sys.argv[3:]:
            gen(seed, "%s/b%s.jsonl" % (sys.argv[2], seed))
        sys.exit(0)
    a = sys.argv[2:]
    sys.exit(max(check(*a[i:i + 3]) for i in range(0, len(a), 3)))
