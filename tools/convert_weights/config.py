"""config.py: the model configuration embed needs, inferred from tensor
shapes (authoritative), then filled from a config.json, a preset and the
command line for what shapes cannot tell.
"""
import math
import re

from .errors import ConvertError
from .presets import IMAGENET

FORMAT = 1

# Per scheme: how to find the parts of block i, and the top-level tensors.
_TOP = {
    "timm": dict(patch="patch_embed.proj", cls="cls_token", reg="reg_token",
                 pos="pos_embed", norm="norm", block=r"blocks\.(\d+)\."),
    "dinov2": dict(patch="patch_embed.proj", cls="cls_token", reg="register_tokens",
                   pos="pos_embed", norm="norm", block=r"blocks\.(?:\d+\.)?(\d+)\."),
    "hf-vit": dict(patch="embeddings.patch_embeddings.projection", cls="embeddings.cls_token",
                   reg=None, pos="embeddings.position_embeddings", norm="layernorm",
                   block=r"encoder\.layer\.(\d+)\."),
    "hf-dinov2": dict(patch="embeddings.patch_embeddings.projection", cls="embeddings.cls_token",
                      reg="embeddings.register_tokens", pos="embeddings.position_embeddings",
                      norm="layernorm", block=r"encoder\.layer\.(\d+)\."),
}
_TOP["open_clip-coca"] = {k: ("trunk." + v if isinstance(v, str) and k != "block" else v)
                          for k, v in _TOP["timm"].items()}
_TOP["open_clip-coca"]["block"] = r"trunk\.blocks\.(\d+)\."

# Block parts, relative to the block prefix: (role, [candidate names]).
_PARTS = {
    "timm": dict(norm1="norm1", qkv="attn.qkv", proj="attn.proj", ls1="ls1.gamma",
                 norm2="norm2", fc1="mlp.fc1", fc2="mlp.fc2", ls2="ls2.gamma"),
    "dinov2": dict(norm1="norm1", qkv="attn.qkv", proj="attn.proj", ls1="ls1.gamma",
                   norm2="norm2", fc1=("mlp.fc1", "mlp.w12"), fc2=("mlp.fc2", "mlp.w3"),
                   ls2="ls2.gamma"),
    "hf-vit": dict(norm1="layernorm_before", q="attention.attention.query",
                   k="attention.attention.key", v="attention.attention.value",
                   proj="attention.output.dense", norm2="layernorm_after",
                   fc1="intermediate.dense", fc2="output.dense"),
    "hf-dinov2": dict(norm1="norm1", q="attention.attention.query", k="attention.attention.key",
                      v="attention.attention.value", proj="attention.output.dense",
                      ls1="layer_scale1.lambda1", norm2="norm2",
                      fc1=("mlp.fc1", "mlp.weights_in"), fc2=("mlp.fc2", "mlp.weights_out"),
                      ls2="layer_scale2.lambda1"),
}
_PARTS["open_clip-coca"] = _PARTS["timm"]


def _shape(t):
    return tuple(int(d) for d in t.shape)


class _View:
    def __init__(self, tensors):
        self.t = tensors

    def get(self, name, shape=None, what=None):
        t = self.t.get(name)
        if t is None:
            return None
        if shape is not None and _shape(t) != tuple(shape):
            raise ConvertError(f"tensor '{name}' has shape {list(_shape(t))}, "
                               f"expected {list(shape)}" + (f" ({what})" if what else ""))
        return t

    def need(self, name, shape=None, what=None):
        t = self.get(name, shape, what)
        if t is None:
            raise ConvertError(f"tensor '{name}' is missing" + (f" ({what})" if what else ""))
        return t


def _weight_bias(v, base, out_dim, in_dim, what, bias_required=False):
    w = v.need(base + ".weight", (out_dim, in_dim) if in_dim is not None else (out_dim,), what)
    b = v.get(base + ".bias", (out_dim,), what)
    if bias_required and b is None:
        raise ConvertError(f"tensor '{base}.bias' is missing ({what})")
    return w, b


