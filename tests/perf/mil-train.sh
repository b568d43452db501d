#!/bin/sh
# mil-train.sh: one ABMIL training epoch, mil-train against plain torch.
# Run by `make perf` from the repository root.
#
# GPFM's head (1024 -> 512 ReLU, dropout 0.25, attention 512->128->1,
# 512 -> 2; Adam, a bag per step, as CLAM trains it) over PERF_BAGS
# (1000) bags of PERF_TILES (500) tiles of PERF_DIM (1024) float32
# features: mil-train (one [500, 1024] embedding frame a slide, read from
# tmpfs; the epoch's seconds from its --log) and tests/perf/abmil_torch.py
# (Debian's torch 1.13 on the same OpenBLAS, features in memory), on the
# same machine, side by side, with the same thread counts (PERF_THREADS,
# default "1 2": mil-train -j T; torch.set_num_threads(T),
# OMP_NUM_THREADS=T, OPENBLAS_NUM_THREADS=T, OMP_WAIT_POLICY=PASSIVE),
# PERF_RUNS (3) runs each, medians (the machine is shared and noisy).
# Each in both precisions: fp32, and mixed bf16 (mil-train --precision
# bf16; torch.autocast("cpu", torch.bfloat16)), unless PERF_PRECISIONS
# says otherwise. Prints a Markdown table; the target is mil-train >= 5x
# torch. Then the ceiling: tests/perf/mil-gemms.c (built against LIBA,
# default build/libpathfm.a) times a step's eight matrix products alone,
# the fastest any step on this machine could be with these kernels.
set -eu

BIN=${BIN:-bin}
NB=${PERF_BAGS:-1000}
NT=${PERF_TILES:-500}
D=${PERF_DIM:-1024}
RUNS=${PERF_RUNS:-3}
THREADS=${PERF_THREADS:-1 2}
PRECS=${PERF_PRECISIONS:-fp32 bf16}
PY=${PY:-.venv/bin/python}
[ -x "$BIN/mil-train" ] || { echo "$0: $BIN/mil-train not built (run make)" >&2; exit 2; }
[ -x "$PY" ] || { echo "$0: $PY missing (run make deps)" >&2; exit 2; }

