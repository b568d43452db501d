#!/usr/bin/env python3
"""abmil_ref.py: the ABMIL reference in plain torch (1.13, CPU, float32),
written as GPFM/CLAM and eva write their heads, for tests/test_mil.c,
tests/test_miltrain.sh and tests/perf/mil-train.sh.

    abmil_ref.py CASE OUT [CASE OUT]...

CASE (written by the C side) holds the configuration, the initial
weights, the bags in training order and, when dropout is on, the dropout
mask of every bag. The reference trains one epoch exactly as the C
trainer does (batches of B bags: the mean loss of the batch, one Adam or
AdamW step; no shuffling) and writes to OUT, little-endian:
  float64 loss[nbags]           the loss of each bag as it was trained
  float32 grad[nparams]         the gradients of the first step
  float32 param[nparams]        the weights after the epoch
  float32 logits[nbags * nout]  every bag evaluated after the epoch
  float32 att[n0]               the attention weights of bag 0 then
                                (attention pooling only)

With attention pooling and batches of several bags, it first checks
that the first batch's gradients equal those of the same batch padded
and masked in one forward, as eva batches bags (1e-5 of the largest;
exit 1 otherwise).

CASE layout, little-endian: int32 header[24] = magic 0x314c494d, d, proj,
proj_relu, pool (0 attention, 1 mean, 2 max), attn, gated, nmlp,
mlp[4], nout, task (0 classification, 1 survival), decoupled (AdamW),
batch, nbags, has_mask, bf16, then 6 unused; float64 lr, weight_decay, alpha,
unused; float32 param[nparams]; per bag int32 n, label, censored, float32
x[n*d], and float32 mask[n*P] when has_mask.
"""
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def bf(t):
    """Round to bf16 (nearest even) and back to float32."""
    return t.to(torch.bfloat16).to(torch.float32)


class BF16Linear(torch.autograd.Function):
    """mil-train --precision bf16's linear layer: the input, the weight and
    the incoming gradient rounded to bf16 for the products, which are
    exact in float32 and summed in float32; the bias and its gradient in
    float32."""

    @staticmethod
    def forward(ctx, x, w, b):
        xb, wb = bf(x), bf(w)
        ctx.save_for_backward(xb, wb)
        return xb @ wb.T + b

    @staticmethod
    def backward(ctx, dy):
        xb, wb = ctx.saved_tensors
        g = bf(dy)
        return g @ wb, g.T @ xb, dy.sum(0)


class ABMIL(nn.Module):
    """Projection, (gated) attention or mean/max pooling, MLP, output;
    the parameters register in the order of mil.h's buffer."""

    def __init__(self, d, proj, proj_relu, pool, attn, gated, mlp, nout, bf16=0):
        super().__init__()
        self.proj_relu, self.pool, self.gated, self.bf16 = proj_relu, pool, gated, bf16
        self.proj = nn.Linear(d, proj) if proj else None
        width = proj if proj else d
        if pool == 0:
            self.attention_a = nn.Linear(width, attn)
            self.attention_b = nn.Linear(width, attn) if gated else None
            self.attention_c = nn.Linear(attn, 1)
        layers = []
        for h in mlp:
            layers.append(nn.Linear(width, h))
            width = h
        self.mlp = nn.ModuleList(layers)
        self.classifier = nn.Linear(width, nout)

    def lin(self, layer, x):
        """The projection and the attention branches: bf16 products when
        asked, as mil-train does them."""
        if self.bf16:
            return BF16Linear.apply(x, layer.weight, layer.bias)
        return layer(x)

    def forward(self, x, mask=None):
        h = self.lin(self.proj, x) if self.proj is not None else x
        if self.proj_relu:
            h = F.relu(h)
        if mask is not None:  # dropout with the mask the C side drew
            h = h * mask
        att = None
        if self.pool == 0:
            a = torch.tanh(self.lin(self.attention_a, h))
            if self.gated:
                a = a * torch.sigmoid(self.lin(self.attention_b, h))
            att = F.softmax(self.attention_c(a).T, dim=1)  # [1, n]
            m = att @ h
        elif self.pool == 1:
            m = h.mean(0, keepdim=True)
        else:
            m = h.max(0, keepdim=True).values
        for layer in self.mlp:
            m = F.relu(layer(m))
        return self.classifier(m), att

    def forward_padded(self, X, valid, masks=None):
        """Attention pooling over a padded batch X [B, N, d], as eva
        batches bags: valid [B, N] marks the instances; padding's
        attention logits are -inf. masks: [B, N, P] dropout or None."""
        B, N, d = X.shape
        h = self.lin(self.proj, X.reshape(B * N, d)) if self.proj is not None else X.reshape(B * N, d)
        if self.proj_relu:
            h = F.relu(h)
        if masks is not None:
            h = h * masks.reshape(B * N, -1)
        a = torch.tanh(self.lin(self.attention_a, h))
        if self.gated:
            a = a * torch.sigmoid(self.lin(self.attention_b, h))
        logit = self.attention_c(a).reshape(B, N).masked_fill(~valid, float("-inf"))
        att = F.softmax(logit, dim=1)
        m = torch.bmm(att.unsqueeze(1), h.reshape(B, N, -1)).squeeze(1)
        for layer in self.mlp:
            m = F.relu(layer(m))
        return self.classifier(m)


