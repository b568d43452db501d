"""embed_torch.py MODEL.safetensors THREADS BATCH NBATCH [fp32]: the PyTorch
side of tests/perf/embed.sh: the same ViT-B/16 weights in timm 1.0.11,
fp32 (and bf16 autocast), inference mode, on random input; prints
'fp32 IMG_PER_S IMG_PER_CPU_S' and the same for bf16: images per second
of wall time and per second of this process's CPU time (all its threads),
medians over the batches after a warm-up batch; fp32 alone when asked."""
import json
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

path, threads, batch, nb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
m = VisionTransformer(img_size=224, patch_size=16, embed_dim=768, depth=12,
                      num_heads=12, num_classes=0).eval()
m.load_state_dict(load_file(path))
x = torch.randn(batch, 3, 224, 224)


def rate(ctx):
    ts, cs = [], []
    with torch.inference_mode(), ctx():
        m(x)
        for _ in range(nb):
            t, c = time.perf_counter(), time.process_time()
            m(x)
            ts.append(time.perf_counter() - t)
            cs.append(time.process_time() - c)
    return "%.3f %.3f" % (batch / statistics.median(ts), batch / statistics.median(cs))


import contextlib  # noqa: E402
print("fp32", rate(contextlib.nullcontext))
if sys.argv[5:] != ["fp32"]:
    print("bf16", rate(lambda: torch.autocast("cpu", dtype=torch.bfloat16)))
