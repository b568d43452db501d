#!/bin/sh
# rank-stats: CLI conventions, Demsar's (2006) example, random tables
# checked end to end against scipy/scikit-posthocs (tests/ref/rank_check.py),
# result frames, clear errors, and the pictures (well-formed, cliques
# right, rendered by rsvg-convert).
. tests/lib.sh
PY=.venv/bin/python
R=tests/ref
if [ ! -x $PY ]; then
	fail "$PY missing: run 'make deps' first"
	finish
	exit 1
fi

expect help 0 rank-stats --help
has help "$T/out" "Usage: rank-stats"
empty help-stderr "$T/err"
for o in $(rank-stats --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" man/man1/rank-stats.1 || fail "man page lacks $o"
done
pass
expect version 0 rank-stats --version
has version "$T/out" "rank-stats (pathfm)"
expect bad-option 2 rank-stats --bogus
has bad-option "$T/err" "Try 'rank-stats --help'"
expect bad-format 2 rank-stats -f xml -t $R/demsar2006.tsv
has bad-format "$T/err" "rank-stats: --format: md, csv or json, not 'xml'"
expect bad-alpha 2 rank-stats -a 2 -t $R/demsar2006.tsv
expect bad-zero 2 rank-stats --zero-method none -t $R/demsar2006.tsv
expect missing-table 1 rank-stats -t /nonexistent.tsv
has missing-table "$T/err" "rank-stats: /nonexistent.tsv: No such file or directory"

# Demsar (2006), section 3.2.4: chi2_F 9.28, F_F 3.69, CD 1.25 at 0.05.
expect demsar 0 rank-stats -t $R/demsar2006.tsv
has demsar-chi2f "$T/out" "chi2_F = 9.2786"
has demsar-ff "$T/out" "F_F = 3.6863 (Iman-Davenport, df 3 and 39)"
has demsar-cd "$T/out" "| 0.05 | 2.569 | 1.254 |"
has demsar-first "$T/out" "| 1 | C4.5+m+cf | 1.964 |"
has demsar-last "$T/out" "| 4 | C4.5 | 3.143 |"
expect demsar-json 0 "rank-stats -t $R/demsar2006.tsv -f json > $T/d.json"
expect demsar-zsplit 0 "rank-stats -t $R/demsar2006.tsv -f json --zero-method zsplit --correction > $T/dz.json"
expect demsar-csv 0 rank-stats -t $R/demsar2006.tsv -f csv
has demsar-csv "$T/out" "1,C4.5+m+cf,1.9642857142857142,6,1,"
expect demsar-pairs 0 rank-stats -t $R/demsar2006.tsv -f csv --pairs --against C4.5
[ "$(wc -l < $T/out)" = 4 ] && pass || fail "--against: 3 pairs + header"
has against-first "$T/out" "C4.5,C4.5+m+cf,"

# Demsar's and random tables with ties from rounding, end to end against
# the references (one Python start for all: importing them takes seconds).
seeds="1 2 3 4 5 6 7 8 9 10 11 12"
$PY $R/rank_check.py gen $T $seeds
set -- $R/demsar2006.tsv $T/d.json wilcox 0 $R/demsar2006.tsv $T/dz.json zsplit 1
for s in $seeds; do
	zm=wilcox corr=0
	case $s in 4|8) zm=pratt ;; 5|9) zm=zsplit corr=1 ;; esac
	expect random-$s 0 "rank-stats -t $T/r$s.tsv -f json --zero-method $zm $( [ $corr = 1 ] && echo --correction) > $T/r$s.json"
	set -- "$@" $T/r$s.tsv $T/r$s.json $zm $corr
done
expect references 0 $PY $R/rank_check.py check "$@"

# Rounding creates ties: 0.8123 and 0.8119 tie at 2 decimals.
printf 'task,A,B,C\nt1,0.8123,0.8119,0.5\nt2,0.7,0.6,0.5\n' > $T/round.csv
expect round 0 rank-stats -t $T/round.csv -f csv --round 2
has round-tie "$T/out" "1,A,1.25,1,1,"
expect noround 0 rank-stats -t $T/round.csv -f csv
has noround "$T/out" "1,A,1,2,0,"
# Lower is better: explicit, and by default for losses.
expect lower 0 rank-stats -t $T/round.csv -f csv --lower all
has lower "$T/out" "1,C,1,2,0,"
expect lower-default 0 rank-stats -t $T/round.csv -f csv -m loss
has lower-default "$T/out" "1,C,1,2,0,"
expect higher-override 0 rank-stats -t $T/round.csv -f csv -m loss --higher loss
has higher-override "$T/out" "1,A,1,2,0,"