def nll_surv(logits, y, c, alpha, eps=1e-7):
    """PORPOISE / MCAT nll_loss; c = 1 when censored."""
    hazards = torch.sigmoid(logits)
    S = torch.cumprod(1 - hazards, dim=1)
    Y = torch.tensor([[y]])
    c = torch.tensor([[float(c)]])
    S_padded = torch.cat([torch.ones_like(c), S], 1)
    uncensored = -(1 - c) * (torch.log(torch.gather(S_padded, 1, Y).clamp(min=eps)) +
                             torch.log(torch.gather(hazards, 1, Y).clamp(min=eps)))
    censored = -c * torch.log(torch.gather(S_padded, 1, Y + 1).clamp(min=eps))
    neg_l = censored + uncensored
    loss = (1 - alpha) * neg_l + alpha * uncensored
    return loss.mean()


def read_case(path):
    buf = open(path, "rb").read()
    h = struct.unpack_from("<24i", buf, 0)
    off = 96
    lr, wd, alpha, _ = struct.unpack_from("<4d", buf, off)
    off += 32
    assert h[0] == 0x314C494D, "not a case file"
    cfg = dict(d=h[1], proj=h[2], proj_relu=h[3], pool=h[4], attn=h[5],
               gated=h[6], mlp=list(h[8:8 + h[7]]), nout=h[12], bf16=h[18])
    task, decoupled, batch, nbags, has_mask = h[13:18]
    model = ABMIL(**cfg)
    nparams = sum(p.numel() for p in model.parameters())
    flat = np.frombuffer(buf, "<f4", nparams, off).copy()
    off += 4 * nparams
    with torch.no_grad():
        i = 0
        for p in model.parameters():
            p.copy_(torch.from_numpy(flat[i:i + p.numel()]).view_as(p))
            i += p.numel()
    width = cfg["proj"] if cfg["proj"] else cfg["d"]
    bags = []
    for _ in range(nbags):
        n, y, c = struct.unpack_from("<3i", buf, off)
        off += 12
        x = torch.from_numpy(np.frombuffer(buf, "<f4", n * cfg["d"], off).copy()).view(n, cfg["d"])
        off += 4 * n * cfg["d"]
        mask = None
        if has_mask:
            mask = torch.from_numpy(np.frombuffer(buf, "<f4", n * width, off).copy()).view(n, width)
            off += 4 * n * width
        bags.append((x, y, c, mask))
    return model, bags, dict(task=task, decoupled=decoupled, batch=batch,
                             lr=lr, wd=wd, alpha=alpha, nparams=nparams)


def bag_loss(model, bag, o):
    x, y, c, mask = bag
    logits, _ = model(x, mask)
    if o["task"] == 0:
        return F.cross_entropy(logits, torch.tensor([y]))
    return nll_surv(logits, y, c, o["alpha"])


def padded_batch_grads(model, batch, o):
    """The gradients of one batch computed as eva does, padded and
    masked in one forward: the mean of the bags' losses."""
    B, N = len(batch), max(x.shape[0] for x, _, _, _ in batch)
    X = torch.zeros(B, N, batch[0][0].shape[1])
    valid = torch.zeros(B, N, dtype=torch.bool)
    masks = None
    if batch[0][3] is not None:
        masks = torch.ones(B, N, batch[0][3].shape[1])
    for i, (x, _, _, mk) in enumerate(batch):
        X[i, :x.shape[0]] = x
        valid[i, :x.shape[0]] = True
        if masks is not None:
            masks[i, :x.shape[0]] = mk
    logits = model.forward_padded(X, valid, masks)
    if o["task"] == 0:
        loss = F.cross_entropy(logits, torch.tensor([y for _, y, _, _ in batch]))
    else:
        loss = sum(nll_surv(logits[i:i + 1], y, c, o["alpha"])
                   for i, (_, y, c, _) in enumerate(batch)) / B
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


def train_epoch(model, bags, o, record=None):
    """One epoch in the given order; returns the per-bag losses."""
    opt_cls = torch.optim.AdamW if o["decoupled"] else torch.optim.Adam
    opt = opt_cls(model.parameters(), lr=o["lr"], weight_decay=o["wd"])
    model.train()
    losses = []
    for start in range(0, len(bags), o["batch"]):
        batch = bags[start:start + o["batch"]]
        opt.zero_grad()
        for bag in batch:
            loss = bag_loss(model, bag, o)
            (loss / len(batch)).backward()
            losses.append(loss.item())
        if record is not None and start == 0:
            record.extend(p.grad.detach().reshape(-1).clone() for p in model.parameters())
        opt.step()
    return losses


def run_case(case, out):
    model, bags, o = read_case(case)
    padded = None
    if model.pool == 0 and o["batch"] > 1:
        model.train()
        padded = padded_batch_grads(model, bags[:o["batch"]], o)
    grads = []
    losses = train_epoch(model, bags, o, grads)
    if padded is not None:
        # mil-train's batches (bag by bag, summed) are eva's padded ones
        g = torch.cat(grads)
        diff = float((padded - g).abs().max() / g.abs().max())
        print("%s: batch of %d bags padded and masked in one forward, as eva: gradients "
              "within %.1e of bag by bag" % (case, o["batch"], diff))
        if diff > 1e-5:
            sys.exit("%s: a padded batch's gradients differ from bag by bag by %.1e" % (case, diff))
    model.eval()
    with torch.no_grad():
        outs = [model(x)[0].reshape(-1) for x, _, _, _ in bags]
        _, att = model(bags[0][0])
    with open(out, "wb") as f:
        f.write(np.asarray(losses, "<f8").tobytes())
        f.write(torch.cat(grads).numpy().astype("<f4").tobytes())
        f.write(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().astype("<f4").tobytes())
        f.write(torch.cat(outs).numpy().astype("<f4").tobytes())
        if att is not None:
            f.write(att.reshape(-1).numpy().astype("<f4").tobytes())


def main():
    torch.manual_seed(0)
    for i in range(1, len(sys.argv) - 1, 2):
        run_case(sys.argv[i], sys.argv[i + 1])


if __name__ == "__main__":
    main()
