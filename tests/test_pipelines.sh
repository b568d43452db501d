#!/bin/sh
# Every pipeline script end to end on tiny inputs (32 px ViT-Ti models,
# a few dozen tiles of the shipped slides): pretrain (with and without
# experts, a second run refused, SIGTERM and --resume), extract-features
# (resuming, a leftover partial file, a changed input, other settings
# refused), the four benchmarks (results, skipping what is done, redoing
# on a change, eva's protocols), suite (a report, a second run that does
# nothing, a model added), and their CLI conventions.
. tests/lib.sh
P=pipelines
D=tests/data
export PFM_BIN="$BIN"
TINY="--arch vit-ti --mpp 2 --size 32 --distill-opts '--global-size 32 --local-size 16 --local-crops 1 --prototypes 16 --head-hidden 16 --head-bottleneck 16 --layerscale 0.1'"

for s in pretrain extract-features bench-wsi-cls bench-survival bench-roi-cls \
	bench-retrieval suite demo; do
	expect "$s-help" 0 $P/$s --help
	has "$s-help" "$T/out" "Usage: $s"
	empty "$s-help-stderr" "$T/err"
	expect "$s-version" 0 $P/$s --version
	has "$s-version" "$T/out" "$s (pathfm)"
	expect "$s-bogus" 2 $P/$s --bogus
	has "$s-bogus" "$T/err" "Try '$s --help'"
done

# ---- pretrain ----
expect pretrain-nosteps 2 $P/pretrain -o $T/r0 $D/small.svs
has pretrain-nosteps "$T/err" "give --steps N"
expect pretrain-self 0 "$P/pretrain -q -o $T/e1 --steps 2 -b 2 $TINY $D/CMU-1-Small-Region.svs"
for f in model.safetensors checkpoint.safetensors metrics/000.mpk pipeline args; do
	[ -s "$T/e1/$f" ] && pass || fail "pretrain: $f missing"
done
expect pretrain-metrics 0 frame-cat -c -t metric $T/e1/metrics/000.mpk
has pretrain-metrics "$T/out" "2"
has pretrain-pipeline "$T/e1/pipeline" "tile-filter -q |"
expect pretrain-model 0 embed -m $T/e1/model.safetensors --info
has pretrain-model "$T/out" '"name":"e1"'
expect pretrain-again 1 "$P/pretrain -q -o $T/e1 --steps 2 $TINY $D/CMU-1-Small-Region.svs"
has pretrain-again "$T/err" "holds a run already"
expect pretrain-expert-bad 2 "$P/pretrain -q -o $T/s0 --steps 2 -e nofile $D/small.svs"
# a student from an expert (and a second name for the same model)
expect pretrain-experts 0 "$P/pretrain -o $T/st --steps 2 -b 2 $TINY \
	-e a=$T/e1/model.safetensors:1:0.5 -e b=$T/e1/model.safetensors --no-filter $D/CMU-1-Small-Region.svs"
has pretrain-experts "$T/err" "2 experts (a b)"
has pretrain-chain "$T/st/pipeline" "--tokens --keep-pixels"
has pretrain-weights "$T/st/pipeline" "-e a:1:0.5 -e b:1:0.25"
expect pretrain-expert-loss 0 "frame-cat $T/st/metrics/000.mpk | jq -r '.values | has(\"a_cls\") and has(\"b_patch\")' | sort -u"
has pretrain-expert-loss "$T/out" "true"
# SIGTERM: a checkpoint, exit 130; --resume goes on to the last step
$P/pretrain -o $T/rs --steps 30 -b 2 --save-every 1 --arch vit-ti --mpp 2 --size 32 \
	--distill-opts '--global-size 32 --local-size 16 --local-crops 1 --prototypes 16 --head-hidden 16 --head-bottleneck 16' \
	$D/CMU-1-Small-Region.svs 2>$T/rs.err &
pid=$!
i=0
while [ ! -s $T/rs/checkpoint.safetensors ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 130 ] && pass || { fail "pretrain: SIGTERM gave exit $rc"; cat $T/rs.err >&2; }
has pretrain-term $T/rs.err "checkpoint saved; continue with"
expect resume-args 2 $P/pretrain --resume -o $T/rs --steps 9
expect resume-nothing 1 $P/pretrain --resume -o $T/nothing
expect resume 0 $P/pretrain -q --resume -o $T/rs
expect resume-steps 0 "frame-cat -q $T/rs/metrics/000.mpk $T/rs/metrics/001.mpk | jq -s 'map(.step) | [length, .[-1]]' -c"
has resume-steps "$T/out" "[30,30]"

