#!/usr/bin/env python3
"""make_checkpoints.py: small random checkpoints in every public form
convert-weights reads, and the check of its outputs (tests/test_convert.sh).

  make DIR          write the cases (below) into DIR, with, for each case,
                    DIR/CASE.expect.safetensors (the tensors convert-weights
                    must write, f32 as in the source) and DIR/CASE.expect.json
                    (config keys it must write; how to rebuild the model).
  check DIR CASE:OUT[:DTYPE]...
                    each OUT against its CASE's expectation: the same names, tensors equal
                    (bit for bit after the cast to DTYPE), config values, only
                    keys embed(1) reads, and the tensors load strictly into
                    the real timm / open_clip module they came from.

Cases: timm (UNI2-h-like: registers, no_embed_class, SwiGLUPacked, LayerScale,
head), module ({"model": {"module.*"}} + a non-tensor, GELU, no LayerScale, no
qkv bias), hf_vit (folder: config.json + pytorch_model.bin, vit. prefix,
classifier), hf_dinov2 (folder: model.safetensors, SwiGLU, mask token),
hf_dinov2_sharded (sharded index, registers), dinov2 ({"teacher": ...} with
backbone. prefix, chunked blocks, dino_head/ibot_head, mask token; GPFM-like),
coca (CONCH-like: visual. trunk + pooler + caption pooler + text tower),
st (a timm state dict as .safetensors), unknown (a q_norm tensor), corrupt
(truncated pickle), namespace (a pickle holding an argparse.Namespace).
Prints "ok ..." or "ERR ..." lines.
"""
import argparse
import json
import os
import re
import sys
import warnings

import torch
from safetensors import safe_open
from safetensors.torch import save_file

warnings.simplefilter("ignore")

# The keys embed's configuration parser accepts (common/vit_config.c).
EMBED_KEYS = {"format", "name", "scheme", "img_size", "patch_size", "embed_dim", "depth",
              "num_heads", "mlp", "mlp_hidden", "reg_tokens", "class_token", "no_embed_class",
              "layerscale", "qkv_bias", "ln_eps", "pool", "pooler", "mean", "std", "resize",
              "crop", "interpolation", "pos_interp", "source", "preset", "license", "notes",
              "url"}


def timm_vit(**kw):
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(**kw)


