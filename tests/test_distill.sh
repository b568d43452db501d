#!/bin/sh
# distill-step: the program end to end on real tiles of the shipped H&E
# image with expert features from embed stages (small random experts and
# student: tests/ref/distill_ref.py models): metric frames, checkpoints,
# the teacher in embed, resume bit-identical (after the input ran out and
# after SIGTERM), a wrong input on resume, missing expert fields and
# widths, a non-finite loss, CLI conventions. (The step's numerics against
# torch: test_distill.)
. tests/lib.sh
PY=.venv/bin/python
$PY tests/ref/distill_ref.py models "$T" || fail "distill_ref.py models"

expect help 0 distill-step --help
has help "$T/out" "Usage: distill-step"
sed 's/\\-/-/g' man/man1/distill-step.1 > "$T/man"
for o in $(distill-step --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
expect man-renders 0 "MANWIDTH=80 man -l man/man1/distill-step.1 2>&1 >/dev/null | grep -v '^$' | tee $T/manerr | wc -l | grep -qx 0"
expect version 0 distill-step --version
has version "$T/out" "distill-step (pathfm)"
expect bad-option 2 distill-step --bogus
has bad-option "$T/err" "Try 'distill-step --help'"
expect bad-expert 2 distill-step -e uni:1
has bad-expert "$T/err" "--expert"
expect zero-expert 2 distill-step -e uni:0:0
expect dotted-expert 2 distill-step -e u.ni:1:0
expect bad-arch 2 distill-step --arch vit-x
expect bad-grid 2 distill-step --expert-grid both
expect extra-arg 2 distill-step tiles.mpk
expect teacher-no-save 2 distill-step --teacher t.safetensors
expect resume-with-lr 2 distill-step --resume x.safetensors --lr 0.1
has resume-with-lr "$T/err" "--lr: a resumed run keeps the settings"
expect bad-size 2 distill-step --global-size 100 --patch 16

# 64 px tiles with the features of two experts (uni: emb and tokens;
# conch: emb only), as embed stages add them.
wsi-tile -q --no-mask --assume-mpp 0.5 --size 64 --stride 64 -e rgb8 tests/data/he-1024-a.png |
	frame-cat -q -n 48 -F > "$T/raw.mpk"
embed -q -m "$T/e48.safetensors" --as uni --tokens --keep-pixels -i "$T/raw.mpk" |
	embed -q -m "$T/e32.safetensors" --as conch --keep-pixels > "$T/tiles.mpk"
expect tiles 0 frame-cat -c "$T/tiles.mpk"
has tiles "$T/out" 48
O="--init $T/student.safetensors --global-size 32 --local-size 16 --local-crops 2 -b 4 --prototypes 64 --head-hidden 32 --head-bottleneck 16 --lr 0.05 --drop-path 0.2 -e uni:1.0:0.25 -e conch:1.0:0 -j 2"

# A run: one valid metric frame per step with every loss term.
expect run 0 distill-step $O --steps 6 -i "$T/tiles.mpk" -o "$T/m.mpk" -s "$T/a.safetensors"
expect metrics-valid 0 frame-cat --check -c -t metric "$T/m.mpk"
has metrics-valid "$T/out" 6
expect metrics-keys 0 "frame-cat -n 1 $T/m.mpk | jq -e '.step == 1 and .split == \"train\" and (.values | has(\"loss\") and has(\"dino_local\") and has(\"dino_global\") and has(\"koleo\") and has(\"ibot\") and has(\"uni_cls\") and has(\"uni_patch\") and has(\"conch_cls\") and (has(\"conch_patch\") | not) and has(\"lr\") and has(\"wd\") and has(\"momentum\") and has(\"teacher_temp\") and has(\"grad_norm\") and has(\"samples_per_s\"))'"
expect metrics-sum 0 "frame-cat $T/m.mpk | jq -e '.values | (.dino_local + .dino_global + .koleo + .ibot + .uni_cls + .uni_patch + .conch_cls - .loss) | fabs < 1e-9' | grep -v true | wc -l | grep -qx 0"

# The teacher loads in embed as it is.
expect teacher-info 0 embed -m "$T/a-teacher.safetensors" --info
has teacher-info "$T/out" '"name":"distilled"'
has teacher-info "$T/out" '"embed_dim":32,"depth":2'
expect teacher-embed 0 "embed -q -m $T/a-teacher.safetensors -i $T/tiles.mpk | frame-cat --check -c"
has teacher-embed "$T/out" 48
expect stdout-data-only 0 "distill-step $O --steps 1 -q -i $T/tiles.mpk | frame-cat -c"
has stdout-data-only "$T/out" 1

# Resume: 3 steps on the first 12 tiles, then the rest: the same bytes as
# the uninterrupted run (checkpoint and teacher).
frame-cat -q -n 12 -F "$T/tiles.mpk" > "$T/first12.mpk"
expect part1 0 distill-step $O --steps 6 -i "$T/first12.mpk" -o "$T/p1.mpk" -s "$T/b.safetensors"
expect part2 0 distill-step --resume "$T/b.safetensors" -j 2 -i "$T/tiles.mpk" -o "$T/p2.mpk" -s "$T/b2.safetensors"
same resume-checkpoint "$T/a.safetensors" "$T/b2.safetensors"
same resume-teacher "$T/a-teacher.safetensors" "$T/b2-teacher.safetensors"
frame-cat "$T/m.mpk" | jq -c '[.step, .values.loss]' > "$T/la"
{ frame-cat "$T/p1.mpk"; frame-cat "$T/p2.mpk"; } | jq -c '[.step, .values.loss]' > "$T/lb"
same resume-losses "$T/la" "$T/lb"
# another input: refused, naming the frame
{ frame-cat -q -F "$T/tiles.mpk" | frame-cat -q -F -n 1; frame-cat -q -F "$T/tiles.mpk"; } > "$T/shifted.mpk" 2>/dev/null
expect resume-other-input 1 distill-step --resume "$T/b.safetensors" -j 2 -i "$T/shifted.mpk" -o /dev/null
has resume-other-input "$T/err" "is not the one the checkpoint was taken after"
expect resume-threads-warn 0 distill-step --resume "$T/b.safetensors" -j 1 -i "$T/tiles.mpk" -o /dev/null
has resume-threads-warn "$T/err" "not bit-identical"

# SIGTERM: the step in progress ends, the checkpoint is saved, the stream
# is complete, exit 0; resuming continues as an uninterrupted run.
for i in 1 2 3 4 5 6 7 8 9 10; do cat "$T/tiles.mpk"; done | frame-cat -q -F > "$T/long.mpk"
distill-step $O --steps 1000 --save-every 1 -i "$T/long.mpk" -o "$T/sig.mpk" -s "$T/s.safetensors" 2>"$T/sigerr" &
pid=$!
n=0
while [ $n -lt 200 ] && [ ! -e "$T/s.safetensors" ]; do sleep 0.1; n=$((n + 1)); done
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 0 ] && pass || { fail "SIGTERM: exit $rc"; cat "$T/sigerr" >&2; }
has sigterm-message "$T/sigerr" "stopped by a signal after step"
expect sigterm-stream 0 frame-cat -c "$T/sig.mpk"
k=$(cat "$T/out")
[ "$k" -ge 1 ] && [ "$k" -lt 120 ] && pass || fail "SIGTERM after $k steps"
frame-cat -q -n $(((k + 2) * 4)) -F "$T/long.mpk" > "$T/upto.mpk"
expect sig-resume 0 distill-step --resume "$T/s.safetensors" -j 2 -i "$T/upto.mpk" -o /dev/null -s "$T/s2.safetensors"
expect sig-straight 0 distill-step $O --steps 1000 -i "$T/upto.mpk" -o /dev/null -s "$T/s3.safetensors"
same sigterm-resume-checkpoint "$T/s2.safetensors" "$T/s3.safetensors"