# ---- extract-features ----
mkdir -p $T/in
wsi-tile -q --mpp 2 --size 32 -o $T/in/tiles.mpk $D/CMU-1-Small-Region.svs
printf 'path,slide_id,label\n%s,cmu,skin\n' "$PWD/$D/CMU-1-Small-Region.svs" > $T/in/list.csv
EF="$P/extract-features -o $T/c --mpp 2 --size 32 -m m1=$T/e1/model.safetensors -m m2=$T/st/model.safetensors"
expect ef-nomodel 2 $P/extract-features -o $T/c $T/in/tiles.mpk
expect ef-missing 1 "$EF /nonexistent.svs"
expect ef-run 0 "$EF --assume-mpp 0.25 -s $T/in/list.csv $D/he-1024-a.png $T/in/tiles.mpk"
for u in cmu he-1024-a tiles; do
	for m in m1 m2; do [ -s $T/c/$m/$u.mpk ] && pass || fail "extract-features: $m/$u.mpk missing"; done
done
has ef-run "$T/err" "3 units embedded now, 0 were already"
expect ef-label 0 "frame-cat $T/c/m1/cmu.mpk | jq -r '[.type, .label, .slide_id, (.emb | keys[0])] | @csv' | sort -u"
has ef-label "$T/out" '"embedding","skin","cmu","m1"'
n1=$(frame-cat -c $T/in/tiles.mpk)
expect ef-count 0 frame-cat -c $T/c/m2/tiles.mpk
has ef-count "$T/out" "$n1"
# again: nothing to do; a partial file of a killed run is not a done unit
cp $T/c/m1/cmu.mpk $T/cmu-m1.mpk
mv $T/c/m1/cmu.mpk $T/c/m1/cmu.mpk.tmp.99999
rm $T/c/m2/he-1024-a.mpk
expect ef-resume 0 "$EF --assume-mpp 0.25 -s $T/in/list.csv $D/he-1024-a.png $T/in/tiles.mpk"
has ef-resume "$T/err" "cmu: "
has ef-resume "$T/err" "embedding with m1"
has ef-resume "$T/err" "he-1024-a: "
has ef-resume "$T/err" "2 units embedded now, 1 were already"
[ ! -e $T/c/m1/cmu.mpk.tmp.99999 ] && pass || fail "extract-features: partial file left"
same ef-same-again $T/cmu-m1.mpk $T/c/m1/cmu.mpk
expect ef-noop 0 "$EF --assume-mpp 0.25 -s $T/in/list.csv $D/he-1024-a.png $T/in/tiles.mpk"
has ef-noop "$T/err" "0 units embedded now, 3 were already"
# a changed input is embedded again; other settings are refused
sleep 1
touch $T/in/tiles.mpk
expect ef-changed 0 "$EF --assume-mpp 0.25 $T/in/tiles.mpk"
has ef-changed "$T/err" "tiles: input changed since it was embedded"
expect ef-other-tiling 1 "$P/extract-features -o $T/c --mpp 1 -m m1=$T/e1/model.safetensors $T/in/tiles.mpk"
has ef-other-tiling "$T/err" "this cache was made with other tiling settings"
expect ef-other-model 1 "$P/extract-features -o $T/c --mpp 2 --size 32 --assume-mpp 0.25 -m m1=$T/st/model.safetensors $T/in/tiles.mpk"
has ef-other-model "$T/err" "other model settings"
expect ef-dup 1 "$EF $T/in/tiles.mpk $T/c/m1/tiles.mpk"
has ef-dup "$T/err" "units named alike"
expect ef-dry 0 "$P/extract-features -n -o $T/c2 -m m1=$T/e1/model.safetensors $T/in/tiles.mpk"
has ef-dry "$T/err" "tiles: would embed with m1"
[ ! -e $T/c2 ] && pass || fail "extract-features -n wrote $T/c2"

# ---- tile tasks: labelled tile files, split by position ----
wsi-tile -q --mpp 1 --size 32 --no-mask -o $T/in/grid.mpk $D/CMU-1-Small-Region.svs
tile-filter -q --annotate-only $T/in/grid.mpk |
	frame-cat --full | jq -c 'select(.qc.reason == "ok" or .qc.reason == "background")
		| .label = (if .qc.pass then "tissue" else "glass" end)' > $T/in/grid.jsonl