# Groups from a task_type column.
printf 'task\ttask_type\tA\tB\nt1\tcls\t0.9\t0.8\nt2\tcls\t0.7\t0.8\nt3\tsurv\t0.6\t0.5\n' > $T/g.tsv
expect group 0 rank-stats -t $T/g.tsv -f csv -g type
has group-header "$T/out" "avg_rank:cls,avg_rank:surv"
has group-row "$T/out" "1,A,1.3333333333333333,2,0,0.73333333333333339,1.5,1"

# Clear errors.
printf 'task,A,B\nt1,0.9,\nt2,0.7,0.6\nt3,0.5,0.4\n' > $T/miss.csv
expect missing-cell 1 rank-stats -t $T/miss.csv
has missing-cell "$T/err" "rank-stats: task 't1': no result for model 'B' (use --drop-incomplete to skip such tasks)"
expect drop-incomplete 0 rank-stats -t $T/miss.csv --drop-incomplete -f csv
has drop-warns "$T/err" "dropped 1 incomplete task"
has drop-ranks "$T/out" "1,A,1,2,0,"
printf 'task,A\nt1,0.9\n' > $T/one.csv
expect single-model 1 rank-stats -t $T/one.csv
has single-model "$T/err" "ranking needs at least 2 models (got 1: A)"
printf 'task,A,B\nt1,0.9,high\n' > $T/nn.csv
expect non-numeric 1 rank-stats -t $T/nn.csv
has non-numeric "$T/err" "nn.csv:2: t1 / B: not a number: 'high'"
printf 'task,A,B\nt1,0.9,0.8\nt1,0.7,0.6\n' > $T/dup.csv
expect duplicate-task 1 rank-stats -t $T/dup.csv
has duplicate-task "$T/err" "dup.csv:3: task 't1' appears twice"
printf 'task,A,A\nt1,0.9,0.8\n' > $T/dupm.csv
expect duplicate-model 1 rank-stats -t $T/dupm.csv
has duplicate-model "$T/err" "model 'A' named twice"
expect against-unknown 1 rank-stats -t $R/demsar2006.tsv --against nobody
has against-unknown "$T/err" "--against: no model 'nobody'"

# Result frames: folds are averaged; metric and split must be unambiguous.
for t in 1 2 3 4 5; do
	for m in A B C; do
		for fold in 0 1; do
			v=$(awk -v t=$t -v f=$fold -v m=$m 'BEGIN{o=(m=="A")?0.1:(m=="B")?0.05:0; printf "%.3f", 0.5+o+0.01*t+0.02*f}')
			printf '{"type":"result","v":1,"task":"t%s","model":"%s","metric":"auroc","value":%s,"fold":%s,"split":"test","task_type":"cls"}\n' $t $m $v $fold
			printf '{"type":"result","v":1,"task":"t%s","model":"%s","metric":"loss","value":%s,"fold":%s,"split":"test"}\n' $t $m $v $fold
		done
	done
done > $T/res.jsonl
frame-cat -J $T/res.jsonl > $T/res.mpk
expect frames-ambiguous 1 rank-stats $T/res.mpk
has frames-ambiguous "$T/err" "several metrics (auroc, loss ...): choose one with --metric"
expect frames 0 rank-stats -m auroc -f csv $T/res.mpk
has frames-rank "$T/out" "1,A,1,5,0,0.64"
expect frames-stdin 0 "rank-stats -m auroc -f csv < $T/res.mpk"
has frames-stdin "$T/out" "3,C,3,0,0,0.54"
expect frames-loss 0 rank-stats -m loss -f csv $T/res.mpk
has frames-loss "$T/out" "1,C,1,5,0,"
expect frames-split 1 rank-stats -m auroc -s val $T/res.mpk
has frames-split "$T/err" "no result frames"
expect frames-json 0 rank-stats -m auroc -f json $T/res.mpk
has frames-json "$T/out" '"metric":"auroc"'
head -c 100 $T/res.mpk > $T/cut.mpk
expect frames-cut 1 rank-stats -m auroc $T/cut.mpk

# Duplicate results: one task x model x fold x run twice is an error.
printf '%s\n' '{"type":"result","v":1,"task":"t1","model":"A","metric":"auroc","value":0.9,"fold":0,"run":"s1"}' \
	'{"type":"result","v":1,"task":"t1","model":"B","metric":"auroc","value":0.8,"fold":0,"run":"s1"}' \
	'{"type":"result","v":1,"task":"t1","model":"A","metric":"auroc","value":0.7,"fold":0,"run":"s2"}' \
	'{"type":"result","v":1,"task":"t1","model":"B","metric":"auroc","value":0.6,"fold":0,"run":"s2"}' > $T/dupr.jsonl
