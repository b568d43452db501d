"""schemes.py: the tensor naming schemes embed loads, how to tell them
apart, which names each keeps and which it drops (with the reason).

Names are never renamed into another scheme: wrappers and prefixes are
stripped, heads and training-only tensors dropped, and anything else that
is not a known image-encoder tensor is refused (unless --drop matches it).
"""
import fnmatch
import re

from .errors import ConvertError

SCHEMES = ("timm", "hf-vit", "hf-dinov2", "dinov2", "open_clip-coca")

_N = r"\d+"
_WB = r"\.(weight|bias)"

# timm VisionTransformer (timm/models/vision_transformer.py: Block, Attention,
# Mlp / SwiGLUPacked, LayerScale). q_norm/k_norm, attn_pool (global_pool
# 'map') and other variants are not supported and so refused.
TIMM_KEEP = [
    r"cls_token", r"reg_token", r"pos_embed", r"patch_embed\.proj" + _WB,
    rf"blocks\.{_N}\.(norm1|norm2)" + _WB,
    rf"blocks\.{_N}\.attn\.(qkv|proj)" + _WB,
    rf"blocks\.{_N}\.ls[12]\.gamma",
    rf"blocks\.{_N}\.mlp\.(fc1|fc2)" + _WB,
    r"norm" + _WB, r"fc_norm" + _WB,
]
TIMM_DROP = [(r"head" + _WB, "classifier head")]

# facebookresearch/dinov2 dinov2/models/vision_transformer.py: blocks are
# blocks.N or, with block_chunks > 0, blocks.C.N (N global); ffn 'mlp'
# (fc1/fc2) or SwiGLUFFNFused (w12/w3).
DINOV2_KEEP = [
    r"cls_token", r"register_tokens", r"pos_embed", r"patch_embed\.proj" + _WB,
    rf"blocks\.({_N}\.)?{_N}\.(norm1|norm2)" + _WB,
    rf"blocks\.({_N}\.)?{_N}\.attn\.(qkv|proj)" + _WB,
    rf"blocks\.({_N}\.)?{_N}\.ls[12]\.gamma",
    rf"blocks\.({_N}\.)?{_N}\.mlp\.(fc1|fc2|w12|w3)" + _WB,
    r"norm" + _WB,
]
DINOV2_DROP = [(r"mask_token", "masked-image-modelling token (training only)"),
               (r"head" + _WB, "classifier head")]

# transformers models/vit/modeling_vit.py (ViTModel, ViTForImageClassification)
HF_VIT_KEEP = [
    r"embeddings\.(cls_token|position_embeddings)",
    r"embeddings\.patch_embeddings\.projection" + _WB,
    rf"encoder\.layer\.{_N}\.(layernorm_before|layernorm_after)" + _WB,
    rf"encoder\.layer\.{_N}\.attention\.attention\.(query|key|value)" + _WB,
    rf"encoder\.layer\.{_N}\.attention\.output\.dense" + _WB,
    rf"encoder\.layer\.{_N}\.(intermediate|output)\.dense" + _WB,
    r"layernorm" + _WB,
]
HF_VIT_DROP = [(r"embeddings\.mask_token", "masked-image-modelling token (training only)"),
               (r"pooler\.dense" + _WB, "ViTModel pooler (tanh head, not the CLS token)"),
               (r"classifier" + _WB, "classifier head")]

# transformers models/dinov2/modeling_dinov2.py (Dinov2Model) and
# dinov2_with_registers (embeddings.register_tokens).
HF_DINOV2_KEEP = [
    r"embeddings\.(cls_token|register_tokens|position_embeddings)",
    r"embeddings\.patch_embeddings\.projection" + _WB,
    rf"encoder\.layer\.{_N}\.(norm1|norm2)" + _WB,
    rf"encoder\.layer\.{_N}\.attention\.attention\.(query|key|value)" + _WB,
    rf"encoder\.layer\.{_N}\.attention\.output\.dense" + _WB,
    rf"encoder\.layer\.{_N}\.layer_scale[12]\.lambda1",
    rf"encoder\.layer\.{_N}\.mlp\.(fc1|fc2|weights_in|weights_out)" + _WB,
    r"layernorm" + _WB,
]
HF_DINOV2_DROP = [(r"embeddings\.mask_token", "masked-image-modelling token (training only)"),
                  (r"classifier" + _WB, "classifier head")]

# CONCH conch/open_clip_custom/vision_tower.py VisualModel: a timm trunk,
# AttentionalPooler attn_pool_contrast (nn.MultiheadAttention with
# kdim=vdim=trunk width: q/k/v_proj_weight when the widths differ, as in
# CONCH, in_proj_weight when equal), ln_contrast, proj_contrast.
COCA_KEEP = ["trunk\\." + p for p in TIMM_KEEP] + [
    r"attn_pool_contrast\.query",
    r"attn_pool_contrast\.attn\.(in_proj_weight|q_proj_weight|k_proj_weight|v_proj_weight|in_proj_bias)",
    r"attn_pool_contrast\.attn\.out_proj" + _WB,
    r"attn_pool_contrast\.(ln_q|ln_k)" + _WB,
    r"ln_contrast" + _WB, r"proj_contrast",
]
COCA_DROP = [(r"attn_pool_caption\..*", "captioning pooler (text decoder input)"),
             (r"ln_caption" + _WB, "captioning pooler norm"),
             (r"trunk\.head" + _WB, "trunk classifier head"),
             (r"head\..*", "projection head unused with attentional pooling")]