def randomise(sd, seed):
    """LayerNorm/LayerScale/bias init is constant: make every tensor random."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) * 0.1 for k, v in sd.items()}


TIMM_SWIGLU = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4,
                   init_values=1e-5, reg_tokens=2, no_embed_class=True, mlp_ratio=2.66667 * 2,
                   num_classes=5)
TIMM_GELU = dict(img_size=32, patch_size=8, embed_dim=24, depth=3, num_heads=3,
                 qkv_bias=False, num_classes=0)
COCA_TRUNK = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=0)


def _swiglu_kw():
    from timm.layers import SwiGLUPacked
    return dict(mlp_layer=SwiGLUPacked, act_layer=torch.nn.SiLU)


def expect(d, case, tensors, config, rebuild=None, drop=()):
    save_file({k: v.contiguous() for k, v in tensors.items()},
              f"{d}/{case}.expect.safetensors")
    with open(f"{d}/{case}.expect.json", "w") as f:
        json.dump({"config": config, "rebuild": rebuild, "dropped": list(drop)}, f)


def hf_vit_tensors(g, D=32, L=2, I=64, P=8, img=32):
    n = (img // P) ** 2
    t = {"embeddings.cls_token": (1, 1, D), "embeddings.position_embeddings": (1, n + 1, D),
         "embeddings.patch_embeddings.projection.weight": (D, 3, P, P),
         "embeddings.patch_embeddings.projection.bias": (D,),
         "layernorm.weight": (D,), "layernorm.bias": (D,)}
    for i in range(L):
        p = f"encoder.layer.{i}."
        for k in ("query", "key", "value"):
            t[p + f"attention.attention.{k}.weight"] = (D, D)
            t[p + f"attention.attention.{k}.bias"] = (D,)
        t[p + "attention.output.dense.weight"] = (D, D)
        t[p + "attention.output.dense.bias"] = (D,)
        for k in ("layernorm_before", "layernorm_after"):
            t[p + k + ".weight"] = (D,)
            t[p + k + ".bias"] = (D,)
        t[p + "intermediate.dense.weight"] = (I, D)
        t[p + "intermediate.dense.bias"] = (I,)
        t[p + "output.dense.weight"] = (D, I)
        t[p + "output.dense.bias"] = (D,)
    return {k: torch.randn(s, generator=g) for k, s in t.items()}


def hf_dinov2_tensors(g, D=32, L=2, H=40, P=14, img=28, R=0):
    n = (img // P) ** 2
    t = {"embeddings.cls_token": (1, 1, D), "embeddings.mask_token": (1, D),
         "embeddings.position_embeddings": (1, n + 1, D),
         "embeddings.patch_embeddings.projection.weight": (D, 3, P, P),
         "embeddings.patch_embeddings.projection.bias": (D,),
         "layernorm.weight": (D,), "layernorm.bias": (D,)}
    if R:
        t["embeddings.register_tokens"] = (1, R, D)
    for i in range(L):
        p = f"encoder.layer.{i}."
        for k in ("query", "key", "value"):
            t[p + f"attention.attention.{k}.weight"] = (D, D)
            t[p + f"attention.attention.{k}.bias"] = (D,)
        t[p + "attention.output.dense.weight"] = (D, D)
        t[p + "attention.output.dense.bias"] = (D,)
        for k in ("norm1", "norm2"):
            t[p + k + ".weight"] = (D,)
            t[p + k + ".bias"] = (D,)
        t[p + "layer_scale1.lambda1"] = (D,)
        t[p + "layer_scale2.lambda1"] = (D,)
        t[p + "mlp.weights_in.weight"] = (2 * H, D)
        t[p + "mlp.weights_in.bias"] = (2 * H,)
        t[p + "mlp.weights_out.weight"] = (D, H)
        t[p + "mlp.weights_out.bias"] = (D,)
    return {k: torch.randn(s, generator=g) for k, s in t.items()}


def make(d):
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(3)

    # timm, UNI2-h-like
    sd = randomise(timm_vit(**TIMM_SWIGLU, **_swiglu_kw()).state_dict(), 1)
    torch.save(sd, f"{d}/timm.pth")
    keep = {k: v for k, v in sd.items() if not k.startswith("head.")}
    expect(d, "timm", keep, {"scheme": "timm", "embed_dim": 32, "depth": 2, "patch_size": 8,
                             "img_size": 32, "reg_tokens": 2, "no_embed_class": True,
                             "mlp": "swiglu", "mlp_hidden": 85, "layerscale": True,
                             "qkv_bias": True, "class_token": True, "num_heads": 4},
           {"kind": "timm", "kw": {**TIMM_SWIGLU, "num_classes": 0}, "swiglu": True},
           ["head.weight", "head.bias"])
    save_file(sd, f"{d}/st.safetensors")
    expect(d, "st", keep, {"scheme": "timm", "reg_tokens": 2}, None, ["head.weight"])
    bad = dict(sd)
    bad["blocks.0.attn.q_norm.weight"] = torch.ones(8)
    torch.save(bad, f"{d}/unknown.pth")
    expect(d, "unknown", keep, {"scheme": "timm"}, None)
    with open(f"{d}/timm.pth", "rb") as f:
        raw = f.read()
    with open(f"{d}/corrupt.pth", "wb") as f:
        f.write(raw[: len(raw) // 2])
    torch.save({"state_dict": {"w": torch.zeros(1)}, "args": argparse.Namespace(lr=1)},
               f"{d}/namespace.pth")

    # {"model": {"module." ...}} + a non-tensor; GELU, no LayerScale, no qkv bias
    sd = randomise(timm_vit(**TIMM_GELU).state_dict(), 2)
    torch.save({"model": {"module." + k: v for k, v in sd.items()}, "epoch": 7,
                "optimizer": {"lr": 0.1}}, f"{d}/module.pth")
    expect(d, "module", sd, {"scheme": "timm", "embed_dim": 24, "depth": 3, "mlp": "gelu",
                             "mlp_hidden": 96, "layerscale": False, "qkv_bias": False,
                             "reg_tokens": 0, "no_embed_class": False, "num_heads": 3},
           {"kind": "timm", "kw": TIMM_GELU, "swiglu": False})

    # HF ViT folder: config.json + pytorch_model.bin, ViTForImageClassification
    os.makedirs(f"{d}/hf_vit", exist_ok=True)
    t = hf_vit_tensors(g)
    saved = {"vit." + k: v for k, v in t.items()}
    saved["classifier.weight"] = torch.randn(3, 32, generator=g)
    saved["classifier.bias"] = torch.randn(3, generator=g)
    torch.save(saved, f"{d}/hf_vit/pytorch_model.bin")
    with open(f"{d}/hf_vit/config.json", "w") as f:
        json.dump({"model_type": "vit", "architectures": ["ViTForImageClassification"],
                   "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "intermediate_size": 64, "image_size": 32, "patch_size": 8,
                   "layer_norm_eps": 1e-12, "hidden_act": "gelu", "qkv_bias": True}, f)
    expect(d, "hf_vit", t, {"scheme": "hf-vit", "num_heads": 4, "ln_eps": 1e-12,
                            "mlp": "gelu", "mlp_hidden": 64, "img_size": 32,
                            "layerscale": False, "pos_interp": "hf"}, None,
           ["classifier.weight", "classifier.bias"])

    # HF Dinov2 folder: model.safetensors, SwiGLU, mask token
    os.makedirs(f"{d}/hf_dinov2", exist_ok=True)
    t = hf_dinov2_tensors(g)
    save_file(t, f"{d}/hf_dinov2/model.safetensors")
    with open(f"{d}/hf_dinov2/config.json", "w") as f:
        json.dump({"model_type": "dinov2", "hidden_size": 32, "num_hidden_layers": 2,
                   "num_attention_heads": 2, "mlp_ratio": 4, "image_size": 28,
                   "patch_size": 14, "layer_norm_eps": 1e-6, "use_swiglu_ffn": True,
                   "hidden_act": "gelu"}, f)
    keep = {k: v for k, v in t.items() if k != "embeddings.mask_token"}
    expect(d, "hf_dinov2", keep, {"scheme": "hf-dinov2", "num_heads": 2, "ln_eps": 1e-6,
                                  "mlp": "swiglu", "mlp_hidden": 40, "layerscale": True,
                                  "img_size": 28, "patch_size": 14}, None,
           ["embeddings.mask_token"])

    # sharded, with registers
    os.makedirs(f"{d}/hf_dinov2_sharded", exist_ok=True)
    t = hf_dinov2_tensors(g, R=4)
    names = sorted(t)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    wm = {}
    for fn, ns in shards.items():
        save_file({n: t[n] for n in ns}, f"{d}/hf_dinov2_sharded/{fn}")
        wm.update({n: fn for n in ns})
    with open(f"{d}/hf_dinov2_sharded/model.safetensors.index.json", "w") as f:
        json.dump({"metadata": {}, "weight_map": wm}, f)
    with open(f"{d}/hf_dinov2_sharded/config.json", "w") as f:
        json.dump({"model_type": "dinov2_with_registers", "hidden_size": 32,
                   "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 28,
                   "patch_size": 14, "layer_norm_eps": 1e-6, "use_swiglu_ffn": True,
                   "num_register_tokens": 4}, f)
    keep = {k: v for k, v in t.items() if k != "embeddings.mask_token"}
    expect(d, "hf_dinov2_sharded", keep, {"scheme": "hf-dinov2", "reg_tokens": 4,
                                          "num_heads": 4, "no_embed_class": False}, None)

    # DINOv2 teacher checkpoint (GPFM-like): backbone., chunked blocks, heads
    D, L, P, img = 32, 4, 14, 28
    n = (img // P) ** 2
    bb = {"cls_token": (1, 1, D), "pos_embed": (1, n + 1, D), "mask_token": (1, D),
          "patch_embed.proj.weight": (D, 3, P, P), "patch_embed.proj.bias": (D,),
          "norm.weight": (D,), "norm.bias": (D,)}
    for i in range(L):
        p = f"blocks.{i // 2}.{i}."
        for k, s in (("norm1.weight", (D,)), ("norm1.bias", (D,)),
                     ("attn.qkv.weight", (3 * D, D)), ("attn.qkv.bias", (3 * D,)),
                     ("attn.proj.weight", (D, D)), ("attn.proj.bias", (D,)),
                     ("ls1.gamma", (D,)), ("norm2.weight", (D,)), ("norm2.bias", (D,)),
                     ("mlp.fc1.weight", (4 * D, D)), ("mlp.fc1.bias", (4 * D,)),
                     ("mlp.fc2.weight", (D, 4 * D)), ("mlp.fc2.bias", (D,)),
                     ("ls2.gamma", (D,))):
            bb[p + k] = s
    bb = {k: torch.randn(s, generator=g) for k, s in bb.items()}
    teacher = {"backbone." + k: v for k, v in bb.items()}
    teacher["dino_head.mlp.0.weight"] = torch.randn(16, D, generator=g)
    teacher["dino_head.last_layer.weight_g"] = torch.randn(1, 16, generator=g)
    teacher["ibot_head.mlp.0.weight"] = torch.randn(16, D, generator=g)
    torch.save({"teacher": teacher, "iteration": 99}, f"{d}/dinov2.pth")
    keep = {k: v for k, v in bb.items() if k != "mask_token"}
    expect(d, "dinov2", keep, {"scheme": "dinov2", "depth": 4, "mlp": "gelu",
                               "mlp_hidden": 128, "num_heads": 4, "pos_interp": "dinov2",
                               "img_size": 28}, {"kind": "dinov2_timm",
                                                 "kw": dict(img_size=28, patch_size=14,
                                                            embed_dim=32, depth=4,
                                                            num_heads=4, init_values=1e-5,
                                                            num_classes=0)},
           ["mask_token", "dino_head.mlp.0.weight", "ibot_head.mlp.0.weight"])

    # CoCa / CONCH-like
    from open_clip.transformer import AttentionalPooler
    trunk = randomise(timm_vit(**COCA_TRUNK).state_dict(), 4)
    visual = {"trunk." + k: v for k, v in trunk.items()}
    pool = randomise(AttentionalPooler(16, 32, 2, 1).state_dict(), 5)
    visual.update({"attn_pool_contrast." + k: v for k, v in pool.items()})
    visual["ln_contrast.weight"] = torch.randn(16, generator=g)
    visual["ln_contrast.bias"] = torch.randn(16, generator=g)
    visual["proj_contrast"] = torch.randn(16, 16, generator=g)
    cap = randomise(AttentionalPooler(24, 32, 2, 4).state_dict(), 6)
    extra = {"attn_pool_caption." + k: v for k, v in cap.items()}
    extra["ln_caption.weight"] = torch.randn(24, generator=g)
    extra["ln_caption.bias"] = torch.randn(24, generator=g)
    full = {"visual." + k: v for k, v in {**visual, **extra}.items()}
    for k, s in (("text.token_embedding.weight", (50, 24)),
                 ("text.positional_embedding", (8, 24)), ("text.cls_emb", (24,)),
                 ("text.transformer.resblocks.0.attn.in_proj_weight", (72, 24)),
                 ("text.ln_final.weight", (24,)), ("text.text_projection", (24, 16)),
                 ("text_decoder.resblocks.0.ln_1.weight", (24,)), ("logit_scale", ())):
        full[k] = torch.randn(s, generator=g)
    torch.save(full, f"{d}/coca.pth")
    expect(d, "coca", visual, {"scheme": "open_clip-coca", "pool": "pooled",
                               "pooler": {"n_queries": 1, "num_heads": 2},
                               "mean": [0.48145466, 0.4578275, 0.40821073]},
           {"kind": "coca", "kw": COCA_TRUNK},
           ["text.token_embedding.weight", "visual.attn_pool_caption.query",
            "visual.ln_caption.weight", "logit_scale", "text_decoder.resblocks.0.ln_1.weight"])
    print("ok made", d)


def rebuild_check(rb, got):
    """Load the converted tensors strictly into the module they came from."""
    if rb["kind"] == "timm":
        kw = dict(rb["kw"])
        if rb.get("swiglu"):
            kw.update(_swiglu_kw())
        timm_vit(**kw).load_state_dict(got, strict=True)
    elif rb["kind"] == "dinov2_timm":
        # DINOv2 chunked names -> timm's, as plismbench / eva convert GPFM
        sd = {re.sub(r"blocks\.\d+\.(\d+)", r"blocks.\1", k): v for k, v in got.items()}
        timm_vit(**rb["kw"]).load_state_dict(sd, strict=True)
    elif rb["kind"] == "coca":
        from open_clip.transformer import AttentionalPooler
        trunk = {k[6:]: v for k, v in got.items() if k.startswith("trunk.")}
        timm_vit(**rb["kw"]).load_state_dict(trunk, strict=True)
        pool = {k[19:]: v for k, v in got.items() if k.startswith("attn_pool_contrast.")}
        AttentionalPooler(16, 32, 2, 1).load_state_dict(pool, strict=True)


DT = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def check(d, case, out, dtype=None):
    with open(f"{d}/{case}.expect.json") as f:
        exp = json.load(f)
    want = {}
    with safe_open(f"{d}/{case}.expect.safetensors", framework="pt") as f:
        for k in f.keys():
            want[k] = f.get_tensor(k)
    got = {}
    with safe_open(out, framework="pt") as f:
        meta = f.metadata() or {}
        for k in f.keys():
            got[k] = f.get_tensor(k)
    errs = []
    if set(got) != set(want):
        errs.append("names differ: extra " + str(sorted(set(got) - set(want))[:5])
                    + " missing " + str(sorted(set(want) - set(got))[:5]))
    for k in sorted(set(got) & set(want)):
        t = want[k].to(DT[dtype]) if dtype else want[k]
        if got[k].dtype != t.dtype:
            errs.append(f"{k}: dtype {got[k].dtype}, wanted {t.dtype}")
        elif got[k].shape != t.shape or not torch.equal(got[k], t):
            errs.append(f"{k}: values or shape differ")
    try:
        cfg = json.loads(meta["pathfm"])
    except (KeyError, ValueError) as e:
        errs.append(f"no pathfm metadata: {e}")
        cfg = {}
    for k, v in exp["config"].items():
        if cfg.get(k) != v:
            errs.append(f"config {k}: {cfg.get(k)!r}, wanted {v!r}")
    unknown = set(cfg) - EMBED_KEYS
    if unknown:
        errs.append(f"config keys embed does not read: {sorted(unknown)}")
    if exp["rebuild"] and not errs:
        try:
            rebuild_check(exp["rebuild"], {k: v.float() for k, v in got.items()})
        except Exception as e:
            errs.append(f"strict load into the source module failed: {e}")
    for e in errs:
        print(f"ERR {case}: {e}")
    if not errs:
        print(f"ok {case}")
    return not errs


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "check":
        ok = True
        for spec in sys.argv[3:]:
            ok &= check(sys.argv[2], *spec.split(":"))
        sys.exit(0 if ok else 1)
    else:
        sys.exit("usage: make_checkpoints.py make DIR | check DIR CASE:OUT[:DTYPE]...")


if __name__ == "__main__":
    main()