frame-cat -J $T/dupr.jsonl > $T/dupr.mpk
expect dup-runs-ok 0 rank-stats -f csv $T/dupr.mpk
has dup-runs-ok "$T/out" "1,A,1,1,0,0.80000000000000004"
printf '%s\n' '{"type":"result","v":1,"task":"t1","model":"B","metric":"auroc","value":0.5,"fold":0,"run":"s2"}' >> $T/dupr.jsonl
frame-cat -J $T/dupr.jsonl > $T/dupr.mpk
expect dup-run 1 rank-stats $T/dupr.mpk
has dup-run "$T/err" "rank-stats: task 't1', model 'B': two results for fold 0, run 's2' (frames 3 and 4)"
# metric and split tell results apart too
for sp in test val; do
	printf '{"type":"result","v":1,"task":"t1","model":"%s","metric":"auroc","value":0.%d,"split":"%s"}\n' A 9 $sp B 8 $sp
done > $T/dupn.jsonl
printf '%s\n' '{"type":"result","v":1,"task":"t1","model":"A","metric":"loss","value":0.9,"split":"test"}' >> $T/dupn.jsonl
frame-cat -J $T/dupn.jsonl > $T/dupn.mpk
expect dup-other-split 0 rank-stats -m auroc -s test $T/dupn.mpk
expect dup-other-split2 0 rank-stats -m auroc -s val $T/dupn.mpk
printf '%s\n' '{"type":"result","v":1,"task":"t1","model":"A","metric":"auroc","value":0.7,"split":"val"}' >> $T/dupn.jsonl
frame-cat -J $T/dupn.jsonl > $T/dupn.mpk
expect dup-plain 0 rank-stats -m auroc -s test $T/dupn.mpk
expect dup-plain-twice 1 rank-stats -m auroc -s val $T/dupn.mpk
has dup-plain-twice "$T/err" "task 't1', model 'A': two results for no fold or run (frames 2 and 5)"
expect dup-table 1 rank-stats -t $T/dup.csv
has dup-table "$T/err" "task 't1' appears twice"

# Bootstrap over runs: replayed draw for draw by tests/ref/boot_ref.py,
# which must give the same doubles.
bseeds="1 2 3 4 5 6 7 8"
$PY $R/boot_ref.py gen $T $bseeds
set --
for s in $bseeds; do
	frame-cat -J $T/b$s.jsonl > $T/b$s.mpk
	rd=-1 ropt= lvl=0.95
	case $s in 3|6) rd=2 ropt="--round 2" ;; 5) lvl=0.9 ;; esac
	expect boot-$s 0 "rank-stats -f json --bootstrap $((100 + 37 * s)) --seed $((s * 1000003)) --ci $lvl $ropt $T/b$s.mpk > $T/b$s.json"
	set -- "$@" $T/b$s.jsonl $T/b$s.json $rd
done
expect boot-references 0 $PY $R/boot_ref.py check "$@"
# Deterministic, whatever the order the frames come in; the seed matters.
expect boot-again 0 "rank-stats -f json --bootstrap 137 --seed 1000003 $T/b1.mpk > $T/b1b.json"
same boot-again $T/b1.json $T/b1b.json
expect boot-reversed 0 "tac $T/b1.jsonl | frame-cat -J | rank-stats -f json --bootstrap 137 --seed 1000003 > $T/b1r.json"
for f in b1 b1r; do
	jq -c '[.models[] | [.model, .avg_rank_ci, .mean_ci]]' $T/$f.json > $T/$f.ci
done
grep -q '"m0",\[[0-9.]*,[0-9.]*\],\[' $T/b1.ci && pass || fail "boot-reversed: no intervals"
same boot-reversed $T/b1.ci $T/b1r.ci
expect boot-seed 0 "rank-stats -f json --bootstrap 137 --seed 5 $T/b1.mpk > $T/b1s.json"
cmp -s $T/b1.json $T/b1s.json && fail "boot-seed: another seed, same intervals" || pass
expect boot-csv 0 rank-stats -f csv --bootstrap 50 $T/b2.mpk
has boot-csv "$T/out" "rank,model,avg_rank,firsts,firsts_tied,mean,avg_rank_ci_low,avg_rank_ci_high,mean_ci_low,mean_ci_high"
expect boot-md 0 rank-stats --bootstrap 50 --ci 0.9 $T/b2.mpk
has boot-md "$T/out" "| avg rank 90% CI | mean 90% CI |"
has boot-md-note "$T/out" "percentile bootstrap, 50 replicates resampling each task's runs, seed 1."
expect boot-table 2 rank-stats -t $R/demsar2006.tsv --bootstrap 10
has boot-table "$T/err" "--bootstrap resamples the runs of result frames, not --table"
expect boot-zero 2 rank-stats --bootstrap 0 $T/b1.mpk
expect boot-level 2 rank-stats --bootstrap 10 --ci 1.5 $T/b1.mpk
expect boot-seed-bad 2 rank-stats --bootstrap 10 --seed -3 $T/b1.mpk
expect boot-single 1 "head -2 $T/dupn.jsonl | frame-cat -J | rank-stats --bootstrap 10"
has boot-single "$T/err" "one result per task and model: nothing to resample"
head -3 $T/dupr.jsonl | frame-cat -J > $T/uneven.mpk
expect boot-uneven 1 rank-stats --bootstrap 10 $T/uneven.mpk --drop-incomplete
has boot-uneven "$T/err" "--bootstrap: task 't1': model 'B' has no result for fold 0, run 's2'"

