"""presets.py: what the weights cannot tell about the public pathology
models (heads, LayerNorm eps, pooling, preprocessing), each with where it
comes from. "expect" lists shapes the weights must match, so a preset
applied to the wrong checkpoint is an error, not a silently wrong model.

Preprocessing follows the config keys: resize = shorter side after
torchvision Resize(int) (0: none), crop = centre crop and the model's input
size, interpolation of the resize. Resize((s, s)) of the sources equals
Resize(s) + CenterCrop(s) on the square tiles embed gets.
A Hugging Face config.json / timm hub config.json next to the weights
overrides heads and eps; options override everything.
"""

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
OPENAI_CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])
KAIKO = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
HOPTIMUS = ([0.707223, 0.578729, 0.703617], [0.211883, 0.230117, 0.177517])


def _p(scheme, heads, eps, pool, norm, resize, crop, interp, expect, **extra):
    d = {"scheme": scheme, "num_heads": heads, "ln_eps": eps, "pool": pool,
         "mean": norm[0], "std": norm[1], "resize": resize, "crop": crop,
         "interpolation": interp, "expect": expect}
    d.update(extra)
    return d


PRESETS = {
    # MahmoodLab/UNI: uni/get_encoder/get_encoder.py (github mahmoodlab/UNI):
    # timm vit_large_patch16_224, img_size 224, patch 16, init_values 1e-5
    # (LayerScale), num_classes 0 (global_pool 'token': the CLS token);
    # get_eval_transforms: Resize(224) + CenterCrop(224) (center_crop=True
    # default), torchvision's default bilinear, ImageNet mean/std. eps: timm's
    # ViT LayerNorm default (1e-6). Heads 16: timm vit_large definition.
    "uni": _p("timm", 16, 1e-6, "cls", IMAGENET, 224, 224, "bilinear",
              {"embed_dim": 1024, "depth": 24, "patch_size": 16, "reg_tokens": 0}),
    # MahmoodLab/UNI2-h: README of github mahmoodlab/UNI (timm_kwargs:
    # vit_giant_patch14_224, depth 24, num_heads 24, embed_dim 1536,
    # mlp_ratio 2.66667*2 with SwiGLUPacked/SiLU, init_values 1e-5,
    # reg_tokens 8, no_embed_class True); transform Resize(224) +
    # CenterCrop(224), ImageNet mean/std; "evaluated using the global
    # representation (e.g. CLS token)".
    "uni2-h": _p("timm", 24, 1e-6, "cls", IMAGENET, 224, 224, "bilinear",
                 {"embed_dim": 1536, "depth": 24, "patch_size": 14, "reg_tokens": 8}),
    # owkin/phikon: HF ViTModel ViT-B/16, embedding last_hidden_state[:, 0]
    # (model card usage, also TRIDENT PhikonInferenceEncoder). Preprocessing
    # as TRIDENT: Resize((224, 224)) bilinear, ImageNet mean/std; owkin's own
    # preprocessor_config.json NOT confirmed. eps 1e-12 is transformers'
    # ViTConfig default, NOT confirmed for phikon: the config.json in the
    # downloaded folder overrides it.
    "phikon": _p("hf-vit", 12, 1e-12, "cls", IMAGENET, 224, 224, "bilinear",
                 {"embed_dim": 768, "depth": 12, "patch_size": 16}),
    # owkin/phikon-v2: HF Dinov2Model ViT-L/16, last_hidden_state[:, 0]
    # (TRIDENT Phikonv2InferenceEncoder): Resize(224) + CenterCrop(224),
    # ImageNet mean/std; owkin's preprocessor_config.json NOT confirmed.
    # eps 1e-6: Dinov2Config default (config.json overrides).
    "phikon-v2": _p("hf-dinov2", 16, 1e-6, "cls", IMAGENET, 224, 224, "bilinear",
                    {"embed_dim": 1024, "depth": 24, "patch_size": 16}),
    # MahmoodLab/CONCH: github mahmoodlab/CONCH
    # open_clip_custom/model_configs/conch_ViT-B-16.json (vision image_size
    # 448, patch 16, attn_pooler_heads 8, n_queries_contrast 1, embed_dim 512),
    # coca_model.py (timm VisionTransformer width 768, 12 layers, 12 heads),
    # vision_tower.py (attn_pool_contrast -> ln_contrast [-> proj_contrast]),
    # transform.py (Resize(448, BICUBIC) + CenterCrop(448)), factory.py (mean/std
    # OPENAI_DATASET_MEAN/STD). Pool "pooled" without proj_contrast, as
    # encode_image(proj_contrast=False, normalize=False) that CLAM / TRIDENT
    # use for features. Pooler LayerNorms are torch's default eps 1e-5
    # (transformer.py LayerNorm, nn.LayerNorm); the trunk's are timm's 1e-6.
    "conch": _p("open_clip-coca", 12, 1e-6, "pooled", OPENAI_CLIP, 448, 448, "bicubic",
                {"embed_dim": 768, "depth": 12, "patch_size": 16},
                pooler_heads=8, pooler_ln_eps=1e-5),
    # paige-ai/Virchow: model card (timm hf-hub, SwiGLUPacked + SiLU,
    # embedding = concat(class token, mean of patch tokens)) and its
    # config.json (vit_huge_patch14_224, mlp_ratio 5.3375, init_values 1e-5,
    # pretrained_cfg: bicubic, crop_pct 1.0, ImageNet mean/std), as copied in
    # public code. Heads 16: model card ("Attention heads: 16").
    "virchow": _p("timm", 16, 1e-6, "cls+mean", IMAGENET, 224, 224, "bicubic",
                  {"embed_dim": 1280, "depth": 32, "patch_size": 14, "reg_tokens": 0}),
    # paige-ai/Virchow2: config.json (vit_huge_patch14_224, reg_tokens 4,
    # mlp_ratio 5.3375, init_values 1e-5, bicubic, crop_pct 1.0, ImageNet),
    # model card: concat(class token, mean of tokens 5:) (patch tokens only).
    "virchow2": _p("timm", 16, 1e-6, "cls+mean", IMAGENET, 224, 224, "bicubic",
                   {"embed_dim": 1280, "depth": 32, "patch_size": 14, "reg_tokens": 4}),
    # prov-gigapath/prov-gigapath: config.json model_args (vit_giant_patch14_dinov2
    # with patch_size 16, embed_dim 1536, depth 40, num_heads 24, init_values
    # 1e-5, mlp_ratio 5.33334), timm global_pool 'token' (CLS); transform from
    # the prov-gigapath README / TRIDENT: Resize(256, BICUBIC) + CenterCrop(224),
    # ImageNet mean/std.
    "prov-gigapath": _p("timm", 24, 1e-6, "cls", IMAGENET, 256, 224, "bicubic",
                        {"embed_dim": 1536, "depth": 40, "patch_size": 16, "reg_tokens": 0}),
    # bioptimus/H-optimus-0: bioptimus releases README (patch 14, embed 1536,
    # depth 40, heads 24, init_values 1e-5, mlp_ratio 5.33334 GluMlp SiLU
    # gate_last=False (= SwiGLUPacked), reg_tokens 4, no_embed_class True,
    # img_size 224; transform ToTensor + Normalize(0.707223, 0.578729,
    # 0.703617 / 0.211883, 0.230117, 0.177517); "expects images of size
    # 224x224 extracted at 0.5 microns per pixel": no resize (resize 0; a
    # larger tile is centre-cropped; TRIDENT resizes to 224 instead), so
    # the interpolation is unused and NOT specified by bioptimus (bicubic
    # written). Output: timm 'token' (CLS).
    "h-optimus-0": _p("timm", 24, 1e-6, "cls", HOPTIMUS, 0, 224, "bicubic",
                      {"embed_dim": 1536, "depth": 40, "patch_size": 14, "reg_tokens": 4}),
    # bioptimus/H-optimus-1: HF model card (timm hf-hub:bioptimus/H-optimus-1,
    # init_values 1e-5, same Normalize constants, 224x224 at 0.5 mpp); TRIDENT
    # builds it as vit_giant_patch14_reg4_dinov2 like H-optimus-0. Heads 24
    # from that timm definition; NOT confirmed from bioptimus' own config.
    "h-optimus-1": _p("timm", 24, 1e-6, "cls", HOPTIMUS, 0, 224, "bicubic",
                      {"embed_dim": 1536, "depth": 40, "patch_size": 14, "reg_tokens": 4}),
    # kaiko-ai towards_large_pathology_fms, timm ports 1aurent/<arch>.kaiko_ai_
    # towards_large_pathology_fms (as loaded by TRIDENT KaikoInferenceEncoder):
    # vit_small_patch16_224 / vit_small_patch8_224 / vit_base_patch16_224 /
    # vit_base_patch8_224 / vit_large_patch14_reg4_dinov2 (built at 518, run at
    # 224); Resize((224, 224)) + CenterCrop(224) bilinear, mean/std 0.5.
    # Output model(x) with num_classes=0: the CLS token under the ports'
    # global_pool; kaiko's own recommended pooling NOT confirmed.
    "kaiko-vits16": _p("timm", 6, 1e-6, "cls", KAIKO, 224, 224, "bilinear",
                       {"embed_dim": 384, "depth": 12, "patch_size": 16}),
    "kaiko-vits8": _p("timm", 6, 1e-6, "cls", KAIKO, 224, 224, "bilinear",
                      {"embed_dim": 384, "depth": 12, "patch_size": 8}),
    "kaiko-vitb16": _p("timm", 12, 1e-6, "cls", KAIKO, 224, 224, "bilinear",
                       {"embed_dim": 768, "depth": 12, "patch_size": 16}),
    "kaiko-vitb8": _p("timm", 12, 1e-6, "cls", KAIKO, 224, 224, "bilinear",
                      {"embed_dim": 768, "depth": 12, "patch_size": 8}),
    "kaiko-vitl14": _p("timm", 16, 1e-6, "cls", KAIKO, 224, 224, "bilinear",
                       {"embed_dim": 1024, "depth": 24, "patch_size": 14, "reg_tokens": 4}),
    # kaiko-ai/midnight: HF Dinov2Model ViT-g/14 (TRIDENT
    # Midnight12kInferenceEncoder: Resize(224) + CenterCrop(224), mean/std 0.5);
    # cls+mean = concat(CLS, mean of patch tokens), the classification
    # embedding of the Midnight model card (TRIDENT's "cls+mean"). Heads 24 is
    # the DINOv2 ViT-g/14 value; eps from its config.json.
    "midnight": _p("hf-dinov2", 24, 1e-6, "cls+mean", KAIKO, 224, 224, "bilinear",
                   {"embed_dim": 1536, "depth": 40, "patch_size": 14}),
    # GPFM (github birkhoffkiki/GPFM models/dinov2/__init__.py): DINOv2
    # vit_large, img_size 224, patch 14, init_values 1e-5, ffn 'mlp',
    # block_chunks 4, qkv_bias; checkpoint ['teacher'] with 'backbone.'
    # names; build_transform: Resize((224, 224), interpolation=3 = bicubic),
    # ImageNet mean/std; DINOv2's eval output is the normed CLS token.
    "gpfm": _p("dinov2", 16, 1e-6, "cls", IMAGENET, 224, 224, "bicubic",
               {"embed_dim": 1024, "depth": 24, "patch_size": 14, "reg_tokens": 0}),
}

