#!/bin/sh
# embed benchmark, one run side by side: ViT-B/16 at 224 px, batch 16,
# fp32, 1 and 2 threads: embed (rgb8 tile frames in, embeddings out,
# model loading, decode and preprocessing included) vs the same weights
# in PyTorch/timm as a user runs it (torch.set_num_threads,
# OMP_WAIT_POLICY=PASSIVE, random input already normalised: the model
# alone, timed per batch after a warm-up), the same in bf16 (embed
# --precision bf16 vs torch.autocast bf16), and the GEMM ceilings on the
# model's shapes (tests/perf/sgemm.c: OpenBLAS sgemm; oneDNN's matmul in
# fp32 and bf16, what embed runs when built with oneDNN). Medians; beside
# images per second of wall time, images per second of CPU time (user +
# sys, all threads), which other jobs on a shared machine disturb less.
# OpenBLAS 0.3.21 picks its AVX2 (Haswell) sgemm on this AVX-512 CPU:
# torch fp32 is also timed with OPENBLAS_CORETYPE=SkylakeX, the knob a user
# would have to know of (embed's GEMMs do not go through OpenBLAS).
# Usage: sh tests/perf/embed.sh [NBATCH [TORCH_NBATCH]]   (after make and
# make deps): embed runs NBATCH batches of 16 tiles (default 16: 256
# tiles, so the start-up, ~0.4 s, weighs as little as it does for a user
# embedding a slide's tiles), PyTorch TORCH_NBATCH timed batches (4).
set -eu
NB=${1:-16}
TNB=${2:-4}
B=16
P=build/perf
mkdir -p $P
CC=${CC:-cc}
DNNL=""
[ -f /usr/include/oneapi/dnnl/dnnl.h ] && DNNL="-DPFM_DNNL -ldnnl -lgomp"
$CC -O2 -std=c11 -D_GNU_SOURCE tests/perf/sgemm.c \
	$(pkg-config --cflags --libs openblas) $DNNL -o $P/sgemm
PY=.venv/bin/python
M=$P/vitb16.safetensors
[ -f $M ] || $PY tests/perf/embed_model.py $M
# NB*B tiles of 224^2 rgb8 from the shipped H&E patch
n=$((NB * B))
T=$P/embed-tiles.mpk
imgs=""
i=0
while [ $i -lt $(( (n + 15) / 16 )) ]; do imgs="$imgs tests/data/he-1024-a.png"; i=$((i + 1)); done
bin/wsi-tile -q --no-mask --assume-mpp 0.5 --size 224 --stride 200 -e rgb8 $imgs |
	bin/frame-cat -q -n $n -F > $T
now() { date +%s.%N; }
echo "machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(date -u +%F)"
echo "ViT-B/16 @224, batch $B, $n images per run; 35.1 GFLOP/image"
GF=35.13
# rate ARGS...: images per second of wall time and per second of CPU
# time (user + sys, all threads) of one embed run over the tiles
rate() {
	t0=$(now)
	/usr/bin/time -f '%U %S' -o $P/cpu bin/embed -q -m $M -b $B -i $T "$@" > /dev/null
	t1=$(now)
	awk -v a=$t0 -v c=$t1 -v n=$n '{ print n / (c - a), n / ($1 + $2) }' $P/cpu
}
# med COLUMN: the median of three rounds
med() { awk -v k=$1 '{ print $k }' | sort -g | sed -n 2p; }
for j in 1 2; do
	# the cases interleaved, three rounds, so a busy spell on this shared
	# machine hits them alike; medians
	: > $P/e32 ; : > $P/e16 ; : > $P/t32 ; : > $P/t16 ; : > $P/sg ; : > $P/tx
	for k in 1 2 3; do
		$P/sgemm $j >> $P/sg
		rate -j $j >> $P/e32
		rate -j $j --precision bf16 >> $P/e16
		OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$j OPENBLAS_NUM_THREADS=$j \
			$PY tests/perf/embed_torch.py $M $j $B $TNB > $P/tt
		awk '/fp32/ { print $2, $3 }' $P/tt >> $P/t32
		awk '/bf16/ { print $2, $3 }' $P/tt >> $P/t16
		OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$j \
			OPENBLAS_NUM_THREADS=$j \
			$PY tests/perf/embed_torch.py $M $j $B $TNB fp32 > $P/tt
		awk '/fp32/ { print $2, $3 }' $P/tt >> $P/tx
	done
	sg() { awk -v k=$1 '$1 == k { print $2 }' $P/sg | med 1; }
	ob=$(sg openblas); of=$(sg onednn-f32); obf=$(sg onednn-bf16)
	awk -v j=$j -v e=$(med 1 < $P/e32) -v eb=$(med 1 < $P/e16) \
	    -v tf=$(med 1 < $P/t32) -v tb=$(med 1 < $P/t16) \
	    -v ec=$(med 2 < $P/e32) -v ebc=$(med 2 < $P/e16) \
	    -v tfc=$(med 2 < $P/t32) -v tbc=$(med 2 < $P/t16) -v tx=$(med 1 < $P/tx) \
	    -v ob=$ob -v of=${of:-0} -v obf=${obf:-0} -v gf=$GF 'BEGIN {
		c = of > ob ? of : ob
		printf "-j %d: GEMM ceilings GFLOP/s: OpenBLAS sgemm %.0f, oneDNN fp32 %.0f, oneDNN bf16 %.0f\n", j, ob, of, obf
		printf "       embed fp32 %.2f img/s (%.0f GFLOP/s, %.0f%% of the best fp32 GEMM, %.0f%% of sgemm)\n", e, e * gf, 100 * e * gf / c, 100 * e * gf / ob
		printf "       torch fp32 %.2f img/s (%.0f GFLOP/s); embed/torch %.2fx\n", tf, tf * gf, e / tf
		printf "       torch fp32, OPENBLAS_CORETYPE=SkylakeX %.2f img/s; embed/torch %.2fx\n", tx, e / tx
		printf "       embed bf16 %.2f img/s (%.0f GFLOP/s, %.0f%% of oneDNN bf16)\n", eb, eb * gf, obf ? 100 * eb * gf / obf : 0
		printf "       torch bf16 autocast %.2f img/s; embed bf16/torch bf16 %.2fx\n", tb, eb / tb
		printf "       per CPU-second: fp32 embed %.2f, torch %.2f (%.2fx); bf16 embed %.2f, torch %.2f (%.2fx)\n", ec, tfc, ec / tfc, ebc, tbc, ebc / tbc }'
done
