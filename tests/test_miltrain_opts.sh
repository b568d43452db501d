#!/bin/sh
# mil-train's options, checked against mil-train(1) from its outputs
# (tests/ref/miltrain_check.py): -k and --split (every slide tested once,
# cases kept together, the deal per stratum, the validation and training
# counts, the seed); early stopping (the rule replayed on --log for
# --monitor loss, error and auc, --patience, --min-epochs; the best
# epoch's weights tested and saved); the abmil and eva presets (weights'
# layout and initial draws, every setting against its explicit option);
# a 3-class task in --classes order, every metric equal to scikit-learn;
# the slides each step trains on (shuffled, --no-shuffle, --weighted);
# --runs, --batch, --max-tiles; attention and coordinates in the tiles'
# order, risk from the survival curve; warnings and errors, word for word.
. tests/lib.sh
need_venv
C=tests/ref/miltrain_check.py
G=tests/ref/mil_gen.py
N="-q -j 1 --proj 32 --attn 16"
# js F: F.mpk as JSON lines in F.jsonl
js() { frame-cat --full "$1.mpk" > "$1.jsonl"; }
# check NAME ARGS...: run miltrain_check.py, show what it says
check() {
	name=$1; shift
	expect "$name" 0 $PY $C "$@"
	sed "s/^/$name: /" "$T/out"
}
# refuse NAME ARGS...: miltrain_check.py must find a mismatch
refuse() {
	name=$1; shift
	expect "$name" 1 $PY $C "$@"
}

# A: 22 cases (10, 7, 5 of c0, c1, c2), two slides each;
# B: 42 slides of 3 classes, one a case, a stronger signal; S: survival
mkdir $T/a $T/b $T/s
$PY $C gen $T/a --counts 10,7,5 --spc 2 --seed 3 > /dev/null
$PY $C gen $T/b --counts 14,14,14 --spc 1 --shift 3.5 --seed 4 > /dev/null
$PY $G surv $T/s --bags 60 --seed 2
for d in a b s; do frame-cat -J $T/$d/emb.jsonl > $T/$d/emb.mpk; done
A="$T/a/emb.mpk" B="$T/b/emb.mpk" LA=$T/a/labels.csv LB=$T/b/labels.csv

# ---- generated splits: -k, --val-frac, --split, --seed ----
expect kfold 0 "mil-train $N -l $LA -k 4 --epochs 1 --log-steps --log $T/a/k.mpk --predictions $T/a/kp.mpk $A > /dev/null"
js $T/a/k; js $T/a/kp
check kfold folds $T/a/kp.jsonl $T/a/k.jsonl $LA 4 0.1 c0,c1,c2
# the strata follow --classes; another validation share
expect kfold-val 0 "mil-train $N -l $LA -k 4 --val-frac 0.3 --classes c2,c0,c1 --epochs 1 --log-steps --log $T/a/k3.mpk --predictions $T/a/kp3.mpk $A > /dev/null"
js $T/a/k3; js $T/a/kp3
check kfold-val folds $T/a/kp3.jsonl $T/a/k3.jsonl $LA 4 0.3 c2,c0,c1
refuse kfold-val-not-0.1 folds $T/a/kp3.jsonl $T/a/k3.jsonl $LA 4 0.1 c2,c0,c1
refuse kfold-not-sorted-order folds $T/a/kp3.jsonl $T/a/k3.jsonl $LA 4 0.3 c0,c1,c2
# the seed, and only the seed, moves the folds
expect kfold-seed1 0 "mil-train $N -l $LA -k 4 --seed 1 --epochs 1 --predictions $T/a/kp-s1.mpk $A > /dev/null"
expect kfold-seed0 0 "mil-train $N -l $LA -k 4 --seed 0 --epochs 2 --predictions $T/a/kp-s0.mpk $A > /dev/null"
js $T/a/kp-s1; js $T/a/kp-s0
check kfold-seed testsets $T/a/kp.jsonl $T/a/kp-s1.jsonl
has kfold-seed "$T/out" different
check kfold-seed-same testsets $T/a/kp.jsonl $T/a/kp-s0.jsonl
has kfold-seed-same "$T/out" same
# no validation: every epoch runs, no best epoch
expect kfold-noval 0 "mil-train $N -l $LA -k 4 --val-frac 0 --epochs 3 --patience 1 --min-epochs 0 --log $T/a/nv.mpk $A > $T/a/nv-res.mpk"
[ "$(frame-cat -c $T/a/nv.mpk)" = 12 ] && [ "$(frame-cat $T/a/nv.mpk | jq -c 'select(.split == "val")' | wc -l)" = 0 ] &&
	pass || fail "--val-frac 0: 12 training epoch frames, no validation, wanted"
