#!/bin/sh
# mil-train: CLI conventions; a synthetic MIL task (AUC >= 0.95) and a
# survival task with a planted risk (c-index >= 0.75); every result equal
# to scikit-learn / scikit-survival recomputed from the predictions
# (1e-12); one epoch's loss curve equal to plain torch
# (tests/ref/abmil_ref.py, same initial weights and order) within 1e-5
# relative; result frames valid and taken by rank-stats; splits, folds,
# runs, bootstrap, determinism; slides without labels or embeddings
# named; clear errors for NaN features, empty bags, mismatched widths,
# single-class folds; attention heatmaps on a real slide.
. tests/lib.sh
PY=.venv/bin/python
G=tests/ref/mil_gen.py
if [ ! -x $PY ]; then
	fail "$PY missing: run 'make deps' first"
	finish
	exit 1
fi
# small and quick: one BLAS thread, a narrow head
FAST="-j 1 --proj 64 --attn 32 --lr 1e-3"

cli_basics mil-train
expect no-labels 2 mil-train -k 5
has no-labels "$T/err" "mil-train: no labels: give -l LABELS.csv"
expect two-splits 2 mil-train -l x.csv -k 5 --split 7:1:2
has two-splits "$T/err" "give exactly one of --splits, --folds and --split"
expect bad-head 2 mil-train -l x.csv -k 5 -m transformer
has bad-head "$T/err" "--head: abmil, abmil-gated, eva, mean or max, not 'transformer'"
expect bad-split 2 mil-train -l x.csv --split 7:1
expect heat-no-slides 2 mil-train -l x.csv -k 5 --heatmap $T/h
expect missing-labels 1 "mil-train -l /nonexistent.csv -k 2 < /dev/null"

# ---- the synthetic MIL task ----
mkdir $T/c $T/s
$PY $G cls $T/c --bags 200 --seed 1
frame-cat -J $T/c/emb.jsonl > $T/c/emb.mpk
expect cls 0 "mil-train -l $T/c/labels.csv -k 4 $FAST --predictions $T/c/pred.mpk --log $T/c/log.mpk $T/c/emb.mpk > $T/c/res.mpk"
auc=$(frame-cat $T/c/res.mpk | jq -s '[.[] | select(.metric == "auroc") | .value] | add / length')
echo "synthetic MIL task, ABMIL, 4 folds: mean AUC $auc"
awk -v a="$auc" 'BEGIN { exit !(a >= 0.95) }' && pass || fail "synthetic MIL AUC $auc < 0.95"
[ "$(frame-cat -c -t result $T/c/res.mpk)" = 28 ] && pass || fail "cls: 4 folds x 7 metrics wanted"
expect cls-check 0 frame-cat --check -c $T/c/res.mpk $T/c/pred.mpk $T/c/log.mpk
frame-cat --full $T/c/pred.mpk > $T/c/pred.jsonl
frame-cat --full $T/c/res.mpk > $T/c/res.jsonl
expect cls-sklearn 0 $PY $G metrics $T/c/pred.jsonl $T/c/res.jsonl
cat "$T/out"
has cls-sklearn "$T/out" "24 results"
has cls-pred "$T/c/pred.jsonl" '"attention":{"dtype":"f32","shape":['
has cls-coords "$T/c/pred.jsonl" '"coords":{"dtype":"i64","shape":['
has cls-meta "$T/c/res.jsonl" '"meta":{"head":"abmil","arch":"'
has cls-meta-arch "$T/c/res.jsonl" ' attention 32, 64 -> 2 ('
has cls-meta-run "$T/c/res.jsonl" '"emb":"uni","run_id":"'
# mean pooling is a weaker baseline on this task; both rank
expect mean 0 "mil-train -l $T/c/labels.csv -k 4 -j 1 --proj 64 --lr 1e-3 -m mean --model uni-mean $T/c/emb.mpk > $T/c/mean.mpk"
expect max 0 "mil-train -l $T/c/labels.csv -k 4 -j 1 --proj 64 --lr 1e-3 -m max --task labels2 $T/c/emb.mpk > $T/c/max.mpk"
expect gated 0 "mil-train -l $T/c/labels.csv -k 4 $FAST -m abmil-gated --task labels2 --model uni-mean $T/c/emb.mpk > $T/c/gated.mpk"
expect rank 0 "cat $T/c/res.mpk $T/c/mean.mpk $T/c/max.mpk $T/c/gated.mpk | rank-stats -m auroc -f csv"
has rank "$T/out" ",uni,"
has rank-mean "$T/out" ",uni-mean,"

