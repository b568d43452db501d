#!/usr/bin/env python3
"""gen_check.py: recompute report-gen's and vqa-train's test metrics
from their --predictions file with the reference implementations
(pycocoevalcap 1.2's Bleu/Rouge/Cider as R2Gen and HistGen call them;
SQuAD v1.1's answer normalisation and F1, through tests/ref/text_ref.py)
and compare them with the result frames (frame-cat's JSON lines).

  gen_check.py report PRED.jsonl RESULTS.jsonl ANNOTATION.json THRESHOLD MAX_LEN
      also checks every reference text: R2Gen's cleaning of the
      annotation's report, words outside the vocabulary of the training
      reports (count >= THRESHOLD) as <unk>, cut to MAX_LEN words
  gen_check.py vqa PRED.jsonl RESULTS.jsonl

Prints how many values it compared; exits 1 on a difference over 1e-9
relative (plus 1e-12 absolute).
"""
import contextlib
import io
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_ref import (Bleu, Cider, Rouge, clean_report, f1_score,  # noqa: E402
                      normalize_answer, r2gen_vocab)


def lines(path):
    return [json.loads(x) for x in open(path) if x.strip()]


def text_scores(hyp, ref):
    gts = {i: [r] for i, r in enumerate(ref)}
    res = {i: [h] for i, h in enumerate(hyp)}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return dict(zip(["bleu1", "bleu2", "bleu3", "bleu4", "rougeL", "cider"],
                    list(bleu) + [rouge, cider]))


def vqa_scores(pred, truth):
    em = [float(normalize_answer(p) == normalize_answer(t)) for p, t in zip(pred, truth)]
    closed = [k for k, t in enumerate(truth) if normalize_answer(t) in ("yes", "no")]
    opened = [k for k in range(len(truth)) if k not in closed]
    out = {"accuracy": sum(em) / len(em)}
    if closed:
        out["closed_accuracy"] = sum(em[k] for k in closed) / len(closed)
    if opened:
        out["open_exact_match"] = sum(em[k] for k in opened) / len(opened)
        out["open_f1"] = sum(f1_score(pred[k], truth[k]) for k in opened) / len(opened)
        gts = {i: [normalize_answer(truth[k])] for i, k in enumerate(opened)}
        res = {i: [normalize_answer(pred[k])] for i, k in enumerate(opened)}
        with contextlib.redirect_stdout(io.StringIO()):
            out["open_bleu1"] = Bleu(4).compute_score(gts, res)[0][0]
    return out


def compare(results, model, want):
    got = {r["metric"]: r["value"] for r in results if r["model"] == model}
    n = 0
    for m, v in want.items():
        if m not in got:
            sys.exit(f"{model}: no {m} result")
        if abs(got[m] - v) > 1e-9 * abs(v) + 1e-12:
            sys.exit(f"{model}: {m} {got[m]!r}, the reference gives {v!r}")
        n += 1
    return n


def report(pred_path, res_path, ann_path, threshold, max_len):
    pred, res = lines(pred_path), lines(res_path)
    ann = json.load(open(ann_path))
    vocab = set(r2gen_vocab([x["report"] for x in ann.get("train", [])], "mimic_cxr", int(threshold)))
    text = {x["id"]: x["report"] for s in ann.values() for x in s}
    for p in pred:
        words = [w if w in vocab else "<unk>" for w in clean_report(text[p["id"]], "mimic_cxr").split()]
        if p["reference"] != " ".join(words[:int(max_len)]):
            sys.exit(f"{p['id']}: reference {p['reference']!r}, R2Gen's tokens give {' '.join(words)!r}")
    ref = [p["reference"] for p in pred]
    n = compare(res, pred and res[0]["model"], text_scores([p["prediction"] for p in pred], ref))
    if any(r["model"] == "most-frequent" for r in res):
        n += compare(res, "most-frequent", text_scores([p["baseline"] for p in pred], ref))
    print(f"{n} values equal to pycocoevalcap's; {len(pred)} references equal to R2Gen's tokens")


def vqa(pred_path, res_path):
    pred, res = lines(pred_path), lines(res_path)
    truth = [p["answer"] for p in pred]
    n = compare(res, res[0]["model"], vqa_scores([p["prediction"] for p in pred], truth))
    if any(r["model"] == "most-frequent" for r in res):
        n += compare(res, "most-frequent", vqa_scores([p["baseline"] for p in pred], truth))
    print(f"{n} values equal to the reference (SQuAD normalisation, pycocoevalcap BLEU-1)")


if __name__ == "__main__":
    {"report": report, "vqa": vqa}[sys.argv[1]](*sys.argv[2:])