[ "$(frame-cat $T/a/nv-res.mpk | jq -c 'select(.meta.epochs != 3 or .meta.best_epoch != null)' | wc -l)" = 0 ] &&
	pass || fail "--val-frac 0: every epoch runs and no best_epoch"
expect too-many-folds 1 "mil-train $N -l $LA -k 23 $A"
has too-many-folds "$T/err" "mil-train: --folds 23: only 22 cases"
# --split 5:2:3: per stratum round(n/2) train, round(7n/10) train+val
expect split 0 "mil-train $N -l $LA --split 5:2:3 --epochs 1 --log-steps --log $T/a/s.mpk --predictions $T/a/sp.mpk $A > /dev/null"
js $T/a/s; js $T/a/sp
check split split $T/a/sp.jsonl $T/a/s.jsonl $LA 5:2:3 c0,c1,c2
refuse split-not-6:1:3 split $T/a/sp.jsonl $T/a/s.jsonl $LA 6:1:3 c0,c1,c2
expect split-seed 0 "mil-train $N -l $LA --split 5:2:3 --seed 2 --epochs 1 --predictions $T/a/sp2.mpk $A > /dev/null"
js $T/a/sp2
check split-seed testsets $T/a/sp.jsonl $T/a/sp2.jsonl
has split-seed "$T/out" different

# ---- early stopping ----
ES="$N -l $LB -k 3 --val-frac 0.3 --lr 1e-3 --epochs 30"
for m in loss error auc; do
	expect stop-$m 0 "mil-train $ES --patience 3 --min-epochs 5 --monitor $m --log $T/b/l-$m.mpk --predictions $T/b/p-$m.mpk --save $T/b/w-$m $B > $T/b/r-$m.mpk"
	js $T/b/l-$m; js $T/b/r-$m
	check stop-$m stop $T/b/l-$m.jsonl $T/b/r-$m.jsonl 3 5 30 $m
done
refuse stop-not-patience-4 stop $T/b/l-loss.jsonl $T/b/r-loss.jsonl 4 5 30 loss
refuse stop-not-monitor-loss stop $T/b/l-auc.jsonl $T/b/r-auc.jsonl 3 5 30 loss
# --min-epochs holds training on past the patience
expect stop-min 0 "mil-train $ES --patience 2 --min-epochs 12 --monitor error --log $T/b/l-min.mpk $B > $T/b/r-min.mpk"
js $T/b/l-min; js $T/b/r-min
check stop-min stop $T/b/l-min.jsonl $T/b/r-min.jsonl 2 12 30 error
[ "$(jq -c 'select(.metric == "loss" and .meta.epochs == 12 and .meta.best_epoch + 3 < 12)' $T/b/r-min.jsonl | wc -l)" -ge 1 ] &&
	pass || fail "stop-min: no fold where --min-epochs 12 outlasted --patience 2"
