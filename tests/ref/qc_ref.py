"""Reference for tile-filter's measures (tests/test_tilefilter.sh).

Every measure is recomputed here with OpenCV (cv2.cvtColor RGB2HSV and
RGB2GRAY on 8 bits, cv2.inRange for Virchow's HSV rule, cv2.Laplacian
with its defaults: ksize 1, BORDER_REFLECT_101, CV_64F, then .var()),
numpy (fractions, gradients, optical density), histolab's pen filters
as histolab writes them, and skimage's rgb2lab formulas transcribed in
numpy (skimage is not installed; cv2's float Lab, with its spline tables
and constants, is a second check at 0.25).

  qc_ref.py gen FRAMES.mpk TILES.npz     random and real tiles, rgb8 and jpeg
  qc_ref.py check TILES.npz OUT.jsonl [--sat-threshold N|otsu] [--white N]
                                     [--black N] [--stats]
  qc_ref.py cube FRAMES.mpk              one 4096x4096 tile of all 2^24 colours
  qc_ref.py cubecheck OUT.jsonl          its fractions against OpenCV, exactly
  qc_ref.py cut [--encoding jpeg|rgb8] CSV...   labelled tiles (labels.csv) as
                                     frames on stdout; rows whose source is
                                     absent are skipped (counted on stderr)
  qc_ref.py score OUT.jsonl [--require]  precision and recall per class
  qc_ref.py sheet OUT.png CSV...         a contact sheet of the labelled tiles,
                                     each captioned with its label (to check
                                     the labels by eye)

Tolerances (check): fractions exactly (the same pixel counts over the
same N), lapvar and blur 1e-9 relative, optical density 1e-9, L*a*b*
1e-6 against the numpy transcription.
"""
import base64
import csv
import json
import os
import struct
import sys
from functools import reduce

import cv2
import numpy as np

# ---- a minimal MessagePack writer (maps, strings, ints, floats, bins)


def mp(o):
    if o is None:
        return b'\xc0'
    if o is True or o is False:
        return b'\xc3' if o else b'\xc2'
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if 0 <= o < 1 << 32:
            return b'\xce' + struct.pack('>I', o)
        return b'\xd3' + struct.pack('>q', o)
    if isinstance(o, float):
        return b'\xcb' + struct.pack('>d', o)
    if isinstance(o, str):
        s = o.encode()
        return (bytes([0xa0 | len(s)]) if len(s) < 32 else b'\xda' + struct.pack('>H', len(s))) + s
    if isinstance(o, (bytes, bytearray)):
        return b'\xc6' + struct.pack('>I', len(o)) + bytes(o)
    if isinstance(o, dict):
        out = b'\xde' + struct.pack('>H', len(o))
        for k, v in o.items():
            out += mp(k) + mp(v)
        return out
    raise TypeError(type(o))


def tile_frame(sid, x, y, rgb, enc='rgb8', quality=90, **extra):
    h, w = rgb.shape[:2]
    if enc == 'jpeg':
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        pix = buf.tobytes()
        # what a decoder sees
        rgb = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    else:
        pix = np.ascontiguousarray(rgb).tobytes()
    f = {'type': 'tile', 'v': 1, 'slide_id': sid, 'x': int(x), 'y': int(y),
         'level': 0, 'mpp': 0.5, 'width': int(w), 'height': int(h),
         'encoding': enc, 'pixels': pix}
    f.update(extra)
    return mp(f), rgb


def eos(n):
    return mp({'type': 'eos', 'v': 1, 'count': n})

# ---- the reference measures