# ---- survival with a planted risk ----
$PY $G surv $T/s --bags 200 --seed 2
frame-cat -J $T/s/emb.jsonl > $T/s/emb.mpk
expect surv 0 "mil-train -l $T/s/labels.csv -k 4 $FAST --predictions $T/s/pred.mpk $T/s/emb.mpk > $T/s/res.mpk"
ci=$(frame-cat $T/s/res.mpk | jq -s '[.[] | select(.metric == "c_index") | .value] | add / length')
echo "planted-risk survival task, ABMIL, 4 folds: mean c-index $ci"
awk -v a="$ci" 'BEGIN { exit !(a >= 0.75) }' && pass || fail "survival c-index $ci < 0.75"
expect surv-check 0 frame-cat --check -c $T/s/res.mpk $T/s/pred.mpk
frame-cat --full $T/s/pred.mpk > $T/s/pred.jsonl
frame-cat --full $T/s/res.mpk > $T/s/res.jsonl
expect surv-sksurv 0 $PY $G metrics $T/s/pred.jsonl $T/s/res.jsonl

# ---- mixed precision: the same two tasks with --precision bf16 reach the
# same bars, within 0.02 of fp32 (bf16's 8 bits move a metric far less
# than the folds do; the numerics against torch are tests/test_mil.c's) ----
expect bad-precision 2 mil-train -l x.csv -k 5 --precision fp16
has bad-precision "$T/err" "--precision: fp32 or bf16, not 'fp16'"
if mil-train --precision bf16 --version > /dev/null 2>&1; then
	expect cls-bf16 0 "mil-train -l $T/c/labels.csv -k 4 $FAST --precision bf16 $T/c/emb.mpk > $T/c/res16.mpk"
	auc16=$(frame-cat $T/c/res16.mpk | jq -s '[.[] | select(.metric == "auroc") | .value] | add / length')
	expect surv-bf16 0 "mil-train -l $T/s/labels.csv -k 4 $FAST --precision bf16 $T/s/emb.mpk > $T/s/res16.mpk"
	ci16=$(frame-cat $T/s/res16.mpk | jq -s '[.[] | select(.metric == "c_index") | .value] | add / length')
	echo "--precision bf16: mean AUC $auc16 (fp32 $auc), mean c-index $ci16 (fp32 $ci)"
	awk -v a="$auc16" -v b="$auc" 'BEGIN { d = a - b; exit !(a >= 0.95 && d <= 0.02 && -d <= 0.02) }' &&
		pass || fail "bf16 AUC $auc16 (fp32 $auc)"
	awk -v a="$ci16" -v b="$ci" 'BEGIN { d = a - b; exit !(a >= 0.75 && d <= 0.02 && -d <= 0.02) }' &&
		pass || fail "bf16 c-index $ci16 (fp32 $ci)"
	# bf16 with a projection keeps the embeddings in bf16: half their
	# memory (40 bags x 500 x 1024: 82 MB in fp32); and subsampled bags
	mkdir $T/m
	$PY $G perf $T/m/bags.mpk 40 500 1024 6
	awk -F, 'NR == 1 {print "fold,slide_id,split"; next} {print "0," $1 "," (NR % 5 ? "train" : "test")}' \
		$T/m/bags.mpk.csv > $T/m/splits.csv
	printf '%s\n' 'import resource, subprocess, sys' \
		'subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)' \
		'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' > $T/m/rss.py
	for p in fp32 bf16; do
		expect rss-$p 0 $PY $T/m/rss.py "$BIN/mil-train" -l $T/m/bags.mpk.csv --splits $T/m/splits.csv --epochs 1 -j 1 \
			--precision $p --max-tiles 300 -o $T/m/res-$p.mpk $T/m/bags.mpk
		cp "$T/out" $T/m/rss-$p
	done
	# GPFM's head as built, in the results' meta
	frame-cat $T/m/res-fp32.mpk > $T/m/res-fp32.jsonl
	frame-cat $T/m/res-bf16.mpk > $T/m/res-bf16.jsonl
	has arch-fp32 $T/m/res-fp32.jsonl '"arch":"1024 -> 512 relu, dropout 0.25, attention 128, 512 -> 2 (591619 parameters)"'
	has arch-bf16 $T/m/res-bf16.jsonl '"arch":"1024 -> 512 relu, dropout 0.25, bf16 products, attention 128, 512 -> 2 (591619 parameters)"'
	r32=$(cat $T/m/rss-fp32) r16=$(cat $T/m/rss-bf16)
	echo "40 bags of 500 x 1024: peak memory $r32 kB in fp32, $r16 kB in bf16"
	awk -v a="$r32" -v b="$r16" 'BEGIN { exit !(a - b >= 0.4 * 40 * 500 * 1024 * 4 / 1024) }' &&
		pass || fail "bf16 saved $r32 - $r16 kB, not the 40% of 80,000 kB wanted"
	# a CPU without AVX-512: oneDNN has no bf16 product, a usage error
	expect bf16-no-avx512 2 "ONEDNN_MAX_CPU_ISA=AVX2 mil-train --precision bf16 --version"
	has bf16-no-avx512 "$T/err" "--precision bf16: needs a build with oneDNN (libdnnl-dev) and an AVX-512 CPU"