# --patience 0: every epoch, even with a validation split
expect stop-off 0 "mil-train $N -l $LB -k 3 --val-frac 0.3 --lr 1e-3 --epochs 8 --patience 0 --log $T/b/l-off.mpk $B > $T/b/r-off.mpk"
js $T/b/l-off; js $T/b/r-off
check stop-off stop $T/b/l-off.jsonl $T/b/r-off.jsonl 0 5 8 loss
# the test split sees the best epoch's weights: a run cut at best + 1
# epochs (same seed, same course) predicts and saves the same
jq -r 'select(.metric == "loss" and .meta.best_epoch + 1 < .meta.epochs) | "\(.fold) \(.meta.best_epoch)"' $T/b/r-loss.jsonl > $T/b/early
[ -s $T/b/early ] && pass || fail "stop-loss: no fold stopped after its best epoch"
while read -r f b; do
	expect best-$f 0 "mil-train $ES --patience 3 --min-epochs 5 --epochs $((b + 1)) --predictions $T/b/pc.mpk --save $T/b/wc $B > /dev/null"
	js $T/b/pc
	jq -c "select(.fold == $f)" $T/b/pc.jsonl > $T/b/pc-$f
	frame-cat --full $T/b/p-loss.mpk | jq -c "select(.fold == $f)" > $T/b/pl-$f
	[ -s $T/b/pl-$f ] && pass || fail "best-$f: no predictions"
	same best-pred-$f $T/b/pl-$f $T/b/pc-$f
	same best-weights-$f $T/b/w-loss-fold$f-run0.f32 $T/b/wc-fold$f-run0.f32
done < $T/b/early

# ---- the presets ----
awk -F, 'NR == 1 {print "fold,slide_id,split"; next}
	{print "0," $1 "," (NR % 5 == 0 || NR % 5 == 3 ? "test" : NR % 5 == 2 ? "val" : "train")}' $LB > $T/b/splits.csv
SB="-q -j 1 -l $LB --splits $T/b/splits.csv"
# the model as built, in the results' meta (d = 16, 3 classes)
arch_of() {
	case $1 in
	abmil) echo "16 -> 512 relu, dropout 0.25, attention 128, 512 -> 3 (76036 parameters)" ;;
	eva) echo "16 -> 128, gated attention 128, 128 -> 128 relu -> 64 relu -> 3 (60292 parameters)" ;;
	esac
}
# one step of lr 1e-30 moves no weight: the saved weights are the initial draws
for h in abmil eva; do
	expect save-$h 0 "mil-train $SB -m $h --lr 1e-30 --epochs 1 --save $T/b/init-$h $B > $T/b/res-$h.mpk"
	check weights-$h weights $T/b/init-$h-fold0-run0.f32 16 3 $h
	frame-cat $T/b/res-$h.mpk > $T/out
	has head-$h "$T/out" "\"meta\":{\"head\":\"$h\",\"arch\":\"$(arch_of $h)\",\"emb\":\"uni\""
