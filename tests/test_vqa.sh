#!/bin/sh
# vqa-train: CLI conventions; a synthetic VQA task (one random embedding
# per image whose cluster decides the answers, tests/ref/gen_synth.py)
# where the trained head must beat the most frequent training answer per
# question type by a clear margin (accuracy >= 0.85 and at least 0.3
# above it); checkpoint save -> --load gives identical answers; the same
# answers on 1 and 2 threads; every result equal to SQuAD's normalisation
# and F1 and pycocoevalcap's BLEU-1 recomputed from the predictions (1e-9
# relative, tests/ref/gen_check.py); generated answers (--generate, beam and
# greedy); both layouts (JSON lines, WSI-VQA's multiple choice); errors
# that name the file and line.
. tests/lib.sh
need_venv
S=tests/ref/gen_synth.py
FAST="--width 32 --heads 2 --ff 64 --layers 1 --lr 2e-3 --epochs 15 -j 1"

cli_basics vqa-train
expect no-qa 2 vqa-train x.mpk
has no-qa "$T/err" "no questions: give --qa FILE"
expect bad-monitor 2 vqa-train --qa q.jsonl --monitor bleu4
has bad-monitor "$T/err" "--monitor: one of loss, accuracy, not 'bleu4'"
expect bad-max-answers 2 vqa-train --qa q.jsonl --max-answers -1
expect missing-file 1 "vqa-train --qa /nonexistent.jsonl < /dev/null"
has missing-file "$T/err" "vqa-train: /nonexistent.jsonl: No such file or directory"

mkdir $T/v
$PY $S vqa $T/v --images 160 --seed 2
frame-cat -J $T/v/emb.jsonl > $T/v/emb.mpk
val() { frame-cat "$1" | jq -r "select(.model == \"$2\" and .metric == \"$3\") | .value"; }

# ---- the synthetic task: trained vs most frequent ----
expect train 0 "vqa-train --qa $T/v/qa.jsonl $FAST --baseline --save $T/v/m.safetensors --predictions $T/v/pred.jsonl --log $T/v/log.mpk $T/v/emb.mpk > $T/v/res.mpk"
cat "$T/err"
acc=$(val $T/v/res.mpk toy accuracy) accb=$(val $T/v/res.mpk most-frequent accuracy)
op=$(val $T/v/res.mpk toy open_exact_match) opb=$(val $T/v/res.mpk most-frequent open_exact_match)
echo "synthetic VQA (64 test questions): accuracy $acc vs most frequent $accb; open exact match $op vs $opb"
awk -v a="$acc" -v b="$accb" 'BEGIN { exit !(a >= 0.85 && a >= b + 0.3) }' && pass ||
	fail "accuracy $acc does not beat the most frequent answer's $accb by 0.3"
awk -v a="$op" -v b="$opb" 'BEGIN { exit !(a >= b + 0.4) }' && pass ||
	fail "open exact match $op does not beat the most frequent answer's $opb by 0.4"
for m in accuracy closed_accuracy open_exact_match open_f1 open_bleu1 loss; do
	[ -n "$(val $T/v/res.mpk toy $m)" ] && pass || fail "no $m result"
done
expect frames-valid 0 frame-cat --check $T/v/res.mpk $T/v/log.mpk
expect rank-stats 0 "rank-stats -m accuracy $T/v/res.mpk"
[ "$(wc -l < $T/v/pred.jsonl)" = 64 ] && pass || fail "64 predictions wanted"
expect pred-json 0 "jq -e 'has(\"question\") and has(\"prediction\") and (.type == \"open\" or .type == \"closed\")' $T/v/pred.jsonl"
# closed questions answer yes or no, whatever the model's scores
expect closed-yes-no 0 "jq -e -s 'all(.[] | select(.type == \"closed\"); .prediction == \"yes\" or .prediction == \"no\")' $T/v/pred.jsonl"

# every value against the reference recomputed from the predictions (a
# one-epoch run with WSI-VQA's questions too: values not all 1)
expect short 0 "vqa-train --qa $T/v/qa.jsonl --qa $T/v/WsiVQA_test.json $FAST --epochs 1 --baseline --predictions $T/v/ps.jsonl $T/v/emb.mpk | frame-cat > $T/v/ps-res.jsonl"
expect reference 0 $PY tests/ref/gen_check.py vqa $T/v/ps.jsonl $T/v/ps-res.jsonl
cat "$T/out"
has reference "$T/out" "10 values equal to the reference"

# ---- checkpoint, threads ----
expect load 0 "vqa-train --qa $T/v/qa.jsonl --load $T/v/m.safetensors --epochs 0 --predictions $T/v/pred2.jsonl $T/v/emb.mpk > /dev/null"
same load-predictions $T/v/pred.jsonl $T/v/pred2.jsonl
expect threads2 0 "vqa-train --qa $T/v/qa.jsonl $FAST -j 2 --predictions $T/v/pred-j2.jsonl $T/v/emb.mpk > /dev/null"
same threads $T/v/pred.jsonl $T/v/pred-j2.jsonl
expect load-generate 1 "vqa-train --qa $T/v/qa.jsonl --load $T/v/m.safetensors --epochs 0 --generate $T/v/emb.mpk"
has load-generate "$T/err" "a model without a decoder: leave out --generate"

