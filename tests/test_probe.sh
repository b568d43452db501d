#!/bin/sh
# probe: CLI conventions; every head on Gaussian classes, each result
# equal to scikit-learn / numpy recomputed independently
# (tests/ref/probe_ref.py check: knn, simpleshot, retrieval 1e-12,
# logreg 1e-6), also with --C, a weighted vote (--k, --temperature) and
# two classes; result frames valid and taken by rank-stats; labels from
# a CSV; bootstrap; the linear head's early stopping (probe_ref.py
# early: with -v, the epochs run, the best epoch, its metrics and the
# step losses equal to torch's, for both monitors, patience, minimum
# epochs; the best epoch's weights kept; --val-frac's stratified
# hold-out sizes; with a held-out share, where the rule says it stops,
# from probe's own runs of 1..30 epochs); clear errors.
. tests/lib.sh
PY=.venv/bin/python
R=tests/ref/probe_ref.py
if [ ! -x $PY ]; then
	fail "$PY missing: run 'make deps' first"
	finish
	exit 1
fi

expect help 0 probe --help
has help "$T/out" "Usage: probe"
empty help-stderr "$T/err"
sed 's/\\-/-/g' man/man1/probe.1 > "$T/man"
for o in $(probe --help | grep -oE -- '--[a-zA-Z][a-z-]*' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
expect version 0 probe --version
has version "$T/out" "probe (pathfm)"
expect bad-option 2 probe --bogus
has bad-option "$T/err" "Try 'probe --help'"
expect no-inputs 2 probe -m knn
has no-inputs "$T/err" "give the training (-t) and test (-s) embeddings"
expect bad-method 2 probe -t a -s b -m svm
has bad-method "$T/err" "--method: logreg, linear, knn, simpleshot or retrieval, not 'svm'"
expect bad-vote 2 probe -t a -s b --vote majority

mkdir $T/a $T/b
$PY $R gen $T/a --seed 5
$PY $R gen $T/b --seed 6
for d in a b; do
	for s in train val test; do frame-cat -J $T/$d/$s.jsonl > $T/$d/$s.mpk; done
done
# d = 24, 4 classes: UNI's C = d K / 100 = 0.96
expect all 0 "probe -t $T/a/train.mpk -s $T/a/test.mpk -m logreg,linear,knn,simpleshot,retrieval --tol 1e-8 -j 1 --task gauss --model A --log $T/a/log.mpk > $T/a/res.mpk"
expect all-check 0 frame-cat --check -c $T/a/res.mpk $T/a/log.mpk
[ "$(frame-cat -c $T/a/res.mpk)" = 27 ] && pass || fail "all: 6+6+6+5+4 results wanted"
frame-cat --full $T/a/res.mpk > $T/a/res.jsonl
expect references 0 $PY $R check $T/a $T/a/res.jsonl 0.96
cat "$T/out"
has references "$T/out" "21 results"
has task "$T/a/res.jsonl" '"task":"gauss/knn","model":"A","metric":"auroc"'
has task-type "$T/a/res.jsonl" '"task_type":"retrieval"'
has meta "$T/a/res.jsonl" '"meta":{"head":"logreg","emb":"uni","run_id":"'
# the same protocol on other features ranks
expect all-b 0 "probe -t $T/b/train.mpk -s $T/b/test.mpk -m logreg,linear,knn,simpleshot --task gauss --model B -j 1 > $T/b/res.mpk"
expect rank 0 "cat $T/a/res.mpk $T/b/res.mpk | rank-stats -m accuracy -f csv"
has rank "$T/out" ",A,"
# a validation file, the weighted vote, bootstrap intervals, runs
expect val 0 "probe -t $T/a/train.mpk -v $T/a/val.mpk -s $T/a/test.mpk -m linear,knn --vote weighted --runs 2 --bootstrap 200 -j 1 | frame-cat"
has val-run1 "$T/out" '"task":"train/linear","model":"uni","metric":"auroc"'
has val-runs "$T/out" '"run":1,"split":"test","n":150'
expect val-ci 0 "jq -e 'select(.metric == \"accuracy\") | .ci_low <= .value and .value <= .ci_high' < $T/out"
# labels from a CSV, for frames without them: the same results
jq -c 'del(.label)' $T/a/train.jsonl | frame-cat -J > $T/nolab-train.mpk
jq -c 'del(.label)' $T/a/test.jsonl | frame-cat -J > $T/nolab-test.mpk
{ echo "slide_id,label"; cat $T/a/train.jsonl $T/a/test.jsonl | jq -r '[.slide_id, .label] | @csv' | tr -d '"'; } > $T/labels.csv
expect csv-labels 0 "probe -t $T/nolab-train.mpk -s $T/nolab-test.mpk -l $T/labels.csv -m knn,simpleshot --run-id x > $T/c1.mpk"
expect frame-labels 0 "probe -t $T/a/train.mpk -s $T/a/test.mpk -m knn,simpleshot --run-id x > $T/c2.mpk"
frame-cat $T/c1.mpk | jq -c 'del(.task)' > $T/c1.json
frame-cat $T/c2.mpk | jq -c 'del(.task)' > $T/c2.json
same csv-labels-same $T/c1.json $T/c2.json
# the CSV as probe(1) describes it: columns in any order, others ignored,
# quoting, comments, blank lines, spaces, standard input; rows for every
# test frame (which have no label) but for a third of the training ones
# only (the others keep their frames' labels); a row for a slide that no
# input holds
{ echo "# labels"; echo 'label, note ,slide_id'; echo
  sed 1d $T/labels.csv | awk -F, '$1 ~ /test/ || NR % 3 == 0 { print " \"" $2 "\",\"a, \"\"b\"\"\",  " $1 }'
  echo 'c1,x,no-such-slide'; } > $T/labels2.csv
expect csv-format 0 "probe -t $T/a/train.mpk -s $T/nolab-test.mpk -l - -m knn,simpleshot --run-id x < $T/labels2.csv > $T/c3.mpk"
frame-cat $T/c3.mpk | jq -c 'del(.task)' > $T/c3.json
same csv-format-same $T/c3.json $T/c2.json
# the CSV wins over the frames' labels: c0 and c1 swapped in the CSV
# and in --classes give exactly the frames' results, which the order of
# --classes alone changes (kNN's ties, the ordinal kappa)
{ echo "slide_id,label"; sed 1d $T/labels.csv | sed 's/,c0$/,cX/; s/,c1$/,c0/; s/,cX$/,c1/'; } > $T/swap.csv
expect csv-wins 0 "probe -t $T/a/train.mpk -s $T/a/test.mpk -l $T/swap.csv --classes c1,c0,c2,c3 -m knn,simpleshot --run-id x | frame-cat | jq -c 'del(.task)' > $T/c4.json"
same csv-wins-same $T/c4.json $T/c2.json
expect classes-order 0 "probe -t $T/a/train.mpk -s $T/a/test.mpk --classes c1,c0,c2,c3 -m knn,simpleshot --run-id x | frame-cat | jq -c 'del(.task)' > $T/c5.json"
cmp -s $T/c5.json $T/c2.json && fail "classes-order: --classes c1,c0,c2,c3 changes nothing" || pass

# the CLI's settings of logreg and kNN against the references: --C, a
# weighted vote with its --k and --temperature; and two classes (binary
# logistic regression, the AUC of one column)
mkdir $T/bin
$PY $R gen $T/bin --k 2 --n 120 --m 90 --d 12 --seed 9
for s in train test; do frame-cat -J $T/bin/$s.jsonl > $T/bin/$s.mpk; done
expect settings 0 "probe -t $T/a/train.mpk -s $T/a/test.mpk -m logreg,knn --C 0.05 --tol 1e-8 --vote weighted --k 7 --temperature 0.1 -j 1 | frame-cat --full > $T/a/set.jsonl"
expect binary 0 "probe -t $T/bin/train.mpk -s $T/bin/test.mpk -m logreg,knn,simpleshot,retrieval --tol 1e-8 -j 1 | frame-cat --full > $T/bin/res.jsonl"
has binary-meta "$T/bin/res.jsonl" '"meta":{"head":"logreg","emb":"uni","run_id":"'
expect settings-references 0 $PY $R check $T/a $T/a/set.jsonl 0.05 --vote weighted --k 7 --temperature 0.1 : $T/bin $T/bin/res.jsonl 0.24
cat "$T/out"
has settings-references "$T/out" "12 results; largest relative differences: knn"
has binary-references "$T/out" "21 results; largest relative differences: knn"
# the weighted vote differs from the uniform one here (else the above
# would not tell them apart)
expect uniform-vote 0 "probe -t $T/a/train.mpk -s $T/a/test.mpk -m knn --k 7 -j 1 | frame-cat > $T/a/uni.jsonl"
auc='select(.metric == "auroc") | .value'
[ "$(jq "$auc" $T/a/uni.jsonl)" != "$(jq "select(.task | endswith(\"/knn\")) | $auc" $T/a/set.jsonl)" ] &&
	pass || fail "the uniform and weighted votes give the same AUC"

# The linear head's early stopping with a validation file, against torch
# (probe_ref.py early: AdamW from the same weights, batches in order):
# the epochs run, the best epoch, every metric of the best epoch's
# weights, every step's loss. Three classes of 100 training instances, 20
# validation ones; the validation error by epoch falls to 0.35 at epoch
# 1, rises for epochs 2 and 3, falls to 0.30 at 4 and stays there (equal,
# not better) for 5..7: patience 2 stops after epoch 3 (4 run, best 1),
# patience 3 gets past the rise and stops after epoch 7 (8 run, best 4,
# the first of equals); the loss is lowest at epoch 4.
mkdir $T/e
$PY $R gen $T/e --n 100 --m 40 --d 32 --k 3 --seed 8
for s in train val test; do frame-cat -J $T/e/$s.jsonl > $T/e/$s.mpk; done
$PY $R init $T/e/init.f32 32 3 1
es_cases=""
# es NAME EPOCHS BEST OPTION...: probe on $T/e (-v, no shuffling, from
# init.f32) stops after EPOCHS epochs with BEST the best (from 0)
es() {
	n=$1 ep=$2 best=$3
	shift 3
	expect "es-$n" 0 "probe -t $T/e/train.mpk -v $T/e/val.mpk -s $T/e/test.mpk -m linear --no-shuffle --init $T/e/init.f32 --lr 0.01 --batch 16 --epochs 30 -j 1 $* --log $T/e/$n.log.mpk | frame-cat > $T/e/$n.jsonl"
	frame-cat $T/e/$n.log.mpk > $T/e/$n.log.jsonl
	[ "$(jq -c 'select(.metric == "auroc") | [.meta.epochs, .meta.best_epoch]' $T/e/$n.jsonl)" = "[$ep,$best]" ] &&
		pass || fail "es-$n: epochs and best epoch not $ep and $best: $(jq -c 'select(.metric == "auroc") | .meta' $T/e/$n.jsonl)"
	[ "$(frame-cat -c $T/e/$n.log.mpk)" = $((ep * 7)) ] && pass || fail "es-$n: not 7 steps an epoch for $ep epochs in --log"
	es_cases="$es_cases : $T/e/$n.jsonl $* --log $T/e/$n.log.jsonl"
}
es err-p2 4 1 --monitor error --patience 2
es err-p3 8 4 --monitor error --patience 3
es loss-p3 8 4 --patience 3
es loss-min 15 4 --patience 2 --min-epochs 15
es loss-off 30 4 --patience 0
expect early-stopping 0 "$PY $R early $T/e $T/e/init.f32 --lr 0.01 --batch 16 --epochs 30 $es_cases"
cat "$T/out"
[ "$(grep -c "^  equal: epochs, best epoch, 6 metrics, [0-9]* step losses" "$T/out")" = 5 ] && pass || fail "early-stopping: 5 cases equal wanted"
# without a validation set (--val-frac 0) the last epoch is kept: 5
# epochs are the early-stopped runs' best epoch 4, 8 epochs differ
expect es-last-5 0 "probe -t $T/e/train.mpk -s $T/e/test.mpk -m linear --no-shuffle --init $T/e/init.f32 --lr 0.01 --batch 16 --epochs 5 --val-frac 0 -j 1 | frame-cat > $T/e/last5.jsonl"
expect es-last-8 0 "probe -t $T/e/train.mpk -s $T/e/test.mpk -m linear --no-shuffle --init $T/e/init.f32 --lr 0.01 --batch 16 --epochs 8 --val-frac 0 -j 1 | frame-cat > $T/e/last8.jsonl"
for f in loss-p3 last5 last8; do jq -c '[.metric, .value]' $T/e/$f.jsonl > $T/e/$f.v; done
same es-restored $T/e/loss-p3.v $T/e/last5.v
cmp -s $T/e/loss-p3.v $T/e/last8.v && fail "es: the 8th epoch's weights give the best epoch's results" || pass
has es-no-val "$T/e/last5.jsonl" '"meta":{"head":"linear","emb":"uni","run_id":"'
grep -q best_epoch $T/e/last5.jsonl && fail "es: a best epoch without validation" || pass

# --val-frac: a stratified share of the training set held out, round(F
# n) of each class's n (34, 33, 33 here); --batch 1 --epochs 1 logs one
# step per instance left for training. -v wins over it.
vf() {
	expect "val-frac-$1" 0 "probe -t $T/e/train.mpk -s $T/e/test.mpk -m linear --batch 1 --epochs 1 -j 1 $2 --log $T/e/vf.mpk > /dev/null"
	[ "$(frame-cat -c $T/e/vf.mpk)" = "$3" ] && pass || fail "val-frac-$1: $(frame-cat -c $T/e/vf.mpk) training steps, not $3"
}
vf default "" 91       # 3 + 3 + 3 held out (0.1)
vf 0.2 "--val-frac 0.2" 79  # 7 + 7 + 7
vf 0.5 "--val-frac 0.5" 49  # 17 + 17 + 17 (16.5 rounds up)
vf 0 "--val-frac 0" 100
vf with-val "--val-frac 0.5 -v $T/e/val.mpk" 100

# Early stopping on a held-out share, shuffled every epoch, against
# probe itself: --patience 0 --epochs N (N = 1..30) keeps the best of
# the first N epochs, B(N); the rule then says where a run stops: after
# the first epoch e (from 0) with e - B(e+1) >= P and e + 1 >= M, keeping
# B(e+1), and its results are those of --epochs B+1 --patience 0. G, the
# most epochs in a row without improvement before a later improvement,
# must be 3 or more (here, seed 0, 21 held out, the error: B(N) is 2 for
# N = 3..20, then 20, then 22; G = 17): patience G stops before that
# improvement, G + 1 gets past it; patience 2 with 25 epochs at least
# stops after epoch 24 or later. (G and the cases follow from probe's
# runs, so that another build's rounding cannot fail them.)
vopts="-t $T/e/train.mpk -s $T/e/test.mpk -m linear --val-frac 0.2 --monitor error --lr 0.01 --batch 16 -j 1 --run-id x"
: > $T/e/prefix
for N in $(seq 1 30); do
	probe $vopts --epochs $N --patience 0 | frame-cat > $T/e/p$N.jsonl
	jq -r 'select(.metric == "auroc") | .meta.best_epoch' $T/e/p$N.jsonl >> $T/e/prefix
done
G=$(awk '{ if (NR > 1 && $1 != b) g = NR - 2 - b > g ? NR - 2 - b : g; b = $1 } END { print g + 0 }' $T/e/prefix)
[ "$G" -ge 3 ] && pass || fail "val-frac: no later improvement after 3 epochs or more without (best epochs by epochs run: $(tr '\n' ' ' < $T/e/prefix))"
for pm in 1:0 2:0 $G:0 $((G + 1)):0 2:25 2:30 0:0; do
	P=${pm%:*} M=${pm#*:}
	rule=$(awk -v P=$P -v M=$M '{ b[NR - 1] = $1 } END {
		for (e = 0; e < NR; e++) if (P > 0 && e - b[e] >= P && e + 1 >= M) break
		if (e == NR) e = NR - 1
		print e + 1, b[e] }' $T/e/prefix)
	expect "vf-es-$pm" 0 "probe $vopts --epochs 30 --patience $P --min-epochs $M | frame-cat > $T/e/es.jsonl"
	got=$(jq -r 'select(.metric == "auroc") | "\(.meta.epochs) \(.meta.best_epoch)"' $T/e/es.jsonl)
	[ "$got" = "$rule" ] && pass || fail "vf-es-$pm: epochs, best epoch $got; the rule says $rule (best epochs by epochs run: $(tr '\n' ' ' < $T/e/prefix))"
	echo "$pm $got" >> $T/e/vf-cases
	jq -c '[.metric, .value]' $T/e/es.jsonl > $T/e/es.v
	jq -c '[.metric, .value]' $T/e/p$((${rule#* } + 1)).jsonl > $T/e/best.v
	same "vf-es-$pm-best" $T/e/es.v $T/e/best.v
done
echo "held-out share: G $G; patience:min-epochs epochs best: $(tr '\n' ';' < $T/e/vf-cases)"

# clear errors
sed -n 2p $T/labels.csv >> $T/labels.csv
expect dup-label 1 "probe -t $T/nolab-train.mpk -s $T/nolab-test.mpk -l $T/labels.csv -m knn"
has dup-label "$T/err" "is labelled twice"
expect no-label 1 "probe -t $T/nolab-train.mpk -s $T/a/test.mpk -m knn"
has no-label "$T/err" "no label (in the frame or --labels)"
grep -v '"label": "c3"' $T/a/train.jsonl | frame-cat -J > $T/no-c3.mpk
expect missing-class 1 "probe -t $T/no-c3.mpk -s $T/a/test.mpk -m knn"
has missing-class "$T/err" "class 'c3' has no training instances"
nan=$( { head -c 92 /dev/zero; printf '\000\000\300\177'; } | base64 -w 0)
printf '{"type":"embedding","v":1,"slide_id":"x","label":"c0","emb":{"uni":{"dtype":"f32","shape":[24],"data":{"$base64":"%s"}}}}\n' "$nan" | frame-cat -J > $T/nan.mpk
expect nan 1 "probe -t $T/a/train.mpk -t $T/nan.mpk -s $T/a/test.mpk"
has nan "$T/err" "(slide 'x'): emb.uni[23] is NaN"
printf '{"type":"embedding","v":1,"slide_id":"y","label":"c0","emb":{"uni":{"dtype":"f32","shape":[2],"data":{"$base64":"AAAAAAAAAAA="}}}}\n' | frame-cat -J > $T/narrow.mpk
expect width 1 "probe -t $T/a/train.mpk -s $T/narrow.mpk"
has width "$T/err" "emb.uni is 2 wide, earlier embeddings 24: mismatched embedding widths"
head -c 40 /dev/zero > $T/short.f32
expect bad-init 1 "probe -t $T/a/train.mpk -s $T/a/test.mpk -m linear --init $T/short.f32"
has bad-init "$T/err" "not the k*d + k float32 weights of the linear head"
expect cut 1 "head -c 3000 $T/a/train.mpk | probe -t - -s $T/a/test.mpk"
# --val-frac never holds out a class's last training instance: one
# instance a class trains on all of them, without early stopping
for c in c0 c1 c2 c3; do grep -m 1 "\"label\": \"$c\"" $T/a/train.jsonl; done | frame-cat -J > $T/four.mpk
expect four-val 0 "probe -t $T/four.mpk -s $T/a/test.mpk -m linear --val-frac 0.5 --epochs 3 --log $T/four-log.mpk | frame-cat --full"
has four-val-warn "$T/err" "probe: --val-frac 0.5: no class has two training instances: no validation split, no early stopping"
has four-val-epochs "$T/out" '"seed":0,"epochs":3}}'
[ "$(frame-cat -c -t metric $T/four-log.mpk)" = 3 ] && pass || fail "four-val: not 3 steps of 4 instances"
expect four-knn 0 "probe -t $T/four.mpk -s $T/a/test.mpk -m knn | frame-cat --full"
has four-knn-warn "$T/err" "probe: --k 20: only 4 training instances: k = 4"
has four-knn-k "$T/out" '"seed":0,"k":4}}'

finish
