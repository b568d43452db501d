"""distill_ref.py: plain-torch reference of distill-step for tests/test_distill.c.

  distill_ref.py parts OUTDIR
      heads and losses one by one, on random inputs: OUTDIR/NAME.safetensors
      with the inputs, the outputs and the gradients.
  distill_ref.py models OUTDIR
      small random timm ViTs for tests/test_distill.sh: two experts for
      64 px tiles (e48: width 48, e32: width 32) and a student to start
      from (student: patch 8, 32 px, width 32, 2 blocks, LayerScale).
  distill_ref.py step OUTDIR CENTERING NSTEPS
      NSTEPS whole training steps of a tiny ViT student with 2 experts
      (DINOv2's forward_backward and training loop, GPFM's distillation):
      OUTDIR/CENTERING.model.safetensors (the backbone, for --init),
      .init (every student tensor), .data (each step's crops, masks,
      drop-path scales and expert features) and .ref (each step's loss
      terms, the first step's gradients, the final student, teacher and
      centres).

The formulas are DINOv2's (dinov2/layers/dino_head.py, dinov2/loss/*.py)
and GPFM's (pretrain/dinov2/kl_loss.py, train/ssl_meta_arch.py), written
here again in plain torch from their definitions. Run with
.venv/bin/python (Debian's torch 1.13).
"""
import math
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


# ---- the pieces -----------------------------------------------------------

class Head(torch.nn.Module):
    """DINOHead: nlayers Linear (GELU between), L2 normalise (eps 1e-12),
    weight-normalised Linear without bias (g filled with 1)."""

    def __init__(self, d_in, d_out, hidden, bottleneck, nlayers):
        super().__init__()
        if nlayers == 1:
            self.mlp = torch.nn.Linear(d_in, bottleneck)
        else:
            layers = [torch.nn.Linear(d_in, hidden), torch.nn.GELU()]
            for _ in range(nlayers - 2):
                layers += [torch.nn.Linear(hidden, hidden), torch.nn.GELU()]
            layers.append(torch.nn.Linear(hidden, bottleneck))
            self.mlp = torch.nn.Sequential(*layers)
        self.last_layer = torch.nn.utils.weight_norm(
            torch.nn.Linear(bottleneck, d_out, bias=False))
        self.last_layer.weight_g.data.fill_(1)

    def forward(self, x):
        x = F.normalize(self.mlp(x), dim=-1, p=2, eps=1e-12)
        return self.last_layer(x)


def xent(s, t, temp, w=None):
    """sum_r w_r * -sum_k t log_softmax(s / temp)"""
    per = -(t * F.log_softmax(s / temp, dim=-1)).sum(-1)
    return (per if w is None else per * w).sum()


def softmax_center(x, center, temp):
    return F.softmax((x - center) / temp, dim=-1)


def center_update(center, x, m=0.9):
    return center * m + x.sum(0, keepdim=True) / x.shape[0] * (1 - m)


def sinkhorn(x, temp, iters=3):
    Q = torch.exp(x.float() / temp).t()
    B, K = Q.shape[1], Q.shape[0]
    Q /= Q.sum()
    for _ in range(iters):
        Q /= Q.sum(dim=1, keepdim=True)
        Q /= K
        Q /= Q.sum(dim=0, keepdim=True)
        Q /= B
    Q *= B
    return Q.t()


def koleo(x, eps=1e-8):
    y = F.normalize(x, eps=eps, p=2, dim=-1)
    dots = y @ y.t()
    n = y.shape[0]
    dots.view(-1)[:: (n + 1)].fill_(-1)
    idx = dots.max(dim=1)[1]
    dist = F.pairwise_distance(y, y[idx], p=2, eps=1e-8)
    return -torch.log(dist + eps).mean()


def cos_loss(p, t):
    return 1 - F.cosine_similarity(p, t, dim=-1).mean()


def feature_loss(p, t):
    """GPFM FeatureLoss after resizing: 0.9 (1 - cos) + 0.1 SmoothL1."""
    return 0.9 * cos_loss(p, t) + 0.1 * F.smooth_l1_loss(p, t)


def grid_resize(tokens, n):
    """[B, g*g, C] -> [B, n*n, C], F.interpolate bicubic (GPFM)."""
    B, N2, C = tokens.shape
    g = int(math.isqrt(N2))
    x = tokens.permute(0, 2, 1).reshape(B, C, g, g)
    x = F.interpolate(x, size=(n, n), mode="bicubic")
    return x.reshape(B, C, n * n).permute(0, 2, 1)


