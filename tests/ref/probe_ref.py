#!/usr/bin/env python3
"""probe_ref.py: references for tests/test_probe.c and tests/test_probe.sh.

  probe_ref.py CMD CASE OUT [CMD CASE OUT]...   (test_probe.c)
CASE, little-endian: int32 n, m, d, k; float64 C, tol, T, lr, wd; int32
kk, batch, epochs, decoupled; float32 X[n*d]; int32 y[n]; float32
Xt[m*d]; int32 yt[m]; float32 init[k*d + k].
  logreg:  scikit-learn LogisticRegression(C, tol, lbfgs, max_iter 100000),
           run to tol (scipy's ftol, which sklearn leaves at 2.2e-9, lowered)
           -> float64 coef[rows*d], intercept[rows], proba[m*k]
  knn:     CL2N with the training mean (numpy, float64); kNN by
           scikit-learn's KNeighborsClassifier(kk, brute, euclidean) ->
           int32 pred[m], float64 proba[m*k]; the temperature-weighted
           vote (sum of exp(cos/T)) -> int32 pred[m], float64 proba[m*k];
           SimpleShot -> int32 pred[m]; retrieval hits -> int32 hit[m*4]
  linear:  torch nn.Linear(d, k) from init, AdamW or Adam (lr, wd),
           batches of `batch` in order, `epochs` epochs -> float64
           loss[steps], float32 weights[k*d + k]

  probe_ref.py gen DIR [--n N] [--m M] [--d D] [--k K] [--seed S]
      Gaussian classes (means 1.2 apart in random directions, unit noise)
      as tile embedding frames with their label: DIR/train.jsonl,
      DIR/val.jsonl, DIR/test.jsonl (for frame-cat -J).
  probe_ref.py check DIR RESULTS C
      Every result of probe on DIR (frame-cat'd to JSON lines) but the
      linear head's (test_probe.c checks it against torch) against
      scikit-learn / numpy: knn, simpleshot and retrieval to 1e-12,
      logreg (sklearn run to tol 1e-8, probe --tol 1e-8) to 1e-6.
"""
import base64
import json
import struct
import sys

import numpy as np


def read_case(path):
    b = open(path, "rb").read()
    n, m, d, k = struct.unpack_from("<4i", b, 0)
    C, tol, T, lr, wd = struct.unpack_from("<5d", b, 16)
    kk, batch, epochs, dec = struct.unpack_from("<4i", b, 56)
    off = 72
    X = np.frombuffer(b, "<f4", n * d, off).reshape(n, d)
    off += 4 * n * d
    y = np.frombuffer(b, "<i4", n, off)
    off += 4 * n
    Xt = np.frombuffer(b, "<f4", m * d, off).reshape(m, d)
    off += 4 * m * d
    yt = np.frombuffer(b, "<i4", m, off)
    off += 4 * m
    init = np.frombuffer(b, "<f4", k * d + k, off)
    return dict(n=n, m=m, d=d, k=k, C=C, tol=tol, T=T, lr=lr, wd=wd, kk=kk,
                batch=batch, epochs=epochs, dec=dec, X=X, y=y, Xt=Xt, yt=yt,
                init=init)


def cl2n(X, mean):
    Z = X.astype(np.float64) - mean
    nrm = np.linalg.norm(Z, axis=1, keepdims=True)
    return np.where(nrm > 0, Z / np.where(nrm > 0, nrm, 1), Z)


def converged_lbfgs():
    """scikit-learn's LogisticRegression calls scipy's L-BFGS-B with its
    default ftol (2.2e-9 relative change of the objective), which stops
    it well before tol; let it run to tol instead."""
    import sklearn.linear_model._logistic as lg
    minimize = lg.optimize.minimize

    def tight(*a, **kw):
        kw.setdefault("options", {})["ftol"] = 1e-300
        return minimize(*a, **kw)
    lg.optimize.minimize = tight
    return minimize


