#!/bin/sh
# The generative tasks' data and pipelines: make-text-sets builds a report
# set and a VQA set from the shipped slides (layouts as report-gen and
# vqa-train read them, seeded splits disjoint by region, every report
# statement and every answer checked against tile-filter's measures taken
# here apart), and bench-report / bench-vqa train heads on embeddings of a
# tiny ViT that beat the most-frequent baseline by a clear margin.
. tests/lib.sh
P=pipelines
D=tests/data
export PFM_BIN="$BIN"

for s in make-text-sets bench-report bench-vqa; do
	expect "$s-help" 0 $P/$s --help
	has "$s-help" "$T/out" "Usage: $s"
	empty "$s-help-stderr" "$T/err"
	expect "$s-version" 0 $P/$s --version
	has "$s-version" "$T/out" "$s (pathfm)"
	expect "$s-bogus" 2 $P/$s --bogus
	has "$s-bogus" "$T/err" "Try '$s --help'"
done
expect mts-noout 2 $P/make-text-sets $D/small.svs
expect mts-split 2 $P/make-text-sets -o $T/x --split 1:2 $T/none.mpk
expect mts-kind 2 $P/make-text-sets -o $T/x --kind skin $T/none.mpk
expect mts-missing 1 $P/make-text-sets -o $T/x $T/none.mpk
has mts-missing "$T/err" "$T/none.mpk: cannot read"
expect br-nodata 2 $P/bench-report -c $T/c -o $T/r
has br-nodata "$T/err" "give one of --annotation and --captions"
expect bv-noqa 2 $P/bench-vqa -c $T/c -o $T/r
expect bv-bagby 2 "$P/bench-vqa -c $T/c -o $T/r --qa x --bag-by '.a b'"

# ---- the sets, from 112 px tiles at 1.0 um/px of the three images ----
mkdir -p $T/in
wsi-tile -q --mpp 1.0 --size 112 --no-mask -o $T/in/cmu.mpk $D/CMU-1-Small-Region.svs
wsi-tile -q --mpp 1.0 --size 112 --no-mask --assume-mag 20 -o $T/in/tcga.mpk $D/TCGA-CR-7395-01A-01-TS1.svs
wsi-tile -q --mpp 0.5 --size 112 --assume-mpp 0.25 -o $T/in/he.mpk $D/he-1024-a.png
MTS="$P/make-text-sets --kind CMU-1-Small-Region=skin --kind 'TCGA-CR-7395-01A-01-TS1=frozen section' --kind he-1024-a=breast --region 2"
expect mts 0 "$MTS -o $T/s $T/in/cmu.mpk $T/in/tcga.mpk $T/in/he.mpk"
has mts "$T/err" "regions"
empty mts-stdout "$T/out"
S=$T/s
expect mts-twice 1 "$P/make-text-sets -o $T/s0 $T/in/cmu.mpk $T/in/cmu.mpk"
has mts-twice "$T/err" "the same image given twice?"
[ ! -e $T/s0 ] && pass || fail "make-text-sets: a failed run left $T/s0"
for f in annotation.json vqa.jsonl tiles.mpk regions.jsonl README.md; do
	[ -s $S/$f ] && pass || fail "make-text-sets: $f missing"
done
has mts-readme $S/README.md "These are not pathology reports."
expect mts-valid 0 frame-cat --check -c $S/tiles.mpk
# The measures, taken again here: image and tile index -> tile-filter's qc.
tile-filter -q --annotate-only $T/in/cmu.mpk $T/in/tcga.mpk $T/in/he.mpk | frame-cat |
	jq -c '{key: "\(.slide_id)/\(.tile_index)", value: .qc}' | jq -s from_entries > $T/qc.json
frame-cat $S/tiles.mpk | jq -c --slurpfile qc $T/qc.json '{id: .slide_id, region: .meta.region,
	split: .meta.split, image: .meta.image, mpp: .mpp, qc: $qc[0]["\(.meta.image)/\(.tile_index)"]}' > $T/tiles.jsonl
n=$(wc -l < $T/tiles.jsonl)
[ "$n" = $(($(frame-cat -c $T/in/cmu.mpk) + $(frame-cat -c $T/in/tcga.mpk) + $(frame-cat -c $T/in/he.mpk))) ] &&
	pass || fail "make-text-sets: $n tiles, not every input tile"
# jqt NAME PROGRAM: a check over the tiles, the regions' facts, the
# annotation and the questions; PROGRAM prints true when it holds.
jqt() {
	expect "$1" 0 "jq -n -r --slurpfile t $T/tiles.jsonl --slurpfile r $S/regions.jsonl \
		--slurpfile a $S/annotation.json --slurpfile q $S/vqa.jsonl '$2'"
	has "$1" "$T/out" "true"
}
# layouts: annotation {train,val,test: [{id, report}]}; questions with
# exactly image, question, answer, split, type
jqt ann-layout '$a[0] | (keys == ["test","train","val"]) and ([.[][] | (keys == ["id","report"])
	and (.id | type) == "string" and (.report | type) == "string" and (.report | length) > 10] | all)
	and ([.train, .val, .test | length > 0] | all)'