need_kb=$((NB * NT * D * 4 / 1024 + 65536))
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
gemms=""
if [ -f "${LIBA:-build/libpathfm.a}" ] &&
   ${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -Icommon tests/perf/mil-gemms.c "${LIBA:-build/libpathfm.a}" \
	$(make -s ldlibs) -o "$work/mil-gemms"; then
	gemms=$work/mil-gemms
else
	echo "$0: mil-gemms not built (no ${LIBA:-build/libpathfm.a}): no ceiling" >&2
fi
$PY tests/ref/mil_gen.py perf "$work/bags.mpk" "$NB" "$NT" "$D" 1
# every bag trains; ten more (the same shape) make the test split
$PY tests/ref/mil_gen.py perf "$work/test.mpk" 10 "$NT" "$D" 2
sed 's/^perf-/test-/' "$work/test.mpk.csv" | tail -n +2 >> "$work/bags.mpk.csv"
awk -F, 'NR > 1 {print "0," $1 "," ($1 ~ /^test-/ ? "test" : "train")}
	BEGIN {print "fold,slide_id,split"}' "$work/bags.mpk.csv" > "$work/splits.csv"
# the test frames under their own slide ids
"$BIN/frame-cat" --full "$work/test.mpk" | sed 's/"slide_id":"perf-/"slide_id":"test-/' |
	"$BIN/frame-cat" -J -q -o "$work/test2.mpk"
bytes=$(cat "$work/bags.mpk" "$work/test2.mpk" | wc -c)

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
mil_epoch() {
	OPENBLAS_NUM_THREADS=$1 "$BIN/mil-train" -q -j "$1" --precision "$2" -l "$work/bags.mpk.csv" \
		--splits "$work/splits.csv" --epochs 1 --log "$work/log.mpk" \
		"$work/bags.mpk" "$work/test2.mpk" > /dev/null
	"$BIN/frame-cat" "$work/log.mpk" | sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p'
}
torch_epoch() {
	OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 \
		$PY tests/perf/abmil_torch.py "$NB" "$NT" "$D" "$1" "$2"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "mil-train: one ABMIL epoch, $NB bags x $NT tiles x $D, $bytes bytes of frames in $dir"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; $RUNS runs each, medians"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| threads | precision | mil-train epoch s | ms/bag | torch epoch s | ms/bag | torch / mil-train |\n'
printf '|---:|---|---:|---:|---:|---:|---:|\n'
for t in $THREADS; do
	for pr in $PRECS; do
		: > "$work/m.$pr" && : > "$work/p.$pr"
	done
	r=0
	while [ $r -lt "$RUNS" ]; do
		for pr in $PRECS; do
			mil_epoch "$t" "$pr" >> "$work/m.$pr"
			torch_epoch "$t" "$pr" >> "$work/p.$pr"
		done
		r=$((r + 1))
	done
	for pr in $PRECS; do
		m=$(median < "$work/m.$pr")
		p=$(median < "$work/p.$pr")
		echo "$t $pr $m $p" >> "$work/medians"
		awk -v t="$t" -v pr="$pr" -v m="$m" -v p="$p" -v n="$NB" \
			'BEGIN {printf "| %d | %s | %.2f | %.2f | %.2f | %.2f | %.2fx |\n", t, pr, m, 1000 * m / n, p, 1000 * p / n, p / m}'
		echo "$t thread(s), $pr: mil-train $(tr '\n' ' ' < "$work/m.$pr")/ torch $(tr '\n' ' ' < "$work/p.$pr")" >> "$work/runs"
	done
done
# across precisions: what a user of plain (fp32) torch gains by moving to
# mil-train in bf16
if echo "$PRECS" | grep -q fp32 && echo "$PRECS" | grep -q bf16; then
	echo
	printf '| threads | torch fp32 / mil-train bf16 | mil-train fp32 / mil-train bf16 | torch fp32 / torch bf16 |\n'
	printf '|---:|---:|---:|---:|\n'
	for t in $THREADS; do
		awk -v t="$t" '$1 == t && $2 == "fp32" {mf = $3; pf = $4} $1 == t && $2 == "bf16" {mb = $3; pb = $4}
			END {printf "| %d | %.2fx | %.2fx | %.2fx |\n", t, pf / mb, mf / mb, pf / pb}' "$work/medians"
	done
fi
# the ceiling: the step's eight products alone (tests/perf/mil-gemms.c,
# through the same library calls on the same shapes)
if [ -n "$gemms" ]; then
	echo
	echo "The ceiling: a step's GEMMs alone (mil-gemms, medians of 15), and the best ratio to torch a step made only of them would give:"
	echo
	printf '| threads | precision | GEMMs alone ms | GFLOP/s | mil-train ms/bag | mil-train / GEMMs | torch / GEMMs alone |\n'
	printf '|---:|---|---:|---:|---:|---:|---:|\n'
	for t in $THREADS; do
		"$gemms" "$t" "$NT" "$D" > "$work/g.$t"
		for pr in $PRECS; do
			g=$(awk -v pr="$pr" '$1 == pr {print $2, $3}' "$work/g.$t")
			[ -n "$g" ] || continue
			awk -v t="$t" -v pr="$pr" -v n="$NB" '$1 == t && $2 == pr {m = $3; p = $4}
				END {split(G, g, " "); ms = 1000 * m / n; pms = 1000 * p / n
				     printf "| %d | %s | %.2f | %.0f | %.2f | %.2f | %.2fx |\n", t, pr, g[1], g[2], ms, ms / g[1], pms / g[1]}' \
				G="$g" "$work/medians"
		done
	done
fi
echo
echo "Each run (epoch seconds, in the order run, alternating):"
sed 's/^/    /' "$work/runs"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
