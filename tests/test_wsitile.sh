#!/bin/sh
# wsi-tile: CLI conventions, grid and random modes, frames, slide lists,
# bad slides, --keep-going, threads, --unordered, passthrough, PNG images
# (against Pillow), thumbnails.
. tests/lib.sh
D=tests/data
CMU=$D/CMU-1-Small-Region.svs
TCGA=$D/TCGA-CR-7395-01A-01-TS1.svs
DICOM=../shared/data/slides/small_dicom.dcm
PY=/usr/bin/python3 # Debian's, with python3-pil (tools/deps.sh)

expect help 0 wsi-tile --help
has help "$T/out" "Usage: wsi-tile"
# Every option in --help is documented in the man page (roff writes \-).
sed 's/\\-/-/g' man/man1/wsi-tile.1 > "$T/man"
for o in $(wsi-tile --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
expect version 0 wsi-tile --version
has version "$T/out" "wsi-tile (pathfm)"
expect bad-option 2 wsi-tile --bogus
has bad-option "$T/err" "Try 'wsi-tile --help'"
expect no-slides 2 wsi-tile
has no-slides "$T/err" "no slides"
expect bad-mpp 2 wsi-tile --mpp 0,x $CMU
has bad-mpp "$T/err" "--mpp: not a list"
expect bad-mode 2 wsi-tile -m spiral $CMU
expect bad-tissue 2 wsi-tile --min-tissue 2 $CMU
expect pass-rgb8 2 wsi-tile --passthrough -e rgb8 $CMU

# Grid over the CMU slide: whole (117 = 9 x 13 tiles of 224) and over tissue.
expect grid-all 0 "wsi-tile --no-mask $CMU | frame-cat -c"
has grid-all "$T/out" "117"
expect grid-tissue 0 "wsi-tile -o $T/g.mpk $CMU"
expect grid-valid 0 frame-cat --check -c $T/g.mpk
n=$(cat "$T/out")
[ "$n" -gt 20 ] && [ "$n" -lt 117 ] && pass || fail "tissue grid: $n tiles"
expect grid-fields 0 "frame-cat -n 1 $T/g.mpk"
has grid-fields "$T/out" '"slide_id":"CMU-1-Small-Region"'
has grid-fields "$T/out" '"level":0,"mpp":0.499,"width":224,"height":224,"encoding":"jpeg"'
has grid-fields "$T/out" '"tissue":'
expect grid-min-tissue 0 "frame-cat $T/g.mpk | jq -e -s 'all(.tissue >= 0.5)'"
# Raw pixels: the direct JPEG path and OpenSlide give identical frames.
expect rgb8 0 "wsi-tile -e rgb8 --stride 150 --size 200 -o $T/direct.mpk $CMU"
expect rgb8-openslide 0 "wsi-tile -e rgb8 --stride 150 --size 200 --no-direct -o $T/os.mpk $CMU"
same direct-equals-openslide $T/direct.mpk $T/os.mpk
expect rgb8-size 0 "frame-cat -n 1 $T/direct.mpk"
has rgb8-size "$T/out" '"pixels":{"$bin":120000}'
# Threads do not change the output.
expect threads 0 "wsi-tile -e rgb8 --stride 150 --size 200 -j 3 -o $T/j3.mpk $CMU"
same threads-same-output $T/direct.mpk $T/j3.mpk
# --unordered: the same frames in another order (sorted JSON views).
frame-cat --full $T/direct.mpk | sort > $T/ordered.json
expect unordered 0 "wsi-tile -e rgb8 --stride 150 --size 200 -j 4 --unordered -o $T/un.mpk $CMU $D/pyramid.tif"
expect unordered-valid 0 frame-cat --check $T/un.mpk
expect unordered-ordered 0 "wsi-tile -e rgb8 --stride 150 --size 200 -o $T/ord2.mpk $CMU $D/pyramid.tif"
frame-cat --full $T/un.mpk | sort > $T/un.json
frame-cat --full $T/ord2.mpk | sort > $T/ord2.json
[ -s $T/un.json ] && pass || fail "unordered: no frames"
same unordered-same-frames $T/ord2.json $T/un.json
expect unordered-random 0 "wsi-tile -m random -n 40 --seed 3 -j 3 --unordered $CMU $D/pyramid.tif | frame-cat --full | sort > $T/ur.json"
expect ordered-random 0 "wsi-tile -m random -n 40 --seed 3 $CMU $D/pyramid.tif | frame-cat --full | sort > $T/or.json"
same unordered-random-same-frames $T/or.json $T/ur.json
# Resampled: 0.998 mpp from 0.499 reads 448 pixels and halves them.
expect resampled 0 "wsi-tile --mpp 0.998 --no-mask $CMU | frame-cat | jq -c '[.x,.mpp,.width]' | head -2"
has resampled "$T/out" '[0,0.998,224]'
has resampled "$T/out" '[448,0.998,224]'
# A pyramid: 0.5 mpp from a 0.25 mpp slide reads level 1.
expect pyramid 0 "wsi-tile --mpp 0.5 --min-tissue 0 $D/pyramid.tif | frame-cat | jq -c '[.level,.mpp]' | sort -u"
has pyramid "$T/out" '[1,0.5]'
expect mag 0 "wsi-tile --mag 20 --min-tissue 0 -n 1 $D/pyramid.tif | frame-cat -n 1"
has mag "$T/out" '"mpp":0.5'
# Passthrough: 240-pixel tiles on Aperio's 240 grid are the stored bytes.
expect passthrough 0 "wsi-tile --passthrough --size 240 -o $T/pt.mpk $CMU"
expect no-passthrough 0 "wsi-tile --size 240 -o $T/npt.mpk $CMU"
[ "$(frame-cat -c $T/pt.mpk)" = "$(frame-cat -c $T/npt.mpk)" ] && pass || fail "passthrough count"
cmp -s $T/pt.mpk $T/npt.mpk && fail "passthrough made the same bytes" || pass

# Slides without resolution, unsupported, missing, damaged.
expect tcga-no-mpp 1 wsi-tile $TCGA
has tcga-no-mpp "$T/err" "$TCGA"
has tcga-no-mpp "$T/err" "--assume-mpp"
expect tcga-assume 0 "wsi-tile --assume-mpp 0.25 --mpp 0.5 $TCGA | frame-cat -c"
[ "$(cat $T/out)" -gt 0 ] && pass || fail "TCGA with --assume-mpp: no tiles"
expect tcga-assume-mag 0 "wsi-tile --assume-mag 40 -n 1 --mpp 0.5 $TCGA | frame-cat -n 1"
has tcga-assume-mag "$T/out" '"level":1'
if [ -f $DICOM ]; then
	expect dicom 1 wsi-tile $DICOM
	has dicom "$T/err" "unsupported format: DICOM"
else
	echo "skip: no $DICOM"
fi
expect missing 1 wsi-tile /nonexistent.svs
has missing "$T/err" "wsi-tile: /nonexistent.svs: No such file or directory"
head -c 300000 $CMU > $T/cut.svs
expect truncated 1 wsi-tile $T/cut.svs
has truncated "$T/err" "$T/cut.svs"
cp $CMU $T/bad.svs
printf 'XXXX' | dd of=$T/bad.svs bs=1 seek=0 conv=notrunc 2>/dev/null
expect bad-magic 1 wsi-tile $T/bad.svs
has bad-magic "$T/err" "unsupported format"
expect not-a-slide 1 wsi-tile tests/lib.sh
# No tissue: a warning and no tiles.
expect blank 0 "wsi-tile $D/blank.tif | frame-cat -c"
has blank "$T/out" "0"
has blank "$T/err" "blank: no tissue found"

# Slide lists: CSV columns go to meta (label also to label).
printf 'slide_id,path,label,case_id\nA,%s,tumor,C1\nB,%s,normal,C2\n' $PWD/$CMU $PWD/$D/pyramid.tif > $T/list.csv
expect csv 0 "wsi-tile -s $T/list.csv --min-tissue 0 | frame-cat | jq -c '[.slide_id,.label,.meta]' | sort -u"
has csv "$T/out" '["A","tumor",{"label":"tumor","case_id":"C1"}]'
has csv "$T/out" '["B","normal",{"label":"normal","case_id":"C2"}]'
printf '%s\n/nonexistent.svs\n%s\n' $PWD/$CMU $PWD/$D/pyramid.tif > $T/list.txt
expect stop-on-bad 1 "wsi-tile -s $T/list.txt -o $T/stop.mpk"
has stop-on-bad "$T/err" "/nonexistent.svs"
[ ! -e $T/stop.mpk ] && pass || fail "stop-on-bad left an output file"
expect keep-going 1 "wsi-tile -k -s $T/list.txt --min-tissue 0 -o $T/kg.mpk"
has keep-going "$T/err" "1 of 3 slides failed:"
has keep-going "$T/err" "  /nonexistent.svs: No such file or directory"
expect keep-going-output 0 "frame-cat $T/kg.mpk | jq -r .slide_id | sort -u"
has keep-going-output "$T/out" "CMU-1-Small-Region"
has keep-going-output "$T/out" "pyramid"
# Relative paths in a list are from the list's folder; from the current
# folder for standard input.
mkdir -p $T/rel/sub
ln -s $PWD/$CMU $T/rel/cmu.svs
ln -s $PWD/$D/pyramid.tif $T/rel/sub/pyr.tif
printf 'slide_id,path,label\nA,cmu.svs,x\nB,sub/pyr.tif,y\n' > $T/rel/list.csv
printf 'cmu.svs\nsub/pyr.tif\n' > $T/rel/list.txt
expect rel-csv 0 "wsi-tile -s $T/rel/list.csv --min-tissue 0 | frame-cat | jq -r .slide_id | sort | uniq -c"
has rel-csv "$T/out" " A"
has rel-csv "$T/out" " B"
expect rel-txt 0 "wsi-tile -s $T/rel/list.txt --min-tissue 0 | frame-cat | jq -r .slide_id | sort -u | tr '\n' ' '"
has rel-txt "$T/out" "cmu pyr "
expect rel-stdin 0 "cd $T/rel && printf 'sub/pyr.tif\n' | wsi-tile -s - --min-tissue 0 | frame-cat -c"
[ "$(cat $T/out)" -gt 0 ] && pass || fail "rel-stdin: no tiles"
expect rel-from-root 0 "cd / && wsi-tile -s $T/rel/list.txt --no-mask -o $T/rel.mpk"
cp $T/rel/list.txt $T/list2.txt
expect rel-elsewhere 1 "wsi-tile -s $T/list2.txt --no-mask -o $T/rel2.mpk"
has rel-elsewhere "$T/err" "$T/cmu.svs: No such file or directory"

# A patch dataset in ImageFolder layout: plain JPEGs, the class folder is
# the label.
mkdir -p $T/if/tumor $T/if/normal
wsi-tile --size 96 -n 2 $CMU | frame-cat --full -n 2 | jq -r '.pixels["$base64"]' > $T/b64
i=0
while read -r b; do
	i=$((i + 1))
	printf '%s\n' "$b" | base64 -d > $T/if/tumor/t$i.jpg
	cp $T/if/tumor/t$i.jpg $T/if/normal/n$i.jpg
done < $T/b64
expect imagefolder-no-mpp 1 wsi-tile --no-mask $T/if
has imagefolder-no-mpp "$T/err" "--assume-mpp"
expect imagefolder 0 "wsi-tile --no-mask --assume-mpp 0.5 --size 96 $T/if | frame-cat | jq -c '[.slide_id,.label,.x,.width]'"
[ "$(wc -l < $T/out)" = 4 ] && pass || fail "imagefolder: not 4 tiles"
has imagefolder "$T/out" '["normal/n1","normal",0,96]'
has imagefolder "$T/out" '["tumor/t2","tumor",0,96]'

# PNG: 8/16-bit, grey (1 and 8 bits), palette (with tRNS, 4 bits),
# alpha, Adam7, made from a real H&E PNG by Pillow and by a small encoder
# of our own (Pillow writes no 16-bit colour nor Adam7); wsi-tile's
# pixels equal Pillow's decoding composited over white, bit for bit.
mkdir -p $T/png
cat > $T/pngref.py <<'EOF'
# Test PNGs from a real one, and their pixels as Pillow decodes them,
# composited over white, the top-left square (one wsi-tile tile).
import struct, sys, zlib
import numpy as np
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
a = np.asarray(Image.open(src).convert('RGB'))
c = a[100:357, 200:455]  # 257 x 255: odd sizes for Adam7
h, w = c.shape[:2]
rng = np.random.default_rng(1)
ramp = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))