RULES = {
    "timm": (TIMM_KEEP, TIMM_DROP),
    "dinov2": (DINOV2_KEEP, DINOV2_DROP),
    "hf-vit": (HF_VIT_KEEP, HF_VIT_DROP),
    "hf-dinov2": (HF_DINOV2_KEEP, HF_DINOV2_DROP),
    "open_clip-coca": (COCA_KEEP, COCA_DROP),
}

# Prefixes stripped when every name has them, except names that are
# dropped as the parts of the checkpoint around the image encoder.
PREFIXES = [
    ("module.", []), ("_orig_mod.", []), ("model.", []),
    ("backbone.", [(r"dino_head\..*", "DINO projection head (training only)"),
                   (r"ibot_head\..*", "iBOT projection head (training only)"),
                   (r"head\..*", "head outside the backbone")]),
    ("visual.", [(r"text\..*", "CoCa text tower"),
                 (r"text_decoder\..*", "CoCa multimodal text decoder"),
                 (r"(transformer|token_embedding|ln_final)\..*", "CLIP text tower"),
                 (r"(positional_embedding|text_projection|logit_scale|logit_bias)",
                  "CLIP text tower / contrastive temperature")]),
    ("vit.", [(r"classifier" + _WB, "classifier head")]),
    ("dinov2.", [(r"classifier" + _WB, "classifier head")]),
]


def _full(pattern, name):
    return re.fullmatch(pattern, name) is not None


def strip_wrappers(tensors, dropped, key=None):
    """Strip teacher./student. and the PREFIXES; dropped gets (name, why)."""
    names = list(tensors)
    tops = {n.split(".", 1)[0] for n in names}
    if tops <= {"teacher", "student"} and all("." in n for n in names):
        want = key if key in ("teacher", "student") else "teacher"
        if want not in tops:
            raise ConvertError(f"the checkpoint has no '{want}.' tensors")
        out = {}
        for n, t in tensors.items():
            head, rest = n.split(".", 1)
            if head == want:
                out[rest] = t
            else:
                dropped.append((n, f"{head} network (using {want})"))
        tensors = out
    changed = True
    while changed:
        changed = False
        for prefix, outside in PREFIXES:
            inside = [n for n in tensors if n.startswith(prefix)]
            if not inside:
                continue
            rest = [n for n in tensors if not n.startswith(prefix)]
            why = {}
            for n in rest:
                for pat, reason in outside:
                    if _full(pat, n):
                        why[n] = reason
                        break
            if len(why) != len(rest):
                continue
            for n in rest:
                dropped.append((n, why[n]))
            tensors = {n[len(prefix):]: tensors[n] for n in inside}
            changed = True
    return tensors


def detect(names):
    s = set(names)
    if any(n.startswith("trunk.patch_embed.") for n in s):
        return "open_clip-coca"
    if "embeddings.patch_embeddings.projection.weight" in s:
        if any(re.fullmatch(r"encoder\.layer\.\d+\.layernorm_before\.weight", n) for n in s):
            return "hf-vit"
        return "hf-dinov2"
    if "patch_embed.proj.weight" in s:
        if ("register_tokens" in s or "mask_token" in s
                or any(re.fullmatch(r"blocks\.\d+\.\d+\..*", n) for n in s)
                or any(re.fullmatch(r"blocks\.\d+\.mlp\.w12\.weight", n) for n in s)):
            return "dinov2"
        return "timm"
    raise ConvertError("cannot tell the naming scheme: no patch embedding "
                       "('patch_embed.proj.weight', 'trunk.patch_embed.proj.weight' "
                       "or 'embeddings.patch_embeddings.projection.weight'); "
                       "give --scheme")


def select(tensors, scheme, drop_patterns, dropped):
    """Keep the scheme's names; drop known ones and --drop matches; refuse
    the rest."""
    keep, drop = RULES[scheme]
    out, unknown = {}, []
    for n in sorted(tensors):
        if any(_full(p, n) for p in keep):
            user = [p for p in drop_patterns if fnmatch.fnmatchcase(n, p)]
            if user:
                dropped.append((n, f"--drop {user[0]}"))
            else:
                out[n] = tensors[n]
            continue
        reason = next((r for p, r in drop if _full(p, n)), None)
        if reason is None:
            user = [p for p in drop_patterns if fnmatch.fnmatchcase(n, p)]
            if user:
                reason = f"--drop {user[0]}"
        if reason is None:
            unknown.append(n)
        else:
            dropped.append((n, reason))
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ConvertError(f"tensor '{unknown[0]}'{more} is not part of a {scheme} image "
                           f"encoder that embed can run; drop it with --drop PATTERN "
                           f"if it is not needed (e.g. --drop '{unknown[0]}')")
    return out