else
	echo "skip: --precision bf16 (no oneDNN, or a CPU without AVX-512)"
fi
cat "$T/out"
has surv-type "$T/s/res.jsonl" '"task_type":"survival"'
has surv-risk "$T/s/pred.jsonl" '"risk":-'

# ---- one epoch against plain torch ----
awk -F, 'NR == 1 {print "fold,slide_id,split"; next}
	{s = (NR % 10 == 0 || NR % 10 == 3) ? "test" : (NR % 10 == 5 || NR % 10 == 6) ? "val" : "train"
	 print "0," $1 "," s}' $T/c/labels.csv > $T/c/splits.csv
$PY $G torchcase $T/c $T/c/labels.csv $T/c/splits.csv 32 64 32 2 7
expect torch-run 0 "mil-train -l $T/c/labels.csv --splits $T/c/splits.csv --init $T/c/init.f32 --proj 64 --attn 32 --dropout 0 --no-shuffle --epochs 1 -j 1 --log $T/c/steps.mpk --log-steps $T/c/emb.mpk > /dev/null"
frame-cat $T/c/steps.mpk | jq -r 'select(.split == "train" and .values.loss != null) | .values.loss' > $T/c/steps.txt
$PY tests/ref/abmil_ref.py $T/c/case.bin $T/c/ref.out
expect torch-curve 0 $PY $G compare $T/c/steps.txt $T/c/ref.out
echo "loss curve against torch: $(cat $T/out)"
has torch-steps "$T/out" "steps 120"