def grid_box(grid, box, n, flip):
    """Bicubic samples of grid [g, g, C] over box (y0, x0, h, w) in grid
    units: grid_sample (bicubic, border taps), source coordinate
    y0 + (i + 0.5) h / n - 0.5, columns mirrored when flip."""
    g = grid.shape[0]
    y0, x0, bh, bw = box
    i = torch.arange(n, dtype=torch.float64)
    sy = y0 + (i + 0.5) * bh / n - 0.5
    cx = (n - 1 - i) if flip else i
    sx = x0 + (cx + 0.5) * bw / n - 0.5
    ny = (2 * sy + 1) / g - 1
    nx = (2 * sx + 1) / g - 1
    gy, gx = torch.meshgrid(ny, nx, indexing="ij")
    coords = torch.stack([gx, gy], -1)[None].float()
    img = grid.permute(2, 0, 1)[None]
    out = F.grid_sample(img, coords, mode="bicubic", padding_mode="border",
                        align_corners=False)
    return out[0].permute(1, 2, 0)


# ---- fixtures ---------------------------------------------------------------

def randomize_head(h):
    with torch.no_grad():
        for name, p in h.named_parameters():
            if name.endswith("weight_g"):
                p.copy_(0.5 + torch.rand_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)


def head_case(out, name, R, d_in, d_out, hidden, bn, nl):
    h = Head(d_in, d_out, hidden, bn, nl)
    randomize_head(h)
    x = torch.randn(R, d_in, requires_grad=True)
    y = h(x)
    dy = torch.randn_like(y)
    (y * dy).sum().backward()
    d = {"x": x.detach(), "dlogits": dy, "logits": y.detach(),
         "dx": x.grad}
    for k, p in h.named_parameters():
        d["p." + k] = p.detach()
        d["g." + k] = p.grad
    out[name] = d


def parts(outdir):
    torch.manual_seed(1)
    out = {}
    head_case(out, "head3", 7, 24, 50, 40, 16, 3)
    head_case(out, "head1", 5, 24, 30, 0, 16, 1)
    R, K = 6, 40
    x = torch.randn(R, K) * 3
    c = torch.randn(1, K)
    out["center"] = {"x": x, "center": c,
                     "p": softmax_center(x, c, 0.04),
                     "center_new": center_update(c, x)}
    xs = torch.randn(R, K) * 0.5  # teacher logits: |z| = 1, |W_k| ~ 1
    out["sinkhorn"] = {"x": xs, "q": sinkhorn(xs, 0.05)}
    s = (torch.randn(R, K) * 2).requires_grad_(True)
    t = F.softmax(torch.randn(R, K) * 2, -1)
    w = torch.rand(R)
    loss = xent(s, t, 0.1, w)
    loss.backward()
    out["xent"] = {"s": s.detach(), "t": t, "w": w,
                   "loss": loss.detach().reshape(1), "ds": s.grad}
    xk = torch.randn(9, 12).requires_grad_(True)
    lk = 0.1 * koleo(xk)
    lk.backward()
    out["koleo"] = {"x": xk.detach(), "loss": lk.detach().reshape(1),
                    "dx": xk.grad}
    p = torch.randn(5, 20).requires_grad_(True)
    tt = torch.randn(5, 20)
    lc = 0.7 * cos_loss(p, tt)
    lc.backward()
    out["cos"] = {"p": p.detach(), "t": tt, "loss": lc.detach().reshape(1),
                  "dp": p.grad}
    p2 = (torch.randn(3, 16, 8) * 1.5).requires_grad_(True)
    t2 = torch.randn(3, 9, 8)
    t2r = grid_resize(t2, 4)
    lf = 0.25 * feature_loss(p2, t2r)
    lf.backward()
    out["feature"] = {"p": p2.detach(), "t": t2, "t_resized": t2r,
                      "loss": lf.detach().reshape(1), "dp": p2.grad}
    grid = torch.randn(5, 5, 3)
    out["box"] = {"grid": grid,
                  "box": torch.tensor([0.7, 1.3, 2.9, 3.4], dtype=torch.float64),
                  "out": grid_box(grid, (0.7, 1.3, 2.9, 3.4), 7, True),
                  "full": grid_box(grid, (0, 0, 5, 5), 3, False),
                  "full_interp": grid_resize(grid.reshape(1, 25, 3), 3)[0]}
    for name, d in out.items():
        save_file({k: v.detach().contiguous() for k, v in d.items()},
                  os.path.join(outdir, name + ".safetensors"))


