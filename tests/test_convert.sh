#!/bin/sh
# convert-weights: small random checkpoints in every public form
# (tests/ref/make_checkpoints.py: timm, {"model": {"module.*"}}, HF ViT and
# Dinov2 folders, sharded, DINOv2 teacher, CoCa/CONCH, .safetensors) are
# converted; names, tensors (bit for bit after f16/bf16 casts), config and a
# strict load into the source timm/open_clip module are checked, and embed
# --info loads each output. Errors: missing file, unknown tensor, corrupt
# pickle, non-tensor pickle, wrong preset; no partial output on error.
# --help against the man page.
. tests/lib.sh
PY=.venv/bin/python
CW=tools/convert-weights
R=tests/ref
if [ ! -x $PY ]; then
	fail "$PY missing: run 'make deps' first"
	finish
	exit 1
fi

expect help 0 $CW --help
has help "$T/out" "Usage: convert-weights"
empty help-stderr "$T/err"
for o in $($CW --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" man/man1/convert-weights.1 || fail "man page lacks $o"
done
pass
for p in $($PY -c 'import sys; sys.path.insert(0, "tools"); from convert_weights.presets import PRESETS; print(" ".join(PRESETS))'); do
	grep -qF -- "$(printf '%s' "$p" | sed 's/-/\\-/g')" man/man1/convert-weights.1 || fail "man page lacks preset $p"
done
pass
expect version 0 $CW --version
has version "$T/out" "convert-weights (pathfm)"
expect list 0 $CW --list-presets
has list-uni2 "$T/out" "uni2-h"
has list-conch "$T/out" "open_clip-coca"
expect bad-option 2 $CW --bogus
has bad-option "$T/err" "Try 'convert-weights --help'"
expect no-output 2 $CW x.pth
expect bad-dtype 2 $CW -d f8 a b
expect bad-mean 2 $CW --mean 1,2 a b
expect bad-preset 2 $CW --preset nope a b
expect missing 1 $CW /nonexistent.pth $T/x.st
has missing "$T/err" "convert-weights: /nonexistent.pth: no such file"
expect no-dir 1 $CW tests/ref/make_checkpoints.py /nonexistent/x.st
has no-dir "$T/err" "/nonexistent/x.st: no such directory"

expect make 0 $PY $R/make_checkpoints.py make $T/ck
K=$T/ck

# conversions: NAME ARGS... (output $T/NAME.st)
conv() {
	n=$1; shift
	expect "$n" 0 $CW "$@" $T/$n.st
	cp "$T/err" "$T/$n.err"
}
conv timm --num-heads 4 $K/timm.pth
has timm-dropped $T/timm.err "dropped head.weight (classifier head)"
has timm-summary $T/timm.err "35 tensors (float32), timm 32x2"
conv module --num-heads 3 $K/module.pth
has module-key $T/module.err "using the state dict under 'model', ignoring 2 other entries"
conv hf_vit $K/hf_vit
has hfvit-dropped $T/hf_vit.err "dropped classifier.weight (classifier head)"
conv hf_dinov2 --dtype bf16 $K/hf_dinov2
has hfdino-dropped $T/hf_dinov2.err "dropped embeddings.mask_token (masked-image-modelling"
conv sharded $K/hf_dinov2_sharded
conv dinov2 --num-heads 4 $K/dinov2.pth
has dinov2-teacher $T/dinov2.err "using the state dict under 'teacher'"
has dinov2-head $T/dinov2.err "dropped dino_head.mlp.0.weight (DINO projection head"
has dinov2-ibot $T/dinov2.err "dropped ibot_head.mlp.0.weight (iBOT projection head"
has dinov2-mask $T/dinov2.err "dropped mask_token (masked-image-modelling"
conv coca --num-heads 4 --pooler-heads 2 -d f16 --mean 0.48145466,0.4578275,0.40821073 $K/coca.pth
has coca-text $T/coca.err "dropped text.token_embedding.weight (CoCa text tower)"
has coca-decoder $T/coca.err "dropped text_decoder.resblocks.0.ln_1.weight (CoCa multimodal text decoder)"
has coca-caption $T/coca.err "dropped attn_pool_caption.query (captioning pooler"
conv st --num-heads 4 -q $K/st.safetensors
grep -q "^convert-weights: dropped" $T/st.err && fail "--quiet: dropped tensors listed" || pass
# an output read again: the configuration comes from its metadata
conv again $T/timm.st
conv unknown --num-heads 4 --drop 'blocks.*.q_norm.*' $K/unknown.pth
has unknown-drop $T/unknown.err "dropped blocks.0.attn.q_norm.weight (--drop blocks.*.q_norm.*)"
expect check 0 $PY $R/make_checkpoints.py check $K timm:$T/timm.st \
	module:$T/module.st hf_vit:$T/hf_vit.st hf_dinov2:$T/hf_dinov2.st:bf16 \
	hf_dinov2_sharded:$T/sharded.st dinov2:$T/dinov2.st coca:$T/coca.st:f16 \
	st:$T/st.st timm:$T/again.st unknown:$T/unknown.st
sed 's/^/  /' "$T/out"
[ "$(grep -c '^ok ' $T/out)" = 10 ] && pass || fail "check: $(grep -c '^ok ' $T/out) of 10 ok"

# embed (the C loader) reads every output
if [ -x "$BIN/embed" ]; then
	for n in timm module hf_vit hf_dinov2 sharded dinov2 st again unknown coca; do
		expect embed-info-$n 0 embed -m $T/$n.st --info
	done
	has embed-info-coca "$T/out" '"pool":"pooled"'
else
	fail "$BIN/embed missing: build first"
fi

# errors name the file and tensor; nothing is left under OUTPUT
printf 'keep me' > $T/keep.st
expect unknown-refused 1 $CW --num-heads 4 $K/unknown.pth $T/keep.st
has unknown-refused "$T/err" "unknown.pth: tensor 'blocks.0.attn.q_norm.weight' is not part of a timm image encoder"
has unknown-hint "$T/err" "--drop PATTERN"
[ "$(cat $T/keep.st)" = "keep me" ] && pass || fail "existing output overwritten on error"
ls $T | grep -q '\.tmp\.' && fail "temporary file left: $(ls $T | grep '\.tmp\.')" || pass
expect corrupt 1 $CW --num-heads 4 $K/corrupt.pth $T/corrupt.st
has corrupt "$T/err" "corrupt.pth: not a readable PyTorch checkpoint"
[ ! -e $T/corrupt.st ] && pass || fail "output written for a corrupt input"
expect namespace 1 $CW $K/namespace.pth $T/ns.st
has namespace "$T/err" "namespace.pth: it pickles argparse.Namespace, not only tensors"
has namespace-hint "$T/err" "--trust-pickle"
expect no-heads 1 $CW $K/timm.pth $T/noheads.st
has no-heads "$T/err" "timm.pth: the number of attention heads cannot be told from the weights"
expect wrong-preset 1 $CW --preset uni $K/timm.pth $T/wrong.st
has wrong-preset "$T/err" "preset uni expects embed_dim 1024, the weights have 32"
expect no-student 1 $CW --num-heads 4 --key student $K/dinov2.pth $T/student.st
has no-student "$T/err" "dinov2.pth: no 'student' in the checkpoint (it has: iteration, teacher)"
ls $T | grep -q '\.tmp\.' && fail "temporary file left" || pass
finish
