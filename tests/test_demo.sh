#!/bin/sh
# The demo (make demo) runs end to end on shipped data and makes its outputs.
. tests/lib.sh
expect demo 0 "PFM_BIN=$BIN sh pipelines/demo $T/demo"
has demo-check "$T/err" "all frames valid"
has demo-zmq "$T/err" "byte-identical"
has demo-qc "$T/err" "tile-filter: "
has demo-qc-rejects "$T/out" '"why":"'
has demo-tcga "$T/err" "give --assume-mpp or --assume-mag"
has demo-rank "$T/out" "chi2_F = 9.2786"
for f in cmu-grid.mpk cmu-kept.mpk qc.json tcga.mpk cd.svg CMU-1-Small-Region.png; do
	[ -s "$T/demo/$f" ] && pass || fail "demo: $f missing"
done
n=$(frame-cat -c "$T/demo/cmu-grid.mpk")
[ "$n" -gt 20 ] && pass || fail "demo: only $n tiles"
expect demo-help 0 sh pipelines/demo --help
has demo-help "$T/out" "Usage: pipelines/demo"
finish