# ---- augmentation operations ------------------------------------------------

def hed_ref(rgb, alpha, beta):
    """skimage's rgb2hed / hed2rgb (Ruifrok-Johnston) with a stain jitter
    s -> s alpha + beta, in numpy (skimage is not installed)."""
    import numpy as np
    rgb_from_hed = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11],
                             [0.27, 0.57, 0.78]])
    hed_from_rgb = np.linalg.inv(rgb_from_hed)
    x = np.maximum(rgb.astype(np.float64) / 255, 1e-6)
    ladj = np.log(1e-6)
    st = np.maximum((np.log(x) / ladj) @ hed_from_rgb, 0) * alpha + beta
    out = np.clip(np.exp(-(st * -ladj) @ rgb_from_hed), 0, 1)
    return np.rint(out * 255).astype(np.uint8)


def ops(outdir, png):
    """torchvision 0.14's functional transforms on a PIL tile, one each."""
    import numpy as np
    import torchvision.transforms.functional as TF
    from PIL import Image
    img = Image.open(png).convert("RGB").crop((300, 200, 380, 264))
    out = {"input": torch.from_numpy(np.array(img))}
    cases = [("brightness_1.3", TF.adjust_brightness, 1.3),
             ("brightness_0.7", TF.adjust_brightness, 0.7),
             ("contrast_1.35", TF.adjust_contrast, 1.35),
             ("contrast_0.65", TF.adjust_contrast, 0.65),
             ("saturation_1.15", TF.adjust_saturation, 1.15),
             ("saturation_0.85", TF.adjust_saturation, 0.85),
             ("hue_0.07", TF.adjust_hue, 0.07),
             ("hue_-0.05", TF.adjust_hue, -0.05)]
    for name, fn, f in cases:
        out[name] = torch.from_numpy(np.array(fn(img, f)))
    out["grayscale"] = torch.from_numpy(np.array(
        TF.rgb_to_grayscale(img, num_output_channels=3)))
    out["blur_1.3"] = torch.from_numpy(np.array(
        TF.gaussian_blur(img, [9, 9], [1.3, 1.3])))
    out["solarize"] = torch.from_numpy(np.array(TF.solarize(img, 128)))
    out["hed_0.04"] = torch.from_numpy(hed_ref(np.array(img), 1.04, 0.02))
    save_file({k: v.float().contiguous() for k, v in out.items()},
              os.path.join(outdir, "ops.safetensors"))


# ---- models for the shell test --------------------------------------------------

def models(outdir):
    import json
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(2)

    def save(m, name, meta):
        sd = {k: v.detach().contiguous() for k, v in m.state_dict().items()
              if not k.startswith("head")}
        save_file(sd, os.path.join(outdir, name + ".safetensors"),
                  metadata={"pathfm": json.dumps(meta)})
    for w in (48, 32):
        m = VisionTransformer(img_size=64, patch_size=16, embed_dim=w,
                              depth=1, num_heads=2, num_classes=0)
        save(m, "e%d" % w, {"num_heads": 2, "name": "e%d" % w})
    m = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2,
                          num_heads=2, init_values=1e-5, num_classes=0)
    save(m, "student", {"num_heads": 2, "name": "student",
                        "pos_interp": "dinov2"})


# ---- the whole step -----------------------------------------------------------