def _pick(v, prefix, cands):
    for c in (cands if isinstance(cands, tuple) else (cands,)):
        if prefix + c + ".weight" in v.t or prefix + c in v.t:
            return prefix + c
    return prefix + (cands[0] if isinstance(cands, tuple) else cands)


def infer(tensors, scheme):
    """Shapes -> dict of the structural config keys; checks every tensor."""
    top, parts = _TOP[scheme], _PARTS[scheme]
    v = _View(tensors)
    pw = v.need(top["patch"] + ".weight", what="patch embedding")
    if len(pw.shape) != 4 or pw.shape[2] != pw.shape[3]:
        raise ConvertError(f"tensor '{top['patch']}.weight' has shape {list(_shape(pw))}, "
                           f"expected [embed_dim, 3, patch, patch]")
    D, C, P = int(pw.shape[0]), int(pw.shape[1]), int(pw.shape[2])
    if C != 3:
        raise ConvertError(f"tensor '{top['patch']}.weight' takes {C} channels; embed runs RGB")
    v.need(top["patch"] + ".bias", (D,), "patch embedding")
    cfg = {"embed_dim": D, "patch_size": P}

    cls = v.get(top["cls"], (1, 1, D), "class token")
    cfg["class_token"] = cls is not None
    R = 0
    if top["reg"] and top["reg"] in tensors:
        r = tensors[top["reg"]]
        if len(r.shape) != 3 or r.shape[0] != 1 or r.shape[2] != D:
            raise ConvertError(f"tensor '{top['reg']}' has shape {list(_shape(r))}, "
                               f"expected [1, n, {D}]")
        R = int(r.shape[1])
    cfg["reg_tokens"] = R

    # blocks
    pat = re.compile(top["block"])
    idx = {}
    for n in tensors:
        m = pat.match(n)
        if m:
            idx.setdefault(int(m.group(1)), set()).add(m.group(0))
    if not idx:
        raise ConvertError("no transformer blocks found")
    depth = max(idx) + 1
    missing = [i for i in range(depth) if i not in idx]
    if missing:
        raise ConvertError(f"block {missing[0]} is missing (blocks run to {depth - 1})")
    for i, prefixes in idx.items():
        if len(prefixes) > 1:
            raise ConvertError(f"block {i} appears under two names: " + ", ".join(sorted(prefixes)))
    cfg["depth"] = depth
    cfg["chunked_blocks"] = scheme == "dinov2" and any(
        re.fullmatch(r"blocks\.\d+\.\d+\.", p) for ps in idx.values() for p in ps)

    first = {}
    for i in range(depth):
        pre = next(iter(idx[i]))
        what = f"block {i}"
        _weight_bias(v, pre + parts["norm1"], D, None, what, True)
        _weight_bias(v, pre + parts["norm2"], D, None, what, True)
        if "qkv" in parts:
            _, qb = _weight_bias(v, pre + parts["qkv"], 3 * D, D, what)
        else:
            qbs = [_weight_bias(v, pre + parts[k], D, D, what)[1] for k in ("q", "k", "v")]
            if len({b is None for b in qbs}) > 1:
                raise ConvertError(f"{what}: some of query/key/value have a bias, not all")
            qb = qbs[0]
        _weight_bias(v, pre + parts["proj"], D, D, what, True)
        fc1 = _pick(v, pre, parts["fc1"])
        fc2 = _pick(v, pre, parts["fc2"])
        w1 = v.need(fc1 + ".weight", what=what)
        w2 = v.need(fc2 + ".weight", what=what)
        if len(w1.shape) != 2 or w1.shape[1] != D or len(w2.shape) != 2 or w2.shape[0] != D:
            raise ConvertError(f"{what}: MLP weights {fc1}.weight {list(_shape(w1))} and "
                               f"{fc2}.weight {list(_shape(w2))} do not fit width {D}")
        H1, H = int(w1.shape[0]), int(w2.shape[1])
        if H1 == 2 * H:
            mlp = "swiglu"
        elif H1 == H and not fc1.endswith(("w12", "weights_in")):
            mlp = "gelu"
        else:
            raise ConvertError(f"{what}: {fc1}.weight has {H1} rows and {fc2}.weight {H} "
                               f"columns: neither a GELU MLP (equal) nor a packed SwiGLU (2:1)")
        v.need(fc1 + ".bias", (H1,), what)
        v.need(fc2 + ".bias", (D,), what)
        ls = []
        for k in ("ls1", "ls2"):
            if k in parts:
                ls.append(v.get(pre + parts[k], (D,), what) is not None)
        this = {"mlp": mlp, "mlp_hidden": H, "qkv_bias": qb is not None,
                "layerscale": bool(ls) and all(ls), "fc1": fc1[len(pre):]}
        if ls and any(ls) != all(ls):
            raise ConvertError(f"{what}: one LayerScale of two")
        if i == 0:
            first = this
        elif this != first:
            diff = next(k for k in this if this[k] != first[k])
            raise ConvertError(f"{what}: {diff} is {this[diff]}, block 0 has {first[diff]}")
    cfg.update({k: first[k] for k in ("mlp", "mlp_hidden", "qkv_bias", "layerscale")})

    # final norm (timm models pooling 'avg' have fc_norm instead)
    norm = v.get(top["norm"] + ".weight", (D,), "final norm")
    v.get(top["norm"] + ".bias", (D,), "final norm")
    fcn = v.get("fc_norm.weight", (D,), "fc_norm") if scheme == "timm" else None
    if norm is None and fcn is None:
        raise ConvertError(f"tensor '{top['norm']}.weight' is missing (final norm)")
    cfg["final_norm"] = norm is not None
    cfg["fc_norm"] = fcn is not None

    # position embedding: which prefix tokens have one, and the native grid
    pos = v.need(top["pos"], what="position embedding")
    if len(pos.shape) != 3 or pos.shape[0] != 1 or pos.shape[2] != D:
        raise ConvertError(f"tensor '{top['pos']}' has shape {list(_shape(pos))}, "
                           f"expected [1, n, {D}]")
    cfg["_n_pos"] = int(pos.shape[1])
    cfg["_prefix_choices"] = _prefix_choices(scheme, cfg["class_token"], R)

    if scheme == "open_clip-coca":
        cfg["pooler"] = _coca_pooler(v, D)
    return cfg


