#!/bin/sh
# tile-filter.sh: tile-filter's throughput next to frame-cat passing the
# same stream through. Run by `make perf` from the repository root.
#
# Streams of PERF_FRAMES (default 5000) 256x256 tiles cut by wsi-tile
# from the shipped slides (tests/data), on tmpfs (/dev/shm when there is
# room):
#   mixed   every grid tile of the CMU and TCGA slides and he-1024-a.png,
#           no mask: 152 tiles, 45 of them glass and 25 partly tissue, cycled
#   tissue  the tissue tiles only (wsi-tile's mask, --min-tissue 0.9)
# each as rgb8 and as JPEG q90. Each case runs PERF_RUNS times (default
# 7); the table gives the median wall time and the median CPU time (user
# + system, from /usr/bin/time): the machine is shared, so the CPU rate
# (tiles per CPU-second, i.e. per core) is the steadier figure (shown
# as - without /usr/bin/time, Debian's package time). The
# outputs are checked: every tile annotated and valid, kept + dropped =
# all, and the vector kernel's output identical to the portable one's.
set -eu

BIN=${BIN:-bin}
TF=$BIN/tile-filter
FC=$BIN/frame-cat
WT=$BIN/wsi-tile
N=${PERF_FRAMES:-5000}
RUNS=${PERF_RUNS:-7}
for p in "$TF" "$FC" "$WT"; do
	[ -x "$p" ] || { echo "$0: $p not built (run make)" >&2; exit 2; }
done

need_kb=$((N * 200 * 4 + 65536))
dir=${PERF_DIR:-}
if [ -z "$dir" ]; then
	dir=${TMPDIR:-/tmp}
	if [ -d /dev/shm ] && [ -w /dev/shm ] &&
	   [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt "$need_kb" ]; then
		dir=/dev/shm
	fi
