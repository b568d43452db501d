"""vit_train_ref.py OUTDIR: reference gradients for tests/test_vit_train.c.

Small random timm ViTs (timm 1.0.11 blocks: norm1, attn, ls1, norm2, mlp,
ls2, final norm) run the training forward of distill-step in plain torch
autograd: patch embedding, masked patches replaced by a mask token (as
DINOv2's prepare_tokens_with_masks), prefix tokens, position embeddings
(resampled as the model's pos_interp says when the crop's grid differs),
blocks whose residual branches are scaled per image (drop-path scales fed
from here), final norm. The loss is sum(out * dout) for a random dout, so
the gradients are those of any loss whose gradient at the tokens is dout.

Writes, per case NAME:
  NAME.safetensors       the model (timm names, pathfm config)
  NAME.in.safetensors    images, mask (f32 0/1), mask_token, drop [L,2,B],
                         dout, out (the reference tokens), grad.mask_token
  NAME.grad.safetensors  the parameter gradients under the model's own
                         names and config, so the C test loads them as a
                         model and compares buffer by buffer.
Run with .venv/bin/python.
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from timm.layers import SwiGLUPacked  # noqa: E402
from timm.layers.pos_embed import resample_abs_pos_embed  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

torch.manual_seed(0)
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def randomize(model):
    """Every parameter at a scale where each layer matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.5 * torch.rand_like(p))
            elif p.dim() == 1 and "norm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0)
                        + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)


def pos_for(m, cfg, gh, gw):
    """Position embeddings of a gh x gw grid: [pos_prefix + N, D]."""
    pos = m.pos_embed[0]
    pp = cfg["pos_prefix"]
    grid = pos[pp:]
    g0 = int(round(grid.shape[0] ** 0.5))
    if (gh, gw) == (g0, g0):
        return pos
    D = pos.shape[-1]
    if cfg["pos_interp"] == "dinov2":
        g = grid.reshape(1, g0, g0, D).permute(0, 3, 1, 2)
        g = F.interpolate(g, scale_factor=((gh + 0.1) / g0, (gw + 0.1) / g0),
                          mode="bicubic", antialias=False)
        assert g.shape[-2:] == (gh, gw)
        g = g.permute(0, 2, 3, 1).reshape(gh * gw, D)
    else:  # timm: resample_abs_pos_embed (bicubic, antialias)
        g = resample_abs_pos_embed(grid[None], (gh, gw), (g0, g0),
                                   num_prefix_tokens=0)[0]
    return torch.cat([pos[:pp], g], 0)


def forward(m, cfg, x, mask, mask_token, drop):
    B = x.shape[0]
    p = m.patch_embed.proj
    t = F.conv2d(x, p.weight, p.bias, stride=p.stride)
    gh, gw = t.shape[-2:]
    t = t.flatten(2).transpose(1, 2)
    t = torch.where(mask[..., None], mask_token.to(t.dtype), t)
    pos = pos_for(m, cfg, gh, gw)
    pp = cfg["pos_prefix"]
    pre = []
    if m.cls_token is not None:
        pre.append(m.cls_token.expand(B, -1, -1))
    if m.reg_token is not None:
        pre.append(m.reg_token.expand(B, -1, -1))
    npre = sum(q.shape[1] for q in pre)
    t = t + pos[pp:]
    if pre:
        pre = torch.cat(pre, 1)
        pre = torch.cat([pre[:, :pp] + pos[:pp], pre[:, pp:]], 1)
        t = torch.cat([pre, t], 1)
    assert t.shape[1] == npre + gh * gw
    for l, blk in enumerate(m.blocks):
        s1 = drop[l, 0][:, None, None]
        s2 = drop[l, 1][:, None, None]
        t = t + s1 * blk.ls1(blk.attn(blk.norm1(t)))
        t = t + s2 * blk.ls2(blk.mlp(blk.norm2(t)))
    return m.norm(t)


def case(name, img, crop, B, cfg, **kw):
    m = VisionTransformer(img_size=img, num_classes=0, **kw)
    randomize(m)
    m.train()
    D = m.embed_dim
    L = len(m.blocks)
    p = m.patch_embed.patch_size[0]
    N = (crop // p) ** 2
    cfg = dict(cfg)
    cfg.setdefault("num_heads", kw["num_heads"])
    cfg.setdefault("ln_eps", 1e-6)
    x = torch.randn(B, 3, crop, crop)
    mask = torch.rand(B, N) < 0.3
    mask[0] = False  # an image without masked patches
    mask_token = (0.5 * torch.randn(D)).requires_grad_(True)
    drop = torch.ones(L, 2, B)
    drop[0, 0, 1] = 0.0  # dropped branches, the others scaled up
    drop[L - 1, 1, 0] = 0.0
    drop[0, 0, 0] = B / (B - 1)
    dout = torch.randn(B, N + (m.num_prefix_tokens), D)
    out = forward(m, cfg, x, mask, mask_token, drop)
    (out * dout).sum().backward()
    meta = {k: v for k, v in cfg.items() if k != "pos_prefix"}
    if cfg["pos_prefix"] == 0:
        meta["no_embed_class"] = True
    sd = {k: v.detach().contiguous() for k, v in m.state_dict().items()
          if not k.startswith("head")}
    save_file(sd, os.path.join(OUT, name + ".safetensors"),
              metadata={"pathfm": json.dumps(meta)})
    grads = {k: v.grad.detach().contiguous() for k, v in m.named_parameters()
             if not k.startswith("head")}
    save_file(grads, os.path.join(OUT, name + ".grad.safetensors"),
              metadata={"pathfm": json.dumps(meta)})
    save_file({"images": x, "mask": mask.float(),
               "mask_token": mask_token.detach(), "drop": drop,
               "dout": dout, "out": out.detach().contiguous(),
               "grad.mask_token": mask_token.grad.detach()},
              os.path.join(OUT, name + ".in.safetensors"))


# DINOv2-style: LayerScale, pos over the class token, DINOv2 resampling;
# at the stored grid (a global crop) and at a smaller one (a local crop).
dino = dict(patch_size=8, embed_dim=48, depth=2, num_heads=3, init_values=1.0,
            dynamic_img_size=True)
cfg = {"pos_interp": "dinov2", "pos_prefix": 1}
case("dino-global", 32, 32, 3, cfg, **dino)
case("dino-local", 48, 24, 4, cfg, **dino)
# timm resampling (antialiased, downsampling), 2 registers outside the
# position embeddings, SwiGLU, no LayerScale.
case("reg-swiglu", 40, 24, 3, {"pos_interp": "timm", "pos_prefix": 0},
     patch_size=8, embed_dim=32, depth=2, num_heads=2, reg_tokens=2,
     no_embed_class=True, mlp_layer=SwiGLUPacked, act_layer=torch.nn.SiLU,
     mlp_ratio=2.5, dynamic_img_size=True)
# no qkv bias, upsampled grid, plain blocks.
case("plain-up", 24, 40, 2, {"pos_interp": "timm", "pos_prefix": 1},
     patch_size=8, embed_dim=32, depth=3, num_heads=4, qkv_bias=False,
     dynamic_img_size=True)
