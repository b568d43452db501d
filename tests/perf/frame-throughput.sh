#!/bin/sh
# frame-throughput.sh: how fast frames go through frame-cat, next to a
# plain pipe. Run by `make perf` from the repository root.
#
# It writes PERF_FRAMES (default 5000, ~1 GB) 256x256 rgb8 tiles of random
# pixels into a file on tmpfs (/dev/shm when there is room) and times,
# PERF_RUNS times each (default 7; medians, as shared machines are noisy):
#   a  cat FILE | cat > /dev/null            the ceiling for a pipe stage
#   b  cat FILE | frame-cat -F > /dev/null   frame-cat as that stage
#   c  frame-cat -c FILE                     parse only
#   d  frame-cat FILE > /dev/null            the JSON summary view
# and prints a Markdown table. The target is b >= 50% of a.
set -eu

BIN=${BIN:-bin}
FC=$BIN/frame-cat
N=${PERF_FRAMES:-5000}
RUNS=${PERF_RUNS:-7}
SIZE=256
[ -x "$FC" ] || { echo "$0: $FC not built (run make)" >&2; exit 2; }
[ "$N" -ge 1 ] && [ "$RUNS" -ge 1 ] || { echo "$0: bad PERF_FRAMES/PERF_RUNS" >&2; exit 2; }

# tmpfs, so the disk is not what we measure.
frame_bytes=$((SIZE * SIZE * 3 + 200))
need_kb=$((N * frame_bytes / 1024 * 2 + 65536))
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
file=$work/tiles.mpk

# 16 distinct tiles as JSON lines (random pixels, base64), repeated to N
# frames and turned into one stream by frame-cat -J.
i=0
while [ $i -lt 16 ]; do
	b64=$(head -c $((SIZE * SIZE * 3)) /dev/urandom | base64 -w 0)
	printf '{"type":"tile","v":1,"slide_id":"perf-slide","x":%d,"y":0,"level":0,"mpp":0.5,"width":%d,"height":%d,"encoding":"rgb8","pixels":{"$base64":"%s"}}\n' \
		$((i * SIZE)) $SIZE $SIZE "$b64" >>"$work/tiles16.jsonl"
	i=$((i + 1))
done
awk -v n="$N" '{ l[NR] = $0 } END { for (i = 0; i < n; i++) print l[i % NR + 1] }' \
	"$work/tiles16.jsonl" | "$FC" -J -q -o "$file"
rm -f "$work/tiles16.jsonl"
bytes=$(wc -c <"$file")
got=$("$FC" -c -q "$file")
[ "$got" = "$N" ] || { echo "$0: generated $got frames, wanted $N" >&2; exit 1; }
# b must pass frames through unchanged, byte for byte.
cat "$file" | "$FC" -F -q | cmp -s - "$file" ||
	{ echo "$0: frame-cat -F changed the stream" >&2; exit 1; }

now() { date +%s.%N; }
# time_runs CMD: wall seconds of each run, one a line.
time_runs() {
	r=0
	while [ $r -lt "$RUNS" ]; do
		t0=$(now)
		sh -c "$1"
		t1=$(now)
		echo "$t0 $t1" | awk '{printf "%.6f\n", $2 - $1}'
		r=$((r + 1))
	done
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

Q=$(printf '%s' "$file" | sed "s/'/'\\\\''/g")
F=$(printf '%s' "$FC" | sed "s/'/'\\\\''/g")
set -- \
	a "cat '$Q' | cat > /dev/null" \
	b "cat '$Q' | '$F' -F -q > /dev/null" \
	c "'$F' -c -q '$Q' > /dev/null" \
	d "'$F' -q '$Q' > /dev/null"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "frame-throughput: $N frames of ${SIZE}x${SIZE} rgb8, $bytes bytes in $dir"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); $RUNS runs each, medians"
echo
printf '| %s | %s | %s | %s | %s | %s |\n' case command "median s" "GB/s" "frames/s" "vs a"
printf '|---|---|---:|---:|---:|---:|\n'
ta=
while [ $# -ge 2 ]; do
	name=$1 cmd=$2
	shift 2
	t=$(time_runs "$cmd" | median)
	[ -n "$ta" ] || ta=$t
	# \| keeps the pipe inside a Markdown table cell.
	shown=$(printf '%s' "$cmd" | sed "s|'$Q'|FILE|g; s|'$F'|frame-cat|g; s/|/\\\\|/g")
	awk -v n="$name" -v c="$shown" -v t="$t" -v b="$bytes" -v f="$N" -v a="$ta" \
		'BEGIN {printf "| %s | `%s` | %.3f | %.2f | %.0f | %.0f%% |\n", n, c, t, b / t / 1e9, f / t, 100 * a / t}'
done