fi
work=$(mktemp -d "$dir/pfm-perf-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

D=tests/data
CMU=$D/CMU-1-Small-Region.svs
TCGA=$D/TCGA-CR-7395-01A-01-TS1.svs
HE=$D/he-1024-a.png
# cycle IN OUT: N frames, IN's frames over and over (through JSON lines).
cycle() {
	"$FC" --full -q "$1" | awk -v n="$N" '{ l[NR] = $0 } END { for (i = 0; i < n; i++) print l[i % NR + 1] }' |
		"$FC" -J -q -o "$2"
}
for enc in rgb8 jpeg; do
	"$WT" -q --no-mask --size 256 -e $enc $CMU > $work/m1
	"$WT" -q --no-mask --size 256 -e $enc --assume-mpp 0.25 --mpp 0.5 $TCGA > $work/m2
	"$WT" -q --no-mask --size 256 -e $enc --assume-mpp 0.5 $HE > $work/m3
	cat $work/m1 $work/m2 $work/m3 > $work/mixed1
	cycle $work/mixed1 $work/mixed-$enc.mpk
	"$WT" -q --min-tissue 0.9 --size 256 -e $enc $CMU > $work/t1
	"$WT" -q --min-tissue 0.9 --size 256 -e $enc --assume-mpp 0.25 --mpp 0.5 $TCGA > $work/t2
	cat $work/t1 $work/t2 $work/m3 > $work/tissue1
	cycle $work/tissue1 $work/tissue-$enc.mpk
done
rm -f $work/m? $work/t? $work/mixed1 $work/tissue1

# Checks: every tile out, annotated, valid; kept + dropped = all; the
# same frames with the portable kernel.
for s in mixed-rgb8 tissue-rgb8 mixed-jpeg; do
	f=$work/$s.mpk
	[ "$("$FC" -c -q "$f")" = "$N" ] || { echo "$0: $s: not $N frames" >&2; exit 1; }
	"$TF" -q --annotate-only "$f" > $work/ann
	[ "$("$FC" -c -q $work/ann)" = "$N" ] || { echo "$0: $s: tiles lost" >&2; exit 1; }
	"$FC" -q --head 200 -F $work/ann | "$FC" -q --check -c > /dev/null ||
		{ echo "$0: $s: invalid frames" >&2; exit 1; }
	"$TF" -q --dropped $work/drop "$f" > $work/kept
	k=$("$FC" -c -q $work/kept) d=$("$FC" -c -q $work/drop)
	[ $((k + d)) = "$N" ] || { echo "$0: $s: kept $k + dropped $d != $N" >&2; exit 1; }
	[ $s = mixed-jpeg ] || PFM_QC_SCALAR=1 "$TF" -q --annotate-only "$f" | cmp -s - $work/ann ||
		{ echo "$0: $s: the portable kernel gives other frames" >&2; exit 1; }
	eval "kept_$(echo $s | tr - _)=$k"
done
rm -f $work/ann $work/drop $work/kept

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# runs CMD: "wall cpu" seconds of each run, one a line (CPU 0, shown as
# -, without /usr/bin/time, Debian's package time).
runs() {
	r=0
	while [ $r -lt "$RUNS" ]; do
		if [ -x /usr/bin/time ]; then
			/usr/bin/time -f '%e %U %S' -o $work/time sh -c "$1"
		else
			t0=$(date +%s.%N)
			sh -c "$1"
			echo "$t0 $(date +%s.%N)" | awk '{ print $2 - $1, 0, 0 }' > $work/time
		fi
		awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' $work/time
		r=$((r + 1))
	done
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
kern=$(grep -qw avx2 /proc/cpuinfo && echo avx2 || echo portable)
echo "tile-filter: $N tiles of 256x256 a stream, in $dir; kernel $kern"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); $RUNS runs each, medians"
echo "kept by default: mixed $kept_mixed_rgb8, tissue $kept_tissue_rgb8 of $N"
echo
printf '| %s | %s | %s | %s | %s | %s | %s |\n' case command "wall s" "tiles/s" "CPU s" "tiles/CPU-s" "CPU vs frame-cat"
printf '|---|---|---:|---:|---:|---:|---:|\n'
F=$work
row() {
	name=$1 cmd=$2 base=${3:-}
	runs "$cmd" > $work/r
	w=$(cut -d' ' -f1 $work/r | median) c=$(cut -d' ' -f2 $work/r | median)
	[ -n "$base" ] || eval "base_$name=$c"
	[ -n "$base" ] && b=$base || b=$c
	shown=$(printf '%s' "$cmd" | sed "s|$F/||g; s|$BIN/||g; s/|/\\\\|/g")
	awk -v n="$name" -v s="$shown" -v w="$w" -v c="$c" -v b="$b" -v f="$N" \
		'BEGIN { printf "| %s | `%s` | %.3f | %.0f | %s | %s | %s |\n", n, s, w, f / w,
			 (c > 0 ? sprintf("%.3f", c) : "-"), (c > 0 ? sprintf("%.0f", f / c) : "-"),
			 (c > 0 && b > 0 ? sprintf("%.1fx", c / b) : "-") }'
}
for enc in rgb8 jpeg; do
	row fc_$enc "$FC -q -F $F/mixed-$enc.mpk > /dev/null"
	eval "b=\$base_fc_$enc"
	row tf_mixed_$enc "$TF -q $F/mixed-$enc.mpk > /dev/null" "$b"
	row tf_tissue_$enc "$TF -q $F/tissue-$enc.mpk > /dev/null" "$b"
done
row tf_stats "$TF -q --stats $F/tissue-rgb8.mpk > /dev/null" "$base_fc_rgb8"
row tf_scalar "PFM_QC_SCALAR=1 $TF -q $F/tissue-rgb8.mpk > /dev/null" "$base_fc_rgb8"
row pipe_fc "cat $F/mixed-rgb8.mpk | $FC -q -F > /dev/null"
row pipe_tf "cat $F/mixed-rgb8.mpk | $TF -q > /dev/null" "$base_pipe_fc"