def logreg(c):
    from sklearn.linear_model import LogisticRegression
    converged_lbfgs()
    lr = LogisticRegression(C=c["C"], tol=c["tol"], max_iter=100000)
    lr.fit(c["X"].astype(np.float64), c["y"])
    return [lr.coef_.astype("<f8").tobytes(), lr.intercept_.astype("<f8").tobytes(),
            lr.predict_proba(c["Xt"].astype(np.float64)).astype("<f8").tobytes()]


def neighbour_tables(c):
    mean = c["X"].astype(np.float64).mean(0)
    A, B = cl2n(c["X"], mean), cl2n(c["Xt"], mean)
    return A, B


def knn(c):
    from sklearn.neighbors import KNeighborsClassifier
    A, B = neighbour_tables(c)
    k, y = c["k"], c["y"]
    kk = min(c["kk"], len(y))
    clf = KNeighborsClassifier(n_neighbors=kk, algorithm="brute", metric="euclidean")
    clf.fit(A, y)
    # classes absent from training do not occur (probe refuses them)
    pu = clf.predict_proba(B)
    out = [clf.predict(B).astype("<i4").tobytes(), pu.astype("<f8").tobytes()]
    S = B @ A.T
    nb = np.argsort(-S, axis=1, kind="stable")[:, :kk]
    P = np.zeros((len(B), k))
    for i in range(len(B)):
        for j in nb[i]:
            P[i, y[j]] += np.exp(S[i, j] / c["T"])
    P /= P.sum(1, keepdims=True)
    out += [P.argmax(1).astype("<i4").tobytes(), P.astype("<f8").tobytes()]
    protos = np.stack([A[y == j].mean(0) for j in range(k)])
    D = ((B[:, None, :] - protos[None]) ** 2).sum(-1)
    out.append(D.argmin(1).astype("<i4").tobytes())
    nb5 = np.argsort(-S, axis=1, kind="stable")[:, :5]
    hits = []
    for i in range(len(B)):
        lab = y[nb5[i]]
        votes = np.bincount(lab, minlength=k)
        hits += [int(lab[0] == c["yt"][i]), int((lab[:3] == c["yt"][i]).any()),
                 int((lab[:5] == c["yt"][i]).any()), int(votes.argmax() == c["yt"][i])]
    out.append(np.array(hits, "<i4").tobytes())
    return out


def linear(c):
    import torch
    import torch.nn.functional as F
    d, k = c["d"], c["k"]
    lin = torch.nn.Linear(d, k)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(c["init"][:k * d].copy()).view(k, d))
        lin.bias.copy_(torch.from_numpy(c["init"][k * d:].copy()))
    opt = (torch.optim.AdamW if c["dec"] else torch.optim.Adam)(lin.parameters(), lr=c["lr"],
                                                                 weight_decay=c["wd"])
    X, y = torch.from_numpy(c["X"].copy()), torch.from_numpy(c["y"].astype(np.int64))
    losses = []
    for _ in range(c["epochs"]):
        for s in range(0, c["n"], c["batch"]):
            opt.zero_grad()
            loss = F.cross_entropy(lin(X[s:s + c["batch"]]), y[s:s + c["batch"]])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    w = torch.cat([lin.weight.detach().reshape(-1), lin.bias.detach()])
    return [np.array(losses, "<f8").tobytes(), w.numpy().astype("<f4").tobytes()]