done
refuse weights-eva-not-abmil weights $T/b/init-eva-fold0-run0.f32 16 3 abmil
: > $T/empty.f32
expect size-abmil 1 "mil-train $SB -m abmil --init $T/empty.f32 $B"
has size-abmil "$T/err" "mil-train: --init $T/empty.f32: 0 bytes, the model has 76036 float32 parameters (304144 bytes)"
expect size-eva 1 "mil-train $SB -m eva --init $T/empty.f32 $B"
has size-eva "$T/err" "the model has 60292 float32 parameters (241168 bytes)"
# each preset trains as its settings spelled out
P3="--epochs 3 --patience 0"
expect abmil 0 "mil-train $SB -m abmil $P3 --predictions $T/b/pre-abmil.mpk $B > /dev/null"
expect abmil-explicit 0 "mil-train $SB -m abmil --proj 512 --attn 128 --no-gated --mlp none --dropout 0.25 --init-scheme xavier --optim adam --lr 2e-4 --wd 1e-5 --batch 1 $P3 --predictions $T/b/exp-abmil.mpk $B > /dev/null"
same abmil-preset $T/b/pre-abmil.mpk $T/b/exp-abmil.mpk
expect abmil-no-relu 0 "mil-train $SB -m abmil --no-relu $P3 --predictions $T/b/nr-abmil.mpk $B > /dev/null"
cmp -s $T/b/pre-abmil.mpk $T/b/nr-abmil.mpk && fail "abmil: --no-relu changes nothing: the preset has no ReLU" || pass
expect abmil-gated 0 "mil-train $SB -m abmil-gated $P3 --predictions $T/b/pre-gated.mpk $B > /dev/null"
expect abmil-gated-explicit 0 "mil-train $SB -m abmil --gated $P3 --predictions $T/b/exp-gated.mpk $B > /dev/null"
same abmil-gated-preset $T/b/pre-gated.mpk $T/b/exp-gated.mpk
cmp -s $T/b/pre-abmil.mpk $T/b/pre-gated.mpk && fail "abmil-gated trains as abmil" || pass
# eva's batches of 32 bags: 35 training slides make two steps an epoch
awk -F, 'NR == 1 {print "fold,slide_id,split"; next} {print "0," $1 "," (NR % 6 == 0 ? "test" : "train")}' $LB > $T/b/eva-splits.csv
SE="-q -j 1 -l $LB --splits $T/b/eva-splits.csv"
expect eva 0 "mil-train $SE -m eva $P3 --log-steps --log $T/b/eva-log.mpk --predictions $T/b/pre-eva.mpk $B > /dev/null"
expect eva-explicit 0 "mil-train $SE -m abmil --proj 128 --no-relu --attn 128 --gated --mlp 128,64 --dropout 0 --init-scheme torch --optim adamw --lr 1e-3 --wd 0.01 --batch 32 $P3 --predictions $T/b/exp-eva.mpk $B > /dev/null"
same eva-preset $T/b/pre-eva.mpk $T/b/exp-eva.mpk
steps=$(frame-cat $T/b/eva-log.mpk | jq -c 'select(.epoch == 0 and .values.loss != null and .split == "train")' | wc -l)
[ "$steps" = 2 ] && pass || fail "eva: $steps steps in an epoch of 35 slides, not 2"

# ---- three classes in --classes order; every metric as scikit-learn ----
expect classes 0 "mil-train $N -l $LB -k 3 --classes c2,c0,c1 --lr 5e-3 --epochs 10 --predictions $T/b/mc.mpk $B > $T/b/mc-res.mpk"
js $T/b/mc; js $T/b/mc-res
check classes metrics $T/b/mc.jsonl $T/b/mc-res.jsonl c2,c0,c1
refuse classes-not-sorted metrics $T/b/mc.jsonl $T/b/mc-res.jsonl c0,c1,c2
# ---- attention in the tiles' order, coordinates as they came ----
check attention attn $T/b/mc.jsonl $T/b/meta.json
jq -c 'map_values(.coords |= (if . == null then null else reverse end))' $T/b/meta.json > $T/b/meta-rev.json
refuse attention-coords-reversed attn $T/b/mc.jsonl $T/b/meta-rev.json

# ---- what each step trains on; --runs, --batch, --max-tiles ----
# fold 0 trains on 12, 4 and 2 slides of c0, c1, c2; fold 1 tests them.
# From random initial weights and a learning rate of 1e-30 nothing
# moves, so each step's loss (--log-steps) is its slide's test loss.
awk -F, 'NR == 1 {print "fold,slide_id,split"; next}
	{n[$2]++; tr = ($2 == "c0" && n[$2] <= 12) || ($2 == "c1" && n[$2] <= 4) || ($2 == "c2" && n[$2] <= 2)
	 print "0," $1 "," (tr ? "train" : "test"); print "1," $1 "," (tr ? "test" : "train")}' $LB > $T/b/w-splits.csv
nparams=$(mil-train $N -l $LB --splits $T/b/w-splits.csv --dropout 0 --init $T/empty.f32 $B 2>&1 |
	sed -n 's/.*the model has \([0-9]*\) float32 parameters.*/\1/p')
