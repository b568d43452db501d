"""vit_ref.py OUTDIR: reference ViTs for tests/test_vit.c.

Builds small random ViTs with timm 1.0.11 (and open_clip's CoCa pooler),
saves each in the naming scheme under test as OUTDIR/NAME.safetensors
with its pathfm configuration in __metadata__, and the reference outputs
(PyTorch, fp32) for random inputs as OUTDIR/NAME.ref.safetensors:
images [B, 3, S, S] and out.cls / out.mean / out.cls+mean / out.pooled /
tokens. Schemes other than timm hold the same weights under their own
names (q/k/v split for Hugging Face, the class token's position folded
the DINOv2 way), so one timm forward is the reference for each.

Run with .venv/bin/python (Debian's torch 1.13 + pinned timm).
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from timm.layers import SwiGLUPacked  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

torch.manual_seed(0)
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def randomize(model):
    """Every parameter random at a scale where each layer matters (timm's
    init leaves LayerScale at 1e-5, which would hide bugs in blocks)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or "ls" in name.split(".")[-2:][0]:
                p.copy_(0.5 + 0.5 * torch.rand_like(p))
            elif p.dim() == 1 and ("norm" in name or "ln_" in name):
                p.copy_((1.0 if name.endswith("weight") else 0.0)
                        + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)


def save(name, tensors, config, refs, dtype=torch.float32):
    tensors = {k: v.detach().contiguous().to(dtype) for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name + ".safetensors"),
              metadata={"pathfm": json.dumps(config)})
    refs = {k: v.detach().contiguous().float() for k, v in refs.items()}
    save_file(refs, os.path.join(OUT, name + ".ref.safetensors"))


def outputs(tokens, prefix):
    cls = tokens[:, 0]
    mean = tokens[:, prefix:].mean(1)
    return {"out.cls": cls, "out.mean": mean,
            "out.cls+mean": torch.cat([cls, mean], 1), "tokens": tokens}


def timm_vit(img, **kw):
    m = VisionTransformer(img_size=img, num_classes=0, **kw).eval()
    randomize(m)
    return m


def run(model, x):
    with torch.no_grad():
        return model.forward_features(x)


def sd(model):
    return {k: v for k, v in model.state_dict().items()
            if not k.startswith("head")}


def case_timm_vits16():
    """timm ViT-S/16 names and widths (3 blocks), at 224 and at 160
    (position embeddings resampled as timm's dynamic_img_size does)."""
    m = timm_vit(224, patch_size=16, embed_dim=384, depth=3, num_heads=6,
                 dynamic_img_size=True)
    cfg = {"name": "vits16", "num_heads": 6}
    for s, tag in ((224, ""), (160, "-160")):
        x = torch.randn(3, 3, s, s)
        refs = {"images": x, **outputs(run(m, x), 1)}
        save("vits16" + tag, sd(m), cfg, refs)
    # F16 and BF16 storage: the reference runs on the rounded weights
    for dt, tag in ((torch.float16, "-f16"), (torch.bfloat16, "-bf16")):
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(p.to(dt).float())
        x = torch.randn(2, 3, 224, 224)
        save("vits16" + tag, sd(m), cfg,
             {"images": x, **outputs(run(m, x), 1)}, dtype=dt)