def gen(out, args):
    def arg(f, v):
        return int(args[args.index(f) + 1]) if f in args else v
    n, m, d, k = arg("--n", 300), arg("--m", 150), arg("--d", 24), arg("--k", 4)
    rng = np.random.default_rng(arg("--seed", 5))
    mu = rng.standard_normal((k, d))
    mu *= 1.2 / np.linalg.norm(mu, axis=1, keepdims=True)
    for name, cnt in (("train", n), ("val", n // 5), ("test", m)):
        with open("%s/%s.jsonl" % (out, name), "w") as f:
            for i in range(cnt):
                y = i % k
                x = (mu[y] + rng.standard_normal(d)).astype("<f4")
                fr = {"type": "embedding", "v": 1, "slide_id": "%s/%s-%04d" % ("c%d" % y, name, i),
                      "label": "c%d" % y,
                      "emb": {"uni": {"dtype": "f32", "shape": [d],
                                      "data": {"$base64": base64.b64encode(x.tobytes()).decode()}}}}
                f.write(json.dumps(fr) + "\n")


def load(path):
    X, lab = [], []
    for line in open(path):
        fr = json.loads(line)
        e = fr["emb"]["uni"]
        X.append(np.frombuffer(base64.b64decode(e["data"]["$base64"]), "<f4"))
        lab.append(fr["label"])
    return np.array(X), lab


def check(out, res, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score,
                                 cohen_kappa_score, f1_score, roc_auc_score)
    from sklearn.neighbors import KNeighborsClassifier
    X, ltr = load(out + "/train.jsonl")
    Xt, lte = load(out + "/test.jsonl")
    classes = sorted(set(ltr))
    y = np.array([classes.index(l) for l in ltr])
    yt = np.array([classes.index(l) for l in lte])
    k = len(classes)
    c = dict(X=X, Xt=Xt, y=y, yt=yt, k=k, kk=20, T=0.07)
    A, B = neighbour_tables(c)
    knn_c = KNeighborsClassifier(n_neighbors=20, algorithm="brute").fit(A, y)
    converged_lbfgs()
    lr = LogisticRegression(C=float(C), tol=1e-8, max_iter=10000).fit(X.astype(np.float64), y)
    protos = np.stack([A[y == j].mean(0) for j in range(k)])
    ss = ((B[:, None, :] - protos[None]) ** 2).sum(-1).argmin(1)
    S = B @ A.T
    nb5 = np.argsort(-S, axis=1, kind="stable")[:, :5]
    hits = np.array([[yt[i] == y[nb5[i, 0]], (y[nb5[i, :3]] == yt[i]).any(),
                      (y[nb5[i]] == yt[i]).any(),
                      np.bincount(y[nb5[i]], minlength=k).argmax() == yt[i]]
                     for i in range(len(yt))], float)
    preds = {"knn": (knn_c.predict(B), knn_c.predict_proba(B)),
             "logreg": (lr.predict(Xt.astype(np.float64)), lr.predict_proba(Xt.astype(np.float64))),
             "simpleshot": (ss, None)}
    worst, n = {}, 0
    for line in open(res):
        r = json.loads(line)
        method = r["task"].split("/")[-1]
        m = r["metric"]
        if method == "linear":  # checked against torch by test_probe.c
            continue
        if method == "retrieval":
            ref = hits[:, ["acc_top1", "acc_top3", "acc_top5", "mv_at_5"].index(m)].mean()
        else:
            p, pr = preds[method]
            ref = {"auroc": lambda: roc_auc_score(yt, pr, multi_class="ovr", labels=list(range(k)))
                   if k > 2 else roc_auc_score(yt, pr[:, 1]),
                   "balanced_accuracy": lambda: balanced_accuracy_score(yt, p),
                   "f1_macro": lambda: f1_score(yt, p, average="macro"),
                   "f1_weighted": lambda: f1_score(yt, p, average="weighted"),
                   "accuracy": lambda: accuracy_score(yt, p),
                   "kappa_quadratic": lambda: cohen_kappa_score(yt, p, weights="quadratic",
                                                                labels=list(range(k)))}[m]()
        tol = 1e-6 if method == "logreg" else 1e-12
        dlt = abs(r["value"] - ref) / max(abs(ref), 1e-300)
        worst[method] = max(worst.get(method, 0), dlt)
        n += 1
        if dlt > tol:
            print("%s %s: %r, reference %r" % (method, m, r["value"], ref))
            sys.exit(1)
    print("%d results; largest relative differences: %s" % (
        n, ", ".join("%s %.3g" % kv for kv in sorted(worst.items()))))


def main():
    a = sys.argv[1:]
    if a[0] == "gen":
        gen(a[1], a[2:])
        return
    if a[0] == "check":
        check(a[1], a[2], a[3])
        return
    for i in range(0, len(a) - 2, 3):
        c = read_case(a[i + 1])
        parts = {"logreg": logreg, "knn": knn, "linear": linear}[a[i]](c)
        with open(a[i + 2], "wb") as f:
            for p in parts:
                f.write(p)


if __name__ == "__main__":
    main()
