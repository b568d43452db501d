#!/bin/sh
# distill-step benchmark, one run side by side: samples/s of one full
# training step -- teacher forward, student forward and backward over 2
# global (224 px) and 8 local (96 px) crops a tile, DINO head (65536
# prototypes), DINO/iBOT/KoLeo losses, one expert (width 1024, class and
# patch token losses), clipping, AdamW, EMA -- for ViT-Ti/16 and
# ViT-S/16, batch 16 tiles, fp32, no drop-path: distill-step against the
# same step in PyTorch (tests/perf/distill_torch.py, random crops), with
# the same thread count (torch.set_num_threads, OMP_WAIT_POLICY=PASSIVE).
# distill-step's step time is the sum of its metric frames' phase times
# (the model's work, as torch's); its end-to-end rate also counts reading
# the rgb8 tile frames and cropping them. Medians of NSTEPS steps after a
# warm-up step.
# Usage: sh tests/perf/distill-step.sh [NSTEPS] [THREADS]  (after make)
set -eu
NS=${1:-3}
J=${2:-2}
B=16
E=1024
P=build/perf/distill-step
mkdir -p $P
PY=.venv/bin/python
# tiles with a 1024-wide expert's class and patch tokens (a random
# one-block ViT-L/16-wide stand-in: the expert's cost is embed's, not the
# step's)
if [ ! -f $P/tiles.mpk ]; then
	$PY - $P/expert.safetensors <<'EOF'
import json, sys, torch
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer
torch.manual_seed(0)
m = VisionTransformer(img_size=224, patch_size=16, embed_dim=1024, depth=1,
                      num_heads=16, num_classes=0)
save_file({k: v.contiguous() for k, v in m.state_dict().items()
           if not k.startswith("head")}, sys.argv[1],
          metadata={"pathfm": json.dumps({"num_heads": 16})})
EOF
	n=$(( (NS + 1) * B ))
	imgs=""
	i=0
	while [ $i -lt $(( (n + 15) / 16 )) ]; do imgs="$imgs tests/data/he-1024-a.png"; i=$((i + 1)); done
	bin/wsi-tile -q --no-mask --assume-mpp 0.5 --size 224 --stride 200 -e rgb8 $imgs |
		bin/frame-cat -q -n $n -F |
		bin/embed -q -m $P/expert.safetensors --as uni --tokens --keep-pixels -j $J > $P/tiles.mpk
fi
med() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%F)"
echo "batch $B tiles (32 global 224 px + 128 local 96 px crops), 65536 prototypes, one expert of width $E, -j $J"
for arch in vit-ti vit-s; do
	bin/distill-step -q --arch $arch -b $B --steps $((NS + 1)) --drop-path 0 \
		-e uni:1.0:0.25 -j $J -i $P/tiles.mpk -o $P/$arch.mpk
	bin/frame-cat $P/$arch.mpk | jq -r 'select(.step > 1) | .values |
		"\(.time_teacher + .time_forward + .time_heads + .time_backward + .time_update) \(16 / .samples_per_s)"' > $P/$arch.times
	cs=$(cut -d' ' -f1 $P/$arch.times | med)
	ce=$(cut -d' ' -f2 $P/$arch.times | med)
	ts=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$J OPENBLAS_NUM_THREADS=$J \
		$PY tests/perf/distill_torch.py $arch $B $NS $J $E)
	awk -v a=$arch -v cs=$cs -v ce=$ce -v ts=$ts -v b=$B 'BEGIN {
		printf "%-7s distill-step %.2f s/step = %.2f samples/s (end to end %.2f samples/s); torch %.2f s/step = %.2f samples/s; distill-step/torch %.2fx\n",
			a, cs, b / cs, b / ce, ts, b / ts, ts / cs }'
done