def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))

# Our own encoder for what Pillow does not write: 16 bits, Adam7.
def raw_png(path, arr, ctype, depth, interlace):
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1).astype('>u2' if depth == 16 else 'u1')
    ps = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
          (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    data = b''.join(b'\0' + row.tobytes() for xs, ys, dx, dy in ps
                    for row in arr[ys::dy, xs::dx] if row.size)
    ihdr = struct.pack('>IIBBBBB', arr.shape[1], arr.shape[0], depth, ctype, 0, 0, interlace)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                           chunk(b'IDAT', zlib.compress(data)) + chunk(b'IEND', b''))

lo = rng.integers(0, 256, c.shape, dtype=np.uint16)
c16 = (c.astype(np.uint16) << 8) | lo
a16 = (np.tile(np.linspace(0, 65535, w), (h, 1))).astype(np.uint16)
names = ['real']
Image.fromarray(c).save(f'{out}/rgb8.png'); names.append('rgb8')
Image.fromarray(c).convert('L').save(f'{out}/grey8.png'); names.append('grey8')
Image.fromarray(c).convert('1').save(f'{out}/grey1.png'); names.append('grey1')
Image.fromarray(np.dstack([c[..., 0], ramp])).save(f'{out}/greya8.png'); names.append('greya8')
Image.fromarray(np.dstack([c, ramp])).save(f'{out}/rgba8.png'); names.append('rgba8')
p = Image.fromarray(c).quantize(64)
p.save(f'{out}/palette.png', transparency=3); names.append('palette')
Image.fromarray(c).quantize(16).save(f'{out}/palette4.png', bits=4); names.append('palette4')
raw_png(f'{out}/rgb16.png', c16, 2, 16, 0); names.append('rgb16')
raw_png(f'{out}/rgba16-adam7.png', np.dstack([c16, a16]), 6, 16, 1); names.append('rgba16-adam7')
raw_png(f'{out}/rgb8-adam7.png', c, 2, 8, 1); names.append('rgb8-adam7')
for n in names:
    f = src if n == 'real' else f'{out}/{n}.png'
    im = Image.open(f)
    v = np.asarray(im.convert('RGBA')).astype(np.uint32)
    al = v[..., 3:]
    rgb = (v[..., :3] * al + 255 * (255 - al) + 127) // 255
    s = min(rgb.shape[:2])
    open(f'{out}/{n}.exp', 'wb').write(rgb[:s, :s].astype(np.uint8).tobytes())
    print(n, f, s)