[ "$nparams" = 1188 ] && pass || fail "d 16 -> 32, attention 16, 3 classes: $nparams parameters, not 1188"
$PY $C initw $T/b/w.f32 1188 7
for o in perm order weighted; do
	opt=
	[ $o = order ] && opt=--no-shuffle
	[ $o = weighted ] && opt=--weighted
	expect draws-$o 0 "mil-train $N -l $LB --splits $T/b/w-splits.csv --dropout 0 --init $T/b/w.f32 --lr 1e-30 --epochs 20 $opt --log-steps --log $T/b/d-$o.mpk --predictions $T/b/dp-$o.mpk $B > /dev/null"
	js $T/b/d-$o; js $T/b/dp-$o
	check draws-$o draws $T/b/d-$o.jsonl $T/b/dp-$o.jsonl $LB $T/b/w-splits.csv $o
done
refuse draws-perm-not-weighted draws $T/b/d-perm.jsonl $T/b/dp-perm.jsonl $LB $T/b/w-splits.csv weighted
refuse draws-weighted-not-perm draws $T/b/d-weighted.jsonl $T/b/dp-weighted.jsonl $LB $T/b/w-splits.csv perm
# --runs 2 from seed 5: run 1 is the run of seed 6
expect runs 0 "mil-train $N -l $LB --splits $T/b/splits.csv --lr 1e-3 --epochs 4 --runs 2 --seed 5 --predictions $T/b/r2.mpk $B > $T/b/r2-res.mpk"
expect runs-seed6 0 "mil-train $N -l $LB --splits $T/b/splits.csv --lr 1e-3 --epochs 4 --seed 6 --predictions $T/b/r6.mpk $B > /dev/null"
js $T/b/r2; js $T/b/r6
jq -c 'select(.run == 0)' $T/b/r2.jsonl > $T/b/r2-0.jsonl
jq -c 'select(.run == 1)' $T/b/r2.jsonl > $T/b/r2-1.jsonl
check runs-1-is-seed-6 same-preds $T/b/r2-1.jsonl $T/b/r6.jsonl
refuse runs-differ same-preds $T/b/r2-0.jsonl $T/b/r2-1.jsonl
[ "$(frame-cat $T/b/r2-res.mpk | jq -r '"\(.run):\(.meta.seed)"' | sort -u | tr '\n' ' ')" = "0:5 1:6 " ] &&
	pass || fail "--runs 2 --seed 5: seeds $(frame-cat $T/b/r2-res.mpk | jq -r .meta.seed | sort -u | tr '\n' ' ')"
# --batch: 16 training slides in steps of 4; 1 is abmil's default
BT="$N -l $LB --splits $T/b/splits.csv --lr 1e-3 --epochs 3 --patience 0"
expect batch-default 0 "mil-train $BT --predictions $T/b/b-def.mpk $B > /dev/null"
expect batch-1 0 "mil-train $BT --batch 1 --predictions $T/b/b-1.mpk $B > /dev/null"
same batch-1-default $T/b/b-def.mpk $T/b/b-1.mpk
# an option that changes training: twice the same predictions, not the default's
changes() {
	ch=$1 chopt=$2
	for i in 1 2; do
		expect $ch-$i 0 "mil-train $BT $chopt --log-steps --log $T/b/$ch-log-$i.mpk --predictions $T/b/$ch-$i.mpk $B > /dev/null"
	done
	same $ch-again $T/b/$ch-1.mpk $T/b/$ch-2.mpk
	cmp -s $T/b/b-def.mpk $T/b/$ch-1.mpk && fail "$chopt changes nothing" || pass
}
changes b-4 "--batch 4"
steps=$(frame-cat $T/b/b-4-log-1.mpk | jq -c 'select(.epoch == 0 and .values.loss != null and .split == "train")' | wc -l)
[ "$steps" = 4 ] && pass || fail "--batch 4: $steps steps in an epoch of 16 slides, not 4"
# --max-tiles: bags of 8-16 tiles; 100 keeps them whole, 4 subsamples;
# the test split always sees whole bags
expect tiles-100 0 "mil-train $BT --max-tiles 100 --predictions $T/b/t-100.mpk $B > /dev/null"
same tiles-100-default $T/b/b-def.mpk $T/b/t-100.mpk
changes t-4 "--max-tiles 4"
for f in b-def t-4-1; do frame-cat $T/b/$f.mpk | jq -c '[.slide_id, .attention.shape, .coords]' > $T/b/$f.shapes; done
same tiles-whole-bags $T/b/b-def.shapes $T/b/t-4-1.shapes