# ---- determinism, runs, bootstrap, splits ----
expect again-1 0 "mil-train -l $T/c/labels.csv --split 6:2:2 --seed 3 $FAST --epochs 3 $T/c/emb.mpk > $T/c/a1.mpk"
expect again-2 0 "mil-train -l $T/c/labels.csv --split 6:2:2 --seed 3 $FAST --epochs 3 $T/c/emb.mpk > $T/c/a2.mpk"
same deterministic $T/c/a1.mpk $T/c/a2.mpk
# the thread count changes nothing: bags large enough that every pass of
# a step (GEMMs, dropout mask, epilogues, bias sums, Adam) is split
mkdir $T/j
$PY $G perf $T/j/bags.mpk 12 600 64 5
for p in fp32 bf16; do
	mil-train --precision $p --version > /dev/null 2>&1 || continue
	for j in 1 2 3; do
		expect threads-$p-$j 0 "mil-train -l $T/j/bags.mpk.csv --split 6:2:4 --epochs 2 --min-epochs 2 -j $j --precision $p --run-id r --predictions $T/j/pred-$p-$j.mpk $T/j/bags.mpk > $T/j/res-$p-$j.mpk"
	done
	for j in 2 3; do
		same threads-$p-pred-$j $T/j/pred-$p-1.mpk $T/j/pred-$p-$j.mpk
		same threads-$p-res-$j $T/j/res-$p-1.mpk $T/j/res-$p-$j.mpk
	done
done
expect other-seed 0 "mil-train -l $T/c/labels.csv --split 6:2:2 --seed 4 $FAST --epochs 3 $T/c/emb.mpk > $T/c/a3.mpk"
cmp -s $T/c/a1.mpk $T/c/a3.mpk && fail "another seed, the same results" || pass
expect runs 0 "mil-train -l $T/c/labels.csv --splits $T/c/splits.csv --runs 2 --bootstrap 200 --epochs 5 $FAST --weighted --batch 2 $T/c/emb.mpk | frame-cat"
has runs-0 "$T/out" '"metric":"auroc","value":'
has runs-1 "$T/out" '"fold":0,"run":1,"split":"test","n":40'
expect runs-ci 0 "jq -e 'select(.metric == \"auroc\") | .ci_low <= .value and .value <= .ci_high and .ci_low < .ci_high' < $T/out"
expect eva 0 "mil-train -l $T/c/labels.csv --splits $T/c/splits.csv -m eva --epochs 3 -j 1 --max-tiles 16 $T/c/emb.mpk | frame-cat"
has eva "$T/out" '"head":"eva"'
# a directory of frame files reads as their concatenation
mkdir $T/c/dir
head -n 3000 $T/c/emb.jsonl | frame-cat -J > $T/c/dir/a.mpk
tail -n +3001 $T/c/emb.jsonl | frame-cat -J > $T/c/dir/b.mpk
expect dir 0 "mil-train -l $T/c/labels.csv --split 6:2:2 --seed 3 $FAST --epochs 3 $T/c/dir > $T/c/a4.mpk"
# the same results (the run id hashes the arguments, so it differs)
for f in a1 a4; do frame-cat $T/c/$f.mpk | jq -c 'del(.meta.run_id)' > $T/c/$f.json; done
same dir-same $T/c/a1.json $T/c/a4.json

# ---- what does not join is named; --strict refuses ----
sed '/^slide-007,/d' $T/c/labels.csv > $T/c/l2.csv
echo "ghost-1,pos,case-x" >> $T/c/l2.csv
expect unmatched 0 "mil-train -l $T/c/l2.csv --split 6:2:2 $FAST --epochs 1 $T/c/emb.mpk > /dev/null"
has unlabelled "$T/err" "1 slide with embeddings has no label in $T/c/l2.csv (not used): slide-007"
has missing "$T/err" "1 labelled slide in $T/c/l2.csv has no embeddings (not used): ghost-1"
expect strict 1 "mil-train -l $T/c/l2.csv --split 6:2:2 --strict $FAST --epochs 1 $T/c/emb.mpk > /dev/null"
has strict "$T/err" "--strict: labels and embeddings do not match"

