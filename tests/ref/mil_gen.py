#!/usr/bin/env python3
"""mil_gen.py: synthetic MIL data for tests/test_miltrain.sh and
tests/perf/mil-train.sh, written as JSON lines for `frame-cat -J`.

  mil_gen.py cls DIR [--bags N] [--d D] [--seed S] [--classes K]
      Bags of 20-60 background instances N(0, I_d); a positive bag (or,
      with K > 2, a bag of class k > 0) hides 2-5 instances shifted by 4
      along a direction of its own class. DIR/emb.jsonl (one frame
      a tile, x/y on a grid; every 7th slide as one [n,d] frame with a
      coords tensor), DIR/labels.csv (slide_id,label,case_id).
  mil_gen.py surv DIR [--bags N] [--d D] [--seed S]
      A latent risk r ~ N(0,1) per slide, carried by 3-6 key instances
      among background ones (shifted by 3u + 2 r v, u and v orthonormal);
      time ~ Exp(rate 0.1 e^{3r}), some censored at a uniform time.
      DIR/labels.csv has slide_id,time,event.
  mil_gen.py torchcase DIR LABELS SPLITS D PROJ ATTN NCLASS SEED
      For the end-to-end check: initial weights of the GPFM ABMIL as
      torch draws them (DIR/init.f32, raw float32 in parameter order)
      and the abmil_ref.py case file DIR/case.bin holding the training
      bags of fold 0 in the labels file's order (Adam, lr 2e-4, wd 1e-5,
      batch 1, no dropout).
  mil_gen.py compare LOSSES OUT
      LOSSES: one step loss a line (from mil-train --log-steps);
      OUT: abmil_ref.py's output. Prints the largest relative difference
      and exits 1 above 1e-5.
  mil_gen.py metrics PRED RESULTS
      PRED, RESULTS: mil-train's prediction and result frames as JSON
      lines (frame-cat --full). Recomputes every result from the
      predictions with scikit-learn / scikit-survival and exits 1 unless
      all agree within 1e-12 relative; prints the count and the largest
      difference.
  mil_gen.py heatcheck PRED MAPS SLIDE
      PRED: prediction frames as JSON lines; MAPS: the --heatmap folder
      drawn on SLIDE (tiles of 256 at level 0). Inside each tile the
      mean colour must be half the slide's (openslide-python) and half
      jet(attention percentile), within 3 levels; exits 1 otherwise.
  mil_gen.py perf FILE BAGS N D SEED
      BAGS bags of N instances of width D as frames of [N, D] (one a
      slide), written straight as MessagePack (no JSON), plus FILE.csv.
"""
import base64
import json
import struct
import sys

import numpy as np

from skref import sk_metric, tensor


