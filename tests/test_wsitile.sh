#!/bin/sh
# wsi-tile: CLI conventions, grid and random modes, frames, slide lists,
# bad slides, --keep-going, threads, passthrough, thumbnails.
. tests/lib.sh
D=tests/data
CMU=$D/CMU-1-Small-Region.svs
TCGA=$D/TCGA-CR-7395-01A-01-TS1.svs
DICOM=../shared/data/slides/small_dicom.dcm

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
printf 'slide_id,path,label,case_id\nA,%s,tumor,C1\nB,%s,normal,C2\n' $CMU $D/pyramid.tif > $T/list.csv
expect csv 0 "wsi-tile -s $T/list.csv --min-tissue 0 | frame-cat | jq -c '[.slide_id,.label,.meta]' | sort -u"
has csv "$T/out" '["A","tumor",{"label":"tumor","case_id":"C1"}]'
has csv "$T/out" '["B","normal",{"label":"normal","case_id":"C2"}]'
printf '%s\n/nonexistent.svs\n%s\n' $CMU $D/pyramid.tif > $T/list.txt
expect stop-on-bad 1 "wsi-tile -s $T/list.txt -o $T/stop.mpk"
has stop-on-bad "$T/err" "/nonexistent.svs"
[ ! -e $T/stop.mpk ] && pass || fail "stop-on-bad left an output file"
expect keep-going 1 "wsi-tile -k -s $T/list.txt --min-tissue 0 -o $T/kg.mpk"
has keep-going "$T/err" "1 of 3 slides failed:"
has keep-going "$T/err" "  /nonexistent.svs: No such file or directory"
expect keep-going-output 0 "frame-cat $T/kg.mpk | jq -r .slide_id | sort -u"
has keep-going-output "$T/out" "CMU-1-Small-Region"
has keep-going-output "$T/out" "pyramid"

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
[ "$(head -c 4 $T/th/CMU-1-Small-Region.png | od -An -c | tr -d ' ')" = "211PNG" ] && pass ||
	fail "thumbnail: not a PNG"
finish