EOF
expect png-reference 0 $PY $T/pngref.py $D/he-1024-a.png $T/png
[ "$(wc -l < $T/out)" = 11 ] && pass || fail "png-reference: not 11 images"
cp $T/out $T/png/list
while read -r n f s; do
	wsi-tile -q --no-mask --assume-mpp 0.5 --size $s -e rgb8 $f | frame-cat --full |
		jq -r '.pixels["$base64"]' | base64 -d > $T/png/$n.got
	[ -s $T/png/$n.got ] && cmp -s $T/png/$n.got $T/png/$n.exp && pass || fail "png $n: pixels differ from Pillow's"
done < $T/png/list
expect png-no-mpp 1 wsi-tile $D/he-1024-a.png
has png-no-mpp "$T/err" "$D/he-1024-a.png: a plain image"
head -c 20000 $D/he-1024-a.png > $T/cut.png
expect png-truncated 1 wsi-tile --assume-mpp 0.5 $T/cut.png
has png-truncated "$T/err" "$T/cut.png: PNG:"
cp $T/png/rgb8.png $T/crc.png
printf 'XXXX' | dd of=$T/crc.png bs=1 seek=100 conv=notrunc 2>/dev/null
expect png-corrupt 1 wsi-tile --assume-mpp 0.5 $T/crc.png
has png-corrupt "$T/err" "$T/crc.png: PNG:"
mkdir -p $T/pif/a $T/pif/b
cp $T/png/rgb8.png $T/pif/a/x.png
cp $T/png/palette.png $T/pif/b/y.png
expect png-imagefolder 0 "wsi-tile --no-mask --assume-mpp 0.5 --size 128 $T/pif | frame-cat | jq -r .label | sort -u | tr '\n' ' '"
has png-imagefolder "$T/out" "a b "