def _prefix_choices(scheme, has_cls, R):
    """Numbers of prefix tokens that may have a position embedding."""
    c = 1 if has_cls else 0
    if scheme in ("timm", "open_clip-coca"):
        return [c + R, 0] if c + R else [0]   # no_embed_class False / True
    return [c]                                # DINOv2 and HF: CLS only


def resolve_grid(cfg):
    """How many prefix tokens the position embedding covers (as embed's
    loader decides it: the first candidate that leaves a square grid) and
    the native image size."""
    n, P = cfg.pop("_n_pos"), cfg["patch_size"]
    for k in cfg.pop("_prefix_choices"):
        g = math.isqrt(max(n - k, 0))
        if n - k > 0 and g * g == n - k:
            cfg["native_size"] = g * P
            cfg["pos_embed_prefix"] = k
            cfg["no_embed_class"] = k == 0 and cfg["class_token"]
            return
    raise ConvertError(f"the position embedding has {n} entries: not a square grid "
                       f"after the prefix tokens")


def _coca_pooler(v, D):
    q = v.need("attn_pool_contrast.query", what="contrastive attentional pooler")
    if len(q.shape) != 2:
        raise ConvertError(f"tensor 'attn_pool_contrast.query' has shape {list(_shape(q))}, "
                           f"expected [n_queries, dim]")
    nq, d = int(q.shape[0]), int(q.shape[1])
    a = "attn_pool_contrast.attn."
    if a + "in_proj_weight" in v.t:
        if d != D:
            raise ConvertError(f"tensor '{a}in_proj_weight': one packed projection needs "
                               f"the pooler width {d} to equal the trunk width {D}")
        v.need(a + "in_proj_weight", (3 * d, d), "pooler")
    else:
        v.need(a + "q_proj_weight", (d, d), "pooler")
        v.need(a + "k_proj_weight", (d, D), "pooler")
        v.need(a + "v_proj_weight", (d, D), "pooler")
    v.need(a + "in_proj_bias", (3 * d,), "pooler")
    v.need(a + "out_proj.weight", (d, d), "pooler")
    v.need(a + "out_proj.bias", (d,), "pooler")
    for ln, w in (("ln_q", d), ("ln_k", D)):
        v.need(f"attn_pool_contrast.{ln}.weight", (w,), "pooler")
        v.need(f"attn_pool_contrast.{ln}.bias", (w,), "pooler")
    v.need("ln_contrast.weight", (d,), "pooler")
    v.need("ln_contrast.bias", (d,), "pooler")
    proj = v.get("proj_contrast", (d, d), "contrastive projection")
    return {"n_queries": nq, "dim": d, "context_dim": D, "has_proj": proj is not None}


