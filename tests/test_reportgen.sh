#!/bin/sh
# report-gen: CLI conventions; a synthetic report task (random bag
# embeddings whose cluster decides the report template, built by
# tests/ref/gen_synth.py) where the trained generator must beat the most
# frequent training report by a clear margin (BLEU-4 >= 0.9 and at least
# 0.3 above it, CIDEr-D at least 2 above it); checkpoint save -> --load
# gives identical reports; beam and greedy decoding; the same results on
# 1 and 2 threads; every result equal to pycocoevalcap's recomputed from
# the predictions (1e-9 relative, tests/ref/gen_check.py); both layouts (annotation.json, captions.csv with a
# splits file or a seeded split); errors that name the file and item.
. tests/lib.sh
need_venv
S=tests/ref/gen_synth.py
# a small model: every run here takes well under a second
FAST="--width 32 --heads 2 --ff 64 --layers 1 --dec-layers 1 --max-len 24 --lr 2e-3 --epochs 12 -j 1"

cli_basics report-gen
expect no-text 2 report-gen x.mpk
has no-text "$T/err" "give one of --annotation and --captions"
expect both-texts 2 report-gen --annotation a.json --captions c.csv
expect bad-beam 2 report-gen --annotation a.json --beam 0
has bad-beam "$T/err" "--beam: not a beam width (1-64): '0'"
expect bad-monitor 2 report-gen --annotation a.json --monitor accuracy
has bad-monitor "$T/err" "--monitor: one of loss, bleu4, cider, rougeL, not 'accuracy'"
expect split-annotation 2 report-gen --annotation a.json --split 7:1:2
expect epochs0 2 report-gen --annotation a.json --epochs 0
expect heads 2 report-gen --annotation a.json --width 30 --heads 4
expect missing-file 1 "report-gen --annotation /nonexistent.json < /dev/null"
has missing-file "$T/err" "report-gen: /nonexistent.json: No such file or directory"

mkdir $T/r
$PY $S report $T/r --slides 100 --seed 1
frame-cat -J $T/r/emb.jsonl > $T/r/emb.mpk

# ---- the synthetic task: trained vs most frequent ----
expect train 0 "report-gen --annotation $T/r/annotation.json $FAST --baseline --save $T/r/m.safetensors --predictions $T/r/pred.jsonl --log $T/r/log.mpk $T/r/emb.mpk > $T/r/res.mpk"
cat "$T/err"
val() { frame-cat "$1" | jq -r "select(.model == \"$2\" and .metric == \"$3\") | .value"; }
b4=$(val $T/r/res.mpk toy bleu4) b4b=$(val $T/r/res.mpk most-frequent bleu4)
ci=$(val $T/r/res.mpk toy cider) cib=$(val $T/r/res.mpk most-frequent cider)
echo "synthetic reports (20 test slides): BLEU-4 $b4 vs most frequent $b4b; CIDEr-D $ci vs $cib"
awk -v a="$b4" -v b="$b4b" 'BEGIN { exit !(a >= 0.9 && a >= b + 0.3) }' && pass ||
	fail "BLEU-4 $b4 does not beat the most frequent report's $b4b by 0.3"
awk -v a="$ci" -v b="$cib" 'BEGIN { exit !(a >= b + 2) }' && pass ||
	fail "CIDEr-D $ci does not beat the most frequent report's $cib by 2"
[ "$(frame-cat -c -t result $T/r/res.mpk)" = 13 ] && pass || fail "7 model + 6 baseline results wanted"
expect frames-valid 0 frame-cat --check $T/r/res.mpk $T/r/log.mpk
expect rank-stats 0 "rank-stats -m bleu4 $T/r/res.mpk"
[ "$(wc -l < $T/r/pred.jsonl)" = 20 ] && pass || fail "20 predictions wanted"
# R2Gen's cleaning turns " 2. " into ". " (HistGen keeps that quirk)
has pred "$T/r/pred.jsonl" '"reference":"invasive ductal carcinoma grade . tumor size 25 cm . margins are negative for carcinoma ."'
expect pred-json 0 "jq -e 'has(\"id\") and has(\"prediction\") and has(\"baseline\")' $T/r/pred.jsonl"
has log "$(frame-cat $T/r/log.mpk > $T/log.json; echo $T/log.json)" '"val_bleu4"'