# --max-answers 1 keeps the class yes (the commonest answer): every
# answer is yes, and no open answer (a diagnosis) is right
expect max-answers 0 "vqa-train --qa $T/v/qa.jsonl $FAST --epochs 3 --max-answers 1 --predictions $T/v/ma.jsonl $T/v/emb.mpk > $T/v/ma.mpk"
[ "$(val $T/v/ma.mpk toy open_exact_match)" = 0 ] && pass || fail "--max-answers 1: an open answer was right"
[ "$(jq -r .prediction $T/v/ma.jsonl | sort -u)" = yes ] && pass || fail "--max-answers 1: answers other than yes"

# ---- generated answers ----
expect generate 0 "vqa-train --qa $T/v/qa.jsonl $FAST --generate --dec-layers 1 --max-len 8 --save $T/v/g.safetensors $T/v/emb.mpk > $T/v/gen.mpk"
ga=$(val $T/v/gen.mpk toy accuracy)
echo "generated answers: accuracy $ga"
awk -v a="$ga" -v b="$accb" 'BEGIN { exit !(a >= b + 0.2) }' && pass ||
	fail "generated answers: accuracy $ga does not beat $accb by 0.2"
expect generate-beam 0 "vqa-train --qa $T/v/qa.jsonl --load $T/v/g.safetensors --epochs 0 --generate --beam 3 --max-len 8 $T/v/emb.mpk > /dev/null"

# ---- WSI-VQA's layout: multiple choice, the split from the file name ----
expect wsi-vqa 0 "vqa-train --qa $T/v/qa.jsonl --qa $T/v/WsiVQA_test.json $FAST $T/v/emb.mpk > $T/v/wsi.mpk"
ch=$(val $T/v/wsi.mpk toy choice_accuracy)
[ -n "$ch" ] && pass || fail "no choice_accuracy with WSI-VQA questions"
# a TCGA case id joins its slide
printf '[{"Id":"TCGA-AA-0001","Question":"is it?","Answer":"yes"}]' > $T/v/WsiVQA_train.json
printf '{"type":"embedding","v":1,"slide_id":"TCGA-AA-0001-01Z-00-DX1","emb":{"toy":{"dtype":"f32","shape":[2],"data":{"$base64":"AACAPwAAAEA="}}}}\n' | frame-cat -J > $T/v/tcga.mpk
expect tcga-case 1 "vqa-train --qa $T/v/WsiVQA_train.json --epochs 1 --width 8 --heads 2 $T/v/tcga.mpk"
has tcga-case "$T/err" "the test split is empty"

# ---- errors name the file and the line ----
printf '{"image":"img_0000","question":"q?","answer":"yes","split":"train"}\n{"image":"img_0001","question":"q?","answer":"no","split":"dev"}\n' > $T/v/q1.jsonl
expect unknown-split 1 "vqa-train --qa $T/v/q1.jsonl $T/v/emb.mpk"
has unknown-split "$T/err" "q1.jsonl:2: unknown split \"dev\" (train, val or test)"
printf '{"image":"img_0000","question":"","answer":"yes","split":"train"}\n' > $T/v/q2.jsonl
expect empty-question 1 "vqa-train --qa $T/v/q2.jsonl $T/v/emb.mpk"
has empty-question "$T/err" "q2.jsonl:1: empty \"question\""
printf '{"image":"img_0000","question":"q?","answer":"yes"}\n' > $T/v/q3.jsonl
expect no-split 1 "vqa-train --qa $T/v/q3.jsonl $T/v/emb.mpk"
has no-split "$T/err" "q3.jsonl:1: img_0000 has no split (give --split)"
expect seeded-split 0 "vqa-train --qa $T/v/q3.jsonl --qa $T/v/qa.jsonl --split 7:1:2 $FAST --epochs 1 $T/v/emb.mpk > /dev/null"
printf '{"image":"img_0000","question":"q?","answer":"yes","split":"train"}\n{"image":1}\n' > $T/v/q4.jsonl
expect bad-field 1 "vqa-train --qa $T/v/q4.jsonl $T/v/emb.mpk"
has bad-field "$T/err" "q4.jsonl:2: \"image\" is not a string"
printf '{"image":"img_0000","question":"q?","answer":"yes","split":"train"\n' > $T/v/q5.jsonl
expect bad-json 1 "vqa-train --qa $T/v/q5.jsonl $T/v/emb.mpk"
has bad-json "$T/err" "q5.jsonl:1: "
jq -c 'select(.image != "img_0005")' $T/v/qa.jsonl > $T/v/q6.jsonl
expect strict 1 "vqa-train --qa $T/v/q6.jsonl --strict $FAST $T/v/emb.mpk"
has strict "$T/err" "1 slide with embeddings but no question: img_0005"
if command -v script >/dev/null 2>&1; then
	script -qec "vqa-train --qa $T/v/qa.jsonl $FAST --epochs 1 $T/v/emb.mpk" /dev/null > $T/tty.out 2>&1
	has tty-refused $T/tty.out "refusing to write binary frames to a terminal"
fi
finish