def from_hf_config(hf, scheme):
    """What a transformers or timm config.json says: (values, notes)."""
    out, notes = {}, []
    if not isinstance(hf, dict):
        return out, notes
    if "model_args" in hf or "architecture" in hf:          # timm hub
        ma = hf.get("model_args") or {}
        pc = hf.get("pretrained_cfg") or {}
        if "num_heads" in ma:
            out["num_heads"] = int(ma["num_heads"])
        if "img_size" in ma and isinstance(ma["img_size"], int):
            out["img_size"] = ma["img_size"]
        gp = ma.get("global_pool")
        if gp == "token":
            out["pool"] = "cls"
        elif gp == "avg":
            out["pool"] = "mean"
        elif gp == "map":
            raise ConvertError("config.json: global_pool 'map' (attention pooling) is not supported")
        if "mean" in pc and "std" in pc:
            out["mean"], out["std"] = list(pc["mean"]), list(pc["std"])
        if "interpolation" in pc:
            out["interpolation"] = pc["interpolation"]
        ins = pc.get("input_size")
        if isinstance(ins, list) and len(ins) == 3:
            out["crop"] = int(ins[1])
            out["resize"] = int(math.floor(ins[1] / float(pc.get("crop_pct", 1.0) or 1.0)))
        notes.append("timm config.json: " + ", ".join(sorted(out)) if out else "timm config.json")
        return out, notes
    mt = hf.get("model_type")
    if mt is not None:                                       # transformers
        want = {"vit": "hf-vit", "dinov2": "hf-dinov2",
                "dinov2_with_registers": "hf-dinov2"}.get(mt)
        if want is None:
            raise ConvertError(f"config.json: model_type '{mt}' is not a ViT or DINOv2 model")
        if want != scheme:
            raise ConvertError(f"config.json says model_type '{mt}' but the tensors are "
                               f"named as {scheme}")
        if "num_attention_heads" in hf:
            out["num_heads"] = int(hf["num_attention_heads"])
        if "layer_norm_eps" in hf:
            out["ln_eps"] = float(hf["layer_norm_eps"])
        if isinstance(hf.get("image_size"), int):
            out["img_size"] = hf["image_size"]
        act = hf.get("hidden_act", "gelu")
        if act != "gelu" and not hf.get("use_swiglu_ffn"):
            raise ConvertError(f"config.json: hidden_act '{act}' is not supported (gelu only)")
        notes.append("transformers config.json: " + ", ".join(sorted(out)))
    return out, notes


DEFAULT_EPS = {"timm": 1e-6, "dinov2": 1e-6, "open_clip-coca": 1e-6,
               "hf-vit": 1e-12, "hf-dinov2": 1e-6}
# How embed resamples the position embedding for other sizes.
POS_INTERP = {"timm": "timm", "open_clip-coca": "timm", "dinov2": "dinov2",
              "hf-vit": "hf", "hf-dinov2": "hf"}

POOLS = ("cls", "mean", "cls+mean", "pooled", "projected")
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


