#!/bin/sh
# tile-filter: CLI conventions, keep/drop/annotate on real tiles (rgb8 and
# JPEG), --dropped and --report, pass-through, bad tile frames (corrupt
# and cut JPEG, no pixels, unknown encoding, wrong sizes) with and
# without --keep-going, cut streams, EPIPE, terminals, ZeroMQ; every
# measure against OpenCV/numpy/histolab (tests/ref/qc_ref.py) on random
# and real tiles and on all 2^24 colours; the hand-labelled tile set
# (tests/data/qc) with precision and recall per class and the targets.
. tests/lib.sh
PY=.venv/bin/python # Debian's OpenCV and numpy, openslide-python (tools/deps.sh)
R="$PY tests/ref/qc_ref.py"
D=tests/data
CMU=$D/CMU-1-Small-Region.svs
if [ ! -x $PY ]; then
	fail "$PY missing: run 'make deps' first"
	finish
	exit 1
fi

expect help 0 tile-filter --help
has help "$T/out" "Usage: tile-filter"
empty help-stderr "$T/err"
# Every option in --help is documented in the man page (roff writes \-).
sed 's/\\-/-/g' man/man1/tile-filter.1 > "$T/man"
for o in $(tile-filter --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
expect man-renders 0 "MANWIDTH=80 man -l man/man1/tile-filter.1 2>&1 >/dev/null | grep -v '^$' | tee $T/manerr | wc -l | grep -qx 0"
expect version 0 tile-filter --version
has version "$T/out" "tile-filter (pathfm)"
expect bad-option 2 tile-filter --bogus
has bad-option "$T/err" "Try 'tile-filter --help'"
expect bad-min-tissue 2 tile-filter --min-tissue 1.5
has bad-min-tissue "$T/err" "tile-filter: --min-tissue: not a number in 0..1: '1.5'"
expect bad-max-pen 2 tile-filter --max-pen x
expect bad-max-dark 2 tile-filter --max-dark -1
expect bad-max-blur 2 tile-filter --max-blur nan
expect bad-min-lapvar 2 tile-filter --min-lapvar -3
expect bad-rule 2 tile-filter --tissue-rule clam
has bad-rule "$T/err" "--tissue-rule: sat or hsv, not 'clam'"
expect bad-sat 2 tile-filter --sat-threshold 255
expect bad-sat-word 2 tile-filter --sat-threshold median
expect bad-white 2 tile-filter --white 0
expect bad-black 2 tile-filter --black 256
expect dropped-is-output 2 tile-filter --dropped -
has dropped-is-output "$T/err" "--dropped and --output are both '-'"
expect report-stdout 2 tile-filter --report -
expect report-is-output 2 tile-filter -o $T/x.mpk --report $T/x.mpk
expect report-zmq 2 tile-filter --report ipc://$T/r
expect missing-file 1 tile-filter /nonexistent.mpk
has missing-file "$T/err" "tile-filter: /nonexistent.mpk: No such file or directory"

# Real tiles: the CMU slide's whole grid, rgb8 and JPEG.
wsi-tile -q --no-mask --size 256 -e rgb8 -o $T/cmu.mpk $CMU
wsi-tile -q --no-mask --size 256 -o $T/cmuj.mpk $CMU
n=$(frame-cat -c $T/cmu.mpk)
[ "$n" = 88 ] && pass || fail "cmu: $n tiles"
expect keep 0 "tile-filter --dropped $T/drop.mpk --report $T/rep.json -o $T/kept.mpk $T/cmu.mpk"
cp $T/err $T/keep.err
has keep-summary $T/keep.err "tile-filter: 88 tiles: "
has keep-summary $T/keep.err " kept, "
has keep-summary $T/keep.err "dropped (pen "
empty keep-stdout "$T/out"
k=$(frame-cat -c $T/kept.mpk) d=$(frame-cat -c $T/drop.mpk)
[ $((k + d)) = 88 ] && [ "$k" -gt 20 ] && [ "$d" -gt 40 ] && pass || fail "kept $k + dropped $d"
expect kept-valid 0 frame-cat --check -c $T/kept.mpk
expect dropped-valid 0 frame-cat --check -c $T/drop.mpk
expect kept-pass 0 "frame-cat $T/kept.mpk | jq -e -s 'all(.qc.pass and .qc.reason == \"ok\")'"
expect dropped-fail 0 "frame-cat $T/drop.mpk | jq -e -s 'all(.qc.pass == false and .qc.reason != \"ok\")'"
# The report agrees with the outputs and the summary.
expect report 0 "jq -e '.tiles == 88 and .kept == $k and .dropped == $d and .written == $k and .written_dropped == $d and .reasons.ok == $k and .limits.min_tissue == 0.4 and .pixels.sat_threshold == 8 and (.means.tissue > 0)' $T/rep.json"
bg=$(jq .reasons.background $T/rep.json)
has report-summary $T/keep.err "background $bg"
# Without --dropped, the dropped tiles are gone; the kept ones the same.
expect no-dropped 0 "tile-filter -q $T/cmu.mpk > $T/kept2.mpk"
same kept-same $T/kept.mpk $T/kept2.mpk
empty quiet "$T/err"
# --annotate-only: every tile out, the decision recorded.
expect annotate 0 "tile-filter --annotate-only $T/cmu.mpk | frame-cat | jq -s -c '[length, (map(select(.qc.pass)) | length)]'"
has annotate "$T/out" "[88,$k]"
has annotate-summary "$T/err" "88 tiles annotated, 88 passed: $k would be kept"
# Thresholds move the decisions the documented way.
expect strict-tissue 0 "tile-filter -q --min-tissue 1 $T/cmu.mpk | frame-cat -c"
has strict-tissue "$T/out" "0"
expect no-limits 0 "tile-filter -q --min-tissue 0 --max-pen 1 --max-dark 1 --max-blur 1e6 --min-lapvar 0 $T/cmu.mpk | frame-cat -c"
has no-limits "$T/out" "88"
expect hsv-rule 0 "tile-filter -q --annotate-only --tissue-rule hsv --report $T/h.json $T/cmu.mpk | frame-cat | jq -s -e 'all(.qc.reason != \"background\" or .qc.hsv < 0.6)'"
expect hsv-rule-report 0 "jq -e '.limits.tissue_rule == \"hsv\" and .limits.min_tissue == 0.6' $T/h.json"
expect otsu 0 "tile-filter -q --annotate-only --sat-threshold otsu --report $T/o.json $T/cmu.mpk | frame-cat | jq -s -e 'all(.qc.sat_threshold >= 8)'"
expect otsu-report 0 "jq -e '.pixels.sat_threshold == \"otsu\"' $T/o.json"
expect stats 0 "tile-filter -q --annotate-only --stats $T/cmu.mpk | frame-cat | jq -s -e 'all(.qc | (.od_mean | length) == 3 and (.lab_std | length) == 3 and .stats_n >= 0)'"
# JPEG tiles: decoded once, the same decisions nearly everywhere.
expect jpeg 0 "tile-filter -q --annotate-only $T/cmuj.mpk | frame-cat | jq -r .qc.reason > $T/rj"
tile-filter -q --annotate-only $T/cmu.mpk | frame-cat | jq -r .qc.reason > $T/rr
agree=$(paste $T/rr $T/rj | awk '$1 == $2' | wc -l)
[ "$agree" -ge 84 ] && pass || fail "jpeg and rgb8 decisions agree on $agree of 88"
# From wsi-tile through a pipe, and other frames pass unchanged, in
# order; a unknown key and an old "qc" (replaced, not doubled).
printf '{"type":"metric","v":1,"step":3,"values":{"loss":0.5}}\n' > $T/other.jsonl
frame-cat --full -n 1 $T/cmu.mpk | jq -c '.custom = {"a": [1, 2]} | .qc = "old"' >> $T/other.jsonl
printf '{"type":"result","v":1,"task":"t","model":"m","metric":"auc","value":0.5}\n' >> $T/other.jsonl
expect passthrough 0 "frame-cat -J $T/other.jsonl | tile-filter --annotate-only | frame-cat --check"
has passthrough "$T/out" '{"type":"metric","v":1,"step":3,"values":{"loss":0.5}}'
has passthrough "$T/out" '"custom":{"a":[1,2]},"qc":{"pass":false,"reason":"background"'
has passthrough "$T/out" '{"type":"result","v":1,"task":"t","model":"m","metric":"auc","value":0.5}'
[ "$(grep -o '"qc"' $T/out | wc -l)" = 1 ] && pass || fail "qc doubled"
has passthrough-count "$T/err" "1 tiles annotated, 1 passed: 0 would be kept, 1 dropped (pen 0, background 1, dark 0, blur 0, error 0); 2 other frames passed"
expect pipeline 0 "wsi-tile -q --size 256 $CMU | tile-filter -q | frame-cat -c"
[ "$(cat $T/out)" -gt 20 ] && pass || fail "pipeline: $(cat $T/out) tiles"

# Bad tile frames: a clear error naming the frame; --keep-going drops,
# counts and goes on (exit 1 at the end), --dropped keeps them for audit.
frame-cat --full -n 29 $T/cmuj.mpk | tail -n 1 > $T/good.json  # (1024, 768): tissue
jq -r '.pixels["$base64"]' $T/good.json | base64 -d > $T/good.jpg
size=$(wc -c < $T/good.jpg)
mk() { # mk NAME JQ-FILTER: a frame from the good one
	jq -c --arg b "$2" "$3" $T/good.json > $T/$1.json
}
head -c $((size / 2)) $T/good.jpg | base64 -w 0 > $T/cut.b64
printf 'garbage that is not a JPEG' | base64 -w 0 > $T/junk.b64
head -c 100 /dev/urandom | base64 -w 0 > $T/rnd.b64
mk cut "$(cat $T/cut.b64)" '.x = 1 | .pixels["$base64"] = $b'
mk junk "$(cat $T/junk.b64)" '.x = 2 | .pixels["$base64"] = $b'
mk nopix "" '.x = 3 | del(.pixels)'
mk enc "" '.x = 4 | .encoding = "png"'
mk size "" '.x = 5 | .width = 200'
mk rgbsize "" '.x = 6 | .encoding = "rgb8"'
mk zero "" '.x = 7 | .width = 0'
mk strpix "" '.x = 8 | .pixels = 12'
# a JPEG header claiming 60000x60000: refused before the decoder allocates
$PY -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); i = b.find(b"\xff\xc0")
b[i + 5:i + 9] = bytes([234, 96, 234, 96]); sys.stdout.buffer.write(b)' $T/good.jpg | base64 -w 0 > $T/huge.b64
mk huge "$(cat $T/huge.b64)" '.x = 9 | .pixels["$base64"] = $b'
mk wide "" '.x = 10 | .width = 20000'
cat $T/good.json $T/cut.json $T/junk.json $T/nopix.json $T/enc.json $T/size.json \
	$T/rgbsize.json $T/zero.json $T/strpix.json $T/huge.json $T/wide.json $T/good.json > $T/bad.jsonl