# Pictures: well-formed XML, cliques as Demsar's rule says, rendered.
printf 'task,A,B,C,D,E\n' > $T/cl.csv
i=0; while [ $i -lt 30 ]; do
	printf 't%d,%s\n' $i "$(awk -v i=$i 'BEGIN{srand(i); printf "%.4f,%.4f,%.4f,%.4f,%.4f", 0.9+rand()/100, 0.7+rand()/10, 0.69+rand()/10, 0.4+rand()/10, 0.3+rand()/10}')"
	i=$((i + 1))
done >> $T/cl.csv
expect cd 0 rank-stats -t $T/cl.csv --cd $T/cd.svg --heatmap $T/hm.svg -f json -o $T/cl.json
expect cd-xml 0 $PY -c "\"import xml.etree.ElementTree as E; E.parse('$T/cd.svg'); E.parse('$T/hm.svg')\""
# A alone; B and C together; D and E together.
[ "$(grep -c 'class="clique"' $T/cd.svg)" = 2 ] && pass || fail "cd: 2 cliques wanted: $(grep -c 'class="clique"' $T/cd.svg)"
expect cd-demsar 0 rank-stats -t $R/demsar2006.tsv --cd $T/cdd.svg
[ "$(grep -c 'class="clique"' $T/cdd.svg)" = 1 ] && pass || fail "demsar: one clique"
has cd-label $T/cdd.svg "C4.5+m+cf (1.96)"
ls $T | grep -q 'tmp\.' && fail "temporary SVG left behind" || pass
# Rendered by Debian's rsvg-convert: a PNG (signature, IHDR) of the
# size the SVG declares, with something drawn on it. No skipping.
svg_attr() { sed -n "s/.*<svg [^>]* $2=\"\([0-9]*\)\".*/\1/p" "$1" | head -1; }
be32() { od -A n -t u1 -j "$2" -N 4 "$1" | awk '{print (($1 * 256 + $2) * 256 + $3) * 256 + $4}'; }
if command -v rsvg-convert >/dev/null 2>&1; then
	for s in cd hm cdd; do
		if ! rsvg-convert -o $T/$s.png $T/$s.svg; then
			fail "rsvg-convert $s.svg"
			continue
		fi
		sig=$(od -A n -t x1 -N 16 $T/$s.png | tr -d ' \n')
		[ "$sig" = 89504e470d0a1a0a0000000d49484452 ] && pass || fail "$s.png: no PNG signature/IHDR: $sig"
		w=$(svg_attr $T/$s.svg width) h=$(svg_attr $T/$s.svg height)
		[ -n "$w" ] && [ -n "$h" ] && [ "$w" -gt 100 ] && [ "$h" -gt 100 ] && pass ||
			fail "$s.svg: width/height '$w' '$h'"
		[ "$(be32 $T/$s.png 16)x$(be32 $T/$s.png 20)" = "${w}x$h" ] && pass ||
			fail "$s.png: $(be32 $T/$s.png 16)x$(be32 $T/$s.png 20), SVG says ${w}x$h"
		[ "$(wc -c < $T/$s.png)" -gt 2000 ] && pass || fail "$s.png: only $(wc -c < $T/$s.png) bytes"
	done
else
	fail "rsvg-convert missing (Debian's librsvg2-bin): run 'make deps'"
fi
expect cd-unwritable 1 rank-stats -t $R/demsar2006.tsv --cd /nonexistent/cd.svg
has cd-unwritable "$T/err" "/nonexistent/cd.svg"

# A reader that goes away: quiet exit 0.
{ rank-stats -t $T/r1.tsv -f json 2>$T/epipe.err; echo $? > $T/epipe.rc; } | head -c 10 > /dev/null
[ "$(cat $T/epipe.rc)" = 0 ] && pass || fail "epipe: exit $(cat $T/epipe.rc)"
finish