def assemble(name, scheme, shapes, layers, notes):
    """The configuration embed reads (the keys embed(1) accepts, no
    others). layers: dicts lowest priority first (defaults, preset, base
    metadata, config.json, options); shapes win over all."""
    val = {}
    for layer in layers:
        for k, x in layer.items():
            if x is not None:
                val[k] = x
    D = shapes["embed_dim"]
    heads = val.get("num_heads")
    if heads is None:
        raise ConvertError("the number of attention heads cannot be told from the weights: "
                           "give --num-heads or --preset")
    if heads <= 0 or D % heads:
        raise ConvertError(f"{heads} heads do not divide the width {D}")
    pool = val.get("pool") or ("pooled" if scheme == "open_clip-coca" else "cls")
    if pool not in POOLS:
        raise ConvertError(f"pool '{pool}' is not one of " + ", ".join(POOLS))
    if pool in ("pooled", "projected") and scheme != "open_clip-coca":
        raise ConvertError(f"pool '{pool}' needs the CoCa attentional pooler (open_clip-coca)")
    if pool in ("cls", "cls+mean") and not shapes["class_token"]:
        raise ConvertError(f"pool '{pool}' needs a class token; the model has none")
    for k in ("mean", "std"):
        x = val[k]
        if len(x) != 3 or not all(isinstance(a, (int, float)) for a in x):
            raise ConvertError(f"{k} must be 3 numbers")
        if k == "std" and any(a <= 0 for a in x):
            raise ConvertError("std must be positive")
    P = shapes["patch_size"]
    img = int(val.get("img_size") or shapes["native_size"])
    if img <= 0 or img % P:
        raise ConvertError(f"image size {img} is not a positive multiple of the patch size {P}")
    crop = int(val.get("crop") or img)
    resize = int(val["resize"]) if val.get("resize") is not None else crop
    if crop <= 0 or crop % P or resize < 0 or (resize and resize < crop):
        raise ConvertError(f"crop {crop} must be a positive multiple of the patch size {P} "
                           f"and resize {resize} 0 (none) or at least crop")
    if crop != shapes["native_size"]:
        notes.append(f"input {crop} px: embed resamples the "
                     f"{shapes['native_size'] // P}x{shapes['native_size'] // P} position "
                     f"grid to {crop // P}x{crop // P}")
    interp = val.get("interpolation", "bicubic")
    if interp not in INTERPOLATIONS:
        raise ConvertError(f"interpolation '{interp}' is not one of " + ", ".join(INTERPOLATIONS))
    eps = float(val.get("ln_eps", DEFAULT_EPS[scheme]))
    if not eps > 0:
        raise ConvertError("ln_eps must be positive")
    cfg = {
        "format": FORMAT, "name": name, "scheme": scheme,
        "img_size": img, "patch_size": P, "embed_dim": D,
        "depth": shapes["depth"], "num_heads": heads, "mlp": shapes["mlp"],
        "mlp_hidden": shapes["mlp_hidden"], "reg_tokens": shapes["reg_tokens"],
        "class_token": shapes["class_token"], "no_embed_class": shapes["no_embed_class"],
        "layerscale": shapes["layerscale"], "qkv_bias": shapes["qkv_bias"], "ln_eps": eps,
        "pool": pool,
    }
    if scheme == "open_clip-coca":
        p = shapes["pooler"]
        ph = val.get("pooler_heads")
        if ph is None:
            ph = 8  # CoCaVisionCfg.attn_pooler_heads default (CONCH coca_model.py)
            notes.append("pooler heads: 8, CoCaVisionCfg's default")
        if ph <= 0 or p["dim"] % ph:
            raise ConvertError(f"{ph} pooler heads do not divide the pooler width {p['dim']}")
        cfg["pooler"] = {"n_queries": p["n_queries"], "num_heads": ph}
    cfg.update({"mean": [float(a) for a in val["mean"]], "std": [float(a) for a in val["std"]],
                "resize": resize, "crop": crop, "interpolation": interp,
                "pos_interp": POS_INTERP[scheme]})
    return cfg


DEFAULTS = {"mean": IMAGENET[0], "std": IMAGENET[1]}