frame-cat -J $T/bad.jsonl -o $T/bad.mpk
expect bad-stops 1 "tile-filter -o $T/stopped.mpk $T/bad.mpk"
has bad-stops "$T/err" "tile-filter: frame 1 (slide CMU-1-Small-Region, x 1, y 768): corrupt JPEG: no end-of-image marker (cut short)"
[ ! -e $T/stopped.mpk ] && [ -z "$(ls $T | grep stopped)" ] && pass || fail "bad-stops left an output"
for w in "2 .*x 2, .*corrupt JPEG: Not a JPEG file" "3 .*x 3, .*no \"pixels\"" \
	 "4 .*x 4, .*unknown encoding \"png\"" "5 .*x 5, .*JPEG is 256x256, the frame says 200x256" \
	 "6 .*x 6, .*rgb8 pixels hold" "7 .*x 7, .*bad tile size 0x256" "8 .*x 8, .*\"pixels\" is not bytes" \
	 "9 .*x 9, .*JPEG is 60000x60000, the frame says 256x256" \
	 "10 .*x 10, .*tile of 20000x256 pixels: larger than 16384x16384"; do
	i=${w%% *}
	sed -n "$((i + 1))p" $T/bad.jsonl | frame-cat -J | tile-filter -q > /dev/null 2> $T/one.err
	grep -q "frame 0 ${w#* }" $T/one.err && pass || { fail "bad frame $i: $(cat $T/one.err)"; }