def vit_forward(m, x, mask, mask_token, drop, pos_interp="dinov2"):
    """Training forward of a timm ViT: masked patches replaced by the
    mask token before the position embeddings (DINOv2), residual branches
    scaled per image (drop-path), final norm. Position embeddings over
    the class token, resampled DINOv2's way (+0.1, no antialias)."""
    B = x.shape[0]
    p = m.patch_embed.proj
    t = F.conv2d(x, p.weight, p.bias, stride=p.stride)
    gh, gw = t.shape[-2:]
    t = t.flatten(2).transpose(1, 2)
    if mask is not None:
        t = torch.where(mask[..., None], mask_token.to(t.dtype), t)
    pos = m.pos_embed[0]
    g0 = int(math.isqrt(pos.shape[0] - 1))
    grid = pos[1:]
    if (gh, gw) != (g0, g0):
        D = pos.shape[-1]
        g = grid.reshape(1, g0, g0, D).permute(0, 3, 1, 2)
        g = F.interpolate(g, scale_factor=((gh + 0.1) / g0, (gw + 0.1) / g0),
                          mode="bicubic", antialias=False)
        grid = g.permute(0, 2, 3, 1).reshape(gh * gw, D)
    t = torch.cat([m.cls_token.expand(B, -1, -1) + pos[:1], t + grid], 1)
    for l, blk in enumerate(m.blocks):
        s1 = 1.0 if drop is None else drop[l, 0][:, None, None]
        s2 = 1.0 if drop is None else drop[l, 1][:, None, None]
        t = t + s1 * blk.ls1(blk.attn(blk.norm1(t)))
        t = t + s2 * blk.ls2(blk.mlp(blk.norm2(t)))
    return m.norm(t)


def cosine_schedule(base, final, total, warmup=0, start=0.0, freeze=0):
    """DINOv2's CosineScheduler as a list."""
    import numpy as np
    sched = np.concatenate((
        np.zeros(freeze), np.linspace(start, base, warmup),
        final + 0.5 * (base - final) * (1 + np.cos(
            np.pi * np.arange(total - warmup - freeze)
            / max(total - warmup - freeze, 1)))))
    return lambda it: final if it >= total else float(sched[it])


def drop_scales(L, rows, rate, gen):
    """DINOv2's drop_add_residual_stochastic_depth subsets (rate > 0.1).
    Redrawn while an image has every attention branch dropped: its class
    token would equal another such image's (nothing else reaches it), and
    KoLeo's log-distance of two equal rows is float noise in any
    implementation."""
    while True:
        s = torch.zeros(L, 2, rows)
        keep = max(int(rows * (1 - rate)), 1)
        for l in range(L):
            for b in range(2):
                idx = torch.randperm(rows, generator=gen)[:keep]
                s[l, b, idx] = rows / keep
        if (s[:, 0].sum(0) > 0).all():
            return s


def lr_wd_mult(name, n_blocks, decay, patch_mult):
    """DINOv2 utils/param_groups.py for one parameter name."""
    layer = n_blocks + 1
    if n_blocks:
        if any(k in name for k in ("pos_embed", "patch_embed", "mask_token",
                                   "cls_token")):
            layer = 0
        elif name.startswith("blocks."):
            layer = int(name.split(".")[1]) + 1
    lr = decay ** (n_blocks + 1 - layer)
    if "patch_embed" in name:
        lr *= patch_mult
    wd = 0.0 if (name.endswith(".bias") or "norm" in name
                 or "gamma" in name) else 1.0
    return lr, wd, "last_layer" in name