# ---- clear errors ----
b64() { base64 -w 0; }
nan=$( { head -c 124 /dev/zero; printf '\000\000\300\177'; } | b64)
printf '{"type":"embedding","v":1,"slide_id":"slide-000","emb":{"uni":{"dtype":"f32","shape":[32],"data":{"$base64":"%s"}}}}\n' "$nan" > $T/nan.jsonl
cat $T/c/emb.jsonl $T/nan.jsonl | frame-cat -J > $T/nan.mpk
expect nan 1 "mil-train -l $T/c/labels.csv -k 2 $T/nan.mpk"
has nan "$T/err" "(slide 'slide-000'): emb.uni[31] is NaN"
narrow=$(head -c 64 /dev/zero | b64)
printf '{"type":"embedding","v":1,"slide_id":"slide-001","emb":{"uni":{"dtype":"f32","shape":[16],"data":{"$base64":"%s"}}}}\n' "$narrow" > $T/w.jsonl
cat $T/c/emb.jsonl $T/w.jsonl | frame-cat -J > $T/w.mpk
expect width 1 "mil-train -l $T/c/labels.csv -k 2 $T/w.mpk"
has width "$T/err" "emb.uni is 16 wide, earlier embeddings 32: mismatched embedding widths"
printf '{"type":"embedding","v":1,"slide_id":"empty-1","emb":{"uni":{"dtype":"f32","shape":[0,32],"data":{"$base64":""}}}}\n' > $T/e.jsonl
cat $T/c/emb.jsonl $T/e.jsonl | frame-cat -J > $T/e.mpk
cp $T/c/labels.csv $T/e.csv
echo "empty-1,pos,case-e" >> $T/e.csv
expect empty-bag 1 "mil-train -l $T/e.csv -k 2 $T/e.mpk"
has empty-bag "$T/err" "slide 'empty-1': empty bag"
awk -F, 'NR == 1 {print "fold,slide_id,split"; next}
	{print "0," $1 "," ($2 == "neg" && NR % 5 ? "train" : "test")}' $T/c/labels.csv > $T/one.csv
expect one-class-train 1 "mil-train -l $T/c/labels.csv --splits $T/one.csv $FAST $T/c/emb.mpk"
has one-class-train "$T/err" "fold 0, run 0: the training split holds only class"
awk -F, 'NR == 1 {print "fold,slide_id,split"; next}
	{print "0," $1 "," ($2 == "pos" && NR % 3 == 0 ? "test" : "train")}' $T/c/labels.csv > $T/one2.csv
expect one-class-test 1 "mil-train -l $T/c/labels.csv --splits $T/one2.csv --epochs 1 $FAST $T/c/emb.mpk"
has one-class-test "$T/err" "mil-train: fold 0, run 0: the test split (34 slides) has no slide of class 'neg', so its AUC (one-vs-rest, as sklearn's) is undefined"
# found before training: no epoch was logged
expect one-class-test-early 1 "mil-train -l $T/c/labels.csv --splits $T/one2.csv --epochs 1 $FAST --log $T/one2-log.mpk $T/c/emb.mpk"
[ ! -s $T/one2-log.mpk ] || [ "$(frame-cat -c -t metric $T/one2-log.mpk)" = 0 ] && pass ||
	fail "one-class-test: an epoch trained before the error"
# a validation split without a class: --monitor auc cannot follow it
awk -F, 'NR == 1 {print "fold,slide_id,split"; next}
	{print "0," $1 "," (NR % 5 == 0 ? "test" : ($2 == "pos" && NR % 5 == 1) ? "val" : "train")}' \
	$T/c/labels.csv > $T/one3.csv
expect one-class-val 1 "mil-train -l $T/c/labels.csv --splits $T/one3.csv --monitor auc $FAST $T/c/emb.mpk"
has one-class-val "$T/err" "the validation split (20 slides) has no slide of class 'neg', so its AUC (one-vs-rest, as sklearn's), which --monitor auc follows, is undefined"
expect one-class-val-loss 0 "mil-train -l $T/c/labels.csv --splits $T/one3.csv --epochs 2 $FAST $T/c/emb.mpk > /dev/null"
# survival: --monitor error has no meaning, said before any training
expect surv-monitor-error 2 "mil-train -l $T/s/labels.csv -k 4 --monitor error $FAST $T/s/emb.mpk"
has surv-monitor-error "$T/err" "mil-train: --monitor error needs a classification task, not survival: monitor loss or auc (the c-index) ($T/s/labels.csv has times and events)"
# a survival test split whose slides are all censored: no comparable pair
awk -F, 'NR == 1 {print; next} {print $1 "," $2 "," (NR % 4 == 0 ? 0 : $3)}' $T/s/labels.csv > $T/s/cens.csv
awk -F, 'NR == 1 {print "fold,slide_id,split"; next} {print "0," $1 "," (NR % 4 == 0 ? "test" : "train")}' \
	$T/s/labels.csv > $T/s/cens-splits.csv
