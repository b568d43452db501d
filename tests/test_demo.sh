#!/bin/sh
# The demo (make demo) runs end to end on shipped data and makes its
# outputs; here in its quick form (2 training steps, 64 px crops, a
# quarter of the task tiles), which exercises every step in seconds.
. tests/lib.sh
expect demo 0 "PFM_BIN=$BIN pipelines/demo --quick $T/demo"
has demo-check "$T/err" "all frames valid"
has demo-zmq "$T/err" "byte-identical"
has demo-tcga "$T/err" "give --assume-mpp or --assume-mag"
has demo-filter "$T/err" "dropped"
has demo-student "$T/err" "fine_cls"
has demo-rank "$T/out" "| rank | model | avg rank |"
has demo-report "$T/err" "the report: $T/demo/bench/report/README.md"
for f in cmu-grid.mpk tcga.mpk CMU-1-Small-Region.png qc.json demo.suite \
	models/random.safetensors models/expert-fine/model.safetensors \
	models/expert-coarse/model.safetensors models/student/model.safetensors \
	models/student/metrics/000.mpk bench/report/README.md bench/report/cd.svg \
	bench/report/heatmap.svg bench/report/ranks.csv bench/report/tasks/regions.md; do
	[ -s "$T/demo/$f" ] && pass || fail "demo: $f missing"
done
n=$(frame-cat -c "$T/demo/cmu-grid.mpk")
[ "$n" -gt 20 ] && pass || fail "demo: only $n tiles"
# every model on every task, each task and model named in the summary
r=$T/demo/bench/report
for t in origin origin-retrieval regions tissue scale report vqa; do
	has "report-$t" "$r/README.md" "[$t](tasks/$t.md)"
	for m in student expert-fine expert-coarse random; do
		[ -s "$T/demo/bench/results/$t/$m.mpk" ] && pass || fail "demo: no results of $m on $t"
	done
done
has report-models "$r/ranks.csv" "expert-coarse"
# the generative tasks' trivial baseline is computed and shown beside them
for t in report vqa; do
	[ -s "$T/demo/bench/results/$t/most-frequent.mpk" ] && pass || fail "demo: no most-frequent baseline on $t"
	has "baseline-$t" "$r/tasks/$t.md" "most-frequent"
done
# the student was distilled from both experts
has student-experts "$T/demo/models/student/pipeline" "-e fine:1:0.25 -e coarse:1:0.25"
expect demo-help 0 pipelines/demo --help
has demo-help "$T/out" "Usage: demo"
expect demo-bad 2 pipelines/demo --bogus
finish
