#!/usr/bin/env python3
"""Synthetic generative tasks for tests/test_reportgen.sh and
tests/test_vqa.sh: bags of random embeddings whose cluster decides the
report template / the answers, so that a head that reads the embeddings
can beat the most frequent report / answer.

  gen_synth.py report DIR [--slides N] [--seed S] [--dim D]
      DIR/emb.jsonl (embedding frames, 3-9 tiles a slide, one frame per
      tile), DIR/annotation.json (HistGen layout, 70/10/20 % split),
      DIR/captions.csv (PatchGastricADC22 layout: id,subtype,text)
  gen_synth.py vqa DIR [--images N] [--seed S] [--dim D]
      DIR/emb.jsonl (one tile per image), DIR/qa.jsonl (JSON lines
      layout: a closed and an open question per image), DIR/WsiVQA_test.json
      (WSI-VQA layout, multiple choice)
"""
import base64
import json
import sys

import numpy as np

TEMPLATES = [
    "Invasive ductal carcinoma, grade 2. Tumor size 2.5 cm. Margins are negative for carcinoma.",
    "Benign breast tissue with fibrocystic changes. No evidence of malignancy.",
    "Lobular carcinoma in situ. Lymph nodes are negative for metastatic carcinoma (0/12).",
    "High grade serous carcinoma involving the ovary. Lymphovascular invasion is present.",
]
DIAG = ["ductal carcinoma", "benign tissue", "lobular carcinoma", "serous carcinoma"]
TUMOR = ["yes", "no", "yes", "yes"]


def arg(args, flag, default, cast=int):
    return cast(args[args.index(flag) + 1]) if flag in args else default


def emb_frame(sid, x):
    x = np.ascontiguousarray(x, dtype="<f4")
    return {"type": "embedding", "v": 1, "slide_id": sid,
            "emb": {"toy": {"dtype": "f32", "shape": list(x.shape),
                            "data": {"$base64": base64.b64encode(x.tobytes()).decode()}}}}


def clusters(rng, n, dim):
    centers = rng.normal(0, 1, (len(TEMPLATES), dim))
    lab = rng.integers(0, len(TEMPLATES), n)
    return centers, lab


def split_of(i, n):
    return "train" if i < 0.7 * n else "val" if i < 0.8 * n else "test"


def report(d, args):
    n, seed, dim = arg(args, "--slides", 100), arg(args, "--seed", 1), arg(args, "--dim", 16)
    rng = np.random.default_rng(seed)
    centers, lab = clusters(rng, n, dim)
    ann = {"train": [], "val": [], "test": []}
    with open(f"{d}/emb.jsonl", "w") as f, open(f"{d}/captions.csv", "w") as c:
        c.write("id,subtype,text\n")
        for i in range(n):
            sid = f"S{i:04d}"
            k = lab[i]
            for _ in range(rng.integers(3, 10)):
                f.write(json.dumps(emb_frame(sid, centers[k] + rng.normal(0, 0.8, dim))) + "\n")
            ann[split_of(i, n)].append({"id": sid, "report": TEMPLATES[k], "image_path": [sid]})
            c.write(f'{sid},{DIAG[k]},"{TEMPLATES[k]}"\n')
    json.dump(ann, open(f"{d}/annotation.json", "w"), indent=1)


def vqa(d, args):
    n, seed, dim = arg(args, "--images", 160), arg(args, "--seed", 1), arg(args, "--dim", 16)
    rng = np.random.default_rng(seed)
    centers, lab = clusters(rng, n, dim)
    wsi = []
    with open(f"{d}/emb.jsonl", "w") as f, open(f"{d}/qa.jsonl", "w") as q:
        for i in range(n):
            sid = f"img_{i:04d}"
            k = lab[i]
            f.write(json.dumps(emb_frame(sid, centers[k] + rng.normal(0, 0.8, dim))) + "\n")
            sp = split_of(i, n)
            q.write(json.dumps({"image": sid, "question": "Is there a tumor in this image?",
                                "answer": TUMOR[k], "split": sp}) + "\n")
            q.write(json.dumps({"image": sid, "question": "What is the diagnosis?",
                                "answer": DIAG[k], "split": sp, "type": "open"}) + "\n")
            if sp == "test":
                wsi.append({"Id": sid, "Question": "which diagnosis fits the slide?",
                            "Choice": [DIAG[(k + j) % 4] for j in (1, 0, 2)], "Answer": DIAG[k]})
    json.dump(wsi, open(f"{d}/WsiVQA_test.json", "w"))


if __name__ == "__main__":
    {"report": report, "vqa": vqa}[sys.argv[1]](sys.argv[2], sys.argv[3:])
