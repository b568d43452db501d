#!/bin/sh
# embed: the whole path from JPEG/rgb8 tile frames to embeddings against
# PIL + torchvision + timm (tests/ref/embed_ref.py), output kinds, f16,
# tokens, chained experts, pass-through and order, CLI conventions and
# errors. (The engine alone, every naming scheme: test_vit.)
. tests/lib.sh
PY=.venv/bin/python
M=$T/s16.safetensors
$PY tests/ref/embed_ref.py make "$T" || fail "embed_ref.py make"
IMG=tests/data/he-1024-a.png
TILE="wsi-tile -q --no-mask --assume-mpp 0.5"

expect help 0 embed --help
has help "$T/out" "Usage: embed"
sed 's/\\-/-/g' man/man1/embed.1 > "$T/man"
for o in $(embed --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
# The page is assembled from man/src: committed up to date.
cat man/src/embed.1.head man/src/embed-preprocessing.roff man/src/embed.1.tail > $T/embed.1
same man-up-to-date man/man1/embed.1 $T/embed.1
expect version 0 embed --version
has version "$T/out" "embed (pathfm)"
expect bad-option 2 embed --bogus
has bad-option "$T/err" "Try 'embed --help'"
expect no-model 2 embed
has no-model "$T/err" "no model"
expect bad-kind 2 embed -m $M --output-kind max
expect bad-batch 2 embed -m $M -b 0
expect bad-as 2 embed -m $M --as a.b
expect extra-arg 2 embed -m $M file.mpk

# The model: --info, lookup by name in --model-dir / $PATHFM_MODELS.
expect info 0 embed -m $M --info
has info "$T/out" '"name":"s16","file":"'
has info "$T/out" '"resize":256,"crop":224'
expect info-json 0 "embed -m $M --info | jq -e '.outputs.cls == 384'"
expect by-name 0 embed -m s16 --model-dir $T --info
expect by-env 0 "PATHFM_MODELS=$T embed -m s16 --info"
expect no-such-model 1 embed -m nosuch --model-dir $T --info
has no-such-model "$T/err" "$T/nosuch.safetensors"
printf 'not safetensors' > $T/junk.safetensors
expect junk-model 1 embed -m $T/junk.safetensors --info
has junk-model "$T/err" "junk.safetensors"

# JPEG tiles (300 px: resized to 256, cropped to 224) and rgb8 tiles
# against the torch reference, for each output kind; 2 threads, batch 3
# over 4 tiles (a partial batch).
$TILE --size 300 --stride 700 $IMG > $T/jpeg.mpk
$TILE --size 224 --stride 700 -e rgb8 $IMG > $T/rgb8.mpk
for k in cls mean cls+mean; do
	for in in jpeg rgb8; do
		expect "ref-$k-$in" 0 "embed -m $M --output-kind $k --keep-pixels -b 3 -j 2 -i $T/$in.mpk | frame-cat --full | $PY tests/ref/embed_ref.py check $M $k > $T/ref"
		read n err < $T/ref
		[ "$n" = 4 ] && awk -v e="$err" 'BEGIN { exit !(e <= 1e-4) }' && pass ||
			fail "$k $in: $n frames, rel err $err (want <= 1e-4)"
		echo "  embed vs torch, $in tiles, $k: max rel err $err over $n tiles"
	done
done
# bf16 linear layers: within 2e-2 of fp32 torch.
expect bf16 0 "embed -m $M --precision bf16 --keep-pixels -j 2 -i $T/jpeg.mpk | frame-cat --full | $PY tests/ref/embed_ref.py check $M cls > $T/ref"
read n err < $T/ref
awk -v e="$err" 'BEGIN { exit !(e <= 2e-2) }' && pass || fail "bf16: rel err $err"
echo "  embed --precision bf16 vs torch fp32, jpeg tiles, cls: max rel err $err"
expect bad-precision 2 embed -m $M --precision fp8
# f16 output: within f16 rounding of the f32 embedding.
expect f16 0 "embed -m $M --dtype f16 --keep-pixels -i $T/jpeg.mpk | frame-cat --full | $PY tests/ref/embed_ref.py check $M cls > $T/ref"
read n err < $T/ref
awk -v e="$err" 'BEGIN { exit !(e <= 2e-3) }' && pass || fail "f16: rel err $err"

# Frames: embedding frames without pixels by default, valid, in order,
# every input key kept; batch size and threads do not change the bytes.
expect out 0 "embed -m $M -i $T/jpeg.mpk -o $T/e.mpk"
expect out-valid 0 frame-cat --check -c $T/e.mpk
has out-valid "$T/out" 4
expect out-fields 0 "frame-cat -n 1 $T/e.mpk"
has out-fields "$T/out" '"type":"embedding"'
has out-fields "$T/out" '"emb":{"s16":{"dtype":"f32","shape":[384]'
has out-fields "$T/out" '"slide_id":"he-1024-a","x":0,"y":0'
expect no-pixels 0 "frame-cat $T/e.mpk | jq -e -s 'all(has(\"pixels\") | not)'"
expect order 0 "frame-cat $T/e.mpk | jq -c '[.x, .y]' > $T/o1; frame-cat $T/jpeg.mpk | jq -c '[.x, .y]' > $T/o2"
same order $T/o1 $T/o2
# batch 1 on 1 thread: GEMMs of other shapes, same result within 1e-4
expect batch1 0 "embed -m $M -b 1 --keep-pixels -i $T/jpeg.mpk | frame-cat --full | $PY tests/ref/embed_ref.py check $M cls > $T/ref"
read n err < $T/ref
awk -v e="$err" 'BEGIN { exit !(e <= 1e-4) }' && pass || fail "batch 1: rel err $err"
# Tokens: [196, 384] patch tokens under tokens.s16.
expect tokens 0 "embed -m $M --tokens -i $T/jpeg.mpk | frame-cat -n 1"
has tokens "$T/out" '"tokens":{"s16":{"dtype":"f32","shape":[196,384]'
# Chained experts accumulate under emb.
expect chain 0 "embed -m $M --as a --keep-pixels -i $T/jpeg.mpk | embed -m $M --as b --output-kind mean | frame-cat -n 1"
has chain "$T/out" '"emb":{"a":{"dtype":"f32","shape":[384]'
has chain "$T/out" '"b":{"dtype":"f32","shape":[384]'
# Other frames pass through in place.
printf '{"type":"metric","v":1,"name":"m","value":1}\n' | frame-cat -J > $T/metric.mpk
expect passthrough 0 "frame-cat -F $T/jpeg.mpk -n 2 > $T/a.mpk; frame-cat -F $T/metric.mpk $T/jpeg.mpk > $T/mix.mpk; embed -m $M -b 3 -i $T/mix.mpk | frame-cat | jq -r .type | tr '\n' ' '"
has passthrough "$T/out" "metric embedding embedding embedding embedding"

# Bad tiles: a clear error naming the frame; --keep-going drops them.
printf '{"type":"tile","v":1,"slide_id":"bad","x":5,"y":6,"level":0,"mpp":0.5,"width":224,"height":224,"encoding":"jpeg","pixels":{"$base64":"/9j/4AAQSkZJRgABAQ=="}}\n' |
	frame-cat -J > $T/bad.mpk
frame-cat -F $T/jpeg.mpk $T/bad.mpk > $T/withbad.mpk
expect bad-jpeg 1 "embed -m $M -i $T/withbad.mpk -o $T/x.mpk"
has bad-jpeg "$T/err" "frame 4 (slide bad, x 5, y 6)"
has bad-jpeg "$T/err" "JPEG"
[ ! -e $T/x.mpk ] && pass || fail "partial output left behind"
expect keep-going 1 "embed -m $M -k -i $T/withbad.mpk -o $T/kept.mpk"
has keep-going "$T/err" "4 tiles embedded, 1 dropped"
has keep-going "$T/err" "no image size"
expect keep-going-out 0 frame-cat -c $T/kept.mpk
has keep-going-out "$T/out" 4
# a JPEG cut short: libjpeg-turbo would fill it grey, PIL refuses it
frame-cat --full -n 1 $T/jpeg.mpk | jq -r '.pixels["$base64"]' | base64 -d |
	head -c 3000 | base64 -w0 > $T/cut.b64
frame-cat --full -n 1 $T/jpeg.mpk | jq -c --rawfile p $T/cut.b64 '.pixels["$base64"] = $p' |
	frame-cat -J > $T/cut.mpk
expect cut-jpeg 1 "embed -m $M -i $T/cut.mpk"
has cut-jpeg "$T/err" "frame 0 (slide he-1024-a, x 0, y 0): corrupt JPEG: no end-of-image marker"
printf '{"type":"tile","v":1,"slide_id":"s","x":0,"y":0,"level":0,"mpp":0.5,"width":2,"height":2,"encoding":"rgb8","pixels":{"$base64":"AAAA"}}\n' |
	frame-cat -J > $T/short.mpk
expect short-rgb8 1 "embed -m $M -i $T/short.mpk"
has short-rgb8 "$T/err" "rgb8 pixels hold 3 bytes"
printf '{"type":"tile","v":1,"slide_id":"s","x":0,"y":0,"level":0,"mpp":0.5,"width":2,"height":2,"encoding":"rgb8"}\n' |
	frame-cat -J > $T/nopix.mpk
expect no-pixels 1 "embed -m $M -i $T/nopix.mpk"
has no-pixels "$T/err" 'frame 0 (slide s, x 0, y 0): no "pixels"'
expect size-not-patch 1 embed -m $M --size 100 -i $T/jpeg.mpk
has size-not-patch "$T/err" "not a multiple of the patch size 16"
finish
