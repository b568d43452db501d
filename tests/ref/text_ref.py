#!/usr/bin/env python3
"""text_ref.py: reference answers for tests/test_text.c.

The report tokenizer is R2Gen's (cuhksz-nlp/R2Gen modules/tokenizers.py,
reused unchanged by HistGen), restated here from its published code; the
metrics are pycocoevalcap 1.2's Bleu/Rouge/Cider and nltk 3.8's
corpus_bleu; the VQA answer metrics follow SQuAD v1.1's evaluate-v1.1.py.

Reads one query a line (from the file named), writes one answer a line.
Texts travel as hex of their bytes, decoded as
bytes.decode('utf-8', 'replace') with NUL -> U+FFFD (what the C side does
first; see common/text_tok.h).

  clean RULE HEX                  ' '.join(clean_report(text).split()), or
                                  '~' and the same with ASCII-only
                                  lower-casing where that differs
  vocab RULE MIN HEX,HEX,...      R2Gen's sorted vocabulary ('<unk>' in it)
  encode RULE MIN HEX,.. HEX      R2Gen's ids of the last text as tokens
                                  (0 -> '')
  (lists of texts: '-' for none; outputs: hex joined by ',')
  text TAB-separated: n, then per example the hypothesis and the number
       of references and the references (space-joined words)
       -> BLEU-1..4, ROUGE-L, CIDEr-D (nan where pycocoevalcap fails),
          nltk corpus_bleu 1..4 (nan where it fails), per-example BLEU (n x 4), ROUGE-L (n), CIDEr-D (n)
  vqa  TAB-separated: n, then pred and truth as hex
       -> n_closed n_open closed_acc open_exact open_f1 open_bleu1, then
          per-question exact and f1
"""
import contextlib
import io
import math
import re
import string
import sys
import warnings
from collections import Counter

from nltk.translate.bleu_score import corpus_bleu
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

warnings.simplefilter("ignore")

# R2Gen's sent_cleaner class: ':-\[' is a range, so '-' is not in it.
SENT_DEL = re.compile(r'[.,?;*!%^&_+():-\[\]{}]')


ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# R2Gen's str.lower(), or (False) ASCII only, as the C side does (text_tok.h)
LOWER_ALL = True


def lower(t):
    return t.lower() if LOWER_ALL else t.translate(ASCII_LOWER)


def report_cleaner(t, rule):
    if rule == "mimic_cxr":
        t = t.replace('\n', ' ')
        for _ in range(7):
            t = t.replace('__', '_')
        for _ in range(6):
            t = t.replace('  ', ' ')
        for _ in range(8):
            t = t.replace('..', '.')
    else:
        for _ in range(3):
            t = t.replace('..', '.')
    t = t.replace('1. ', '')
    for d in "2345":
        t = t.replace('. %s. ' % d, '. ')
    for d in "2345":
        t = t.replace(' %s. ' % d, '. ')
    return lower(t.strip()).split('. ')


def sent_cleaner(t):
    for c in '"/\\\'':
        t = t.replace(c, '')
    return SENT_DEL.sub('', lower(t.strip()))


def clean_report(text, rule):
    # R2Gen's filter `sent_cleaner(sent) != []` compares a str with a list:
    # always true, so empty sentences are kept.
    sents = [sent_cleaner(s) for s in report_cleaner(text, rule)]
    return ' . '.join(sents) + ' .'


def r2gen_vocab(texts, rule, threshold):
    tokens = []
    for t in texts:
        tokens.extend(clean_report(t, rule).split())
    vocab = [k for k, v in Counter(tokens).items() if v >= threshold] + ['<unk>']
    vocab.sort()
    return vocab


def r2gen_encode(vocab, text, rule):
    token2idx = {t: i + 1 for i, t in enumerate(vocab)}
    ids = [token2idx.get(t, token2idx['<unk>']) for t in clean_report(text, rule).split()]
    return [0] + ids + [0]


def unhex(h):
    return bytes.fromhex(h).decode('utf-8', 'replace').replace('\x00', '\ufffd')


