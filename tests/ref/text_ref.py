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

  clean RULE HEX                  ' '.join(clean_report(text).split())
  lower HEX                       text.lower()
  --gen-tables (instead of a file) prints common/text_unicode_tab.h
  vocab RULE MIN HEX,HEX,...      R2Gen's sorted vocabulary ('<unk>' in it)
  encode RULE MIN HEX,.. HEX      R2Gen's ids of the last text as tokens
                                  (0 -> '')
  (lists of texts: '-' for none; outputs: hex joined by ',')
  text TAB-separated: n, then per example the hypothesis and the number
       of references and the references (space-joined words)
       -> BLEU-1..4, ROUGE-L, CIDEr-D (nan where pycocoevalcap fails),
          nltk corpus_bleu 1..4 (nan where it fails), per-example BLEU
          (n x 4), ROUGE-L (n), CIDEr-D (n), then CIDEr-D and its n
          per-example values again with numpy's log swapped for libm's
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
import numpy as np
from pycocoevalcap.cider import cider_scorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

warnings.simplefilter("ignore")

# R2Gen's sent_cleaner class: ':-\[' is a range, so '-' is not in it.
SENT_DEL = re.compile(r'[.,?;*!%^&_+():-\[\]{}]')


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
    return t.strip().lower().split('. ')


def sent_cleaner(t):
    for c in '"/\\\'':
        t = t.replace(c, '')
    return SENT_DEL.sub('', t.strip().lower())


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


def texts_of(field):
    return [] if field == '-' else [unhex(h) for h in field.split(',')]


def hexes(tokens):
    return ','.join(t.encode('utf-8').hex() for t in tokens)


class LibmLog:
    """numpy, but for np.log, which is libm's log (math.log): numpy 1.24's
    own (AVX-512) log differs from it by an ulp for some integers."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def log(x):
        return np.float64(math.log(x))


def cider_d(gts, res, n, numpy):
    """Cider().compute_score with cider_scorer seeing `numpy` as np."""
    saved, cider_scorer.np = cider_scorer.np, numpy
    try:
        return Cider().compute_score(gts, res)
    except ValueError:  # every reference empty: max() of no frequencies
        return math.nan, [math.nan] * n
    finally:
        cider_scorer.np = saved


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
    cider, cider_ex = cider_d(gts, res, n, np)
    cider_m, cider_m_ex = cider_d(gts, res, n, LibmLog())
    try:
        nl = corpus_bleu([[r.split() for r in gts[k]] for k in range(n)],
                         [res[k][0].split() for k in range(n)],
                         weights=[(1.0,), (0.5, 0.5), (1 / 3,) * 3, (0.25,) * 4])
    except Exception:  # nltk divides by zero on some empty corpora
        nl = [math.nan] * 4
    out = list(bleu) + [rouge, cider] + list(nl)
    for k in range(n):
        out += [bleu_ex[j][k] for j in range(4)]
    out += list(rouge_ex) + list(cider_ex) + [cider_m] + list(cider_m_ex)
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
        text = unhex(f[2]) if len(f) > 2 else ''
        return ' '.join(clean_report(text, f[1]).split()).encode('utf-8').hex()
    if f[0] == 'lower':
        return (unhex(f[1]) if len(f) > 1 else '').lower().encode('utf-8').hex()
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


def code_points():
    return (cp for cp in range(0x110000) if not 0xd800 <= cp < 0xe000)


def ranges(pred):
    out, start, last = [], None, None
    for cp in code_points():
        if pred(cp):
            if start is None or cp != last + 1:
                if start is not None:
                    out.append((start, last))
                start = cp
            last = cp
    if start is not None:
        out.append((start, last))
    return out


def gen_tables():
    """common/text_unicode_tab.h: this Python's str.lower() and re's \\w
    (for non-ASCII characters) as tables. The
    Final_Sigma properties are read off lower() itself: U+03A3 ends a
    word after 'A' and c only if c is case-ignorable or cased, right
    after c only if c is cased and not case-ignorable, and the C side only
    asks whether a character that is not case-ignorable is cased."""
    sigma, final = '\u03a3', '\u03c2'
    runs = []  # [first, last, step, delta]: single-code-point mappings
    for cp in code_points():
        low = chr(cp).lower()
        if low == chr(cp) or len(low) != 1:
            continue
        d = ord(low) - cp
        if runs and runs[-1][3] == d and (
                (runs[-1][2] == 0 and cp - runs[-1][1] in (1, 2)) or
                (runs[-1][2] and cp - runs[-1][1] == runs[-1][2])):
            runs[-1][2] = cp - runs[-1][1]
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, 0, d])
    multi = [cp for cp in code_points() if len(chr(cp).lower()) > 1]
    assert multi == [0x130] and chr(0x130).lower() == 'i\u0307', multi
    assert all(chr(cp).lower().lower() == chr(cp).lower() for cp in code_points())
    ignorable = ranges(lambda cp: ('A' + chr(cp) + sigma).lower()[-1] == final and
                       (chr(cp) + sigma).lower()[-1] != final)
    cased = ranges(lambda cp: (chr(cp) + sigma).lower()[-1] == final)
    word = re.compile(r'\w')
    word_chars = ranges(lambda cp: cp >= 0x80 and word.match(chr(cp)) is not None)

    def table(rows):
        cells = ['{%s}' % ', '.join(r) for r in rows]
        return '\n'.join('\t' + ', '.join(cells[i:i + 4]) + ','
                         for i in range(0, len(cells), 4))

    import unicodedata
    print('/* text_unicode_tab.h: Python %s\'s str.lower() and re\'s \\w (Unicode'
          % sys.version.split()[0])
    print(' * %s) as tables, generated by `tests/ref/text_ref.py --gen-tables`;'
          % unicodedata.unidata_version)
    print(' * do not edit.')
    print(' * Besides these, U+0130 lower-cases to "i\\u0307" and U+03A3 to U+03C2')
    print(' * in the Final_Sigma context, else U+03C3. */')
    print('/* code points first..last, every step-th, map to cp + delta */')
    print('static const struct lower_run {\n\tuint32_t first, last;'
          '\n\tint32_t delta;\n\tuint32_t step;\n} lower_runs[] = {')
    print(table(('0x%x' % f, '0x%x' % l, '%d' % d, '%d' % (st or 1))
                for f, l, st, d in runs))
    print('};')
    print('/* Final_Sigma\'s properties; word_chars: the non-ASCII \\w */')
    for name, rs in (('case_ignorable', ignorable), ('cased', cased),
                     ('word_chars', word_chars)):
        print('static const uint32_t %s[][2] = {' % name)
        print(table(('0x%x' % a, '0x%x' % b) for a, b in rs))
        print('};')


def main():
    if sys.argv[1] == '--gen-tables':
        gen_tables()
        return
    with open(sys.argv[1], encoding='ascii') as q:
        for line in q:
            print(answer(line))


if __name__ == '__main__':
    main()