jqt vqa-layout '[$q[] | (keys == ["answer","image","question","split","type"])
	and (.type == "closed" or .type == "open") and (.split | IN("train","val","test"))
	and ((.type == "open") or (.answer | IN("yes","no")))] | all and length > 100'
jqt ann-ids '($a[0] | [.[][] | .id]) as $ids | ($ids | length) == ($ids | unique | length)
	and ($ids | sort) == ($t | map(.region) | unique | sort)'
jqt vqa-images '($t | map(.id)) as $ids | [$q[] | .image | IN($ids[])] | all'
# splits: a region in one split only, all its tiles with it; questions
# follow their tile; the three splits each have regions of two images
jqt split-regions '($a[0] | [.train[].id] as $tr | [.val[].id] as $va | [.test[].id] as $te
	| ($tr - $va - $te | length) == ($tr | length) and ($va - $te | length) == ($va | length))'
jqt split-tiles '[$t | group_by(.region)[] | map(.split) | unique | length == 1] | all'
jqt split-questions '($t | map({key: .id, value: .split}) | from_entries) as $s
	| [$q[] | .split == $s[.image]] | all'
jqt split-annotation '($t | map({key: .region, value: .split}) | from_entries) as $s
	| [$a[0] | to_entries[] | .key as $k | .value[] | $s[.id] == $k] | all'
jqt split-images '[$t | map(select(.image != "he-1024-a")) | group_by(.split)[] | map(.image) | unique | length == 2] | all'
# every statement of every report against the measures of its tiles
jqt reports '($t | group_by(.region) | map({key: .[0].region, value: .}) | from_entries) as $g
	| [$a[0][][] | .report as $r | $g[.id] as $ts
	  | ($ts | map(.qc.tissue) | add / length * 100) as $tissue
	  | ($ts | map(select(.qc.pen >= 0.01))) as $ink
	  | ($ts | any(.qc.dark >= 0.1)) as $dark
	  | ($r | capture("about (?<p>[0-9]+) percent").p | tonumber) as $p
	  | ($p - $tissue | fabs) <= 5.01
	  and ($r | test("(^| )(skin|frozen section|breast) ")) and ($r | test({"CMU-1-Small-Region": "skin ",
		"TCGA-CR-7395-01A-01-TS1": "frozen section ", "he-1024-a": "breast "}[$ts[0].image]))
	  and ($r | test(" at \(10 / $ts[0].mpp)x "))
	  and (if ($ink | length) > 0 then
		($r | capture("(?<c>red|green|blue) (marking )?ink").c) as $c
		| ($ink | map(.qc["pen_\($c)"]) | add) >= ([ "red", "green", "blue" ] | map(. as $k | $ink | map(.qc["pen_\($k)"]) | add) | max)
		and ($r | test("no (marking )?ink") | not)
	    else ($r | test("no (marking )?ink")) end)
	  and (if $dark then ($r | test("dark patches are present|there are dark patches"))
	    else ($r | test("dark patches are present|there are dark patches") | not) end)
	  and (($r | test("out of focus")) == ($ts | any(.qc.reason == "blur"))) ]
	| all and length > 50'
# the facts file says what the reports say
jqt facts '[$r[] | . as $f | .report as $x | ($x | test("about \($f.tissue_percent) percent"))
	and ($f.ink == null) == ($x | test("no (marking )?ink"))] | all and length > 50'
# every answer from the measures of its tile
jqt answers '($t | map({key: .id, value: .}) | from_entries) as $m
	| [$q[] | $m[.image] as $x | .answer == (
	  if .question == "is there ink on this tile ?" then (if $x.qc.pen >= 0.01 then "yes" else "no" end)
	  elif .question == "is this tile mostly background ?" then (if $x.qc.background > 0.5 then "yes" else "no" end)
	  elif .question == "are there dark patches on this tile ?" then (if $x.qc.dark >= 0.1 then "yes" else "no" end)
	  elif .question == "which image does this tile come from ?" then {"CMU-1-Small-Region": "skin",
		"TCGA-CR-7395-01A-01-TS1": "frozen section", "he-1024-a": "breast"}[$x.image]
	  elif .question == "at what magnification was this tile cut ?" then "\(10 / $x.mpp)x"
	  elif .question == "how much of this tile is tissue ?" then ($x.qc.tissue
		| if . < 0.05 then "none" elif . < 0.35 then "little" elif . < 0.65 then "about half" elif . < 0.95 then "most" else "all" end)
	  elif .question == "what is wrong with this tile ?" then {ok: "none", background: "background", pen: "ink", dark: "dark patches", blur: "blur"}[$x.qc.reason]
	  else "unknown question" end)] | all'
