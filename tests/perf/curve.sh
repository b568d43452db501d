#!/bin/sh
# curve.sh: what CURVE encryption costs a ZeroMQ link. Run by `make perf`
# (or by hand) from the repository root.
#
# PERF_FRAMES (default 2000, ~390 MB) 256x256 rgb8 tiles of random pixels
# go from a producer (frame-cat -F -o '>tcp://127.0.0.1:P') to a sink
# (frame-cat -c -i '@tcp://127.0.0.1:P'), PUSH to PULL over loopback:
#   a  in the clear
#   b  with CURVE keys (the sink the server, with the producer's key
#      allowed; the producer the client)
# PERF_RUNS rounds (default 5), a and b interleaved in each, medians of
# the wall time from the sink's start to both programs' end; each run's
# count is checked. Prints a Markdown table: frames/s, MB/s, b vs a.
set -eu

BIN=${BIN:-bin}
FC=$BIN/frame-cat
N=${PERF_FRAMES:-2000}
RUNS=${PERF_RUNS:-5}
SIZE=256
for p in frame-cat pfm-keygen; do
	[ -x "$BIN/$p" ] || { echo "$0: $BIN/$p not built (run make)" >&2; exit 2; }
done
[ "$N" -ge 1 ] && [ "$RUNS" -ge 1 ] || { echo "$0: bad PERF_FRAMES/PERF_RUNS" >&2; exit 2; }

dir=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && dir=/dev/shm
work=$(mktemp -d "$dir/pfm-curve-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
file=$work/tiles.mpk

# One tile of random pixels (nothing for a compressor to gain), N times
# with distinct x.
head -c $((SIZE * SIZE * 3)) /dev/urandom | base64 -w 0 >"$work/px"
awk -v n="$N" -v s=$SIZE -v f="$work/px" 'BEGIN { getline px <f; for (i = 0; i < n; i++)
	printf "{\"type\":\"tile\",\"v\":1,\"slide_id\":\"perf\",\"x\":%d,\"y\":0,\"level\":0,\"mpp\":0.5,\"width\":%d,\"height\":%d,\"encoding\":\"rgb8\",\"pixels\":{\"$base64\":\"%s\"}}\n", i * s, s, s, px }' |
	"$FC" -J -q -o "$file"
bytes=$(wc -c <"$file")

KG=$(cd "$BIN" && pwd)/pfm-keygen
(cd "$work" && "$KG" sink prod)
mkdir "$work/allowed"
cp "$work/prod.pub" "$work/allowed/"
SINK_KEYS="--curve-secret $work/sink.key --curve-allow $work/allowed"
PROD_KEYS="--curve-secret $work/prod.key --curve-server $work/sink.pub"

port=$((40000 + $$ % 20000))
now() { date +%s.%N; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# run SINK-OPTIONS PROD-OPTIONS: one transfer; its wall seconds on stdout.
run() {
	port=$((port + 1))
	t0=$(now)
	"$FC" -c -q --timeout 60 $1 -i "@tcp://127.0.0.1:$port" >"$work/count" &
	sink=$!
	"$FC" -F -q --timeout 60 $2 -o ">tcp://127.0.0.1:$port" "$file"
	wait $sink
	t1=$(now)
	[ "$(cat "$work/count")" = "$N" ] ||
		{ echo "$0: the sink counted $(cat "$work/count"), not $N" >&2; exit 1; }
	echo "$t0 $t1" | awk '{printf "%.6f\n", $2 - $1}'
}
r=0
while [ $r -lt "$RUNS" ]; do
	run "" "" >>"$work/a"
	run "$SINK_KEYS" "$PROD_KEYS" >>"$work/b"
	r=$((r + 1))
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "curve: $N frames of ${SIZE}x${SIZE} rgb8, $bytes bytes, over tcp://127.0.0.1"
echo "machine: $(nproc) CPUs, $cpu, load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS rounds, medians"
echo
echo "| case | median s | frames/s | MB/s | vs a |"
echo "|---|---:|---:|---:|---:|"
ta=$(median <"$work/a")
for c in a b; do
	t=$(median <"$work/$c")
	label=$([ $c = a ] && echo "a: in the clear" || echo "b: CURVE")
	awk -v l="$label" -v t="$t" -v ta="$ta" -v n="$N" -v b="$bytes" 'BEGIN {
		printf "| %s | %.3f | %.0f | %.0f | %.1f%% |\n", l, t, n / t, b / t / 1e6, 100 * ta / t }'
done
