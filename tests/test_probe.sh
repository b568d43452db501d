#!/bin/sh
# probe: CLI conventions; every head on Gaussian classes, each result
# equal to scikit-learn / numpy recomputed independently
# (tests/ref/probe_ref.py check: knn, simpleshot, retrieval 1e-12,
# logreg 1e-6); result frames valid and taken by rank-stats; labels
# from a CSV; bootstrap; clear errors.
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

finish
