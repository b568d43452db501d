#!/usr/bin/env python3
"""miltrain_check.py: data and checks for tests/test_miltrain_opts.sh.

Frame files are read as JSON lines (frame-cat --full). Every check
prints what it compared and exits 1 on a mismatch.

  gen DIR --counts N0,N1,.. [--spc S] [--d D] [--shift X] [--seed S]
      Cases per class (N0 cases of c0, ...), S slides a case (2), bags of
      8-16 tiles of N(0, I_d); a slide of class k > 0 hides 2-4 key tiles
      shifted by X along a direction of its own. Tiles have random
      distinct coordinates; a slide's tiles come as single-tile frames
      (x, y), one [n, d] frame with coords, or two such frames, and the
      frames of all slides are interleaved (each slide's in order); one
      slide is an [n, d] frame without coordinates. Writes DIR/emb.jsonl,
      DIR/labels.csv (slide_id,label,case_id) and DIR/meta.json (per
      slide: its coordinates in input order, or null, and its key tiles).
  folds PRED LOG LABELS K VALFRAC CLASSES
      -k K: every slide tested exactly once, a case's slides in one
      fold, per fold and stratum exactly the cases the deal gives
      (balanced within 1), and per fold the training slides (steps of
      epoch 0 in LOG, --log-steps, batches of 1) and the validation
      slides (the rest) the count round(VALFRAC m) of each stratum gives.
  split PRED LOG LABELS A:B:C CLASSES
      --split A:B:C: per stratum of n cases, round(nA/(A+B+C)) train,
      round(n(A+B)/(A+B+C)) - that val, the rest test.
  testsets PRED1 PRED2
      Prints "same" or "different": the test slides of each fold.
  stop LOG RES PATIENCE MIN_EPOCHS MAX_EPOCHS MONITOR
      Replays the early-stopping rule on the validation values of LOG:
      epochs run and best epoch (first of equals) as the result frames'
      meta say; prints "fold F: epochs E, best B".
  weights FILE D C HEAD
      The saved weights of HEAD (abmil or eva, d = D, C outputs) after a
      step of lr 1e-30: their count, and each tensor drawn by the preset's
      scheme (xavier: N(0, 2/(in+out)), biases 0; torch: U(+-1/sqrt(in))).
  initw FILE N SEED
      N float32 parameters, U(-0.3, 0.3), none zero.
  draws LOG PRED LABELS SPLITS MODE [ORDERLOG]
      Slides drawn at each step of fold 0 (--log-steps, batch 1, lr
      1e-30, so the weights never move: a step's loss names its slide;
      PRED, fold 1's test predictions, holds every such slide's loss
      under those weights and its class, or for survival its time bin,
      the losses then coming from ORDERLOG, a --no-shuffle run's first
      epoch). MODE perm: each epoch is a permutation of the fold-0
      training slides, epochs differ; order: each epoch in the labels
      file's order; weighted: classes (bins) drawn uniformly
      (chi-square), the slides of a class too, with repeats.
  metrics PRED RES CLASSES
      Every classification result recomputed with scikit-learn from the
      predictions (1e-12; the loss 1e-9), with the class order CLASSES;
      probabilities in that order.
  attn PRED META
      Attention: one weight per tile, each >= 0, summing to 1; coords
      equal to the input's in order (absent for the slide without);
      the top tile of class k > 0 slides a key tile (>= 80%).
  risk PRED
      Survival: risk = -sum(survival) (1e-12), survival non-increasing
      in [0, 1].
  same-preds A B
      Prediction files equal but for their run field.
"""
import base64
import json
import math
import sys

import numpy as np

from skref import sk_metric, tensor