def case_dinov2_reg():
    """DINOv2-style ViT-L/14 shape in small: patch 14, 4 registers,
    LayerScale, no_embed_class (timm), and the same weights under
    DINOv2's own names (class position folded into pos_embed[0],
    chunked blocks), whose resampling is DINOv2's (+0.1, no antialias)."""
    m = timm_vit(98, patch_size=14, embed_dim=192, depth=3, num_heads=3,
                 reg_tokens=4, no_embed_class=True, init_values=1.0,
                 dynamic_img_size=True)
    cfg = {"num_heads": 3}
    for s, tag in ((98, ""), (126, "-126")):
        x = torch.randn(2, 3, s, s)
        refs = {"images": x, **outputs(run(m, x), 5)}
        save("timm-reg" + tag, sd(m), cfg, refs)
    # DINOv2 names: cls_token + pos0 == timm cls_token
    st = sd(m)
    z = torch.randn(1, 1, 192)
    d = {"cls_token": st["cls_token"] - z,
         "pos_embed": torch.cat([z, st["pos_embed"]], 1),
         "register_tokens": st["reg_token"],
         "mask_token": torch.zeros(1, 192)}
    for k, v in st.items():
        if k.startswith("blocks."):
            i = int(k.split(".")[1])
            d["blocks.%d.%s" % (i // 2, k[len("blocks."):])] = v
        elif k not in ("cls_token", "pos_embed", "reg_token"):
            d[k] = v
    x = torch.randn(2, 3, 98, 98)
    save("dinov2-reg", d, {"num_heads": 3, "scheme": "dinov2"},
         {"images": x, **outputs(run(m, x), 5)})
    # at 126 px DINOv2 resamples with scale_factor (9 + 0.1) / 7
    import torch.nn.functional as F
    g = 126 // 14
    pos = d["pos_embed"][:, 1:].reshape(1, 7, 7, 192).permute(0, 3, 1, 2)
    pos = F.interpolate(pos, scale_factor=((g + 0.1) / 7, (g + 0.1) / 7),
                        mode="bicubic", antialias=False)
    assert pos.shape[-1] == g
    m2 = timm_vit(126, patch_size=14, embed_dim=192, depth=3, num_heads=3,
                  reg_tokens=4, no_embed_class=True, init_values=1.0)
    st2 = dict(st)
    st2["pos_embed"] = pos.permute(0, 2, 3, 1).reshape(1, g * g, 192)
    m2.load_state_dict(st2, strict=False)
    x = torch.randn(2, 3, 126, 126)
    save("dinov2-reg-126", d, {"num_heads": 3, "scheme": "dinov2"},
         {"images": x, **outputs(run(m2, x), 5)})


def case_swiglu():
    """Virchow2-like: SwiGLU (packed, SiLU), 4 registers, LayerScale,
    output cls+mean; and the same MLP under HF Dinov2 names."""
    m = timm_vit(112, patch_size=14, embed_dim=128, depth=2, num_heads=4,
                 reg_tokens=4, no_embed_class=True, init_values=1.0,
                 mlp_layer=SwiGLUPacked, act_layer=torch.nn.SiLU,
                 mlp_ratio=5.375)
    x = torch.randn(2, 3, 112, 112)
    save("swiglu", sd(m), {"num_heads": 4, "pool": "cls+mean"},
         {"images": x, **outputs(run(m, x), 5)})


def hf_names(st, depth, dinov2):
    d = {"embeddings.cls_token": st["cls_token"],
         "embeddings.position_embeddings": st["pos_embed"],
         "embeddings.patch_embeddings.projection.weight":
             st["patch_embed.proj.weight"],
         "embeddings.patch_embeddings.projection.bias":
             st["patch_embed.proj.bias"],
         "layernorm.weight": st["norm.weight"],
         "layernorm.bias": st["norm.bias"]}
    for i in range(depth):
        b, o = "blocks.%d." % i, "encoder.layer.%d." % i
        q, k, v = st[b + "attn.qkv.weight"].chunk(3, 0)
        qb, kb, vb = st[b + "attn.qkv.bias"].chunk(3, 0)
        a = o + "attention.attention."
        d.update({a + "query.weight": q, a + "key.weight": k,
                  a + "value.weight": v, a + "query.bias": qb,
                  a + "key.bias": kb, a + "value.bias": vb,
                  o + "attention.output.dense.weight": st[b + "attn.proj.weight"],
                  o + "attention.output.dense.bias": st[b + "attn.proj.bias"]})
        n1, n2 = ("norm1", "norm2") if dinov2 else ("layernorm_before",
                                                    "layernorm_after")
        for s_, t_ in (("norm1", n1), ("norm2", n2)):
            d[o + t_ + ".weight"] = st[b + s_ + ".weight"]
            d[o + t_ + ".bias"] = st[b + s_ + ".bias"]
        if dinov2:
            d[o + "layer_scale1.lambda1"] = st[b + "ls1.gamma"]
            d[o + "layer_scale2.lambda1"] = st[b + "ls2.gamma"]
            for s_ in ("fc1", "fc2"):
                d[o + "mlp.%s.weight" % s_] = st[b + "mlp.%s.weight" % s_]
                d[o + "mlp.%s.bias" % s_] = st[b + "mlp.%s.bias" % s_]
        else:
            d[o + "intermediate.dense.weight"] = st[b + "mlp.fc1.weight"]
            d[o + "intermediate.dense.bias"] = st[b + "mlp.fc1.bias"]
            d[o + "output.dense.weight"] = st[b + "mlp.fc2.weight"]
            d[o + "output.dense.bias"] = st[b + "mlp.fc2.bias"]
    return d


def case_hf():
    """Phikon-like HF ViTModel names (q/k/v split, eps 1e-12, with the
    unused pooler), and HF Dinov2 names with LayerScale."""
    from functools import partial
    m = timm_vit(64, patch_size=16, embed_dim=96, depth=2, num_heads=4,
                 norm_layer=partial(torch.nn.LayerNorm, eps=1e-12))
    x = torch.randn(2, 3, 64, 64)
    d = hf_names(sd(m), 2, False)
    d["pooler.dense.weight"] = torch.randn(96, 96)
    d["pooler.dense.bias"] = torch.randn(96)
    save("hf-vit", d, {"num_heads": 4}, {"images": x, **outputs(run(m, x), 1)})
    m = timm_vit(56, patch_size=14, embed_dim=96, depth=2, num_heads=4,
                 init_values=1.0)
    x = torch.randn(2, 3, 56, 56)
    d = hf_names(sd(m), 2, True)
    d["embeddings.mask_token"] = torch.zeros(1, 96)
    save("hf-dinov2", d, {"num_heads": 4},
         {"images": x, **outputs(run(m, x), 1)})


def case_coca():
    """CONCH-like: timm trunk + open_clip AttentionalPooler (1 query,
    kdim != d_model, so q/k/v_proj_weight), ln_contrast, proj_contrast;
    and a variant whose pooler width equals the trunk's (in_proj_weight)."""
    from open_clip.transformer import AttentionalPooler
    for name, P in (("coca", 64), ("coca-packed", 96)):
        trunk = timm_vit(64, patch_size=16, embed_dim=96, depth=2,
                         num_heads=4)
        pool = AttentionalPooler(P, 96, n_head=8, n_queries=1).eval()
        ln = torch.nn.LayerNorm(P)
        proj = torch.randn(P, 48) / P ** 0.5
        randomize(pool)
        randomize(ln)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            tok = trunk.forward_features(x)
            pooled = ln(pool(tok)[:, 0])
        d = {"trunk." + k: v for k, v in sd(trunk).items()}
        d.update({"attn_pool_contrast." + k: v
                  for k, v in pool.state_dict().items()})
        d.update({"ln_contrast." + k: v for k, v in ln.state_dict().items()})
        d["proj_contrast"] = proj
        save(name, d, {"num_heads": 4, "pooler": {"n_queries": 1,
                                                  "num_heads": 8}},
             {"images": x, **outputs(tok, 1), "out.pooled": pooled,
              "out.projected": pooled @ proj})


case_timm_vits16()
case_dinov2_reg()
case_swiglu()
case_hf()
case_coca()