jq -c 'select(.tile_index % 2 == 0)' $T/in/grid.jsonl | frame-cat -J -o $T/in/tr.mpk
jq -c 'select(.tile_index % 2 == 1)' $T/in/grid.jsonl | frame-cat -J -o $T/in/te.mpk
RC="$P/bench-roi-cls -q -o $T/res/qc -m m1=$T/e1/model.safetensors -m m2=$T/st/model.safetensors --train $T/in/tr.mpk --test $T/in/te.mpk"
expect roi-notest 2 "$P/bench-roi-cls -c $T/c3 -o $T/res/x --train $T/in/tr.mpk"
expect roi-run 0 "$RC -c $T/c3 --extract-opts '--mpp 2 --size 32'"
expect roi-results 0 "frame-cat $T/res/qc/m1.mpk $T/res/qc/m2.mpk | jq -r '[.task, .model] | @tsv' | sort -u"
has roi-results "$T/out" "qc/logreg	m1"
has roi-results "$T/out" "qc/knn	m2"
expect roi-again 0 "$P/bench-roi-cls -c $T/c3 -o $T/res/qc --train tr --test te"
has roi-again "$T/err" "0 run, 2 done before"
expect roi-changed 0 "$P/bench-roi-cls -c $T/c3 -o $T/res/qc -m m1 --train tr --test te --methods knn"
has roi-changed "$T/err" "settings or features changed"
has roi-changed "$T/err" "1 run, 0 done before"
expect roi-eva 0 "$P/bench-roi-cls -p eva -c $T/c3 -o $T/res/qc-eva --train tr --test te"
expect roi-eva-task 0 "frame-cat $T/res/qc-eva/m1.mpk | jq -r .task | sort -u"
has roi-eva-task "$T/out" "qc-eva/linear"
printf 'slide_id,split\ntr,train\nte,test\n' > $T/in/splits.csv
expect roi-splits 0 "$P/bench-roi-cls -c $T/c3 -o $T/res/qc-s --splits $T/in/splits.csv -m m2"
expect roi-protocol 2 "$P/bench-roi-cls -p foo -c $T/c3 -o $T/res/y --train tr --test te"
expect roi-nounit 1 "$P/bench-roi-cls -c $T/c3 -o $T/res/y --train tr --test nosuch"
has roi-nounit "$T/err" "'nosuch' has no features for model"
expect ret-run 0 "$P/bench-retrieval -c $T/c3 -o $T/res/qc-r --train tr --test te"
expect ret-metrics 0 "frame-cat $T/res/qc-r/m2.mpk | jq -r .metric"
has ret-metrics "$T/out" "mv_at_5"
expect ret-eva 2 "$P/bench-retrieval -p eva -c $T/c3 -o $T/res/qc-r --train tr --test te"
has ret-eva "$T/err" "eva has no retrieval protocol"

# ---- slide tasks: bags of tiles (regions of two images) ----
{
	wsi-tile -q --mpp 2 --size 32 --no-mask $D/CMU-1-Small-Region.svs | frame-cat --full
	wsi-tile -q --mpp 2 --size 32 --no-mask --assume-mag 20 $D/TCGA-CR-7395-01A-01-TS1.svs | frame-cat --full
} | jq -c '.meta.image = .slide_id | .slide_id = "\(.slide_id[0:4])-\(.tile_index % 12)"' |
	frame-cat -J -o $T/in/bags.mpk
frame-cat $T/in/bags.mpk | jq -r '[.slide_id, .meta.image[0:4]] | @csv' | tr -d '"' | sort -u |
	awk -F, 'BEGIN { print "slide_id,label" } { print }' > $T/in/bags.csv
frame-cat $T/in/bags.mpk | jq -r '.slide_id' | sort -u |
	awk 'BEGIN { print "slide_id,time,event" } { print $1 "," NR * 3 % 17 + 1 "," NR % 3 % 2 }' > $T/in/surv.csv