# every value against pycocoevalcap recomputed from the predictions, and
# every reference against R2Gen's tokenizer (a short, half-trained run, a
# threshold that makes <unk>s and a cut at 12 words: values not all 1)
expect short 0 "report-gen --annotation $T/r/annotation.json $FAST --epochs 3 --threshold 20 --max-len 12 --baseline --predictions $T/r/ps.jsonl $T/r/emb.mpk | frame-cat > $T/r/ps-res.jsonl"
has short-unk $T/r/ps.jsonl "<unk>"
expect pycocoevalcap 0 $PY tests/ref/gen_check.py report $T/r/ps.jsonl $T/r/ps-res.jsonl $T/r/annotation.json 20 12
cat "$T/out"
has pycocoevalcap "$T/out" "12 values equal to pycocoevalcap's; 20 references equal to R2Gen's tokens"

# ---- the checkpoint: --load gives the same reports ----
expect load 0 "report-gen --annotation $T/r/annotation.json --load $T/r/m.safetensors --epochs 0 --predictions $T/r/pred2.jsonl $T/r/emb.mpk > $T/r/res2.mpk"
same load-predictions $T/r/pred.jsonl $T/r/pred2.jsonl
[ "$(val $T/r/res2.mpk toy bleu4)" = "$b4" ] && pass || fail "--load: BLEU-4 differs"
has ckpt-meta $T/r/m.safetensors '"pathfm_program":"report-gen"'
expect load-wrong-kind 1 "vqa-train --qa /dev/null --load $T/r/m.safetensors --epochs 0 $T/r/emb.mpk"

# ---- greedy and beam, threads ----
expect greedy 0 "report-gen --annotation $T/r/annotation.json --load $T/r/m.safetensors --epochs 0 --beam 1 --no-repeat-ngram 0 $T/r/emb.mpk > $T/r/greedy.mpk"
g4=$(val $T/r/greedy.mpk toy bleu4)
awk -v a="$g4" 'BEGIN { exit !(a >= 0.8) }' && pass || fail "greedy BLEU-4 $g4 < 0.8"
expect beam5 0 "report-gen --annotation $T/r/annotation.json --load $T/r/m.safetensors --epochs 0 --beam 5 --length-penalty 1 --repetition-penalty 1.2 $T/r/emb.mpk > /dev/null"
expect threads2 0 "report-gen --annotation $T/r/annotation.json $FAST -j 2 --predictions $T/r/pred-j2.jsonl $T/r/emb.mpk > /dev/null"
same threads $T/r/pred.jsonl $T/r/pred-j2.jsonl

# regions, tile sampling, label smoothing, bootstrap intervals around the value
expect options 0 "report-gen --annotation $T/r/annotation.json $FAST --region 2 --max-tiles 4 --label-smoothing 0.1 --bootstrap 50 --monitor cider $T/r/emb.mpk > $T/r/opt.mpk"
expect ci 0 "frame-cat $T/r/opt.mpk | jq -e -s 'map(select(.metric != \"loss\")) | length == 6 and all(.[]; .ci_low <= .value and .value <= .ci_high)'"
o4=$(val $T/r/opt.mpk toy bleu4)
awk -v a="$o4" -v b="$b4b" 'BEGIN { exit !(a >= b + 0.3) }' && pass || fail "regions and sampling: BLEU-4 $o4"

