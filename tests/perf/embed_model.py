"""embed_model.py OUT.safetensors: a ViT-B/16 (timm vit_base_patch16_224
shapes, random weights, fixed seed) with its pathfm configuration, for
tests/perf/embed.sh."""
import json
import sys
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

torch.manual_seed(0)
m = VisionTransformer(img_size=224, patch_size=16, embed_dim=768, depth=12,
                      num_heads=12, num_classes=0)
sd = {k: v.contiguous() for k, v in m.state_dict().items()}
save_file(sd, sys.argv[1], metadata={"pathfm": json.dumps(
    {"name": "vitb16", "num_heads": 12})})