done
expect keep-going 1 "tile-filter -k --dropped $T/bad-drop.mpk -o $T/bad-kept.mpk --report $T/bad.json $T/bad.mpk"
has keep-going "$T/err" "frame 1 (slide CMU-1-Small-Region, x 1, y 768): corrupt JPEG: no end-of-image marker (cut short) (dropped)"
has keep-going "$T/err" "frame 8 (slide CMU-1-Small-Region, x 8, y 768): \"pixels\" is not bytes (dropped)"
has keep-going "$T/err" "12 tiles: 2 kept, 10 dropped (pen 0, background 0, dark 0, blur 0, error 10)"
[ "$(frame-cat -c $T/bad-kept.mpk)" = 2 ] && pass || fail "keep-going: not 2 kept"
expect keep-going-dropped 0 "frame-cat $T/bad-drop.mpk | jq -c '[.x, .qc.reason, (.qc.error | length > 0)]' | tr -d '\n'"
has keep-going-dropped "$T/out" '[1,"error",true][2,"error",true][3,"error",true]'
expect keep-going-report 0 "jq -e '.reasons.error == 10 and .kept == 2' $T/bad.json"
# Cut, empty and garbage streams: exit 1, nothing half-written.
size=$(wc -c < $T/cmu.mpk)
head -c $((size - 1000)) $T/cmu.mpk > $T/cutstream.mpk
expect cut-stream 1 "tile-filter -q -o $T/cs.mpk $T/cutstream.mpk"
has cut-stream "$T/err" "truncated"
[ ! -e $T/cs.mpk ] && pass || fail "cut stream left an output"
expect no-eos 1 "head -c $((size - 20)) $T/cmu.mpk | tile-filter -q > /dev/null"
has no-eos "$T/err" "without an end-of-stream frame"
expect lenient 0 "head -c $((size - 20)) $T/cmu.mpk | tile-filter -q --lenient | frame-cat -c"
expect empty 1 "tile-filter < /dev/null"
head -c 4096 /dev/urandom > $T/garbage
expect garbage 1 tile-filter -q $T/garbage
expect max-frame 1 tile-filter -q --max-frame 1000 $T/cmu.mpk
has max-frame "$T/err" "limit of 1000 bytes"

