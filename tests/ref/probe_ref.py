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
  probe_ref.py check DIR RESULTS C [OPT]... [: DIR RESULTS C [OPT]...]...
      Every result of probe on DIR (frame-cat'd to JSON lines) but the
      linear head's (test_probe.c checks it against torch) against
      scikit-learn / numpy: knn, simpleshot and retrieval to 1e-12,
      logreg (sklearn run to tol 1e-8, probe --tol 1e-8) to 1e-6.
      OPT: --k K, --temperature T, --vote weighted (the kNN's settings
      probe ran with; default 20, 0.07, uniform). Several checks are
      separated by ':'.
  probe_ref.py init OUT D K SEED
      Initial weights of a linear layer D -> K as torch draws them (each
      weight and bias uniform in +-1/sqrt(D)), from numpy's generator
      seeded with SEED, as probe --init reads them: raw float32 W [K,D]
      then b [K].
  probe_ref.py early DIR INIT [OPT]... : RESULTS [OPT]... [: RESULTS [OPT]...]
      The linear head's early stopping, for each probe run (-m linear
      --no-shuffle --init INIT -v DIR/val... on DIR/train, tested on
      DIR/test; its results frame-cat'd in RESULTS) with its options OPT
      (after the common ones, which they override): --lr, --wd, --batch,
      --epochs, --patience, --min-epochs, --monitor loss|error as probe
      takes them, --log LOG (probe's --log, frame-cat'd). torch
      nn.Linear from INIT, AdamW, batches of DIR/train.jsonl in order;
      after each epoch the mean cross-entropy (or the error) on
      DIR/val.jsonl; an epoch improves when it is below the best so far
      (strictly: the first of equals stays best); training stops at the
      end of the first epoch that leaves P epochs in a row without
      improvement, once at least M epochs ran (P = 0: never), and the
      best epoch's weights are kept. RESULTS must give the same epochs
      run and best epoch (meta), and every metric of the best epoch's
      weights on DIR/test.jsonl as scikit-learn computes it (1e-9); LOG,
      every step's loss (1e-5 relative). A case whose decisions or
      test predictions lie within float32 noise of the other side (1e-4
      between validation losses, relative, or logits; 1e-5 between test
      probabilities) is too close to call: exit status 3, so that a pass
      means something; 1 when probe differs.
"""
import base64
import json
import struct
import sys

import numpy as np

from skref import sk_metric


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


def opt(args, f, v, conv=float):
    return conv(args[args.index(f) + 1]) if f in args else v


def check(out, res, C, args=()):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    X, ltr = load(out + "/train.jsonl")
    Xt, lte = load(out + "/test.jsonl")
    classes = sorted(set(ltr))
    y = np.array([classes.index(l) for l in ltr])
    yt = np.array([classes.index(l) for l in lte])
    k = len(classes)
    kk, T = opt(args, "--k", 20, int), opt(args, "--temperature", 0.07)
    c = dict(X=X, Xt=Xt, y=y, yt=yt, k=k, kk=kk, T=T)
    A, B = neighbour_tables(c)
    if opt(args, "--vote", "uniform", str) == "weighted":
        S = B @ A.T
        nb = np.argsort(-S, axis=1, kind="stable")[:, :kk]
        P = np.zeros((len(B), k))
        for i in range(len(B)):
            for j in nb[i]:
                P[i, y[j]] += np.exp(S[i, j] / T)
        P /= P.sum(1, keepdims=True)
        knn_pred = (P.argmax(1), P)
    else:
        knn_c = KNeighborsClassifier(n_neighbors=kk, algorithm="brute").fit(A, y)
        knn_pred = (knn_c.predict(B), knn_c.predict_proba(B))
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
    preds = {"knn": knn_pred,
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
            ref = sk_metric(m, yt, p, pr, k)
        tol = 1e-6 if method == "logreg" else 1e-12
        dlt = abs(r["value"] - ref) / max(abs(ref), 1e-300)
        worst[method] = max(worst.get(method, 0), dlt)
        n += 1
        if dlt > tol:
            print("%s %s: %r, reference %r" % (method, m, r["value"], ref))
            sys.exit(1)
    print("%d results; largest relative differences: %s" % (
        n, ", ".join("%s %.3g" % kv for kv in sorted(worst.items()))))


def early_case(D, init, args, torch, F):
    """One probe run of the linear head against torch: 0 equal, 1 not,
    3 too close to call."""
    lr, wd = opt(args, "--lr", 1e-3), opt(args, "--wd", 0.0)
    batch, epochs = opt(args, "--batch", 256, int), opt(args, "--epochs", 100, int)
    patience, min_ep = opt(args, "--patience", 10, int), opt(args, "--min-epochs", 0, int)
    by_err = opt(args, "--monitor", "loss", str) == "error"
    X, y, V, yv, Xt, yt, k = D
    d = X.shape[1]
    w0 = np.fromfile(init, "<f4")
    assert len(w0) == k * d + k, "INIT: not k*d + k float32"
    lin = torch.nn.Linear(d, k)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w0[:k * d].copy()).view(k, d))
        lin.bias.copy_(torch.from_numpy(w0[k * d:].copy()))
    optim = torch.optim.AdamW(lin.parameters(), lr=lr, weight_decay=wd)
    Xg, yg = torch.from_numpy(X.copy()), torch.from_numpy(y.astype(np.int64))
    Vg, yvg = torch.from_numpy(V.copy()), torch.from_numpy(yv.astype(np.int64))
    losses, trace, best, best_ep, since, close = [], [], np.inf, -1, 0, np.inf
    best_w, ran = None, 0
    for ep in range(epochs):
        for s in range(0, len(y), batch):
            optim.zero_grad()
            loss = F.cross_entropy(lin(Xg[s:s + batch]), yg[s:s + batch])
            loss.backward()
            optim.step()
            losses.append(loss.item())
        ran = ep + 1
        with torch.no_grad():
            z = lin(Vg).double()
        zs = np.sort(z.numpy(), 1)
        if by_err:
            mon = float((z.numpy().argmax(1) != yv).mean())
        else:
            mon = F.cross_entropy(z, yvg).item()
        if by_err:  # every validation prediction clear of a tie
            close = min(close, (zs[:, -1] - zs[:, -2]).min())
        elif np.isfinite(best):  # every comparison with the best clear
            close = min(close, abs(mon - best) / best)
        trace.append("%.4g%s" % (mon, "" if mon < best else "-"))
        if mon < best:
            best, best_ep, since = mon, ep, 0
            best_w = (lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy())
        else:
            since += 1
            if patience > 0 and since >= patience and ep + 1 >= min_ep:
                break
    W, b = best_w
    zt = Xt.astype(np.float64) @ W.T.astype(np.float64) + b
    pr = np.exp(zt - zt.max(1, keepdims=True))
    pr /= pr.sum(1, keepdims=True)
    pred = pr.argmax(1)
    # the predictions, and for the AUC each class's probabilities where
    # one of the class neighbours one of the rest in their order
    zs = np.sort(zt, 1)
    tst = (zs[:, -1] - zs[:, -2]).min()
    for c in range(k):
        o = np.argsort(pr[:, c])
        diff = (yt[o][1:] == c) != (yt[o][:-1] == c)
        tst = min(tst, np.diff(pr[o, c])[diff].min())
    print("  epochs %d of %d, best epoch %d; val %s by epoch (- no improvement): %s" % (
        ran, epochs, best_ep, "error" if by_err else "loss", " ".join(trace)))
    # float32 training here and in probe agree to ~1e-6: refuse data where
    # that could flip a decision (1e-4 relative between validation losses,
    # 1e-4 between logits) or the test metrics (1e-5)
    if close < 1e-4 or tst < 1e-5:
        print("  too close to call: decision margin %.3g, test margin %.3g" % (close, tst))
        return 3
    rows = [json.loads(line) for line in open(args[0])]
    rows = [r for r in rows if r["task"].endswith("/linear")]
    if len(rows) != 6:
        print("  %d linear results, 6 wanted" % len(rows))
        return 1
    bad = 0
    for r in rows:
        meta = r["meta"]
        if meta.get("epochs") != ran or meta.get("best_epoch") != best_ep:
            print("  probe: epochs %s, best_epoch %s; reference %d, %d" % (
                meta.get("epochs"), meta.get("best_epoch"), ran, best_ep))
            return 1
        ref = sk_metric(r["metric"], yt, pred, pr, k)
        if abs(r["value"] - ref) > 1e-9 * max(1, abs(ref)):
            print("  linear %s: %r, reference %r" % (r["metric"], r["value"], ref))
            bad += 1
    log = opt(args, "--log", None, str)
    if log:
        got = [json.loads(line)["values"]["loss"] for line in open(log)]
        if len(got) != len(losses):
            print("  log: %d steps, reference %d" % (len(got), len(losses)))
            return 1
        dl = max(abs(a - b) / abs(b) for a, b in zip(got, losses))
        if dl > 1e-5:
            print("  log: step losses differ by %.3g relative" % dl)
            return 1
    if bad:
        return 1
    print("  equal: epochs, best epoch, 6 metrics%s" % (
        ", %d step losses" % len(losses) if log else ""))
    return 0


def early(a):
    """early DIR INIT [OPT]... : RESULTS [OPT]... [: RESULTS [OPT]...]..."""
    import torch
    import torch.nn.functional as F
    groups, g = [], []
    for x in a:
        if x == ":":
            groups.append(g)
            g = []
        else:
            g.append(x)
    groups.append(g)
    out, init, common = groups[0][0], groups[0][1], groups[0][2:]
    X, ltr = load(out + "/train.jsonl")
    V, lva = load(out + "/val.jsonl")
    Xt, lte = load(out + "/test.jsonl")
    classes = sorted(set(ltr))
    y, yv, yt = (np.array([classes.index(v) for v in l]) for l in (ltr, lva, lte))
    D = (X, y, V, yv, Xt, yt, len(classes))
    worst = 0
    for g in groups[1:]:
        print("%s %s" % (g[0], " ".join(g[1:])))
        # the case's options after the common ones: opt() takes the first
        rc = early_case(D, init, g[:1] + g[1:] + common, torch, F)
        worst = max(worst, rc)
    return worst


def main():
    a = sys.argv[1:]
    if a[0] == "gen":
        gen(a[1], a[2:])
        return
    if a[0] == "check":
        g = []
        for x in a[1:] + [":"]:
            if x != ":":
                g.append(x)
                continue
            check(g[0], g[1], g[2], g[3:])
            g = []
        return
    if a[0] == "init":
        d, k = int(a[2]), int(a[3])
        r, bd = np.random.default_rng(int(a[4])), 1 / np.sqrt(d)
        np.concatenate([r.uniform(-bd, bd, (k, d)).ravel(),
                        r.uniform(-bd, bd, k)]).astype("<f4").tofile(a[1])
        return
    if a[0] == "early":
        sys.exit(early(a[1:]))
    for i in range(0, len(a) - 2, 3):
        c = read_case(a[i + 1])
        parts = {"logreg": logreg, "knn": knn, "linear": linear}[a[i]](c)
        with open(a[i + 2], "wb") as f:
            for p in parts:
                f.write(p)


if __name__ == "__main__":
    main()
