"""make_model_corpus.py DIR: tiny models in every naming scheme (a few KB
each) as the seed corpus of tests/fuzz/fuzz_model.c. Run with
.venv/bin/python; the committed corpus was made by this script."""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from safetensors.torch import save  # noqa: E402
from timm.layers import SwiGLUPacked  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

torch.manual_seed(0)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def put(name, sd, cfg):
    sd = {k: v.contiguous().half() for k, v in sd.items()}
    with open(os.path.join(out, name), "wb") as f:
        f.write(save(sd, metadata={"pathfm": json.dumps(cfg)}))


def tiny(**kw):
    args = dict(img_size=8, patch_size=4, embed_dim=8, depth=1, num_heads=2,
                num_classes=0, mlp_ratio=2)
    args.update(kw)
    m = VisionTransformer(**args)
    return {k: v for k, v in m.state_dict().items() if not k.startswith("head")}


put("timm", tiny(), {"num_heads": 2})
put("timm-reg-ls", tiny(reg_tokens=2, no_embed_class=True, init_values=1.0),
    {"num_heads": 2, "pool": "cls+mean"})
put("timm-swiglu", tiny(mlp_layer=SwiGLUPacked, act_layer=torch.nn.SiLU),
    {"num_heads": 2, "pool": "mean"})
sd = tiny(init_values=1.0)
d = {("blocks.0.0." + k[len("blocks.0."):] if k.startswith("blocks.0.") else k): v
     for k, v in sd.items()}
d["register_tokens"] = torch.zeros(1, 1, 8)
put("dinov2", d, {"num_heads": 2, "scheme": "dinov2"})
h = {"embeddings.cls_token": sd["cls_token"],
     "embeddings.position_embeddings": sd["pos_embed"],
     "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
     "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
     "layernorm.weight": sd["norm.weight"], "layernorm.bias": sd["norm.bias"]}
q, k, v = sd["blocks.0.attn.qkv.weight"].chunk(3)
qb, kb, vb = sd["blocks.0.attn.qkv.bias"].chunk(3)
a = "encoder.layer.0.attention."
h.update({a + "attention.query.weight": q, a + "attention.key.weight": k,
          a + "attention.value.weight": v, a + "attention.query.bias": qb,
          a + "attention.key.bias": kb, a + "attention.value.bias": vb,
          a + "output.dense.weight": sd["blocks.0.attn.proj.weight"],
          a + "output.dense.bias": sd["blocks.0.attn.proj.bias"]})
for n in ("norm1", "norm2"):
    for s in ("weight", "bias"):
        h["encoder.layer.0.%s.%s" % (n, s)] = sd["blocks.0.%s.%s" % (n, s)]
for s in ("weight", "bias"):
    h["encoder.layer.0.mlp.fc1." + s] = sd["blocks.0.mlp.fc1." + s]
    h["encoder.layer.0.mlp.fc2." + s] = sd["blocks.0.mlp.fc2." + s]
h["encoder.layer.0.layer_scale1.lambda1"] = sd["blocks.0.ls1.gamma"]
h["encoder.layer.0.layer_scale2.lambda1"] = sd["blocks.0.ls2.gamma"]
put("hf-dinov2", h, {"num_heads": 2})
c = {"trunk." + k: v for k, v in tiny().items()}
from open_clip.transformer import AttentionalPooler  # noqa: E402
p = AttentionalPooler(4, 8, n_head=2, n_queries=1)
c.update({"attn_pool_contrast." + k: v for k, v in p.state_dict().items()})
c["ln_contrast.weight"] = torch.ones(4)
c["ln_contrast.bias"] = torch.zeros(4)
c["proj_contrast"] = torch.randn(4, 3)
put("coca", c, {"num_heads": 2, "pooler": {"n_queries": 1, "num_heads": 2}})
