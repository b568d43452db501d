"""seq_ref.py OUTDIR: the torch reference of common/seq.h for tests/test_seq.c.

A plain-torch pre-LN transformer encoder-decoder written out module by
module (x + f(LN(x)), final LayerNorms), whose state_dict names are the C
model's tensor names: bag -> relu(att_embed) -> region mean pooling ->
encoder; VQA tokens [image + seg[0]; tok_emb(q) * sqrt(D) + PE + seg[1]];
decoder [causal self-attention, cross-attention, FFN] -> dec.norm ->
dec.out; VQA classifier over the mean of the memory rows. Losses are
torch.nn.functional.cross_entropy(label_smoothing=s, ignore_index=pad,
reduction='mean'); autograd gives every parameter gradient and the bag's.

Writes, per case NAME:
  NAME.safetensors       the model (F32, config in __metadata__ pathfm_seq)
  NAME.in.safetensors    x [N, d_in], tok, ans (ids as F32), task, answer,
                         smoothing, loss (mean), logits, dx
  NAME.grad.safetensors  the parameter gradients, as a model of the same
                         config (the C test loads it and compares buffers)
and for the AdamW case NAME.adam.safetensors: the parameters after 3
torch.optim.AdamW steps (weight decay on tensors of 2+ dimensions only).
Run with .venv/bin/python (torch 1.13, safetensors).
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
REPORT, VQA_CLS, VQA_GEN = 0, 1, 2


def pos_enc(T, D):
    """The sinusoid, computed in float64 as the C code does."""
    pe = torch.zeros(T, D, dtype=torch.float64)
    for p in range(T):
        for i in range(0, D, 2):
            a = p / 10000.0 ** (i / D)
            pe[p, i] = math.sin(a)
            if i + 1 < D:
                pe[p, i + 1] = math.cos(a)
    return pe.float()


class Attn(nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.H = H
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))

    def forward(self, x, src, causal):
        T, Tk, D = x.shape[0], src.shape[0], x.shape[1]
        hd = D // self.H
        q = self.q(x).view(T, self.H, hd).transpose(0, 1)
        k = self.k(src).view(Tk, self.H, hd).transpose(0, 1)
        v = self.v(src).view(Tk, self.H, hd).transpose(0, 1)
        s = q @ k.transpose(1, 2) / math.sqrt(hd)
        if causal:
            mask = torch.ones(T, Tk, dtype=torch.bool).triu(1)
            s = s.masked_fill(mask, float("-inf"))
        a = (s.softmax(-1) @ v).transpose(0, 1).reshape(T, D)
        return self.o(a)


class FF(nn.Module):
    def __init__(self, D, Fh, act):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D, Fh), nn.Linear(Fh, D)
        self.act = act

    def forward(self, x):
        h = self.fc1(x)
        h = F.gelu(h) if self.act == 1 else F.relu(h)
        return self.fc2(h)


class Layer(nn.Module):
    def __init__(self, c, cross):
        super().__init__()
        D, eps = c["d_model"], c["ln_eps"]
        self.ln1 = nn.LayerNorm(D, eps=eps)
        self.self_attn = Attn(D, c["heads"])
        self.ln2 = nn.LayerNorm(D, eps=eps)
        if cross:
            self.cross_attn = Attn(D, c["heads"])
            self.ln3 = nn.LayerNorm(D, eps=eps)
        self.ff = FF(D, c["d_ff"], c["act"])
        self.cross = cross

    def forward(self, x, mem=None):
        h = self.ln1(x)
        x = x + self.self_attn(h, h, self.cross)
        if self.cross:
            x = x + self.cross_attn(self.ln2(x), mem, False)
            return x + self.ff(self.ln3(x))
        return x + self.ff(self.ln2(x))


class Stack(nn.Module):
    def __init__(self, c, n, cross):
        super().__init__()
        self.layers = nn.ModuleList(Layer(c, cross) for _ in range(n))
        self.norm = nn.LayerNorm(c["d_model"], eps=c["ln_eps"])
        if cross:
            self.out = nn.Linear(c["d_model"], c["vocab"])


class VQAHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.seg_emb = nn.Embedding(2, c["d_model"])
        self.cls = nn.Linear(c["d_model"], c["n_answers"])


class Seq(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        D = c["d_model"]
        self.tok_emb = nn.Embedding(c["vocab"], D)
        self.att_embed = nn.Linear(c["d_in"], D)
        self.enc = Stack(c, c["enc_layers"], False)
        if c["dec_layers"]:
            self.dec = Stack(c, c["dec_layers"], True)
        if c["n_answers"]:
            self.vqa = VQAHead(c)
        self.pe = pos_enc(c["max_len"] + 1, D)

    def encode(self, x, q=None):
        c, D = self.c, self.c["d_model"]
        r = F.relu(self.att_embed(x))
        R = c["region"]
        if R:
            r = torch.stack([r[i:i + R].mean(0)
                             for i in range(0, r.shape[0], R)])
        if q is not None:
            img = r + self.vqa.seg_emb.weight[0]
            qe = (self.tok_emb(q) * math.sqrt(D) + self.pe[:len(q)]
                  + self.vqa.seg_emb.weight[1])
            r = torch.cat([img, qe])
        for layer in self.enc.layers:
            r = layer(r)
        return self.enc.norm(r)

    def decode(self, mem, inp):
        D = self.c["d_model"]
        x = self.tok_emb(inp) * math.sqrt(D) + self.pe[:len(inp)]
        for layer in self.dec.layers:
            x = layer(x, mem)
        return self.dec.out(self.dec.norm(x))

    def vqa_logits(self, mem):
        return self.vqa.cls(mem.mean(0))


def randomize(m):
    """Random weights at a scale where every layer matters."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() >= 2:
                nn.init.xavier_uniform_(p)
            elif "ln" in name or "norm." in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0)
                        + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))


