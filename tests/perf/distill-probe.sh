#!/bin/sh
# distill-step on real tiles, one CPU run of at most ~10 minutes: a
# ViT-Tiny/16 student learns by DINOv2 self-distillation (DINO, iBOT,
# KoLeo; no expert: no pretrained pathology model ships with the
# repository, and distilling a random one would teach nothing) from
# random tiles of the two shipped H&E slides at 0.5 and 1 um/px. Then its
# teacher embeds held-out grid tiles, as does the same model at its
# random initialisation (the run's step 0, --lr 0), and
# tests/perf/distill_probe.py probes both (which slide; which resolution).
# Prints the loss at the start and at the end and the probe table.
# Usage: sh tests/perf/distill-probe.sh [STEPS] [THREADS]  (after make)
set -eu
STEPS=${1:-120}
J=${2:-2}
P=build/perf/distill-probe
mkdir -p $P
PY=.venv/bin/python
SLIDES="tests/data/CMU-1-Small-Region.svs tests/data/TCGA-CR-7395-01A-01-TS1.svs"
B=32
# training tiles: random over tissue, 0.5 and 1 um/px (the TCGA frozen
# section says no resolution: 20x, as the demo assumes)
bin/wsi-tile -q -m random --mpp 0.5,1 --size 224 -n $((STEPS * B / 2 + B)) \
	--seed 1 --assume-mag 20 -e rgb8 $SLIDES > $P/train.mpk
# probe tiles: the grid at half-tile stride, both resolutions
for m in 0.5 1; do
	bin/wsi-tile -q --mpp $m --size 224 --stride 112 --assume-mag 20 $SLIDES
done | bin/frame-cat -q -F > $P/probe.mpk
O="--arch vit-ti --global-size 112 --local-size 48 --local-crops 6 -b $B
   --prototypes 4096 --drop-path 0.1 --steps $STEPS -j $J --seed 3"
echo "machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%F)"
# the model at its initialisation: one step with learning rate 0 leaves
# student and teacher as initialised
bin/frame-cat -q -F -n $B $P/train.mpk |
	bin/distill-step $O --lr 0 -q -o /dev/null -s $P/init.safetensors
t0=$(date +%s)
bin/distill-step $O -q -i $P/train.mpk -o $P/metrics.mpk -s $P/run.safetensors
t1=$(date +%s)
bin/frame-cat $P/metrics.mpk | jq -c '[.step, .values.loss]' > $P/loss.txt
echo "training: $STEPS steps of $B tiles, $((t1 - t0)) s"
awk '{ l[NR] = substr($0, index($0, ",") + 1) + 0 }
     END { for (i = 1; i <= 10; i++) { a += l[i]; b += l[NR - 10 + i] }
           printf "loss: mean of steps 1-10 %.4f, of the last 10 %.4f\n", a / 10, b / 10 }' $P/loss.txt
for m in init run; do
	bin/embed -q -m $P/$m-teacher.safetensors --as t -j $J -i $P/probe.mpk |
		bin/frame-cat --full | $PY tests/perf/distill_probe.py t > $P/$m.probe
done
echo "task        train test | random init: linear knn | trained teacher: linear knn"
paste $P/init.probe $P/run.probe | awk '{ printf "%-11s %5d %4d |              %.3f %.3f |                  %.3f %.3f\n", $1, $2, $3, $4, $5, $9, $10 }'
