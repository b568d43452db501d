"""wsi-openslide.py: the openslide-python baseline, what CLAM-style scripts
do: read_region over every SIZE x SIZE tile of level 0, row by row, each
converted to RGB (CLAM's `.convert('RGB')`), as tiles per second.
Usage: .venv/bin/python tests/perf/wsi-openslide.py SLIDE [SIZE [MAX]]"""
import sys
import time

import openslide

path = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 256
limit = int(sys.argv[3]) if len(sys.argv) > 3 else -1
s = openslide.OpenSlide(path)
w, h = s.level_dimensions[0]
n = 0
t0 = time.monotonic()
for y in range(0, h - size + 1, size):
    for x in range(0, w - size + 1, size):
        if n == limit:
            break
        img = s.read_region((x, y), 0, (size, size)).convert('RGB')
        n += 1
    if n == limit:
        break
t = time.monotonic() - t0
print(f'{n} tiles in {t:.3f} s: {n / t:.0f} tiles/s '
      f'(openslide-python {openslide.__version__}, OpenSlide {openslide.__library_version__})')
