"""distill_ref.py: plain-torch reference of distill-step for tests/test_distill.c.

  distill_ref.py parts OUTDIR
      heads and losses one by one, on random inputs: OUTDIR/NAME.safetensors
      with the inputs, the outputs and the gradients.

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


if __name__ == "__main__":
    mode, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    if mode == "parts":
        parts(outdir)
    else:
        sys.exit("unknown mode " + mode)