expect surv-no-pair 1 "mil-train -l $T/s/cens.csv --splits $T/s/cens-splits.csv $FAST $T/s/emb.mpk"
has surv-no-pair "$T/err" "mil-train: fold 0, run 0: the test split (50 slides) has no comparable pair (an event before another slide's time), so its c-index is undefined"
expect classes-twice 1 "mil-train -q -l $T/c/labels.csv -k 2 --classes neg,pos,neg $T/c/emb.mpk"
has classes-twice "$T/err" "mil-train: --classes: 'neg' named twice"
expect surv-monitor-error-flag 2 "mil-train -l /nonexistent.csv -k 4 --survival --monitor error < /dev/null"
has surv-monitor-error-flag "$T/err" "--monitor error needs a classification task"
printf 'fold,slide_id,split\n0,slide-000,training\n' > $T/bad.csv
expect bad-splits 1 "mil-train -l $T/c/labels.csv --splits $T/bad.csv $T/c/emb.mpk"
has bad-splits "$T/err" "bad.csv:2: split 'training' is not train, val or test"
head -c 100 $T/c/init.f32 > $T/short.f32
expect bad-init 1 "mil-train -l $T/c/labels.csv --splits $T/c/splits.csv --init $T/short.f32 $FAST $T/c/emb.mpk"
has bad-init "$T/err" "100 bytes, the model has 4355 float32 parameters"
expect cut 1 "head -c 5000 $T/c/emb.mpk | mil-train -l $T/c/labels.csv -k 2"

# ---- heatmaps on a real slide ----
awk -F, '$3 == "test" {print $2}' $T/c/splits.csv | head -n 2 > $T/hs.txt
{ echo "slide_id,path"; while read -r s; do echo "$s,$PWD/tests/data/CMU-1-Small-Region.svs"; done < $T/hs.txt; } > $T/slides.csv
expect heatmap 0 "mil-train -l $T/c/labels.csv --splits $T/c/splits.csv --epochs 2 $FAST --heatmap $T/maps --slides $T/slides.csv --predictions $T/maps.mpk $T/c/emb.mpk > /dev/null"
has heatmap-skip "$T/err" "no heatmap: its path is not in --slides"
frame-cat --full $T/maps.mpk > $T/maps.jsonl
expect heatmap-colours 0 $PY $G heatcheck $T/maps.jsonl $T/maps tests/data/CMU-1-Small-Region.svs
cat "$T/out"
[ "$(ls $T/maps | grep -c '\.png$')" = 2 ] && pass || fail "heatmap: 2 PNGs wanted: $(ls $T/maps)"
ls $T/maps | grep -q tmp && fail "heatmap: temporary file left" || pass
be32() { od -A n -t u1 -j "$2" -N 4 "$1" | awk '{print (($1 * 256 + $2) * 256 + $3) * 256 + $4}'; }
for f in $T/maps/*.png; do
	[ "$(head -c 8 "$f" | od -A n -t x1 | tr -d ' ')" = 89504e470d0a1a0a ] && pass || fail "$f: not a PNG"
	# the thumbnail of a 2220 x 2967 slide, 1024 on the long side
	[ "$(be32 "$f" 16)x$(be32 "$f" 20)" = 767x1024 ] && pass || fail "$f: $(be32 "$f" 16)x$(be32 "$f" 20)"
done

finish