# ---- captions.csv: a splits file, or a seeded split ----
tail -n +2 $T/r/captions.csv | cut -d, -f1 | awk 'BEGIN { print "id,split" } { print $1 "," (NR <= 70 ? "train" : NR <= 80 ? "val" : "test") }' > $T/r/splits.csv
expect captions-splits 0 "report-gen --captions $T/r/captions.csv --splits $T/r/splits.csv $FAST --predictions $T/r/pc.jsonl $T/r/emb.mpk > $T/r/rc.mpk"
same captions-like-annotation $T/r/pred.jsonl $T/r/pc.jsonl
expect captions-seeded 0 "report-gen --captions $T/r/captions.csv $FAST --epochs 2 $T/r/emb.mpk > $T/r/rs.mpk"
has captions-task "$(frame-cat $T/r/rs.mpk > $T/rs.json; echo $T/rs.json)" '"task":"captions"'
printf 'id,split\nS0000,training\n' > $T/r/badsplit.csv
expect bad-split-name 1 "report-gen --captions $T/r/captions.csv --splits $T/r/badsplit.csv $T/r/emb.mpk"
has bad-split-name "$T/err" "badsplit.csv:2: unknown split \"training\""

# ---- errors name the file and the item ----
printf '{"train":[{"id":"S0000","report":"a b"}],"dev":[]}' > $T/r/a1.json
expect unknown-split 1 "report-gen --annotation $T/r/a1.json $T/r/emb.mpk"
has unknown-split "$T/err" "a1.json: unknown split \"dev\" (train, val or test)"
printf '{"train":[{"id":"S0000","report":"a b"},{"id":"S0001","report":"  "}]}' > $T/r/a2.json
expect empty-report 1 "report-gen --annotation $T/r/a2.json $T/r/emb.mpk"
has empty-report "$T/err" "a2.json: train[1]: empty \"report\""
printf '{"train":[{"id":"S0000","report":"a b"},\n{"id":"S0001" "report":"c"}]}' > $T/r/a3.json
expect bad-json 1 "report-gen --annotation $T/r/a3.json $T/r/emb.mpk"
has bad-json "$T/err" "a3.json: "
has bad-json-line "$T/err" "at line 2, column 15"
printf 'id,subtype,text\nS0000,x,\n' > $T/r/c1.csv
expect empty-caption 1 "report-gen --captions $T/r/c1.csv $T/r/emb.mpk"
has empty-caption "$T/err" "c1.csv:2: empty text"
# ids without embeddings and slides without reports are listed; --strict refuses
jq '.train += [{"id":"NOPE-1","report":"x"}]' $T/r/annotation.json > $T/r/a4.json
expect listed 0 "report-gen --annotation $T/r/a4.json $FAST --epochs 1 $T/r/emb.mpk > /dev/null"
has listed "$T/err" "1 id in $T/r/a4.json with no embeddings (not used): NOPE-1"
expect strict 1 "report-gen --annotation $T/r/a4.json $FAST --epochs 1 --strict $T/r/emb.mpk"
has strict "$T/err" "--strict: reports and embeddings do not match"
# non-finite embeddings are refused, naming the slide
nan=$( { head -c 60 /dev/zero; printf '\000\000\300\177'; } | base64 -w0)
printf '{"type":"embedding","v":1,"slide_id":"S0000","emb":{"toy":{"dtype":"f32","shape":[16],"data":{"$base64":"%s"}}}}\n' "$nan" | frame-cat -J > $T/r/nan.mpk
expect nan 1 "report-gen --annotation $T/r/annotation.json $T/r/emb.mpk $T/r/nan.mpk"
has nan "$T/err" "emb.toy[15] is NaN"
# stdout is data only; no frames to a terminal
if command -v script >/dev/null 2>&1; then
	script -qec "report-gen --annotation $T/r/annotation.json $FAST --epochs 1 $T/r/emb.mpk" /dev/null > $T/tty.out 2>&1
	has tty-refused $T/tty.out "refusing to write binary frames to a terminal"
fi
finish
