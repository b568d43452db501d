#!/usr/bin/env python3
"""st_ref.py DIR: the Python side of tests/test_safetensors.c.

1. Reads DIR/c.safetensors (written by pfm_st_save) with
   safetensors.torch.load_file and checks it against DIR/c.manifest (what
   the C test meant to write), then saves what it loaded again with
   save_file (same metadata) as DIR/c_resaved.safetensors, which the C
   test compares byte for byte.
2. Writes DIR/py.safetensors (every dtype torch has, random shapes and
   values, metadata) with save_file, and DIR/py.manifest for the C test.
3. Writes DIR/conv.safetensors: every F16 and every BF16 bit pattern
   (h, b), random F64 with edge cases (d), and torch's .float() of each
   (hf, bf, df), for the bit-for-bit conversion check.

Manifest lines: hex of the name's UTF-8 TAB dtype TAB shape (comma separated, '' for 0-d)
TAB hex of the little-endian bytes. Prints "ok" or "ERR what" lines.
"""
import struct
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

DT = {
    "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8,
    "I16": torch.int16, "I32": torch.int32, "I64": torch.int64,
    "F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
    "F64": torch.float64,
}


def raw(t):
    """Little-endian bytes of a tensor (bf16 through int16)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def manifest_line(name, dt, t):
    shape = ",".join(str(d) for d in t.shape)
    return f"{name.encode().hex()}\t{dt}\t{shape}\t{raw(t).hex()}\n"


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        import json
        return json.loads(f.read(n))


def check_c(d):
    path = f"{d}/c.safetensors"
    got = load_file(path)
    head = read_header(path)
    meta = head.get("__metadata__")
    want = {}
    with open(f"{d}/c.manifest") as f:
        for line in f:
            name, dt, shape, hx = line.rstrip("\n").split("\t")
            name = bytes.fromhex(name).decode()
            want[name] = (dt, shape, hx)
    if set(got) != set(want):
        print("ERR names differ:", sorted(set(got) ^ set(want)))
        return
    bad = 0
    for name, (dt, shape, hx) in want.items():
        t = got[name]
        s = ",".join(str(x) for x in t.shape)
        if head[name]["dtype"] != dt or t.dtype != DT[dt] or s != shape or raw(t).hex() != hx:
            print(f"ERR {name!r}: {head[name]['dtype']} [{s}] differs from {dt} [{shape}]")
            bad += 1
    if not bad:
        print("ok c.safetensors read by safetensors", len(got))
    save_file(got, f"{d}/c_resaved.safetensors", metadata=meta)


def write_py(d):
    g = torch.Generator().manual_seed(5)
    ts, lines = {}, []
    shapes = [(), (0,), (1,), (3, 5), (2, 3, 4), (7,), (1, 1, 1, 2), (4, 0, 2)]
    i = 0
    for dt, tdt in DT.items():
        for shape in shapes[i % 3: i % 3 + 4]:
            if tdt == torch.bool:
                t = torch.randint(0, 2, shape, generator=g).bool()
            elif tdt.is_floating_point:
                t = (torch.randn(shape, generator=g, dtype=torch.float64) * 100).to(tdt)
            else:
                info = torch.iinfo(tdt)
                t = torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(tdt)
            name = f"{dt.lower()}.t{i}"
            ts[name] = t
            # BOOL reads back as U8 in C
            lines.append(manifest_line(name, "U8" if dt == "BOOL" else dt, t.view(torch.uint8) if dt == "BOOL" else t))
            i += 1
    save_file(ts, f"{d}/py.safetensors", metadata={"format": "pt", "note": "é \"q\" \\ \n"})
    with open(f"{d}/py.manifest", "w") as f:
        f.writelines(lines)


def write_conv(d):
    allbits = torch.arange(0, 1 << 16, dtype=torch.int32).to(torch.int16)
    h = allbits.view(torch.float16)
    b = allbits.clone().view(torch.bfloat16)
    g = torch.Generator().manual_seed(7)
    r = torch.randn(4000, generator=g, dtype=torch.float64)
    scale = torch.pow(2.0, torch.randint(-160, 140, (4000,), generator=g).double())
    edge = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-45, 1.4e-45,
            7e-46, 3.4028235677973366e38, 3.4028236e38, 1e39, -1e300, 5e-324,
            1.1754942e-38, 1.0000000596046448, 1.0000001788139343]
    bits = torch.from_numpy(np.array([0x7FF0000000000001, 0xFFF8000000000123, 0x7FF4000000000000],
                                     dtype=np.uint64).view(np.float64))
    dd = torch.cat([r * scale, torch.tensor(edge, dtype=torch.float64), bits])
    save_file({"h": h, "hf": h.float(), "b": b, "bf": b.float(),
               "d": dd, "df": dd.float()}, f"{d}/conv.safetensors")


def main():
    d = sys.argv[1]
    check_c(d)
    write_py(d)
    write_conv(d)
    print("ok written")


if __name__ == "__main__":
    main()