def config(**kw):
    c = dict(d_in=12, d_model=16, heads=2, d_ff=24, enc_layers=1,
             dec_layers=1, vocab=11, max_len=12, n_answers=0, act=0,
             region=0, bos=1, eos=2, pad=0, ln_eps=1e-5, dropout=0.0)
    c.update(kw)
    return c


def sd_save(m, path, tensors=None):
    sd = tensors if tensors is not None else m.state_dict()
    sd = {k: v.detach().contiguous().float() for k, v in sd.items()}
    save_file(sd, path, metadata={"pathfm_seq": json.dumps(m.c)})


def run(m, task, x, tok, ans, answer, s):
    """Loss (mean), output logits."""
    c = m.c
    if task == REPORT:
        mem = m.encode(x)
        dec_tok = tok
    else:
        mem = m.encode(x, tok)
        dec_tok = ans
    if task == VQA_CLS:
        z = m.vqa_logits(mem)
        loss = F.cross_entropy(z[None], torch.tensor([answer]),
                               label_smoothing=s)
        return loss, z
    inp = torch.cat([torch.tensor([c["bos"]]), dec_tok])
    tgt = torch.cat([dec_tok, torch.tensor([c["eos"]])])
    z = m.decode(mem, inp)
    loss = F.cross_entropy(z, tgt, label_smoothing=s, ignore_index=c["pad"],
                           reduction="mean")
    return loss, z


def ids(n, c, pads=0):
    t = torch.randint(3, c["vocab"], (n,))
    for i in torch.randperm(n)[:pads]:
        t[i] = c["pad"]
    return t


def case(name, c, task, N, lq, la, s, pads=0, adam=False):
    m = Seq(c)
    randomize(m)
    x = torch.randn(N, c["d_in"], requires_grad=True)
    tok = ids(lq, c, pads if task == REPORT else 0)
    ans = ids(la, c, pads) if task == VQA_GEN else torch.zeros(0, dtype=torch.long)
    answer = int(torch.randint(0, max(c["n_answers"], 1), ()))
    sd_save(m, f"{OUT}/{name}.safetensors")
    loss, z = run(m, task, x, tok, ans, answer, s)
    loss.backward()
    save_file({"x": x.detach(), "tok": tok.float().reshape(-1),
               "ans": ans.float().reshape(-1),
               "task": torch.tensor([float(task)]),
               "answer": torch.tensor([float(answer)]),
               "smoothing": torch.tensor([s]),
               "loss": loss.detach().reshape(1), "logits": z.detach(),
               "dx": x.grad}, f"{OUT}/{name}.in.safetensors")
    grads = {k: p.grad if p.grad is not None else torch.zeros_like(p)
             for k, p in m.named_parameters()}
    sd_save(m, f"{OUT}/{name}.grad.safetensors", grads)
    if adam:
        decay = [p for p in m.parameters() if p.dim() >= 2]
        rest = [p for p in m.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                 {"params": rest, "weight_decay": 0.0}],
                                lr=1e-2, foreach=False)
        xd = x.detach()
        for _ in range(3):
            opt.zero_grad()
            loss, _ = run(m, task, xd, tok, ans, answer, s)
            loss.backward()
            # A key bias adds q . b to every score of a row, which softmax
            # ignores: its gradient is zero in exact arithmetic (and in
            # the C code), rounding noise here that AdamW would turn into
            # lr-sized steps.
            for k, p in m.named_parameters():
                if k.endswith(".k.bias"):
                    p.grad.zero_()
            opt.step()
        sd_save(m, f"{OUT}/{name}.adam.safetensors")


# name, config, task, bag rows, question/report tokens, answer tokens,
# label smoothing, pad targets
case("rep-relu", config(), REPORT, 7, 5, 0, 0.0, adam=True)
case("rep-gelu-region", config(act=1, region=3, enc_layers=2, dec_layers=2,
                                heads=4), REPORT, 10, 8, 0, 0.1, pads=2)
case("rep-noenc", config(enc_layers=0, region=4), REPORT, 9, 3, 0, 0.1)
case("vqa-cls", config(act=1, region=2, enc_layers=2, dec_layers=0,
                       n_answers=5), VQA_CLS, 5, 4, 0, 0.1)
case("vqa-gen", config(n_answers=3, max_len=6), VQA_GEN, 1, 6, 3, 0.0,
     pads=1)
