#!/bin/sh
# zmq-scale.sh: a stage on workers behind frame-hub, next to the same
# stage in a plain pipe, one run, side by side. Run by `make perf` from
# the repository root (needs .venv for the test model: tools/deps.sh).
#
# The stage is embed (a 3-block ViT-S/16 with random weights from
# tests/ref/embed_ref.py, batch 16, one thread: CPU-bound) on PERF_TILES
# (default 128) 256x256 rgb8 tile frames from the shipped H&E image;
# PERF_RUNS runs each (default 5, the cases interleaved), medians:
#   a  embed < tiles > /dev/null                 a plain pipe
#   b  frame-hub + 1 embed worker (ipc)          the transport's overhead
#   c  frame-hub + 2 embed workers (ipc)         scaling (2 CPUs here)
#   d  2 embeds side by side, half the tiles each  what the machine gives
#                                                to 2 processes (no hub)
# and, once, the transport alone on the same tiles (frame-cat -F as the
# stage), and PERF_MEM_FRAMES (default 10^6) small frames through a hub
# with 2 workers into a sink slowed to PERF_SINK_RATE frames/s (default
# 10000): the hub's peak RSS. Targets: c/b >= 1.7x, b within 5% of a.
set -eu

BIN=${BIN:-bin}
NT=${PERF_TILES:-128}
RUNS=${PERF_RUNS:-5}
NM=${PERF_MEM_FRAMES:-1000000}
RATE=${PERF_SINK_RATE:-10000}
PY=.venv/bin/python
for p in frame-hub frame-cat embed wsi-tile; do
	[ -x "$BIN/$p" ] || { echo "$0: $BIN/$p not built (run make)" >&2; exit 2; }
done
[ -x $PY ] || { echo "$0: no $PY (run tools/deps.sh)" >&2; exit 2; }
export PATH="$(cd "$BIN" && pwd):$PATH"
ncpu=$(nproc)
# One thread per process, so a worker is one CPU's worth of work.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