def die(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def frames(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def labels(path):
    rows = [l.rstrip("\n").split(",") for l in open(path) if l.strip()]
    h = rows[0]
    return [dict(zip(h, r)) for r in rows[1:]]


def rnd(x):
    return int(math.floor(x + 0.5))


def emb(x):
    a = np.ascontiguousarray(x, "<f4")
    return {"uni": {"dtype": "f32", "shape": list(a.shape),
                    "data": {"$base64": base64.b64encode(a.tobytes()).decode()}}}


def i64(x):
    a = np.ascontiguousarray(x, "<i8")
    return {"dtype": "i64", "shape": list(a.shape),
            "data": {"$base64": base64.b64encode(a.tobytes()).decode()}}


def arg(a, flag, default, cast):
    return cast(a[a.index(flag) + 1]) if flag in a else default


def gen(out, a):
    counts = [int(v) for v in arg(a, "--counts", "10,10", str).split(",")]
    spc, d = arg(a, "--spc", 2, int), arg(a, "--d", 16, int)
    shift = arg(a, "--shift", 4.0, float)
    rng = np.random.default_rng(arg(a, "--seed", 1, int))
    k = len(counts)
    dirs = [v / np.linalg.norm(v) for v in rng.standard_normal((k, d))]
    cases = [c for c in range(k) for _ in range(counts[c])]
    rng.shuffle(cases)
    rows, meta, streams = [], {}, []
    s = 0
    for ci, y in enumerate(cases):
        for _ in range(spc):
            sid = "s-%03d" % s
            n = int(rng.integers(8, 17))
            x = rng.standard_normal((n, d))
            keys = []
            if y > 0:
                idx = rng.choice(n, int(rng.integers(2, 5)), replace=False)
                x[idx] += shift * dirs[y]
                keys = sorted(int(i) for i in idx)
            cell = rng.choice(64 * 64, n, replace=False)
            co = np.stack([cell % 64 * 256, cell // 64 * 256], 1)
            mode = s % 4
            fr = []
            if s == 5:  # no coordinates
                fr.append({"type": "embedding", "v": 1, "slide_id": sid, "emb": emb(x)})
                co = None
            elif mode in (0, 3):
                for j in range(n):
                    fr.append({"type": "embedding", "v": 1, "slide_id": sid,
                               "x": int(co[j, 0]), "y": int(co[j, 1]), "width": 256,
                               "height": 256, "mpp": 0.5, "emb": emb(x[j])})
            elif mode == 1:
                fr.append({"type": "embedding", "v": 1, "slide_id": sid, "emb": emb(x),
                           "coords": i64(co)})
            else:
                h = n // 2
                fr.append({"type": "embedding", "v": 1, "slide_id": sid, "emb": emb(x[:h]),
                           "coords": i64(co[:h])})
                fr.append({"type": "embedding", "v": 1, "slide_id": sid, "emb": emb(x[h:]),
                           "coords": i64(co[h:])})
            streams.append(fr)
            meta[sid] = {"n": n, "class": y,
                         "coords": None if co is None else co.tolist(),
                         "keys": [] if co is None else [co[i].tolist() for i in keys]}
            rows.append("%s,c%d,case-%03d" % (sid, y, ci))
            s += 1
    # interleave the slides' frames, each slide's in order
    keyed = []
    for fr in streams:
        t = np.sort(rng.uniform(size=len(fr)))
        keyed += list(zip(t, (json.dumps(f) for f in fr)))
    keyed.sort(key=lambda p: p[0])
    with open(out + "/emb.jsonl", "w") as f:
        f.writelines(l + "\n" for _, l in keyed)
    with open(out + "/labels.csv", "w") as f:
        f.write("slide_id,label,case_id\n" + "\n".join(rows) + "\n")
    json.dump(meta, open(out + "/meta.json", "w"))
    print("%d cases, %d slides, %d frames" % (len(cases), s, len(keyed)))


def strata(lab, classes):
    """Case -> stratum (class of its first slide), case -> slides."""
    cs, sl = {}, {}
    for r in lab:
        c = r.get("case_id") or r["slide_id"]
        if c not in cs:
            cs[c] = classes.index(r["label"])
        sl.setdefault(c, []).append(r["slide_id"])
    return cs, sl


def train_counts(log):
    """Training slides per fold: the step frames of epoch 0."""
    n = {}
    for f in frames(log):
        if f["split"] == "train" and "loss" in f["values"] and f["epoch"] == 0:
            fold = int(f["run"].split(",")[0].split()[1])
            n[fold] = n.get(fold, 0) + 1
    return n


def folds(pred, log, labf, K, vf, classes):
    lab, K, vf, classes = labels(labf), int(K), float(vf), classes.split(",")
    cs, sl = strata(lab, classes)
    case_of = {r["slide_id"]: r.get("case_id") or r["slide_id"] for r in lab}
    ps = frames(pred)
    seen = {}
    for p in ps:
        if p["slide_id"] in seen:
            die("slide %s tested in folds %d and %d" % (p["slide_id"], seen[p["slide_id"]], p["fold"]))
        seen[p["slide_id"]] = p["fold"]
        if p["case_id"] != case_of[p["slide_id"]]:
            die("slide %s: case %s, labels say %s" % (p["slide_id"], p["case_id"], case_of[p["slide_id"]]))
    if set(seen) != set(case_of):
        die("%d slides tested, %d labelled" % (len(seen), len(case_of)))
    fold_of = {}
    for s, f in seen.items():
        c = case_of[s]
        if fold_of.setdefault(c, f) != f:
            die("case %s in the test sets of folds %d and %d" % (c, fold_of[c], f))
    if sorted(set(seen.values())) != list(range(K)):
        die("folds %s, wanted 0..%d" % (sorted(set(seen.values())), K - 1))
    # the deal: stratum after stratum, cases to folds 0..K-1 in turn
    ns = [sum(1 for c in cs if cs[c] == s) for s in range(len(classes))]
    got = np.zeros((len(classes), K), int)
    for c, f in fold_of.items():
        got[cs[c], f] += 1
    want = np.zeros_like(got)
    i = 0
    for s in range(len(classes)):
        for _ in range(ns[s]):
            want[s, i % K] += 1
            i += 1
    if not (got == want).all():
        die("cases per stratum and fold\n%s\nwanted (the deal)\n%s" % (got, want))
    if (got.max(1) - got.min(1)).max() > 1 or np.ptp(got.sum(0)) > 1:
        die("unbalanced folds\n%s" % got)
    ntr = train_counts(log)
    nsl = len(case_of)
    for f in range(K):
        nte = sum(1 for s in seen if seen[s] == f)
        nva_cases = [rnd(vf * (ns[s] - got[s, f])) for s in range(len(classes))]
        # every case here has the same number of slides
        spc = {len(v) for v in sl.values()}
        if len(spc) != 1:
            die("folds check needs the same number of slides per case")
        nva = spc.pop() * sum(nva_cases)
        if ntr.get(f) != nsl - nte - nva:
            die("fold %d: %s training slides, wanted %d (%d test, %d val)" %
                (f, ntr.get(f), nsl - nte - nva, nte, nva))
    print("%d folds: cases per stratum and fold %s; training slides %s" %
          (K, got.tolist(), [ntr[f] for f in range(K)]))


def split(pred, log, labf, ratio, classes):
    lab, classes = labels(labf), classes.split(",")
    a, b, c = [float(v) for v in ratio.split(":")]
    cs, sl = strata(lab, classes)
    case_of = {r["slide_id"]: r.get("case_id") or r["slide_id"] for r in lab}
    ps = frames(pred)
    if {p["fold"] for p in ps} != {0}:
        die("--split: folds %s" % {p["fold"] for p in ps})
    test_cases = {case_of[p["slide_id"]] for p in ps}
    want_tr = 0
    for s in range(len(classes)):
        cases = [x for x in cs if cs[x] == s]
        n = len(cases)
        ntr, ntv = rnd(n * a / (a + b + c)), rnd(n * (a + b) / (a + b + c))
        got_te = sum(1 for x in cases if x in test_cases)
        if got_te != n - ntv:
            die("stratum %s: %d test cases of %d, wanted %d" % (classes[s], got_te, n, n - ntv))
        want_tr += sum(len(sl[x]) for x in cases[:ntr])  # same slides per case
        print("stratum %s: %d cases, %d train, %d val, %d test" % (classes[s], n, ntr, ntv - ntr, n - ntv))
    tested = {p["slide_id"] for p in ps}
    for x in test_cases:
        if not set(sl[x]) <= tested:
            die("case %s partly tested" % x)
    if train_counts(log).get(0) != want_tr:
        die("%s training slides, wanted %d" % (train_counts(log).get(0), want_tr))


def testsets(p1, p2):
    def sets(p):
        t = {}
        for f in frames(p):
            t.setdefault(f["fold"], set()).add(f["slide_id"])
        return t
    print("same" if sets(p1) == sets(p2) else "different")


def stop(log, res, patience, min_ep, max_ep, monitor):
    patience, min_ep, max_ep = int(patience), int(min_ep), int(max_ep)
    key = {"loss": "loss", "error": "error"}.get(monitor)
    vals, ntrain = {}, {}
    for f in frames(log):
        u = f["run"]
        if f["split"] == "val":
            v = f["values"]
            if monitor == "auc":
                x = -v.get("auroc", v.get("c_index"))
            else:
                x = v[key]
            vals.setdefault(u, []).append((f["epoch"], x))
        elif "epoch_loss" in f["values"]:
            ntrain[u] = ntrain.get(u, 0) + 1
    meta = {}
    for r in frames(res):
        meta["fold %d, run %d" % (r["fold"], r["run"])] = r["meta"]
    if not vals or set(vals) != set(meta):
        die("runs in the log %s, in the results %s" % (sorted(vals), sorted(meta)))
    for u in sorted(vals):
        v = vals[u]
        if [e for e, _ in v] != list(range(len(v))):
            die("%s: epochs %s" % (u, [e for e, _ in v]))
        best, be, since, stop_at = math.inf, -1, 0, max_ep
        for ep, x in v:
            if x < best:
                best, be, since = x, ep, 0
            else:
                since += 1
            if patience > 0 and since >= patience and ep + 1 >= min_ep:
                stop_at = ep + 1
                break
        m = meta[u]
        if len(v) != stop_at or ntrain[u] != stop_at or m["epochs"] != stop_at:
            die("%s: ran %d epochs (log %d val, %d train; meta %d), the rule stops after %d; %s values %s"
                % (u, len(v), len(v), ntrain[u], m["epochs"], stop_at, monitor, [x for _, x in v]))
        if m.get("best_epoch") != be:
            die("%s: best_epoch %s, the first best %s is epoch %d: %s" %
                (u, m.get("best_epoch"), monitor, be, [x for _, x in v]))
        print("%s: epochs %d, best %d" % (u, stop_at, be))


def layout(head, d, c):
    """(name, out, in) of every weight, each followed by its bias."""
    if head == "abmil":
        return [("W1", 512, d), ("Wa", 128, 512), ("Wc", 1, 128), ("Wo", c, 512)], "xavier"
    if head == "eva":
        return [("W1", 128, d), ("Wa", 128, 128), ("Wb", 128, 128), ("Wc", 1, 128),
                ("M1", 128, 128), ("M2", 64, 128), ("Wo", c, 64)], "torch"
    die("head " + head)


def weights(path, d, c, head):
    d, c = int(d), int(c)
    w = np.fromfile(path, "<f4")
    lay, scheme = layout(head, d, c)
    want = sum(o * i + o for _, o, i in lay)
    if w.size != want:
        die("%s: %d parameters, %s with d %d and %d outputs has %d" % (path, w.size, head, d, c, want))
    off = 0
    for name, o, i in lay:
        W = w[off:off + o * i].astype(float)
        off += o * i
        b = w[off:off + o].astype(float)
        off += o
        if scheme == "xavier":
            sd = math.sqrt(2.0 / (i + o))
            tol = 0.1 if W.size >= 1000 else 0.3
            if abs(W.std() / sd - 1) > tol or abs(W.mean()) > 4 * sd / math.sqrt(W.size):
                die("%s [%d, %d]: mean %.4g sd %.4g, xavier wants sd %.4g" % (name, o, i, W.mean(), W.std(), sd))
            if W.size >= 1000:
                k = ((W - W.mean()) ** 4).mean() / W.var() ** 2 - 3
                if abs(k) > 0.5:
                    die("%s: excess kurtosis %.3f, not normal" % (name, k))
            if np.abs(b).max() > 1e-20:
                die("%s: bias not 0 (largest %g)" % (name, np.abs(b).max()))
        else:
            bd = 1 / math.sqrt(i)
            for t, nm in ((W, name), (b, "bias of " + name)):
                if np.abs(t).max() > bd * (1 + 1e-6):
                    die("%s: |value| %g beyond 1/sqrt(%d) = %g" % (nm, np.abs(t).max(), i, bd))
                if t.size >= 60 and (np.abs(t).max() < 0.85 * bd or abs(t.std() / (bd / math.sqrt(3)) - 1) > 0.3):
                    die("%s: max %g sd %g, not U(+-%g)" % (nm, np.abs(t).max(), t.std(), bd))
        print("%s [%d, %d]: sd %.4f" % (name, o, i, W.std()))
    print("%s, d %d, %d outputs: %d parameters, %s init" % (head, d, c, want, scheme))


def initw(path, n, seed):
    rng = np.random.default_rng(int(seed))
    w = rng.uniform(0.01, 0.3, int(n)) * rng.choice([-1, 1], int(n))
    w.astype("<f4").tofile(path)


def draws(log, pred, labf, splitsf, mode, orderlog=None):
    lab = labels(labf)
    order = [r["slide_id"] for r in lab]
    train = [r["slide"] for r in ({"slide": l.split(",")[1], "f": l.split(",")[0],
                                   "s": l.strip().split(",")[2]}
                                  for l in list(open(splitsf))[1:]) if r["f"] == "0" and r["s"] == "train"]
    train = [s for s in order if s in set(train)]
    loss, cls = {}, {}
    for p in frames(pred):
        if p["slide_id"] in train:
            cls[p["slide_id"]] = p["label"] if "label" in p else p["bin"]
            if not orderlog:
                pr = tensor(p["probs"])
                loss[p["slide_id"]] = -math.log(pr[p["classes"].index(p["label"])])
    if orderlog:
        # survival: the losses of a --no-shuffle run's first epoch
        first = [f["values"]["loss"] for f in frames(orderlog) if f["run"].startswith("fold 0,")
                 and f["split"] == "train" and "loss" in f["values"] and f["epoch"] == 0]
        if len(first) != len(train):
            die("%s: %d steps in epoch 0, %d training slides" % (orderlog, len(first), len(train)))
        loss = dict(zip(train, first))
    if set(loss) != set(train) or set(cls) != set(train):
        die("losses of %d of %d training slides" % (len(loss), len(train)))
    ls = sorted(loss.values())
    gap = min(b - a for a, b in zip(ls, ls[1:]))
    steps = {}
    for f in frames(log):
        if f["run"].startswith("fold 0,") and f["split"] == "train" and "loss" in f["values"]:
            steps.setdefault(f["epoch"], []).append(f["values"]["loss"])
    names = sorted(loss, key=loss.get)
    keys = np.array([loss[s] for s in names])
    ep, worst = [], 0.0
    for e in sorted(steps):
        seq = []
        for x in steps[e]:
            j = int(np.argmin(np.abs(keys - x)))
            worst = max(worst, abs(keys[j] - x))
            if abs(keys[j] - x) > max(1e-6 * abs(x), 1e-9) or abs(keys[j] - x) > gap / 4:
                die("epoch %d: step loss %r is no training slide's (nearest %r)" % (e, x, keys[j]))
            seq.append(names[j])
        ep.append(seq)
    print("each step's loss is one training slide's (within %.2g; losses %.2g apart)" % (worst, gap))
    if any(len(s) != len(train) for s in ep):
        die("steps per epoch %s, %d training slides" % ([len(s) for s in ep], len(train)))
    if mode == "order":
        for e, s in enumerate(ep):
            if s != train:
                die("epoch %d not in the labels file's order" % e)
        print("%d epochs, each in the labels file's order" % len(ep))
    elif mode == "perm":
        for e, s in enumerate(ep):
            if sorted(s) != sorted(train):
                die("epoch %d: not each training slide once" % e)
        if len({tuple(s) for s in ep}) != len(ep) or any(s == train for s in ep):
            die("epochs not shuffled, or shuffled alike")
        print("%d epochs, each a different permutation of the %d training slides" % (len(ep), len(train)))
    else:
        from scipy.stats import chisquare
        classes = sorted({cls[s] for s in train})
        nc = {c: sum(1 for s in train if cls[s] == c) for c in classes}
        alls = [s for e in ep for s in e]
        got = [sum(1 for s in alls if cls[s] == c) for c in classes]
        p = chisquare(got).pvalue
        print("training slides per class %s; drawn %s over %d epochs (chi-square p %.3g)" %
              ([nc[c] for c in classes], got, len(ep), p))
        if p < 1e-4:
            die("classes not drawn uniformly")
        for c in classes:
            per = [sum(1 for s in alls if s == x) for x in train if cls[x] == c]
            if chisquare(per).pvalue < 1e-4:
                die("class %s: slides drawn %s, not uniformly" % (c, per))
        if all(len(set(s)) == len(s) for s in ep):
            die("no slide drawn twice in an epoch: not with replacement")


def metrics(pred, res, classes):
    from sklearn.metrics import cohen_kappa_score
    classes = classes.split(",")
    k = len(classes)
    groups = {}
    for p in frames(pred):
        if p["classes"] != classes:
            die("%s: classes %s, wanted %s" % (p["slide_id"], p["classes"], classes))
        groups.setdefault((p["fold"], p["run"]), []).append(p)
    worst, n, kdiff, right = 0.0, 0, 0, []
    seen = set()
    for r in frames(res):
        ps = groups[(r["fold"], r["run"])]
        if len(ps) != r["n"]:
            die("n %d, %d predictions" % (r["n"], len(ps)))
        y = np.array([classes.index(p["label"]) for p in ps])
        pr = np.array([tensor(p["probs"]) for p in ps])
        q = np.array([classes.index(p["pred"]) for p in ps])
        if not (pr.argmax(1) == q).all() or np.abs(pr.sum(1) - 1).max() > 1e-12:
            die("pred is not the most probable class of probs, or probs do not sum to 1")
        right += list(pr[np.arange(len(y)), y])
        m = r["metric"]
        seen.add(m)
        ref = (float(np.mean(-np.log(pr[np.arange(len(y)), y]))) if m == "loss"
               else sk_metric(m, y, q, pr, k))
        tol = 1e-9 if m == "loss" else 1e-12
        dlt = abs(r["value"] - ref) / max(abs(ref), 1e-300)
        if dlt > tol:
            die("%s fold %d: %r, scikit-learn %r" % (m, r["fold"], r["value"], ref))
        worst = max(worst, dlt if m != "loss" else 0)
        n += 1
        if m == "kappa_quadratic":
            # the same slides with the classes in sorted order
            srt = sorted(classes)
            ys = [srt.index(classes[i]) for i in y]
            qs = [srt.index(classes[i]) for i in q]
            alt = cohen_kappa_score(ys, qs, weights="quadratic", labels=list(range(k)))
            kdiff = max(kdiff, abs(alt - r["value"]))
    want = {"auroc", "balanced_accuracy", "f1_macro", "f1_weighted", "accuracy",
            "kappa_quadratic", "loss"}
    if seen != want:
        die("metrics %s" % sorted(seen))
    print("%d results equal scikit-learn's (largest relative difference %.3g); "
          "mean probability of the true class %.3f; kappa in sorted class order differs by up to %.3f"
          % (n, worst, np.mean(right), kdiff))
    if np.mean(right) < 0.6:
        die("probabilities do not follow --classes: mean probability of the true class %.3f" % np.mean(right))
    if kdiff < 1e-6:
        die("kappa does not depend on the class order here: the check cannot tell")


def attn(pred, metaf):
    meta = json.load(open(metaf))
    top = tot = 0
    n = 0
    for p in frames(pred):
        s = p["slide_id"]
        m = meta[s]
        a = tensor(p["attention"]).astype(float)
        if a.shape != (m["n"],):
            die("%s: attention %s, %d tiles" % (s, a.shape, m["n"]))
        if a.min() < 0 or abs(a.sum() - 1) > 1e-5:
            die("%s: attention min %g, sum %.9f" % (s, a.min(), a.sum()))
        if m["coords"] is None:
            if "coords" in p:
                die("%s: coords, but its embeddings had none" % s)
        else:
            if "coords" not in p:
                die("%s: no coords" % s)
            co = tensor(p["coords"])
            if co.tolist() != m["coords"]:
                die("%s: coords not the input's in order" % s)
            if m["keys"]:
                tot += 1
                top += co[int(a.argmax())].tolist() in m["keys"]
        n += 1
    print("%d slides: attention sums to 1, coords in input order; top tile a key tile in %d of %d"
          % (n, top, tot))
    if tot == 0 or top < 0.8 * tot:
        die("attention not on the key tiles: the weights do not follow the tiles")


def risk(pred):
    n = 0
    for p in frames(pred):
        s = tensor(p["survival"])
        r = -sum(float(v) for v in s)
        if abs(p["risk"] - r) > 1e-12 * max(1, abs(r)):
            die("%s: risk %r, -sum(survival) %r" % (p["slide_id"], p["risk"], r))
        if (np.diff(s) > 0).any() or s.min() < 0 or s.max() > 1:
            die("%s: survival %s" % (p["slide_id"], s))
        n += 1
    print("%d slides: risk = -sum(survival)" % n)


def same_preds(a, b):
    fa, fb = frames(a), frames(b)
    for f in fa + fb:
        f.pop("run", None)
    if fa != fb:
        die("%s and %s differ" % (a, b))
    print("%d predictions alike" % len(fa))


def main():
    a = sys.argv[1:]
    cmds = {"gen": lambda: gen(a[1], a[2:]), "folds": lambda: folds(*a[1:7]),
            "split": lambda: split(*a[1:6]), "testsets": lambda: testsets(*a[1:3]),
            "stop": lambda: stop(*a[1:7]), "weights": lambda: weights(*a[1:5]),
            "initw": lambda: initw(*a[1:4]), "draws": lambda: draws(*a[1:7]),
            "metrics": lambda: metrics(*a[1:4]), "attn": lambda: attn(*a[1:3]),
            "risk": lambda: risk(a[1]), "same-preds": lambda: same_preds(*a[1:3])}
    if not a or a[0] not in cmds:
        sys.exit("usage: miltrain_check.py " + "|".join(cmds) + " ...")
    cmds[a[0]]()


if __name__ == "__main__":
    main()