# ---- survival: risk is minus the sum of the survival curve ----
expect surv 0 "mil-train $N -l $T/s/labels.csv -k 3 --lr 1e-3 --epochs 5 --predictions $T/s/p.mpk $T/s/emb.mpk > /dev/null"
js $T/s/p
check risk risk $T/s/p.jsonl
# survival's --weighted draws the time bins alike: fold 0 trains on every
# slide of bin 0 and on 3, 3 and 2 slides of bins 1, 2 and 3 (each
# slide's loss from a --no-shuffle run's first epoch)
frame-cat $T/s/p.mpk | jq -r '"\(.slide_id),\(.bin)"' > $T/s/bins
awk -F, 'NR == FNR {b[$1] = $2; next} FNR == 1 {print "fold,slide_id,split"; next}
	{k = b[$1]; n[k]++; tr = k == 0 || (k < 3 && n[k] <= 3) || n[k] <= 2
	 print "0," $1 "," (tr ? "train" : "test"); print "1," $1 "," (tr ? "test" : "train")}' \
	$T/s/bins $T/s/labels.csv > $T/s/w-splits.csv
nparams=$(mil-train $N -l $T/s/labels.csv --splits $T/s/w-splits.csv --init $T/empty.f32 $T/s/emb.mpk 2>&1 |
	sed -n 's/.*the model has \([0-9]*\) float32 parameters.*/\1/p')
[ "$nparams" = 1733 ] && pass || fail "d 32 -> 32, attention 16, 4 bins: $nparams parameters, not 1733"
$PY $C initw $T/s/w.f32 1733 8
for o in order weighted; do
	opt=--no-shuffle
	[ $o = weighted ] && opt=--weighted
	expect surv-draws-$o 0 "mil-train $N -l $T/s/labels.csv --splits $T/s/w-splits.csv --dropout 0 --init $T/s/w.f32 --lr 1e-30 --epochs 20 $opt --log-steps --log $T/s/d-$o.mpk --predictions $T/s/dp-$o.mpk $T/s/emb.mpk > /dev/null"
	js $T/s/d-$o; js $T/s/dp-$o
done
check surv-draws-weighted draws $T/s/d-weighted.jsonl $T/s/dp-weighted.jsonl $T/s/labels.csv $T/s/w-splits.csv weighted $T/s/d-order.jsonl
refuse surv-draws-not-perm draws $T/s/d-weighted.jsonl $T/s/dp-weighted.jsonl $T/s/labels.csv $T/s/w-splits.csv perm $T/s/d-order.jsonl
refuse surv-draws-order-not-weighted draws $T/s/d-order.jsonl $T/s/dp-order.jsonl $T/s/labels.csv $T/s/w-splits.csv weighted $T/s/d-order.jsonl

# ---- warnings and errors ----
awk -F, 'NR == 1 {print "fold,slide_id,split"; next} {print "0," $1 "," ($3 == 0 ? "train" : "test")}' \
	$T/s/labels.csv > $T/s/noev.csv