work=$(mktemp -d "${TMPDIR:-/tmp}/pfm-zmq-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
$PY tests/ref/embed_ref.py make "$work" >/dev/null
M=$work/s16.safetensors
# NT tiles: the image's 16 tiles of 256 px (stride 256), repeated.
wsi-tile -q --no-mask --assume-mpp 0.5 --size 256 --stride 256 -e rgb8 \
	tests/data/he-1024-a.png > "$work/t16.mpk"
i=0
while [ $((i * 16)) -lt "$NT" ]; do cat "$work/t16.mpk"; i=$((i + 1)); done |
	frame-cat -F -n "$NT" > "$work/tiles.mpk"
frame-cat -F -n $((NT / 2)) "$work/tiles.mpk" > "$work/half.mpk"
got=$(frame-cat -c "$work/tiles.mpk")
[ "$got" = "$NT" ] || { echo "$0: made $got tiles, wanted $NT" >&2; exit 1; }
bytes=$(wc -c < "$work/tiles.mpk")

now() { date +%s.%N; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# hubrun K STAGE...: the tiles through a hub with K workers running STAGE
# (each with -i/-o hub:), output to /dev/null; checks the count.
hubrun() {
	nw=$1; shift
	ep="ipc://$work/hub.$(date +%s%N)"
	j=0
	while [ $j -lt "$nw" ]; do
		"$@" --timeout 60 -i "hub:$ep" -o "hub:$ep" &
		j=$((j + 1))
	done
	frame-hub -q -w "$ep" -i "$work/tiles.mpk" -o "$work/out.mpk"
	wait
	[ "$(frame-cat -c "$work/out.mpk")" = "$NT" ] || { echo "$0: lost frames" >&2; exit 1; }
}
# walltime CMD: wall seconds of one run
walltime() {
	t0=$(now)
	eval "$1"
	t1=$(now)
	echo "$t0 $t1" | awk '{printf "%.6f\n", $2 - $1}'
}
# runs CMD...: each command RUNS times, interleaved (a shared machine's
# load drifts: every case sees the same mix), then the median of each,
# one a line.
runs() {
	r=0
	while [ $r -lt "$RUNS" ]; do
		k=0
		for c; do
			k=$((k + 1))
			walltime "$c" >> "$work/t.$k"
		done
		r=$((r + 1))
	done
	k=0
	for c; do
		k=$((k + 1))
		median < "$work/t.$k"
		rm -f "$work/t.$k"
	done
}
E="embed -q -m $M -b 16 -j 1"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "zmq-scale: $NT tiles of 256x256 rgb8 ($bytes bytes), embed ViT-S/16 (3 blocks) batch 16, 1 thread per process"
echo "machine: $ncpu CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs each, medians; $(date -u +%F)"
echo
set -- $(runs "$E -i '$work/tiles.mpk' > /dev/null" "hubrun 1 $E" "hubrun 2 $E" \
	"$E -i '$work/half.mpk' > /dev/null & $E -i '$work/half.mpk' > /dev/null; wait")
ta=$1 tb=$2 tc=$3 td=$4
printf '| %s | %s | %s | %s | %s |\n' case command "median s" "tiles/s" "vs a"
printf '|---|---|---:|---:|---:|\n'
row() { awk -v c="$1" -v d="$2" -v t="$3" -v n="$NT" -v a="$ta" 'BEGIN {printf "| %s | %s | %.3f | %.1f | %.1f%% |\n", c, d, t, n / t, 100 * a / t}'; }
row a '`embed < tiles > /dev/null`' "$ta"
row b 'frame-hub + 1 embed worker (ipc)' "$tb"
row c 'frame-hub + 2 embed workers (ipc)' "$tc"
row d '2 `embed`s side by side, half the tiles each (no hub)' "$td"
echo
awk -v a="$ta" -v b="$tb" -v c="$tc" -v d="$td" 'BEGIN {
	printf "2 workers vs 1: %.2fx (target >= 1.7x); the machine gave 2 plain processes %.2fx (a / d)\n", b / c, a / d
	printf "hub + 1 worker vs pipe: %+.1f%% time (target <= 5%%)\n", 100 * (b - a) / a }'

# The transport alone: frame-cat -F as the stage.
set -- $(runs "cat '$work/tiles.mpk' | frame-cat -F -q > /dev/null" "hubrun 1 frame-cat -F -q")
ta=$1 tb=$2
echo
awk -v a="$ta" -v b="$tb" -v n="$NT" -v by="$bytes" 'BEGIN {
	printf "transport alone (frame-cat -F as the stage): pipe %.3f s (%.2f GB/s), hub + 1 worker %.3f s (%.2f GB/s, %.0f frames/s)\n",
		a, by / a / 1e9, b, by / b / 1e9, n / b }'

# Memory: NM small frames (about 100 bytes) through 2 workers into a slow
# sink; the hub's peak RSS (VmHWM) and the sink's count.
awk -v n=1000 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"type\":\"tile\",\"v\":1,\"slide_id\":\"s\",\"x\":%d,\"y\":0,\"level\":0,\"mpp\":0.5,\"width\":1,\"height\":1,\"encoding\":\"rgb8\",\"pixels\":{\"$base64\":\"AAAA\"}}\n", i }' |
	frame-cat -J -o "$work/k.mpk"
i=0
while [ $((i * 1000)) -lt "$NM" ]; do cat "$work/k.mpk"; i=$((i + 1)); done |
	frame-cat -F -n "$NM" > "$work/mem.mpk"
mkfifo "$work/fifo"
frame-cat -c --rate "$RATE" "$work/fifo" > "$work/count" &
sink=$!
ep="ipc://$work/mem"
frame-cat -F -q --timeout 60 -i "hub:$ep" -o "hub:$ep" &
frame-cat -F -q --timeout 60 -i "hub:$ep" -o "hub:$ep" &
t0=$(now)
frame-hub -q -w "$ep" -i "$work/mem.mpk" -o "$work/fifo" & hub=$!
peak=0
while [ -e /proc/$hub/status ]; do
	kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$hub/status 2>/dev/null || true)
	[ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
	sleep 0.2
done
wait
t1=$(now)
echo
awk -v n="$NM" -v c="$(cat "$work/count")" -v p="$peak" -v t0="$t0" -v t1="$t1" -v r="$RATE" \
	-v mb="$(($(wc -c < "$work/mem.mpk") / 1048576))" 'BEGIN {
	printf "memory: %d frames (%d MiB) through 2 workers to a sink taking %d frames/s: %d out in %.1f s; frame-hub peak RSS %.1f MiB\n",
		n, mb, r, c, t1 - t0, p / 1024 }'