def histolab_pen(rgb):
    """histolab.filters.image_filters_functional red/green/blue_pen_filter:
    each filter keeps pixels outside its ranges; the pen is what no filter
    keeps."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]

    def red_filter(rt, gt, bt):
        return (r < rt) | (g > gt) | (b > bt)

    def green_filter(rt, gt, bt):
        return (r > rt) | (g < gt) | (b < bt)

    def blue_filter(rt, gt, bt):
        return (r > rt) | (g > gt) | (b < bt)
    red = [(150, 80, 90), (110, 20, 30), (185, 65, 105), (195, 85, 125),
           (220, 115, 145), (125, 40, 70), (100, 50, 65), (85, 25, 45)]
    green = [(150, 160, 140), (70, 110, 110), (45, 115, 100), (30, 75, 60),
             (195, 220, 210), (225, 230, 225), (170, 210, 200), (20, 30, 20),
             (50, 60, 40), (30, 50, 35), (65, 70, 60), (100, 110, 105),
             (165, 180, 180), (140, 140, 150), (185, 195, 195)]
    blue = [(60, 120, 190), (120, 170, 200), (175, 210, 230), (145, 180, 210),
            (37, 95, 160), (30, 65, 130), (130, 155, 180), (40, 35, 85),
            (30, 20, 65), (90, 90, 140), (60, 60, 120), (110, 110, 175)]
    red_pen = ~reduce(lambda a, c: a & c, [red_filter(*p) for p in red])
    green_pen = ~reduce(lambda a, c: a & c, [green_filter(*p) for p in green])
    blue_pen = ~reduce(lambda a, c: a & c, [blue_filter(*p) for p in blue])
    return red_pen, green_pen, blue_pen


def lab_skimage(rgb):
    """skimage.color.rgb2lab (D65, 2 degrees), transcribed."""
    a = rgb.astype(np.float64) / 255
    a = np.where(a > 0.04045, ((a + 0.055) / 1.055) ** 2.4, a / 12.92)
    m = np.array([[0.412453, 0.357580, 0.180423],
                  [0.212671, 0.715160, 0.072169],
                  [0.019334, 0.119193, 0.950227]])
    xyz = a @ m.T / np.array([0.95047, 1., 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16. / 116.)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], -1)


def otsu(values):
    """Otsu's threshold of 8-bit values: pixels above it are the class."""
    t, _ = cv2.threshold(values.reshape(1, -1).astype(np.uint8), 0, 255,
                         cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return int(t)


def measures(rgb, thr=8, white=220, black=25, stats=False):
    h, w = rgb.shape[:2]
    n = h * w
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    S, V = hsv[..., 1].astype(int), hsv[..., 2].astype(int)
    lit = V >= black
    if thr == 'otsu':
        thr = max(otsu(S[lit]), 8) if lit.any() else 8
    tissue = (S > thr) & lit
    virchow = cv2.inRange(hsv, np.array([90, 8, 103]), np.array([180, 255, 255])) > 0
    near_white = rgb.min(2) >= white
    red, green, blue = histolab_pen(rgb)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(grey, cv2.CV_64F)
    g = grey.astype(np.float64)
    grad = (np.mean(np.diff(g, axis=1) ** 2) if w > 1 else 0) + \
           (np.mean(np.diff(g, axis=0) ** 2) if h > 1 else 0)
    lapvar = float(lap.var())
    m = {'tissue': tissue.sum() / n, 'hsv': virchow.sum() / n,
         'white': near_white.sum() / n, 'black': (~lit).sum() / n,
         'background': (near_white.sum() + (~lit).sum()) / n,
         'pen': (red | green | blue).sum() / n, 'pen_red': red.sum() / n,
         'pen_green': green.sum() / n, 'pen_blue': blue.sum() / n,
         'dark': (lit & (V < 80) & (S >= 100)).sum() / n,
         'lapvar': lapvar, 'blur': float(np.sqrt(grad / lapvar)) if lapvar > 0 else 0.0,
         'sat_threshold': int(thr)}
    if stats:
        px = rgb[tissue].astype(np.float64)
        m['stats_n'] = len(px)
        if len(px):
            od = -np.log10((px + 1) / 256)
            lab = lab_skimage(rgb[tissue])
            m['od_mean'], m['od_std'] = list(od.mean(0)), list(od.std(0))
            m['lab_mean'], m['lab_std'] = list(lab.mean(0)), list(lab.std(0))
            cvlab = cv2.cvtColor((rgb[tissue][None].astype(np.float32) / 255),
                                 cv2.COLOR_RGB2Lab)[0].astype(np.float64)
            m['cv_lab_mean'] = list(cvlab.mean(0))
        else:
            for k in ('od_mean', 'od_std', 'lab_mean', 'lab_std', 'cv_lab_mean'):
                m[k] = [0.0, 0.0, 0.0]
    return m

# ---- test tiles


def real_crops():
    from PIL import Image
    out = []
    a = np.asarray(Image.open('tests/data/he-1024-a.png').convert('RGB'))
    for i, (y, x, h, w) in enumerate([(0, 0, 256, 256), (300, 500, 224, 224),
                                      (700, 11, 97, 255), (1000, 1000, 24, 24)]):
        out.append(('he-a', a[y:y + h, x:x + w]))
    try:
        import openslide
        s = openslide.OpenSlide('tests/data/CMU-1-Small-Region.svs')
        for x, y in [(0, 0), (1024, 1024), (1536, 2048), (1792, 1024), (256, 1024)]:
            t = np.asarray(s.read_region((x, y), 0, (256, 256)).convert('RGB'))
            out.append(('cmu', t))
    except ImportError:
        pass
    return out


def gen(frames, npz):
    rng = np.random.default_rng(7)
    tiles = []
    sizes = [(1, 1), (1, 9), (9, 1), (2, 3), (31, 2), (32, 32), (33, 17),
             (64, 65), (100, 1), (255, 3), (256, 256)]
    for w, h in sizes:
        tiles.append(('noise', rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
        yy, xx = np.mgrid[0:h, 0:w]
        smooth = np.stack([(xx * 3 + yy) % 256, (yy * 5 + 40) % 256,
                           (xx + yy * 2 + 90) % 256], -1).astype(np.uint8)
        tiles.append(('smooth', smooth))
        pal = rng.integers(0, 256, (5, 3), dtype=np.uint8)
        tiles.append(('patches', pal[((xx // 7) + (yy // 5)) % 5]))
    # pen, dark and near-white colours, sprinkled with noise
    for base in [(200, 30, 50), (100, 200, 180), (50, 60, 200), (60, 20, 40),
                 (235, 236, 238), (10, 5, 12)]:
        t = np.clip(np.array(base) + rng.integers(-12, 13, (64, 64, 3)), 0, 255)
        tiles.append(('colour', t.astype(np.uint8)))
    tiles += real_crops()
    out, arrays = [], {}
    for i, (kind, rgb) in enumerate(tiles):
        for enc in ('rgb8', 'jpeg'):
            sid = '%s-%d-%s' % (kind, i, enc)
            f, seen = tile_frame(sid, i, 0, np.ascontiguousarray(rgb), enc)
            out.append(f)
            arrays[sid] = seen
    # a tile frame that is not a tile: passes unchanged
    out.append(mp({'type': 'metric', 'v': 1, 'step': 1, 'values': {'x': 1}}))
    with open(frames, 'wb') as fh:
        fh.write(b''.join(out) + eos(len(out)))
    np.savez_compressed(npz, **arrays)
    print(len(arrays), 'tiles')


def opts(args):
    o = {'thr': 8, 'white': 220, 'black': 25, 'stats': False}
    i = 0
    while i < len(args):
        a = args[i]
        if a == '--stats':
            o['stats'] = True
        elif a == '--sat-threshold':
            i += 1
            o['thr'] = args[i] if args[i] == 'otsu' else int(args[i])
        elif a in ('--white', '--black'):
            i += 1
            o[a[2:]] = int(args[i])
        i += 1
    return o


def check(npz, out, args):
    o = opts(args)
    arrays = np.load(npz)
    got = {}
    for line in open(out):
        f = json.loads(line)
        if f.get('type') == 'tile':
            got[f['slide_id']] = f['qc']
    worst, bad = {}, []
    for sid in arrays.files:
        if sid not in got:
            bad.append('%s: missing' % sid)
            continue
        ref, q = measures(arrays[sid], o['thr'], o['white'], o['black'], o['stats']), got[sid]
        for k, v in ref.items():
            if k == 'cv_lab_mean':  # OpenCV's float Lab: spline tables
                err, tol = max(abs(a - b) for a, b in zip(v, q['lab_mean'])), 0.25
            elif isinstance(v, list):
                tol = 1e-9 if k.startswith('od') else 1e-6
                err = max(abs(a - b) for a, b in zip(v, q[k]))
            elif k in ('lapvar', 'blur'):
                tol, err = 1e-9, abs(v - q[k]) / max(1.0, abs(v))
            else:
                tol, err = 0, abs(v - q[k])
            worst[k] = max(worst.get(k, 0), err)
            if err > tol:
                bad.append('%s: %s %r, reference %r' % (sid, k, q.get(k, q.get('lab_mean')), v))
    print('tiles %d; largest differences: %s' % (len(arrays.files), ', '.join(
        '%s %.3g' % kv for kv in sorted(worst.items()))))
    for b in bad[:20]:
        print('MISMATCH', b)
    return 1 if bad else 0


def cube_rgb():
    i = np.arange(1 << 24, dtype=np.uint32)
    return np.stack([(i >> 16) & 255, (i >> 8) & 255, i & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)


def cube(frames):
    f, _ = tile_frame('cube', 0, 0, cube_rgb())
    with open(frames, 'wb') as fh:
        fh.write(f + eos(1))


def cubecheck(out):
    q = json.loads(open(out).readline())['qc']
    ref = measures(cube_rgb())
    n = 1 << 24
    bad = 0
    for k, v in ref.items():
        if k in ('lapvar', 'blur'):
            ok = abs(v - q[k]) <= 1e-9 * abs(v)
        else:
            ok = v == q[k]
        if not ok:
            bad += 1
            print('MISMATCH cube %s: %r, OpenCV %r' % (k, q[k], v))
    print('all 2^24 colours: %s' % ', '.join('%s %d' % (k, round(ref[k] * n)) for k in
                                          ('tissue', 'hsv', 'white', 'black', 'pen_red',
                                           'pen_green', 'pen_blue', 'dark')))
    return 1 if bad else 0

# ---- the labelled set


EXPECT = {'tissue': 'ok', 'glass': 'background', 'black': 'background',
          'pen': 'pen', 'blur': 'blur'}
CLASSES = [('tissue kept', 'ok'), ('background dropped', 'background'),
           ('pen dropped', 'pen'), ('blur dropped', 'blur')]


def read_tile(row, cache):
    src = row['source']
    if src not in cache:
        if src.endswith('.svs'):
            import openslide
            cache[src] = openslide.OpenSlide(src)
        else:
            from PIL import Image
            cache[src] = np.asarray(Image.open(src).convert('RGBA'))
    s = cache[src]
    x, y, n, lv = int(row['x']), int(row['y']), int(row['size']), int(row['level'])
    a = s[y:y + n, x:x + n] if isinstance(s, np.ndarray) else np.asarray(s.read_region((x, y), lv, (n, n)))
    v, al = a[..., :3].astype(np.uint32), a[..., 3:].astype(np.uint32)
    rgb = ((v * al + 255 * (255 - al) + 127) // 255).astype(np.uint8)  # over white
    sigma = float(row['blur'])
    if sigma > 0:
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
    return np.ascontiguousarray(rgb)


def cut(args):
    enc = 'rgb8'
    if args[:1] == ['--encoding']:
        enc, args = args[1], args[2:]
    out, cache, skipped = [], {}, {}
    for path in args:
        for row in csv.DictReader(open(path)):
            if not os.path.exists(row['source']):
                skipped[row['source']] = skipped.get(row['source'], 0) + 1
                continue
            f, _ = tile_frame(row['slide_id'], row['x'], row['y'], read_tile(row, cache), enc,
                              label=row['label'], meta={'note': row['note'], 'source': row['source']})
            out.append(f)
    for src, k in sorted(skipped.items()):
        print('skip: %d tiles of %s (absent)' % (k, src), file=sys.stderr)
    sys.stdout.buffer.write(b''.join(out) + eos(len(out)))


def score(out, require):
    rows = [json.loads(line) for line in open(out)]
    rows = [r for r in rows if r.get('type') == 'tile' and 'label' in r]
    res = 0
    print('%-20s %5s %5s %5s %5s %9s %7s' % ('class', 'tiles', 'tp', 'fn', 'fp', 'precision', 'recall'))
    stat = {}
    for name, cls in CLASSES:
        tp = sum(1 for r in rows if EXPECT.get(r['label']) == cls and r['qc']['reason'] == cls)
        fn = sum(1 for r in rows if EXPECT.get(r['label']) == cls and r['qc']['reason'] != cls)
        fp = sum(1 for r in rows if r['label'] in EXPECT and EXPECT[r['label']] != cls and
                 r['qc']['reason'] == cls)
        p = '%.3f' % (tp / (tp + fp)) if tp + fp else '-'
        rc = tp / (tp + fn) if tp + fn else 1.0
        stat[cls] = rc
        print('%-20s %5d %5d %5d %5d %9s %7s' % (name, tp + fn, tp, fn, fp, p,
                                                  '%.3f' % rc if tp + fn else '-'))
    glass = [r for r in rows if r['label'] in ('glass', 'black')]
    gd = sum(1 for r in glass if r['qc']['reason'] != 'ok')
    pen = [r for r in rows if r['label'] == 'pen']
    pf = sum(1 for r in pen if r['qc']['reason'] == 'pen')
    print('glass and black dropped (any reason): %d of %d' % (gd, len(glass)))
    print('pen tiles (ink over a tenth) flagged: %d of %d' % (pf, len(pen)))
    for lab in ('edge', 'soft', 'pen-minor'):
        rs = [r['qc']['reason'] for r in rows if r['label'] == lab]
        if rs:
            print('no expectation, %s: %d tiles: %s' % (lab, len(rs), ', '.join(
                '%s %d' % (k, rs.count(k)) for k in sorted(set(rs)))))
    for r in rows:
        exp = EXPECT.get(r['label'])
        if exp and r['qc']['reason'] != exp:
            print('  miss: %s %s,%s labelled %s -> %s' % (r['slide_id'], r['x'], r['y'],
                                                         r['label'], r['qc']['reason']))
    if require:
        if stat['ok'] < 0.95:
            print('FAIL: tissue kept %.3f < 0.95' % stat['ok'])
            res = 1
        if glass and gd / len(glass) < 0.95:
            print('FAIL: glass dropped %.3f < 0.95' % (gd / len(glass)))
            res = 1
        if pen and pf < len(pen):
            print('FAIL: %d pen tiles not flagged' % (len(pen) - pf))
            res = 1
    return res


def sheet(out, paths, cell=160, cols=8):
    from PIL import Image, ImageDraw
    rows, cache = [], {}
    for path in paths:
        rows += [r for r in csv.DictReader(open(path)) if os.path.exists(r['source'])]
    im = Image.new('RGB', (cols * (cell + 4), ((len(rows) + cols - 1) // cols) * (cell + 4)), (40, 40, 40))
    d = ImageDraw.Draw(im)
    for i, row in enumerate(rows):
        x, y = (i % cols) * (cell + 4) + 2, (i // cols) * (cell + 4) + 2
        im.paste(Image.fromarray(read_tile(row, cache)).resize((cell, cell)), (x, y))
        text = '%s  %s %s,%s' % (row['label'], row['slide_id'][:10], row['x'], row['y'])
        d.rectangle([x, y, x + 6 * len(text) + 4, y + 12], fill=(0, 0, 0))
        d.text((x + 2, y + 1), text, fill=(255, 255, 0))
    im.save(out)
    print('%d tiles in %s' % (len(rows), out))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'gen':
        gen(*args)
    elif cmd == 'check':
        sys.exit(check(args[0], args[1], args[2:]))
    elif cmd == 'cube':
        cube(args[0])
    elif cmd == 'cubecheck':
        sys.exit(cubecheck(args[0]))
    elif cmd == 'cut':
        cut(args)
    elif cmd == 'score':
        sys.exit(score(args[0], '--require' in args))
    elif cmd == 'sheet':
        sheet(args[0], args[1:])
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