expect no-events 1 "mil-train $N -l $T/s/labels.csv --splits $T/s/noev.csv $T/s/emb.mpk"
has no-events "$T/err" "mil-train: fold 0, run 0: the training split has no events"
SP=$T/b/splits.csv
{ cat $SP; echo "0,ghost-1,train"; } > $T/b/ghost.csv
expect unknown 0 "mil-train $N -l $LB --splits $T/b/ghost.csv --epochs 1 $B > /dev/null"
has unknown "$T/err" "mil-train: 1 slide in $T/b/ghost.csv is not in the task (ignored): ghost-1"
{ cat $SP; echo "0,ghost-1,train"; echo "0,ghost-2,test"; } > $T/b/ghost2.csv
expect unknown-2 0 "mil-train $N -l $LB --splits $T/b/ghost2.csv --epochs 1 $B > /dev/null"
has unknown-2 "$T/err" "mil-train: 2 slides in $T/b/ghost2.csv are not in the task (ignored): ghost-1, ghost-2"
expect unknown-strict 1 "mil-train $N -l $LB --splits $T/b/ghost.csv --strict --epochs 1 $B"
has unknown-strict-list "$T/err" "mil-train: 1 slide in $T/b/ghost.csv is not in the task: ghost-1"
has unknown-strict "$T/err" "mil-train: --strict: the splits name slides the task does not hold"
[ -s "$T/out" ] && fail "unknown-strict: results written" || pass
# s-003 (a test slide) in no split of fold 0: named, and not tested
grep -q '^0,s-003,test$' $SP && pass || fail "s-003 is not a test slide of $SP"
grep -v ',s-003,' $SP > $T/b/nosplit.csv
expect no-split 0 "mil-train $N -l $LB --splits $T/b/nosplit.csv --epochs 1 $B > $T/b/ns.mpk"
has no-split "$T/err" "mil-train: fold 0: 1 labelled slide in no split: s-003"
[ "$(frame-cat $T/b/ns.mpk | jq -r .n | sort -u)" = $(($(grep -c ',test$' $SP) - 1)) ] &&
	pass || fail "no-split: s-003 still tested"
# labels files with a bad row
{ head -n 3 $LB; echo "s-099,c1"; tail -n +4 $LB; } > $T/b/l-short.csv
expect labels-fields 1 "mil-train $N -l $T/b/l-short.csv -k 3 $B"
has labels-fields "$T/err" "mil-train: $T/b/l-short.csv:4: 2 fields, the header has 3"
{ cat $LB; sed -n 3p $LB; } > $T/b/l-twice.csv
expect labels-twice 1 "mil-train $N -l $T/b/l-twice.csv -k 3 $B"
has labels-twice "$T/err" "mil-train: $T/b/l-twice.csv:44: slide 's-001' is labelled twice (lines 3 and 44)"
sed '5s/,c[0-9],/,,/' $LB > $T/b/l-empty.csv
expect labels-empty 1 "mil-train $N -l $T/b/l-empty.csv -k 3 $B"
has labels-empty "$T/err" "mil-train: $T/b/l-empty.csv:5: slide 's-003' has an empty label"
expect labels-classes 1 "mil-train $N -l $LB -k 3 --classes c0,c2 $B"
l=$(grep -n ',c1,' $LB | head -n 1)
has labels-classes "$T/err" "mil-train: $LB:${l%%:*}: slide '$(echo "${l#*:}" | cut -d, -f1)': label 'c1' is not in --classes"
sed '3s/,[0-9.]*,/,soon,/' $T/s/labels.csv > $T/s/l-time.csv
expect labels-time 1 "mil-train $N -l $T/s/l-time.csv -k 3 $T/s/emb.mpk"
has labels-time "$T/err" "mil-train: $T/s/l-time.csv:3: slide 'surv-001': time 'soon' is not a non-negative number"
sed '4s/,[01]$/,2/' $T/s/labels.csv > $T/s/l-event.csv
expect labels-event 1 "mil-train $N -l $T/s/l-event.csv -k 3 $T/s/emb.mpk"
has labels-event "$T/err" "mil-train: $T/s/l-event.csv:4: slide 'surv-002': event '2' is not 0 or 1"

finish