# Progress on stderr when asked; -q silences it and the summary.
expect progress 0 "tile-filter --progress $T/cmu.mpk > /dev/null"
has progress "$T/err" "88 frames"
# A reader that goes away: quiet exit 0.
for i in 1 2 3 4 5 6 7 8; do frame-cat -q --full $T/cmu.mpk; done | frame-cat -J -q -o $T/big.mpk
{ tile-filter --annotate-only $T/big.mpk 2>$T/epipe.err; echo $? > $T/epipe.rc; } | head -c 100 > /dev/null
[ "$(cat $T/epipe.rc)" = 0 ] && pass || fail "epipe: exit $(cat $T/epipe.rc)"
empty epipe-quiet $T/epipe.err
# No binary frames to a terminal.
if command -v script >/dev/null 2>&1; then
	script -qec "tile-filter $T/cmu.mpk" /dev/null > $T/tty.out 2>&1
	has tty-refused $T/tty.out "refusing to write binary frames to a terminal"
fi
# ZeroMQ in and out.
tile-filter -q --timeout 30 --hwm 200 -i "@ipc://$T/in" -o $T/z.mpk 2>$T/z.err &
pid=$!
expect zmq-send 0 "frame-cat -F -o '>ipc://$T/in' $T/cmu.mpk"
wait $pid && pass || fail "zmq tile-filter failed: $(cat $T/z.err)"
same zmq-same $T/kept.mpk $T/z.mpk

# The measures against the reference (OpenCV, numpy, histolab): random
# and real tiles of many sizes, rgb8 and JPEG, with several settings;
# the portable kernel gives the same bytes.
expect ref-gen 0 $R gen $T/r.mpk $T/r.npz
for o in "" "--stats" "--stats --sat-threshold otsu --black 0" "--sat-threshold 30 --white 200 --black 60"; do
	tile-filter -q --annotate-only $o $T/r.mpk > $T/r-out.mpk
	frame-cat $T/r-out.mpk > $T/r.jsonl
	expect "ref-check $o" 0 $R check $T/r.npz $T/r.jsonl $o
	sed 's/^/  /' $T/out
	PFM_QC_SCALAR=1 tile-filter -q --annotate-only $o $T/r.mpk > $T/r-scalar.mpk
	same "portable-kernel $o" $T/r-out.mpk $T/r-scalar.mpk
done
has ref-other "$T/r.jsonl" '{"type":"metric","v":1,"step":1,"values":{"x":1}}'
# All 2^24 colours in one tile: every fraction equal to OpenCV's count.
expect cube 0 "$R cube $T/cube.mpk && tile-filter -q --annotate-only $T/cube.mpk | frame-cat > $T/cube.jsonl && $R cubecheck $T/cube.jsonl"
sed 's/^/  /' $T/out

# The labelled set: committed tiles (cut from tests/data by their
# coordinates) and, where ../shared/data is present, the local ones.
# Precision and recall per class; the targets must hold.
for enc in rgb8 jpeg; do
	expect "labelled-cut-$enc" 0 "$R cut --encoding $enc tests/data/qc/labels.csv > $T/lab.mpk"
	tile-filter -q --annotate-only $T/lab.mpk | frame-cat > $T/lab.jsonl
	echo "labelled set, committed tiles ($enc):"
	expect "labelled-$enc" 0 $R score $T/lab.jsonl --require
	sed 's/^/  /' $T/out
done
if [ -f ../shared/data/patches/pen-red-pen.png ]; then
	for enc in rgb8 jpeg; do
		$R cut --encoding $enc tests/data/qc/labels.csv tests/data/qc/labels-local.csv > $T/lab.mpk 2> $T/cut.err
		tile-filter -q --annotate-only $T/lab.mpk | frame-cat > $T/lab.jsonl
		echo "labelled set with the local tiles (pen marks, TUPAC; $enc):"
		expect "labelled-local-$enc" 0 $R score $T/lab.jsonl --require
		sed 's/^/  /' $T/out
	done
else
	echo "skip: local labelled tiles (pen marks, TUPAC): ../shared/data/patches absent"
fi
finish