# Expert fields: missing (an error naming the frame, or skipped), and a
# width that does not fit the head (an error naming the expert).
expect missing-field 1 distill-step $O --steps 2 -e phikon:1:0 -i "$T/tiles.mpk" -o /dev/null
has missing-field "$T/err" "frame 0 (slide he-1024-a, x 0, y 0): no emb.phikon"
embed -q -m "$T/e48.safetensors" --as uni --tokens --keep-pixels -i "$T/raw.mpk" > "$T/uni-only.mpk"
expect skip-incomplete 0 distill-step $O --steps 2 --skip-incomplete -i "$T/uni-only.mpk" -o "$T/skip.mpk"
has skip-incomplete "$T/err" "48 tiles without an expert's field skipped"
# the heads take their widths from the first tile; a later tile whose
# uni features are 32 wide does not fit
embed -q -m "$T/e32.safetensors" --as uni --tokens --keep-pixels -i "$T/raw.mpk" |
	embed -q -m "$T/e32.safetensors" --as conch --keep-pixels > "$T/narrow.mpk"
{ frame-cat -q -F -n 4 "$T/tiles.mpk"; cat "$T/narrow.mpk"; } > "$T/mixed.mpk"
expect width-mismatch 1 distill-step $O --steps 6 -i "$T/mixed.mpk" -o /dev/null
has width-mismatch "$T/err" "expert uni: frame "
has width-mismatch "$T/err" "(slide he-1024-a, x 0, y 0)"
has width-mismatch "$T/err" "emb.uni has 32 values, the expert head predicts 48"

# A non-finite loss: an expert feature of NaNs in the 13th tile (step 4).
# The run stops with an error before updating; the last checkpoint (step
# 3, --save-every 1) stays.
nan=$(head -c 192 /dev/zero | tr '\0' '\377' | base64 -w0)
frame-cat --full "$T/tiles.mpk" | jq -c --arg n "$nan" 'if .tile_index == 12 then .emb.uni.data = {"$base64": $n} else . end' |
	frame-cat -q -J > "$T/nan.mpk"
expect nan-stops 1 distill-step $O --steps 6 --save-every 1 -i "$T/nan.mpk" -o "$T/nanm.mpk" -s "$T/n.safetensors"
has nan-stops "$T/err" "step 4: the loss is NaN"
has nan-stops "$T/err" "uni_cls NaN"
has nan-stops "$T/err" "nothing updated"
expect nan-checkpoint 0 "$PY -c \"from safetensors import safe_open; import json; print(json.loads(safe_open('$T/n.safetensors', 'pt').metadata()['pathfm_distill'])['step'])\""
has nan-checkpoint "$T/out" 3

# A fresh student with registers and SwiGLU: its teacher is written in
# DINOv2's names, which embed reads.
expect fresh 0 distill-step --arch vit-ti --patch 8 --registers 2 --mlp swiglu --global-size 32 --local-size 16 --local-crops 1 -b 2 --prototypes 32 --head-hidden 16 --head-bottleneck 8 --steps 1 -e uni:1:0 -i "$T/tiles.mpk" -o /dev/null -s "$T/f.safetensors" --name tiny
expect fresh-teacher 0 embed -m "$T/f-teacher.safetensors" --info
has fresh-teacher "$T/out" '"name":"tiny","file":'
has fresh-teacher "$T/out" '"scheme":"dinov2"'
has fresh-teacher "$T/out" '"mlp":"swiglu"'
has fresh-teacher "$T/out" '"reg_tokens":2'
finish