WC="$P/bench-wsi-cls -q -c $T/c4 -m m1=$T/e1/model.safetensors -m m2=$T/st/model.safetensors --extract-opts '--mpp 2 --size 32'"
expect wsi-nolabels 2 "$P/bench-wsi-cls -c $T/c4 -o $T/res/w"
expect wsi-run 0 "$WC -o $T/res/bags -l $T/in/bags.csv -k 3 --mil-opts '--epochs 3' $T/in/bags.mpk"
expect wsi-metrics 0 "frame-cat $T/res/bags/m1.mpk | jq -r '[.task, .metric, .fold] | @tsv'"
has wsi-metrics "$T/out" "bags	auroc	2"
expect wsi-again 0 "$P/bench-wsi-cls -c $T/c4 -o $T/res/bags -l $T/in/bags.csv -k 3 --mil-opts '--epochs 3' $T/in/bags.mpk"
has wsi-again "$T/err" "0 run, 2 done before"
expect wsi-eva 0 "$P/bench-wsi-cls -q -p eva -c $T/c4 -o $T/res/bags-eva -l $T/in/bags.csv --split 2:1:1 --predictions --mil-opts '--epochs 2'"
expect wsi-eva-head 0 "frame-cat $T/res/bags-eva/m2.mpk | jq -r .meta.head | sort -u"
has wsi-eva-head "$T/out" "eva"
[ -s $T/res/bags-eva/predictions/m1.mpk ] && pass || fail "bench-wsi-cls: no predictions"
expect wsi-two-splits 2 "$P/bench-wsi-cls -c $T/c4 -o $T/res/w -l $T/in/bags.csv -k 3 --split 2:1:1"
expect surv-run 0 "$P/bench-survival -q -c $T/c4 -o $T/res/surv -l $T/in/surv.csv -k 3 --bins 2 --mil-opts '--epochs 2'"
expect surv-metrics 0 "frame-cat $T/res/surv/m2.mpk | jq -r '[.metric, .task_type] | @tsv' | sort -u"
has surv-metrics "$T/out" "c_index	survival"

# ---- suite ----
mkdir -p $T/s
cp $T/in/tr.mpk $T/in/te.mpk $T/in/bags.mpk $T/in/bags.csv $T/s/
cat > $T/s/a.suite <<EOF
# a tiny suite
title Tiny suite
model m1 $T/e1/model.safetensors
model m2 $T/st/model.safetensors --batch 4
dataset tiles --mpp 2 --size 32 tr.mpk te.mpk bags.mpk
task qc roi-cls tiles --train tr.mpk --test te.mpk
task qc-r retrieval tiles --train tr --test te
task bags wsi-cls tiles -l bags.csv -k 3 --mil-opts '--epochs 2' bags.mpk
metric qc accuracy
about qc tissue or glass, as tile-filter decides
rank --round 3
EOF
expect suite-dry 0 $P/suite -n -o $T/so $T/s/a.suite
has suite-dry "$T/err" "2 models, 1 datasets, 3 tasks"
[ ! -e $T/so ] && pass || fail "suite -n wrote $T/so"
expect suite-run 0 $P/suite -o $T/so $T/s/a.suite
for f in README.md ranks.md ranks.csv ranks.json cd.svg heatmap.svg results.mpk \
	tasks/qc.md tasks/qc-r.md tasks/bags.md; do
	[ -s $T/so/report/$f ] && pass || fail "suite: report/$f missing"
done
has suite-readme $T/so/report/README.md "# Tiny suite"
has suite-readme $T/so/report/README.md "| [qc](tasks/qc.md) | roi-cls | tiles | accuracy | tissue or glass, as tile-filter decides |"
has suite-ranks $T/so/report/ranks.md "2 models on 4 tasks"
has suite-task $T/so/report/tasks/bags.md "| m1 | "
expect suite-ranked 0 "frame-cat $T/so/report/ranked.mpk | jq -r '[.task, .meta.ranked_metric] | @tsv' | sort -u"
has suite-ranked "$T/out" "qc/knn	accuracy"
has suite-ranked "$T/out" "bags	auroc"
# again: no work, the report untouched
cp $T/so/report/README.md $T/readme1
expect suite-again 0 $P/suite -o $T/so $T/s/a.suite
has suite-again "$T/err" "0 units embedded now, 3 were already"
has suite-again "$T/err" "report up to date"
for t in qc qc-r bags; do has "suite-again-$t" "$T/err" "$t: 2 models: 0 run, 2 done before"; done
same suite-same-report $T/readme1 $T/so/report/README.md
# a model added: only it runs
printf 'model m3 %s\n' "$T/e1/model.safetensors" >> $T/s/a.suite
expect suite-added 0 $P/suite -o $T/so $T/s/a.suite
has suite-added "$T/err" "embedding with m3"
has suite-added "$T/err" "qc: 3 models: 1 run, 2 done before"
has suite-added-rank $T/so/report/ranks.md "3 models on 4 tasks"
printf 'modle m4 x\n' > $T/s/bad.suite
expect suite-bad 1 $P/suite -o $T/sb $T/s/bad.suite
has suite-bad "$T/err" "bad.suite:1: unknown line 'modle'"
printf 'model m1 a\nmodel m2 b\ntask t roi-cls nods\n' > $T/s/bad2.suite
expect suite-nods 1 $P/suite -o $T/sb $T/s/bad2.suite
has suite-nods "$T/err" "task 't': no dataset 'nods'"
finish