# balanced: in each split, the commonest answer of each question at most
# 1.5 times the next; all seven questions asked
jqt balance '[$q | group_by([.question, .split])[] | [group_by(.answer)[] | length] | sort | reverse
	| length >= 2 and .[0] <= (.[1] * 1.5 | ceil)] | all and length >= 14
	and ($q | map(.question) | unique | length) == 7'
# seeded: the same seed makes the same sets, another seed another split
expect mts-again 0 "$MTS -o $T/s2 $T/in/cmu.mpk $T/in/tcga.mpk $T/in/he.mpk"
same mts-same-ann $S/annotation.json $T/s2/annotation.json
same mts-same-vqa $S/vqa.jsonl $T/s2/vqa.jsonl
expect mts-seed 0 "$MTS --seed 5 -o $T/s3 $T/in/cmu.mpk $T/in/tcga.mpk $T/in/he.mpk"
cmp -s $S/annotation.json $T/s3/annotation.json && fail "make-text-sets: --seed 5 made the same split" || pass

# ---- end to end: heads on a random-init ViT-Ti's frozen embeddings ----
# (distill-step's initial weights, as the demo's random baseline: its
# embeddings still carry colour and texture, enough to read the measures)
wsi-tile -q --mpp 1.0 --size 112 -n 8 -m random --seed 1 $D/CMU-1-Small-Region.svs |
	distill-step -q --arch vit-ti --steps 1 -b 4 --lr 0 --global-size 112 --local-size 48 \
		--local-crops 1 --prototypes 64 --head-hidden 64 --head-bottleneck 32 --layerscale 0.1 \
		--name vit --teacher $T/vit.safetensors -s $T/vit-ck.safetensors -o /dev/null
# Small heads: a few hundred texts, a few seconds each on 2 cores.
BR="$P/bench-report -j 2 -c $T/c -m vit=$T/vit.safetensors --bag-by meta.region --annotation $S/annotation.json -o $T/res/report --head-opts '--epochs 60 --width 64 --heads 2 --dec-layers 1 --beam 1 --patience 15 --lr 1e-3 --dropout 0'"
BV="$P/bench-vqa -j 2 -c $T/c -m vit=$T/vit.safetensors --qa $S/vqa.jsonl -o $T/res/vqa --head-opts '--epochs 20 --width 64 --heads 2 --layers 1 --patience 6'"
expect bench-report 0 "$BR $S/tiles.mpk"
expect bench-vqa 0 "$BV $S/tiles.mpk"
for f in report/vit.mpk report/most-frequent.mpk vqa/vit.mpk vqa/most-frequent.mpk \
	report/predictions/vit.jsonl vqa/predictions/vit.jsonl; do
	[ -s $T/res/$f ] && pass || fail "bench: $T/res/$f missing"
done
# metric MODEL FILE METRIC: its test-split value
metric() { frame-cat $T/res/$1 | jq -r --arg m "$2" 'select(.metric == $m and (.split // "test") == "test") | .value' | head -1; }
# beats NAME DIR METRIC MARGIN: the model's METRIC is the baseline's plus
# MARGIN or more (the numbers are printed for the record)
beats() {
	v=$(metric $2/vit.mpk $3) b=$(metric $2/most-frequent.mpk $3)
	echo "$1: $3 model $v, most-frequent $b" >&2
	if [ -n "$v" ] && [ -n "$b" ] && awk -v v="$v" -v b="$b" -v m="$4" 'BEGIN { exit !(v >= b + m) }'; then
		pass; else fail "$1: $3 $v does not beat the most-frequent baseline $b by $4"; fi
}
# (each statement's phrasing is drawn at random: a head that states the
# right facts in the other phrasing still loses n-grams, so BLEU and
# ROUGE-L stay well below 1 and their margins small; CIDEr-D weighs the
# facts' words)
beats report-bleu1 report bleu1 0.02
beats report-bleu4 report bleu4 0.04
beats report-rouge report rougeL 0.02
beats report-cider report cider 0.6
beats vqa-accuracy vqa accuracy 0.3
beats vqa-closed vqa closed_accuracy 0.2
beats vqa-open vqa open_exact_match 0.3
# the results name the task and model, once per metric; the baseline's
# are the program's most-frequent
expect bench-report-frames 0 "frame-cat $T/res/report/vit.mpk $T/res/report/most-frequent.mpk | jq -r '[.task, .model] | @tsv' | sort -u"
has bench-report-frames "$T/out" "report	vit"
has bench-report-frames "$T/out" "report	most-frequent"
# done work is skipped; other options redo it
expect bench-report-again 0 "$BR $S/tiles.mpk"
has bench-report-again "$T/err" "0 run, 1 done before"
expect bench-vqa-missing 1 "$P/bench-vqa -c $T/c -m vit --qa $S/vqa.jsonl -o $T/res/vqa2 nosuch"
has bench-vqa-missing "$T/err" "'nosuch' has no features for model 'vit'"
expect bench-bag-missing 1 "$P/bench-report -c $T/c -m vit --bag-by meta.nosuch --annotation $S/annotation.json -o $T/res/r2 tiles"
finish
