#!/usr/bin/env python3
"""abmil_torch.py: the plain-torch side of tests/perf/mil-train.sh.

    abmil_torch.py BAGS TILES DIM THREADS [fp32|bf16]

One epoch of GPFM's ABMIL (tests/ref/abmil_ref.py's module: Linear
DIM->512, ReLU, dropout 0.25 (torch's own), attention 512->128->1,
Linear 512->2) over BAGS random bags of TILES x DIM float32 features held
in memory, CLAM's loop: a bag at a time, cross-entropy, Adam (lr 2e-4,
weight decay 1e-5). Prints the epoch's wall-clock seconds (the data
generation is not timed). bf16: the forward under
torch.autocast("cpu", torch.bfloat16), torch's mixed precision on the
CPU (its linear layers through oneDNN's bf16 matmul, their backward too);
the weights and Adam stay float32."""
import contextlib
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/ref")
from abmil_ref import ABMIL  # noqa: E402


def main():
    nb, n, d, threads = (int(v) for v in sys.argv[1:5])
    bf16 = len(sys.argv) > 5 and sys.argv[5] == "bf16"
    cast = (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
            else contextlib.nullcontext())
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ABMIL(d, 512, 1, 0, 128, 0, [], 2)
    bags = [torch.randn(n, d) for _ in range(nb)]
    labels = [torch.tensor([i % 2]) for i in range(nb)]
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=1e-5)
    model.train()
    t0 = time.perf_counter()
    for x, y in zip(bags, labels):
        with cast:
            h = F.relu(model.proj(x))
            h = F.dropout(h, 0.25, training=True)
            a = torch.tanh(model.attention_a(h))
            att = F.softmax(model.attention_c(a).T, dim=1)
            logits = model.classifier(att @ h)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("%.6f" % (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
