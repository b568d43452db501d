"""distill_torch.py ARCH BATCH STEPS THREADS EXPERT_WIDTH: seconds per
distill-step training step in plain torch (fp32, CPU), the reference of
tests/perf/distill-step.sh.

The same step as tests/ref/distill_ref.py's (DINOv2's forward_backward
and training loop, GPFM's distillation with one expert, CLS and patch
losses): teacher forward of 2 global crops + its DINO head and centering,
student forward of 2 global (masked) + 8 local crops, DINO head over the
class tokens and masked patches, DINO/KoLeo/iBOT and expert losses,
backward, per-module clipping, AdamW, EMA. DINOv2's default heads (65536
prototypes, hidden 2048, bottleneck 256); no drop-path (distill-step runs
with --drop-path 0 in the benchmark too). Random crops and expert
features: the model's work only. Prints one line: the median seconds of
STEPS steps after one warm-up step.
"""
import math
import os
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ref"))
from distill_ref import (Head, cos_loss, feature_loss, grid_resize,  # noqa
                         koleo, lr_wd_mult, vit_forward)

ARCHS = {"vit-ti": (192, 12, 3), "vit-s": (384, 12, 6), "vit-b": (768, 12, 12)}


def main():
    arch, B, steps, threads, E = sys.argv[1], int(sys.argv[2]), \
        int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    from timm.models.vision_transformer import VisionTransformer
    D, depth, heads = ARCHS[arch]
    NL, G, LS, K = 8, 224, 96, 65536
    bb = VisionTransformer(img_size=G, patch_size=16, embed_dim=D, depth=depth,
                           num_heads=heads, init_values=1e-5, num_classes=0,
                           dynamic_img_size=True)
    mask_token = torch.nn.Parameter(torch.zeros(1, D))
    dhead = Head(D, K, 2048, 256, 3)
    ehead = Head(D, E, 0, 256, 1)
    t_bb = VisionTransformer(img_size=G, patch_size=16, embed_dim=D,
                             depth=depth, num_heads=heads, init_values=1e-5,
                             num_classes=0, dynamic_img_size=True)
    t_bb.load_state_dict(bb.state_dict())
    t_head = Head(D, K, 2048, 256, 3)
    t_head.load_state_dict(dhead.state_dict())
    for p in list(t_bb.parameters()) + list(t_head.parameters()):
        p.requires_grad_(False)
    named = {k: p for k, p in bb.named_parameters() if not k.startswith("head")}
    named["mask_token"] = mask_token
    groups = []
    for k, p in named.items():
        lm, wm, last = lr_wd_mult(k, depth, 0.9, 0.2)
        groups.append({"params": [p], "lr": 1e-4 * lm, "weight_decay": 0.04 * wm})
    for m in (dhead, ehead):
        for k, p in m.named_parameters():
            lm, wm, last = lr_wd_mult(k, 0, 0.9, 0.2)
            groups.append({"params": [p], "lr": 1e-4, "weight_decay": 0.04 * wm})
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.999))
    N = (G // 16) ** 2
    nterms = 2 + 2 * NL
    dcenter = torch.zeros(1, K)
    icenter = torch.zeros(1, K)
    times = []
    for it in range(steps + 1):
        xg = torch.randn(2 * B, 3, G, G)
        xl = torch.randn(NL * B, 3, LS, LS)
        mask = torch.zeros(2 * B, N, dtype=torch.bool)
        for i in range(B):  # half the crops, 10-50% of their patches
            n = int(N * (0.1 + 0.4 * i / B))
            mask[2 * i, torch.randperm(N)[:n]] = True
        ecls = torch.randn(B, E)
        etok = torch.randn(B, N, E)
        t0 = time.perf_counter()
        with torch.no_grad():
            to = vit_forward(t_bb, xg, None, None, None)
            tcls = torch.cat([to[B:, 0], to[:B, 0]])
            tl = t_head(torch.cat([tcls, to[:, 1:][mask]]))
            tpc = F.softmax((tl[:2 * B] - dcenter) / 0.07, -1)
            dcenter = dcenter * 0.9 + tl[:2 * B].mean(0, keepdim=True) * 0.1
            tpp = F.softmax((tl[2 * B:] - icenter) / 0.07, -1)
            icenter = icenter * 0.9 + tl[2 * B:].mean(0, keepdim=True) * 0.1
        og = vit_forward(bb, xg, mask, mask_token, None)
        ol = vit_forward(bb, xl, None, None, None)
        sl = dhead(torch.cat([ol[:, 0], og[:, 0], og[:, 1:][mask]]))
        sloc, sglo, spat = sl[:NL * B], sl[NL * B:NL * B + 2 * B], \
            sl[NL * B + 2 * B:]
        tp2 = tpc.view(2, B, K)
        loss = 0
        for s_ in sloc.chunk(NL):
            lsm = F.log_softmax(s_ / 0.1, -1)
            for t_ in tp2:
                loss = loss - (t_ * lsm).sum(-1).mean() / nterms
        loss = loss - (tpc * F.log_softmax(sglo / 0.1, -1)).sum(-1).mean() \
            * 2 / nterms
        loss = loss + 0.1 * sum(koleo(p_) for p_ in og[:, 0].chunk(2))
        mw = (1 / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1).expand_as(
            mask)[mask]
        loss = loss - ((tpp * F.log_softmax(spat / 0.1, -1)).sum(-1)
                       * mw).sum() / (2 * B)
        loss = loss + cos_loss(ehead(og[:, 0]), ecls.repeat(2, 1))
        loss = loss + 0.25 * feature_loss(ehead(og[:, 1:]),
                                          etok.repeat(2, 1, 1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(bb.parameters()) + [mask_token],
                                       3.0)
        torch.nn.utils.clip_grad_norm_(list(dhead.parameters()), 3.0)
        opt.step()
        with torch.no_grad():
            sp = list(bb.parameters()) + list(dhead.parameters())
            tp = list(t_bb.parameters()) + list(t_head.parameters())
            torch._foreach_mul_(tp, 0.992)
            torch._foreach_add_(tp, sp, alpha=0.008)
        if it:
            times.append(time.perf_counter() - t0)
    print("%.4f" % statistics.median(times))


if __name__ == "__main__":
    main()