def clean_answer(text, rule):
    """The words as hex; where str.lower() changes a non-ASCII character,
    '~' and the words of the rules with ASCII-only lower-casing, what
    text_tok.h documents (the only difference from R2Gen)."""
    global LOWER_ALL
    words = ' '.join(clean_report(text, rule).split())
    LOWER_ALL = False
    try:
        ascii_words = ' '.join(clean_report(text, rule).split())
    finally:
        LOWER_ALL = True
    mark = '' if words == ascii_words else '~'
    return mark + ascii_words.encode('utf-8').hex()


def texts_of(field):
    return [] if field == '-' else [unhex(h) for h in field.split(',')]


def hexes(tokens):
    return ','.join(t.encode('utf-8').hex() for t in tokens)


def text_metrics(f):
    n = int(f[0])
    gts, res, i = {}, {}, 1
    for k in range(n):
        res[k] = [f[i]]
        nr = int(f[i + 1])
        gts[k] = f[i + 2:i + 2 + nr]
        i += 2 + nr
    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints
        bleu, bleu_ex = Bleu(4).compute_score(gts, res)
    rouge, rouge_ex = Rouge().compute_score(gts, res)
    try:
        cider, cider_ex = Cider().compute_score(gts, res)
    except ValueError:  # every reference empty: max() of no frequencies
        cider, cider_ex = math.nan, [math.nan] * n
    try:
        nl = corpus_bleu([[r.split() for r in gts[k]] for k in range(n)],
                         [res[k][0].split() for k in range(n)],
                         weights=[(1.0,), (0.5, 0.5), (1 / 3,) * 3, (0.25,) * 4])
    except Exception:  # nltk divides by zero on some empty corpora
        nl = [math.nan] * 4
    out = list(bleu) + [rouge, cider] + list(nl)
    for k in range(n):
        out += [bleu_ex[j][k] for j in range(4)]
    out += list(rouge_ex) + list(cider_ex)
    return ' '.join(repr(float(v)) for v in out)


# SQuAD v1.1 evaluate-v1.1.py
def normalize_answer(s):
    s = s.lower()
    s = ''.join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r'\b(a|an|the)\b', ' ', s)
    return ' '.join(s.split())


def f1_score(pred, truth):
    p, g = normalize_answer(pred).split(), normalize_answer(truth).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0
    prec, rec = 1.0 * same / len(p), 1.0 * same / len(g)
    return (2 * prec * rec) / (prec + rec)


def mean(v):
    s = 0.0
    for x in v:
        s += x
    return s / len(v) if v else math.nan


def vqa(f):
    n = int(f[0])
    ex, f1, closed, opened, gts, res = [], [], [], [], {}, {}
    for k in range(n):
        p, t = unhex(f[1 + 2 * k]), unhex(f[2 + 2 * k])
        em = float(normalize_answer(p) == normalize_answer(t))
        ex.append(em)
        f1.append(float(f1_score(p, t)))
        if normalize_answer(t) in ('yes', 'no'):
            closed.append(em)
        else:
            opened.append(k)
            res[len(gts)] = [normalize_answer(p)]
            gts[len(gts)] = [normalize_answer(t)]
    b1 = math.nan
    if gts:
        with contextlib.redirect_stdout(io.StringIO()):
            b1 = Bleu(4).compute_score(gts, res)[0][0]
    out = [len(closed), len(opened), mean(closed), mean([ex[k] for k in opened]),
           mean([f1[k] for k in opened]), b1] + ex + f1
    return ' '.join(repr(float(v)) for v in out)


def answer(line):
    f = line.rstrip('\n').split('\t') if '\t' in line else line.split()
    if f[0] == 'clean':
        return clean_answer(unhex(f[2]) if len(f) > 2 else '', f[1])
    if f[0] == 'vocab':
        return hexes(r2gen_vocab(texts_of(f[3]), f[1], int(f[2])))
    if f[0] == 'encode':
        vocab = r2gen_vocab(texts_of(f[3]), f[1], int(f[2]))
        ids = r2gen_encode(vocab, unhex(f[4]) if len(f) > 4 else '', f[1])
        return hexes(vocab[i - 1] if i else '' for i in ids)
    if f[0] == 'text':
        return text_metrics(f[1:])
    if f[0] == 'vqa':
        return vqa(f[1:])
    raise ValueError('unknown query ' + f[0])


def main():
    with open(sys.argv[1], encoding='ascii') as q:
        for line in q:
            print(answer(line))


if __name__ == '__main__':
    main()
