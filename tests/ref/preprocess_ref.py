#!/usr/bin/env python3
"""preprocess_ref.py: reference outputs for tests/test_preprocess.c from
Pillow (Image.resize, JPEG encode/decode) and torchvision (the eval
transform). Run with Debian's python (/usr/bin/python3 or the .venv that
sees its packages): Pillow 9.4.0, torch 1.13, torchvision 0.14.

Reads one query a line from the file named; for each writes "OK N\\n" and
N raw bytes to stdout, or "ERR message\\n".

Images (SRC) are "raw:PATH:W:H" (packed RGB8 bytes written by the test) or
"jpeg:PATH" (opened with Image.open(...).convert("RGB")).

  version                         Pillow, torch, torchvision versions
  resize SRC DW DH INTERP         Image.resize((DW, DH), filter).tobytes()
  prep SRC R RW RH CW CH INTERP M0 M1 M2 S0 S1 S2
      Compose([Resize(R) or Resize((RH, RW)) (none when both are 0),
      CenterCrop((CH, CW)), ToTensor(), Normalize(M, S)]) as float32 CHW
  jpeg SRC X Y W H QUALITY SUB GRAY OUT
      crop (X, Y, W, H) of SRC (grey when GRAY is 1), saved as JPEG to
      OUT with that quality and subsampling (0 4:4:4, 1 4:2:2, 2 4:2:0);
      answers Image.open(OUT).convert("RGB").tobytes()
  decode PATH                     Image.open(PATH).convert("RGB").tobytes()
INTERP is bicubic, bilinear or nearest.
"""
import sys

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

PIL_FILTER = {"bicubic": Image.Resampling.BICUBIC,
              "bilinear": Image.Resampling.BILINEAR,
              "nearest": Image.Resampling.NEAREST}
TV_MODE = {"bicubic": InterpolationMode.BICUBIC,
           "bilinear": InterpolationMode.BILINEAR,
           "nearest": InterpolationMode.NEAREST}

_raw = {}


def load(spec):
    kind, rest = spec.split(":", 1)
    if kind == "jpeg":
        with Image.open(rest) as im:
            return im.convert("RGB")
    path, w, h = rest.rsplit(":", 2)
    if path not in _raw:
        with open(path, "rb") as f:
            _raw[path] = f.read()
    return Image.frombytes("RGB", (int(w), int(h)), _raw[path])


def answer(w):
    q = w[0]
    if q == "version":
        return " ".join([PIL.__version__, torch.__version__,
                         torchvision.__version__]).encode()
    if q == "resize":
        im = load(w[1])
        return im.resize((int(w[2]), int(w[3])), PIL_FILTER[w[4]]).tobytes()
    if q == "prep":
        im = load(w[1])
        r, rw, rh, cw, ch = (int(v) for v in w[2:7])
        mode = TV_MODE[w[7]]
        mean = [float(v) for v in w[8:11]]
        std = [float(v) for v in w[11:14]]
        steps = []
        if r > 0:
            steps.append(T.Resize(r, interpolation=mode))
        elif rw > 0:
            steps.append(T.Resize((rh, rw), interpolation=mode))
        steps += [T.CenterCrop((ch, cw)), T.ToTensor(), T.Normalize(mean, std)]
        x = T.Compose(steps)(im)
        assert x.dtype == torch.float32 and tuple(x.shape) == (3, ch, cw)
        return x.numpy().astype("<f4").tobytes()
    if q == "jpeg":
        im = load(w[1])
        x, y, cw, ch, qual, sub, grey = (int(v) for v in w[2:9])
        im = im.crop((x, y, x + cw, y + ch))
        if grey:
            im = im.convert("L")
        im.save(w[9], "JPEG", quality=qual, subsampling=sub)
        with Image.open(w[9]) as j:
            return j.convert("RGB").tobytes()
    if q == "decode":
        with Image.open(w[1]) as j:
            return j.convert("RGB").tobytes()
    raise ValueError("unknown query " + q)


def main():
    out = sys.stdout.buffer
    with open(sys.argv[1]) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            try:
                b = answer(w)
            except Exception as ex:  # the test decides whether it expected one
                out.write(("ERR %s\n" % str(ex).replace("\n", " ")).encode())
                continue
            out.write(b"OK %d\n" % len(b))
            out.write(b)
    out.flush()


if __name__ == "__main__":
    main()