# Where to get each checkpoint (for --list-presets; details in the man page).
SOURCES = {
    "uni": "hf MahmoodLab/UNI pytorch_model.bin (gated)",
    "uni2-h": "hf MahmoodLab/UNI2-h pytorch_model.bin (gated)",
    "phikon": "hf owkin/phikon (folder)",
    "phikon-v2": "hf owkin/phikon-v2 (folder)",
    "conch": "hf MahmoodLab/CONCH pytorch_model.bin (gated)",
    "virchow": "hf paige-ai/Virchow pytorch_model.bin (gated)",
    "virchow2": "hf paige-ai/Virchow2 pytorch_model.bin (gated)",
    "prov-gigapath": "hf prov-gigapath/prov-gigapath pytorch_model.bin (gated)",
    "h-optimus-0": "hf bioptimus/H-optimus-0 pytorch_model.bin (gated)",
    "h-optimus-1": "hf bioptimus/H-optimus-1 pytorch_model.bin (gated)",
    "kaiko-vits16": "hf 1aurent/vit_small_patch16_224.kaiko_ai_towards_large_pathology_fms",
    "kaiko-vits8": "hf 1aurent/vit_small_patch8_224.kaiko_ai_towards_large_pathology_fms",
    "kaiko-vitb16": "hf 1aurent/vit_base_patch16_224.kaiko_ai_towards_large_pathology_fms",
    "kaiko-vitb8": "hf 1aurent/vit_base_patch8_224.kaiko_ai_towards_large_pathology_fms",
    "kaiko-vitl14": "hf 1aurent/vit_large_patch14_reg4_dinov2.kaiko_ai_towards_large_pathology_fms",
    "midnight": "hf kaiko-ai/midnight (folder)",
    "gpfm": "github birkhoffkiki/GPFM release GPFM.pth ({'teacher': ...})",
}