# Random mode: counts, seeds, interleaving, mixed resolutions.
expect random 0 "wsi-tile -m random -n 15 --seed 7 -o $T/r1.mpk $CMU $D/pyramid.tif"
expect random-again 0 "wsi-tile -m random -n 15 --seed 7 -j 2 -o $T/r2.mpk $CMU $D/pyramid.tif"
same random-reproducible $T/r1.mpk $T/r2.mpk
expect random-seed 0 "wsi-tile -m random -n 15 --seed 8 -o $T/r3.mpk $CMU $D/pyramid.tif"
cmp -s $T/r1.mpk $T/r3.mpk && fail "another seed, same tiles" || pass
expect random-count 0 "frame-cat $T/r1.mpk | jq -r .slide_id | sort | uniq -c"
has random-count "$T/out" "15 CMU-1-Small-Region"
has random-count "$T/out" "15 pyramid"
expect random-interleaved 0 "frame-cat -n 10 $T/r1.mpk | jq -r .slide_id | sort -u | wc -l"
has random-interleaved "$T/out" "2"
expect random-valid 0 "frame-cat $T/r1.mpk | jq -e -s 'all(.tissue >= 0.5 and .x >= 0 and .tile_index >= 0)'"
expect random-mpps 0 "wsi-tile -m random -n 40 --mpp 0.5,1:3 --min-tissue 0.2 $CMU | frame-cat | jq -r .mpp | sort | uniq -c"
has random-mpps "$T/out" "0.5"
has random-mpps "$T/out" " 1"
expect random-blank 0 "wsi-tile -m random -n 5 $D/blank.tif | frame-cat -c"
has random-blank "$T/out" "0"
has random-blank "$T/err" "no tissue"
# A window of open slides: one at a time, and endless streams rotate
# through the slides, tile_index going on where it stopped.
expect random-open 0 "wsi-tile -m random -n 3 --open 1 $CMU $D/pyramid.tif | frame-cat | jq -r .slide_id | uniq -c | wc -l"
has random-open "$T/out" "2"
expect random-rotate 0 "wsi-tile -m random -n inf --open 1 --visit 2 $CMU $D/pyramid.tif | frame-cat -n 6 | jq -c '[.slide_id,.tile_index]' | tr -d '\n'"
has random-rotate "$T/out" '["CMU-1-Small-Region",0]["CMU-1-Small-Region",1]["pyramid",0]["pyramid",1]["CMU-1-Small-Region",2]["CMU-1-Small-Region",3]'
# Endless streams stop quietly when the reader goes away.
{ wsi-tile -m random -n inf $CMU 2>$T/inf.err; echo $? > $T/inf.rc; } | frame-cat -F -n 5 > $T/inf.mpk
[ "$(cat $T/inf.rc)" = 0 ] && pass || fail "endless: exit $(cat $T/inf.rc)"
empty endless-quiet $T/inf.err
[ "$(frame-cat -c $T/inf.mpk)" = 5 ] && pass || fail "endless: not 5 tiles"

# Thumbnails.
expect thumbnail 0 "wsi-tile --thumbnail $T/th -o $T/th.mpk $CMU"
# Compressed: well under the raw w x h x 3 bytes; Pillow reads it whole.
cat > $T/thumb.py <<'EOF'
import os, sys
from PIL import Image
p = sys.argv[1]
im = Image.open(p)
im.load()
assert im.mode == "RGB" and max(im.size) == 768, (im.mode, im.size)
assert os.path.getsize(p) < 0.6 * im.size[0] * im.size[1] * 3, os.path.getsize(p)
EOF
expect thumbnail-png 0 $PY $T/thumb.py $T/th/CMU-1-Small-Region.png
finish