def emb_json(name, arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    return {name: {"dtype": "f32", "shape": list(arr.shape),
                   "data": {"$base64": base64.b64encode(arr.tobytes()).decode()}}}


def write_bags(path, bags, name="uni"):
    with open(path, "w") as f:
        for i, (sid, x) in enumerate(bags):
            n = x.shape[0]
            side = int(np.ceil(np.sqrt(n)))
            xs = [(j % side) * 256 for j in range(n)]
            ys = [(j // side) * 256 for j in range(n)]
            if i % 7 == 3:
                co = np.stack([xs, ys], 1).astype("<i8")
                fr = {"type": "embedding", "v": 1, "slide_id": sid,
                      "emb": emb_json(name, x),
                      "coords": {"dtype": "i64", "shape": [n, 2],
                                 "data": {"$base64": base64.b64encode(co.tobytes()).decode()}}}
                f.write(json.dumps(fr) + "\n")
                continue
            for j in range(n):
                fr = {"type": "embedding", "v": 1, "slide_id": sid, "x": xs[j],
                      "y": ys[j], "width": 256, "height": 256, "mpp": 0.5,
                      "emb": emb_json(name, x[j])}
                f.write(json.dumps(fr) + "\n")


def arg(args, flag, default, cast=int):
    return cast(args[args.index(flag) + 1]) if flag in args else default


def gen_cls(out, args):
    nb, d = arg(args, "--bags", 160), arg(args, "--d", 32)
    k = arg(args, "--classes", 2)
    rng = np.random.default_rng(arg(args, "--seed", 1))
    dirs = [rng.standard_normal((4, d)) for _ in range(k)]
    bags, rows = [], []
    for i in range(nb):
        y = i % k
        n = int(rng.integers(20, 61))
        x = rng.standard_normal((n, d))
        if y > 0:
            m = int(rng.integers(2, 6))
            idx = rng.choice(n, m, replace=False)
            x[idx] += 4.0 * dirs[y].sum(0) / np.linalg.norm(dirs[y].sum(0))
        sid = "slide-%03d" % i
        bags.append((sid, x))
        rows.append("%s,%s,case-%03d" % (sid, "neg" if k == 2 and y == 0 else
                                         "pos" if k == 2 else "c%d" % y, i // 2))
    write_bags(out + "/emb.jsonl", bags)
    with open(out + "/labels.csv", "w") as f:
        f.write("slide_id,label,case_id\n" + "\n".join(rows) + "\n")


def gen_surv(out, args):
    nb, d = arg(args, "--bags", 160), arg(args, "--d", 32)
    rng = np.random.default_rng(arg(args, "--seed", 2))
    u, v = np.linalg.qr(rng.standard_normal((d, 2)))[0].T
    bags, rows = [], []
    for i in range(nb):
        r = rng.standard_normal()
        n = int(rng.integers(20, 61))
        x = rng.standard_normal((n, d))
        m = int(rng.integers(3, 7))
        x[rng.choice(n, m, replace=False)] += 3.0 * u + 2.0 * r * v
        t = rng.exponential(1 / (0.1 * np.exp(3.0 * r)))
        c = rng.uniform(0, 30)
        ev = int(t <= c or rng.uniform() > 0.3)
        time = t if ev else min(t, c)
        sid = "surv-%03d" % i
        bags.append((sid, x))
        rows.append("%s,%.6f,%d" % (sid, time, ev))
    write_bags(out + "/emb.jsonl", bags)
    with open(out + "/labels.csv", "w") as f:
        f.write("slide_id,time,event\n" + "\n".join(rows) + "\n")


def torchcase(out, labels, splits, d, proj, attn, ncls, seed):
    import torch
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from abmil_ref import ABMIL
    torch.manual_seed(seed)
    model = ABMIL(d, proj, 1, 0, attn, 0, [], ncls)
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    flat.numpy().astype("<f4").tofile(out + "/init.f32")
    lab = [l.strip().split(",") for l in open(labels)][1:]
    classes = sorted({r[1] for r in lab})
    train = {r[1] for r in (l.strip().split(",") for l in list(open(splits))[1:])
             if r[0] == "0" and r[2] == "train"}
    feats = {}
    for line in open(out + "/emb.jsonl"):
        fr = json.loads(line)
        e = fr["emb"]["uni"]
        a = np.frombuffer(base64.b64decode(e["data"]["$base64"]), "<f4").reshape(e["shape"])
        feats.setdefault(fr["slide_id"], []).append(a.reshape(-1, d))
    bags = [(np.concatenate(feats[r[0]]), classes.index(r[1])) for r in lab if r[0] in train]
    with open(out + "/case.bin", "wb") as f:
        hdr = [0x314C494D, d, proj, 1, 0, attn, 0, 0, 0, 0, 0, 0, ncls, 0, 0, 1,
               len(bags), 0] + [0] * 6
        f.write(struct.pack("<24i", *hdr))
        f.write(struct.pack("<4d", 2e-4, 1e-5, 0, 0))
        f.write(flat.numpy().astype("<f4").tobytes())
        for x, y in bags:
            f.write(struct.pack("<3i", x.shape[0], y, 0))
            f.write(x.astype("<f4").tobytes())


def compare(losses, out):
    c = np.array([float(l) for l in open(losses) if l.strip()])
    r = np.fromfile(out, "<f8", len(c))
    rel = np.abs(c - r) / np.abs(r)
    print("steps %d, largest relative difference %.3g" % (len(c), rel.max()))
    sys.exit(0 if len(c) > 0 and rel.max() <= 1e-5 else 1)


def metrics(pred, res):
    from sksurv.metrics import concordance_index_censored
    groups = {}
    for line in open(pred):
        p = json.loads(line)
        groups.setdefault((p["fold"], p["run"]), []).append(p)
    worst, n = 0.0, 0
    for line in open(res):
        r = json.loads(line)
        ps = groups[(r["fold"], r["run"])]
        assert len(ps) == r["n"], "n"
        m = r["metric"]
        if m == "loss":
            continue
        if m == "c_index":
            ev = np.array([p["event"] == 1 for p in ps])
            ref = concordance_index_censored(ev, np.array([p["time"] for p in ps]),
                                             np.array([p["risk"] for p in ps]))[0]
        else:
            classes = ps[0]["classes"]
            y = [classes.index(p["label"]) for p in ps]
            pr = np.array([tensor(p["probs"]) for p in ps])
            pd_ = [classes.index(p["pred"]) for p in ps]
            assert all(int(np.argmax(a)) == b for a, b in zip(pr, pd_)), "pred"
            ref = sk_metric(m, y, pd_, pr, len(classes))
        d = abs(r["value"] - ref) / max(abs(ref), 1e-300)
        worst = max(worst, d)
        n += 1
        if d > 1e-12:
            print("%s fold %s run %s: %r, reference %r" % (m, r["fold"], r["run"], r["value"], ref))
    print("%d results, largest relative difference %.3g" % (n, worst))
    sys.exit(0 if n and worst <= 1e-12 else 1)


def perf(path, nb, n, d, seed):
    """Frames of [n, d] f32, one a slide, packed by hand (msgpack)."""
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal(d).astype("<f4")

    def s(t):
        b = t.encode()
        return bytes([0xA0 | len(b)]) + b if len(b) < 32 else b"\xd9" + bytes([len(b)]) + b

    with open(path, "wb") as f, open(path + ".csv", "w") as lab:
        lab.write("slide_id,label\n")
        for i in range(nb):
            x = rng.standard_normal((n, d), dtype=np.float32)
            if i % 2:
                x[:5] += dirs
            sid = "perf-%04d" % i
            data = x.astype("<f4").tobytes()
            tensor = (b"\x83" + s("dtype") + s("f32") + s("shape") + b"\x92" +
                      b"\xcd" + struct.pack(">H", n) + b"\xcd" + struct.pack(">H", d) +
                      s("data") + b"\xc6" + struct.pack(">I", len(data)) + data)
            fr = (b"\x84" + s("type") + s("embedding") + s("v") + b"\x01" +
                  s("slide_id") + s(sid) + s("emb") + b"\x81" + s("uni") + tensor)
            f.write(fr)
            lab.write("%s,%d\n" % (sid, i % 2))
        f.write(b"\x83" + s("type") + s("eos") + s("v") + b"\x01" + s("count") +
                b"\xcd" + struct.pack(">H", nb))


def jet(p):
    """mil_heatmap.c's colour map (matplotlib's jet), 0-255."""
    return 255 * np.clip(1.5 - np.abs(4 * p[:, None] - np.array([3, 2, 1])), 0, 1)


def heatcheck(pred, maps, slide):
    """Each heatmap against its slide's attention: inside a tile of
    attention percentile p the PNG is half the slide and half jet(p).
    The slide's mean colour there (read with openslide-python at level
    0) and jet(p) must give the PNG's mean colour within 3 levels."""
    import openslide
    from PIL import Image
    from scipy.stats import rankdata
    sl = openslide.OpenSlide(slide)
    w0, h0 = sl.dimensions
    k = max(1.0, max(w0, h0) / 1024)
    n = 0
    for line in open(pred):
        p = json.loads(line)
        png = "%s/%s-fold%d-run%d.png" % (maps, p["slide_id"], p["fold"], p["run"])
        try:
            img = np.asarray(Image.open(png).convert("RGB"), dtype=float)
        except FileNotFoundError:
            continue
        att = tensor(p["attention"]).reshape(-1)
        xy = tensor(p["coords"]).reshape(-1, 2)
        pct = (rankdata(att) - 1) / max(len(att) - 1, 1)
        got, base = [], []
        for (x, y) in xy:
            # inside the tile, clear of its neighbours' rounded edges
            x0, x1 = int(np.ceil(x / k)) + 2, int((x + 256) / k) - 2
            y0, y1 = int(np.ceil(y / k)) + 2, int((y + 256) / k) - 2
            got.append(img[y0:y1, x0:x1].reshape(-1, 3).mean(0))
            r = sl.read_region((int(x0 * k), int(y0 * k)), 0,
                               (int((x1 - x0) * k), int((y1 - y0) * k))).convert("RGB")
            base.append(np.asarray(r, dtype=float).reshape(-1, 3).mean(0))
        want = (np.array(base) + jet(pct)) / 2
        err = np.abs(np.array(got) - want).max()
        print("%s: %d tiles: mean colours within %.1f of half the slide + half "
              "jet(attention percentile)" % (png.split("/")[-1], len(att), err))
        if err > 3:
            sys.exit("%s: the colours do not follow the attention" % png)
        n += 1
    if not n:
        sys.exit("no heatmap matched a prediction")
    print("%d heatmaps follow their attention" % n)


def main():
    a = sys.argv[1:]
    if a[0] == "cls":
        gen_cls(a[1], a[2:])
    elif a[0] == "surv":
        gen_surv(a[1], a[2:])
    elif a[0] == "torchcase":
        torchcase(a[1], a[2], a[3], *[int(v) for v in a[4:9]])
    elif a[0] == "compare":
        compare(a[1], a[2])
    elif a[0] == "metrics":
        metrics(a[1], a[2])
    elif a[0] == "heatcheck":
        heatcheck(a[1], a[2], a[3])
    elif a[0] == "perf":
        perf(a[1], *[int(v) for v in a[2:6]])
    else:
        sys.exit("unknown command " + a[0])


if __name__ == "__main__":
    main()
