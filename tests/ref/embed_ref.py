"""embed_ref.py: the whole embed path in PyTorch, for tests/test_embed.sh.

  embed_ref.py make DIR       a timm ViT-S/16-shaped model (3 blocks,
                              random weights) as DIR/s16.safetensors,
                              configured for Resize(256, bicubic) +
                              CenterCrop(224) + ImageNet normalisation
  embed_ref.py check MODEL KIND < frames.jsonl
                              for each tile frame (frame-cat --full of
                              `embed --keep-pixels`): JPEG or rgb8 pixels
                              -> PIL -> torchvision transform -> timm
                              forward_features -> KIND (cls, mean,
                              cls+mean); prints max |diff| / max |ref|
                              over all frames against emb.s16
"""
import base64
import io
import json
import sys
import warnings

warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402
from torchvision import transforms as T  # noqa: E402

CFG = {"name": "s16", "num_heads": 6, "resize": 256, "crop": 224,
       "interpolation": "bicubic", "mean": [0.485, 0.456, 0.406],
       "std": [0.229, 0.224, 0.225]}


def model():
    return VisionTransformer(img_size=224, patch_size=16, embed_dim=384,
                             depth=3, num_heads=6, num_classes=0).eval()


if sys.argv[1] == "make":
    torch.manual_seed(1)
    m = model()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    save_file({k: v.contiguous() for k, v in m.state_dict().items()},
              sys.argv[2] + "/s16.safetensors",
              metadata={"pathfm": json.dumps(CFG)})
    sys.exit(0)

m = model()
m.load_state_dict(load_file(sys.argv[2]))
kind = sys.argv[3]
tf = T.Compose([T.Resize(CFG["resize"], interpolation=T.InterpolationMode.BICUBIC),
                T.CenterCrop(CFG["crop"]), T.ToTensor(),
                T.Normalize(CFG["mean"], CFG["std"])])
worst, n = 0.0, 0
for line in sys.stdin:
    f = json.loads(line)
    if f.get("type") != "tile":
        continue
    px = base64.b64decode(f["pixels"]["$base64"])
    if f["encoding"] == "jpeg":
        img = Image.open(io.BytesIO(px)).convert("RGB")
    else:
        a = np.frombuffer(px, np.uint8).reshape(f["height"], f["width"], 3)
        img = Image.fromarray(a)
    with torch.no_grad():
        tok = m.forward_features(tf(img)[None])[0]
    ref = {"cls": tok[0], "mean": tok[1:].mean(0),
           "cls+mean": torch.cat([tok[0], tok[1:].mean(0)])}[kind]
    e = f["emb"]["s16"]
    got = np.frombuffer(base64.b64decode(e["data"]["$base64"]),
                        np.float16 if e["dtype"] == "f16" else np.float32)
    got = torch.from_numpy(got.astype(np.float32))
    worst = max(worst, float((got - ref).abs().max() / ref.abs().max()))
    n += 1
print("%d %.3e" % (n, worst))