def step_case(outdir, centering, nsteps):
    import copy
    import json
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(3)
    B, NL, G, LS = 3, 2, 32, 16
    K, HID, BN = 64, 48, 16
    EXP = [("uni", 24, 1.0, 0.25, 3), ("conch", 12, 1.0, 0.0, 0)]
    o = dict(lr=0.2, min_lr=1e-6, steps=20, warmup=3, tt=0.07, tt0=0.04,
             tt_steps=5, freeze=2, wd=0.04, wd_end=0.4, decay=0.9,
             patch_mult=0.2, clip=0.5, mom=0.9, mom_end=1.0, drop=0.2,
             koleo=0.1, dino=1.0, ibot=1.0, st=0.1, cm=0.9)
    bb = VisionTransformer(img_size=G, patch_size=8, embed_dim=32, depth=2,
                           num_heads=2, init_values=1.0, num_classes=0,
                           dynamic_img_size=True)
    with torch.no_grad():
        for name, p in bb.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.5 * torch.rand_like(p))
            elif p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)
    bb.train()
    D, L = 32, 2
    mask_token = torch.nn.Parameter(0.1 * torch.randn(1, D))
    dhead = Head(D, K, HID, BN, 3)
    randomize_head(dhead)
    eheads = {}
    for name, E, _, _, _ in EXP:
        eheads[name] = Head(D, E, 0, BN, 1)
        randomize_head(eheads[name])
    student = {"": bb, "dino_head.": dhead}
    named = {}
    for pre, mod in student.items():
        for k, p in mod.named_parameters():
            if not k.startswith("head."):
                named[pre + k] = p
    named["mask_token"] = mask_token
    for name, h in eheads.items():
        for k, p in h.named_parameters():
            named["expert.%s.%s" % (name, k)] = p
    t_bb = copy.deepcopy(bb)
    t_head = Head(D, K, HID, BN, 3)
    t_head.load_state_dict(dhead.state_dict())
    t_mask = mask_token.detach().clone()
    for p in list(t_bb.parameters()) + list(t_head.parameters()):
        p.requires_grad_(False)
    meta = {"num_heads": 2, "pos_interp": "dinov2", "ln_eps": 1e-6}
    pre = os.path.join(outdir, centering)
    save_file({k: v.detach().contiguous() for k, v in bb.state_dict().items()
               if not k.startswith("head")}, pre + ".model.safetensors",
              metadata={"pathfm": json.dumps(meta)})
    save_file({"student." + k: v.detach().contiguous()
               for k, v in named.items()}, pre + ".init.safetensors")
    # optimizer: one group per parameter (DINOv2's groups, unfused)
    groups, info = [], []
    for k, p in named.items():
        if k.startswith("dino_head.") or k.startswith("expert."):
            lm, wm, last = lr_wd_mult(k.split(".", 1)[1] if k.startswith(
                "dino_head.") else k.split(".", 2)[2], 0, o["decay"],
                o["patch_mult"])
        else:
            lm, wm, last = lr_wd_mult(k, L, o["decay"], o["patch_mult"])
        groups.append({"params": [p], "lr": 0.0, "weight_decay": 0.0})
        info.append((lm, wm, last))
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.999), foreach=False)
    lr_scaled = o["lr"] * math.sqrt(B / 1024)
    lr_s = cosine_schedule(lr_scaled, o["min_lr"], o["steps"], o["warmup"])
    wd_s = cosine_schedule(o["wd"], o["wd_end"], o["steps"])
    mom_s = cosine_schedule(o["mom"], o["mom_end"], o["steps"])
    tt_s = cosine_schedule(o["tt"], o["tt"], o["tt_steps"], o["tt_steps"],
                           o["tt0"])
    gen = torch.Generator().manual_seed(5)
    dcenter = torch.zeros(1, K)
    icenter = torch.zeros(1, 1, K)
    data, ref, losses = {}, {}, []
    N = (G // 8) ** 2
    nterms = 2 + max(2 * NL, 1)
    for it in range(nsteps):
        xg = torch.randn(2 * B, 3, G, G, generator=gen)
        xl = torch.randn(NL * B, 3, LS, LS, generator=gen)
        mask = torch.rand(2 * B, N, generator=gen) < 0.35
        mask[it % (2 * B)] = False
        mask[(it + 1) % (2 * B), 0] = True
        dg = drop_scales(L, 2 * B, o["drop"], gen)
        dl = drop_scales(L, NL * B, o["drop"], gen)
        ecls, etok = {}, {}
        for name, E, _, wp, g in EXP:
            ecls[name] = torch.randn(B, E, generator=gen)
            if wp > 0:
                etok[name] = torch.randn(B, g * g, E, generator=gen)
        d = data
        d["s%d.global" % it], d["s%d.local" % it] = xg, xl
        d["s%d.mask" % it] = mask.float()
        d["s%d.drop_g" % it], d["s%d.drop_l" % it] = dg, dl
        for name in ecls:
            d["s%d.ecls.%s" % (it, name)] = ecls[name]
        for name in etok:
            d["s%d.etok.%s" % (it, name)] = etok[name]
        tt, lr, wd = tt_s(it), lr_s(it), wd_s(it)
        llr = 0.0 if it < o["freeze"] else lr
        mom = mom_s(it)
        # teacher
        with torch.no_grad():
            to = vit_forward(t_bb, xg, None, None, None)
            tcls = torch.cat([to[B:, 0], to[:B, 0]])
            tpatch = to[:, 1:][mask]
            tl = t_head(torch.cat([tcls, tpatch]))
            tlc, tlp = tl[:2 * B], tl[2 * B:]
            if centering == "ema":
                tpc = softmax_center(tlc, dcenter, tt)
                dcenter = center_update(dcenter, tlc, o["cm"])
                tpp = softmax_center(tlp, icenter[0], tt)
                icenter = icenter * o["cm"] + tlp.mean(0).reshape(
                    1, 1, K) * (1 - o["cm"])
            else:
                tpc = sinkhorn(tlc, tt)
                tpp = sinkhorn(tlp, tt)
        # student
        og = vit_forward(bb, xg, mask, mask_token, dg)
        ol = vit_forward(bb, xl, None, None, dl)
        rows = torch.cat([ol[:, 0], og[:, 0], og[:, 1:][mask]])
        sl = dhead(rows)
        sloc, sglo, spat = sl[:NL * B], sl[NL * B:NL * B + 2 * B], \
            sl[NL * B + 2 * B:]
        tpc2 = tpc.view(2, B, K)
        dloc = 0
        for s_ in sloc.chunk(NL):
            lsm = F.log_softmax(s_ / o["st"], dim=-1)
            for t_ in tpc2:
                dloc = dloc - (t_ * lsm).sum(-1).mean()
        dloc = o["dino"] * dloc / nterms
        dglo = -(tpc * F.log_softmax(sglo / o["st"], -1)).sum(-1).mean()
        dglo = o["dino"] * dglo * 2 / nterms
        kol = o["koleo"] * sum(koleo(p_) for p_ in og[:, 0].chunk(2))
        mw = (1 / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1).expand_as(
            mask)[mask]
        ib = (tpp * F.log_softmax(spat / o["st"], -1)).sum(-1) * mw
        ib = o["ibot"] * (-ib.sum() / (2 * B)) * 2 * 0.5
        terms = [dloc, dglo, kol, ib]
        for name, E, wc, wp, g in EXP:
            h = eheads[name]
            pc = h(og[:, 0])
            terms.append(wc * cos_loss(pc, ecls[name].repeat(2, 1)))
            if wp > 0:
                pp = h(og[:, 1:])
                tg = grid_resize(etok[name].repeat(2, 1, 1), int(math.isqrt(N)))
                terms.append(wp * feature_loss(pp, tg))
            else:
                terms.append(torch.zeros(()))
        total = sum(terms)
        losses.append(torch.stack([t_.detach() for t_ in terms] +
                                  [total.detach()]))
        opt.zero_grad()
        total.backward()
        if it == 0:
            for k, p in named.items():
                ref["grad." + k] = p.grad.detach().clone()
        torch.nn.utils.clip_grad_norm_(
            list(bb.parameters()) + [mask_token], o["clip"])
        torch.nn.utils.clip_grad_norm_(list(dhead.parameters()), o["clip"])
        for g_, (lm, wm, last) in zip(opt.param_groups, info):
            g_["lr"] = (llr if last else lr) * lm
            g_["weight_decay"] = wd * wm
        opt.step()
        with torch.no_grad():
            sp = list(bb.parameters()) + [mask_token] + list(dhead.parameters())
            tp = list(t_bb.parameters()) + [t_mask] + list(t_head.parameters())
            for a, b_ in zip(tp, sp):
                a.mul_(mom).add_(b_, alpha=1 - mom)
    ref["loss"] = torch.stack(losses)
    ref["schedules"] = torch.tensor(
        [[lr_s(i), 0.0 if i < o["freeze"] else lr_s(i), wd_s(i), mom_s(i),
          tt_s(i)] for i in range(o["steps"] + 2)], dtype=torch.float64)
    for k, p in named.items():
        ref["student." + k] = p.detach()
    tnamed = dict(("teacher." + k, v) for k, v in t_bb.state_dict().items()
                  if not k.startswith("head"))
    tnamed["teacher.mask_token"] = t_mask
    for k, v in t_head.state_dict().items():
        tnamed["teacher.dino_head." + k] = v
    ref.update(tnamed)
    ref["dino_center"] = dcenter
    ref["ibot_center"] = icenter
    save_file({k: v.detach().contiguous() for k, v in data.items()},
              pre + ".data.safetensors")
    save_file({k: v.detach().contiguous() for k, v in ref.items()},
              pre + ".ref.safetensors")


if __name__ == "__main__":
    mode, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    if mode == "parts":
        parts(outdir)
    elif mode == "models":
        models(outdir)
    elif mode == "ops":
        ops(outdir, sys.argv[3])
    elif mode == "step":
        step_case(outdir, sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)
