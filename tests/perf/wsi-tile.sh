#!/bin/sh
# wsi-tile benchmark, one run side by side on a generated 20480^2 JPEG
# pyramid (0.25 mpp, 256^2 YCbCr tiles, from the CMU slide's pixels):
# 256^2 tiles at level 0 by wsi-tile (1 and 2 threads, raw RGB out),
# a C loop of openslide_read_region, an openslide-python loop of
# read_region (.venv from tools/deps.sh), and a bare libtiff +
# libjpeg-turbo decode loop (the ceiling); then random mode with
# resampling. Each case: the median of 3 runs.
# Usage: sh tests/perf/wsi-tile.sh [SIDE]   (after make)
set -eu
SIDE=${1:-20480}
P=build/perf
mkdir -p $P
LIBS="$(pkg-config --cflags --libs openslide libtiff-4 libturbojpeg) -lm -lpthread"
CC=${CC:-cc}
$CC -O2 -std=c11 -D_GNU_SOURCE -Icommon tools/make-slide.c build/libpathfm.a \
	$(pkg-config --cflags --libs openslide libtiff-4 libturbojpeg libpng libzmq msgpack 2>/dev/null ||
	  pkg-config --cflags --libs openslide libtiff-4 libturbojpeg libpng libzmq msgpack-c) \
	-lm -lpthread -o $P/make-slide
$CC -O2 -std=c11 -D_GNU_SOURCE tests/perf/wsi-openslide.c $LIBS -o $P/wsi-openslide
$CC -O2 -std=c11 -D_GNU_SOURCE tests/perf/wsi-decode.c $LIBS -o $P/wsi-decode
S=$P/bench-$SIDE.tif
[ -f $S ] || { echo "generating $S" >&2; $P/make-slide --width $SIDE --height $SIDE --mpp 0.25 $S; }
now() { date +%s.%N; }
# best CMD...: the median of three runs, in seconds (output discarded).
best() {
	for i in 1 2 3; do
		t0=$(now); "$@" > /dev/null; t1=$(now)
		awk -v a=$t0 -v c=$t1 'BEGIN { print c - a }'
	done | sort -g | sed -n 2p
}
# med: the median of three lines "N tiles in T s: R tiles/s ...".
med() { sort -t: -k2 -g | sed -n 2p; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%6d tiles in %6.3f s: %6.0f tiles/s", n, t, n / t }'; }

echo "slide: $S ($(du -m $S | cut -f1) MB), $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "median of 3 runs each; page cache warm; wsi-tile writes frames to /dev/null"
cat $S > /dev/null
for i in 1 2 3; do $P/wsi-decode $S; done | med | sed 's/^/ceiling, libtiff + libjpeg-turbo loop, 1 thread: /'
for i in 1 2 3; do $P/wsi-openslide $S 256 3000; done | med |
	sed 's/^/openslide_read_region loop, 1 thread:          /'
if .venv/bin/python -c 'import openslide' 2>/dev/null; then
	for i in 1 2 3; do .venv/bin/python tests/perf/wsi-openslide.py $S 256 3000; done | med |
		sed 's/^/openslide-python read_region loop, 1 thread:   /'
else
	echo "openslide-python loop: not run (no .venv with openslide-python; make deps)"
fi
W="bin/wsi-tile --size 256 -e rgb8 --no-mask"
n=$($W $S | bin/frame-cat -c)
for j in 1 2; do
	echo "wsi-tile grid 256 level 0, rgb8, -j $j:         $(rate $n $(best $W -j $j $S))"
done
n=$(bin/wsi-tile --size 256 -e rgb8 $S | bin/frame-cat -c)
echo "wsi-tile grid 256, mask on (incl. mask), -j 1:  $(rate $n $(best bin/wsi-tile --size 256 -e rgb8 $S))"
echo "wsi-tile grid 256, mask on, jpeg q90 out, -j 1: $(rate $n $(best bin/wsi-tile --size 256 $S))"
for m in 0.5 0.4; do
	for j in 1 2; do
		R="bin/wsi-tile -m random --mpp $m --size 224 -n 3000 -e rgb8 -j $j"
		echo "wsi-tile random 224 @ $m mpp, -j $j:          $(rate 3000 $(best $R $S))"
	done
done
t0=$(now)
bin/wsi-tile -m random --mpp 0.5 --size 224 -n inf -e rgb8 $S | bin/frame-cat -F -n 1 > /dev/null
t1=$(now)
awk -v a=$t0 -v b=$t1 'BEGIN { printf "wsi-tile random: time to first tile %.3f s (open, mask, first tile)\n", b - a }'
