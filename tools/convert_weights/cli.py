"""cli.py: convert-weights, public ViT checkpoints -> the safetensors file
embed(1) loads (see convert-weights(1)). Never in a pipeline's data path.
"""
import argparse
import json
import os
import sys

from . import config as C
from .errors import ConvertError, UsageError
from .presets import PRESETS, SOURCES
from .schemes import SCHEMES, detect, select, strip_wrappers

PROG = "convert-weights"
VERSION = "0.1.0"

HELP = f"""Usage: {PROG} [OPTION]... INPUT OUTPUT
Convert a ViT image-encoder checkpoint into the safetensors file embed(1)
loads: image-encoder tensors only, under their own scheme's names, with the
model configuration as JSON in __metadata__["pathfm"]. INPUT: a .pth/.pt/
.bin state dict (maybe wrapped), a .safetensors file, or a Hugging Face
folder (config.json + weights, sharded too). OUTPUT is written atomically.

Model:
  -p, --preset NAME       heads, eps, pooling and preprocessing of a public
                          model (--list-presets); shapes are checked against it
      --list-presets      list the presets and where their checkpoints are
  -s, --scheme S          timm, hf-vit, hf-dinov2, dinov2 or open_clip-coca
                          (default: told from the names)
  -k, --key KEY           take the state dict under KEY (teacher, student,
                          model, state_dict ...; default: found)
      --drop PATTERN      drop tensors matching the glob PATTERN (after the
                          prefixes are stripped); repeatable
      --trust-pickle      unpickle any object, not only tensors (runs code
                          from the file: only for checkpoints you trust)
Configuration (override the preset and config.json):
      --name NAME         model name (default: the preset, else OUTPUT's stem)
      --num-heads N       attention heads
      --ln-eps X          LayerNorm epsilon
      --pool P            cls, mean, cls+mean, pooled or projected (CoCa)
      --pooler-heads N    heads of the CoCa attentional pooler
      --img-size N        the model's image size (default: its position grid)
      --mean R,G,B        normalisation mean
      --std R,G,B         normalisation standard deviation
      --resize N          shorter side after resizing (0: no resize)
      --crop N            centre crop, the input size (default: --img-size)
      --interpolation I   bicubic, bilinear or nearest
Output:
  -d, --dtype T           keep, f32, f16 or bf16 (default keep)
  -q, --quiet             do not list dropped tensors
  -h, --help              show this help and exit
  -V, --version           show the version and exit

Exit status: 0 ok, 1 bad input or I/O error, 2 usage error.
Example: {PROG} --preset uni2-h pytorch_model.bin uni2-h.safetensors
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _floats3(s):
    try:
        v = [float(x) for x in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not three numbers")
    if len(v) != 3:
        raise argparse.ArgumentTypeError(f"'{s}' is not three numbers")
    return v


def _pos_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not an integer")
    if v < 0:
        raise argparse.ArgumentTypeError(f"'{s}' is negative")
    return v


def _pos_float(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not a number")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"'{s}' is not positive")
    return v


def parse_args(argv):
    p = _Parser(prog=PROG, add_help=False, allow_abbrev=False)
    p.add_argument("input", nargs="?")
    p.add_argument("output", nargs="?")
    p.add_argument("-p", "--preset", choices=sorted(PRESETS), metavar="NAME")
    p.add_argument("--list-presets", action="store_true")
    p.add_argument("-s", "--scheme", choices=SCHEMES)
    p.add_argument("-k", "--key")
    p.add_argument("--drop", action="append", default=[], metavar="PATTERN")
    p.add_argument("--trust-pickle", action="store_true")
    p.add_argument("--name")
    p.add_argument("--num-heads", type=_pos_int)
    p.add_argument("--ln-eps", type=_pos_float)
    p.add_argument("--pool", choices=C.POOLS)
    p.add_argument("--pooler-heads", type=_pos_int)
    p.add_argument("--img-size", type=_pos_int)
    p.add_argument("--mean", type=_floats3)
    p.add_argument("--std", type=_floats3)
    p.add_argument("--resize", type=_pos_int)
    p.add_argument("--crop", type=_pos_int)
    p.add_argument("--interpolation", choices=C.INTERPOLATIONS)
    p.add_argument("-d", "--dtype", choices=("keep", "f32", "f16", "bf16"), default="keep")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-V", "--version", action="store_true")
    a = p.parse_args(argv)
    if not (a.help or a.version or a.list_presets) and (a.input is None or a.output is None):
        raise UsageError("give INPUT and OUTPUT")
    if a.std and any(x <= 0 for x in a.std):
        raise UsageError("--std: must be positive")
    return a


def _say(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)


def _cast(tensors, dtype):
    import torch
    DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    out = {}
    for n, t in tensors.items():
        if not t.is_floating_point():
            raise ConvertError(f"tensor '{n}' is {t.dtype}, not floating point")
        if t.dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            raise ConvertError(f"tensor '{n}' is {t.dtype}: not a dtype embed reads")
        want = DTYPES.get(dtype, torch.float32 if t.dtype == torch.float64 else t.dtype)
        c = t.detach().to(want)
        if dtype != "keep" or t.dtype == torch.float64:
            bad = torch.isfinite(t) & ~torch.isfinite(c.float())
            if bad.any():
                raise ConvertError(f"tensor '{n}' has values beyond the {dtype} range "
                                   f"(e.g. {t[bad].flatten()[0].item():g})")
        # own, contiguous storage: save_file refuses shared or strided tensors
        out[n] = c.contiguous().clone()
    return out


def _write(path, tensors, meta):
    """Atomically: a temporary file beside OUTPUT, fsync, rename."""
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise ConvertError(f"{path}: no directory {d}")
    from safetensors.torch import save_file
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata=meta)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, (OSError, RuntimeError, ValueError)):
            raise ConvertError(f"{path}: {e}")
        raise


def _list_presets():
    for name in sorted(PRESETS):
        p = PRESETS[name]
        ex = p["expect"]
        shape = f"{ex['embed_dim']}x{ex['depth']}/{ex['patch_size']}"
        print(f"{name:14} {p['scheme']:15} {shape:11} {p['pool']:9} {SOURCES[name]}")


def convert(a):
    notes = []
    if os.path.abspath(a.input) == os.path.abspath(a.output):
        raise UsageError("OUTPUT is INPUT")
    if not os.path.exists(a.input):
        raise ConvertError(f"{a.input}: no such file or directory")
    if not os.path.isdir(os.path.dirname(os.path.abspath(a.output))):
        raise ConvertError(f"{a.output}: no such directory")
    from .load import load  # torch: seconds to import, so not for --help
    tensors, hfcfg, meta, load_notes = load(a.input, a.key, a.trust_pickle)
    notes += load_notes
    try:
        return _convert(a, tensors, hfcfg, meta, notes)
    except ConvertError as e:
        if str(e).startswith(a.input + ":"):
            raise
        raise ConvertError(f"{a.input}: {e}")


def _convert(a, tensors, hfcfg, meta, notes):
    dropped = []
    tensors = strip_wrappers(tensors, dropped, a.key)
    preset = PRESETS.get(a.preset) if a.preset else None
    base = {}
    if "pathfm" in meta:
        try:
            base = json.loads(meta["pathfm"])
            if not isinstance(base, dict):
                raise ValueError("not an object")
        except ValueError as e:
            raise ConvertError(f"{a.input}: __metadata__ pathfm: {e}")
        notes.append("configuration of the input file used as the base")
    scheme = a.scheme or (preset or {}).get("scheme") or base.get("scheme") or \
        detect(tensors)
    if scheme not in SCHEMES:
        raise ConvertError(f"{a.input}: unknown scheme '{scheme}'")
    if preset and preset["scheme"] != scheme:
        raise ConvertError(f"preset {a.preset} is a {preset['scheme']} model; "
                           f"the weights are {scheme}")
    kept = select(tensors, scheme, a.drop, dropped)
    shapes = C.infer(kept, scheme)
    C.resolve_grid(shapes)
    if preset:
        for k, want in preset["expect"].items():
            if shapes[k if k != "reg_tokens" else "reg_tokens"] != want:
                raise ConvertError(f"preset {a.preset} expects {k} {want}, the weights "
                                   f"have {shapes[k]}: another model?")
    if shapes["fc_norm"]:
        notes.append("fc_norm.* kept: timm applies it after mean pooling "
                     "(global_pool 'avg')")
    hf, hf_notes = C.from_hf_config(hfcfg, scheme)
    notes += hf_notes
    if preset:
        for k in ("num_heads", "ln_eps"):
            if k in hf and preset.get(k) is not None and hf[k] != preset[k]:
                notes.append(f"config.json {k} {hf[k]} (preset {a.preset}: {preset[k]})")
    opts = {"num_heads": a.num_heads, "ln_eps": a.ln_eps, "pool": a.pool,
            "pooler_heads": a.pooler_heads, "img_size": a.img_size, "mean": a.mean,
            "std": a.std, "resize": a.resize, "crop": a.crop,
            "interpolation": a.interpolation}
    from_base = {k: base.get(k) for k in ("num_heads", "ln_eps", "pool", "mean", "std",
                                            "resize", "crop", "interpolation")}
    if isinstance(base.get("pooler"), dict):
        from_base["pooler_heads"] = base["pooler"].get("num_heads")
    pre = {k: v for k, v in (preset or {}).items() if k not in ("scheme", "expect")}
    if not preset and not base and not any(
            hf.get(k) for k in ("mean", "std")) and a.mean is None and a.std is None:
        notes.append("no preset: mean/std are ImageNet's, resize and crop the image size")
    name = a.name or a.preset or base.get("name") or \
        os.path.basename(a.output).split(".")[0] or "model"
    # config.json describes this checkpoint: it beats the preset on the
    # architecture (heads, eps); the preset's preprocessing is a choice
    # made with its sources, so it beats config.json's
    arch = ("num_heads", "ln_eps", "img_size")
    hf_arch = {k: v for k, v in hf.items() if k in arch}
    hf_pre = {k: v for k, v in hf.items() if k not in arch}
    cfg = C.assemble(name, scheme, shapes,
                     [C.DEFAULTS, hf_pre, from_base, pre, hf_arch, opts], notes)
    cfg["source"] = os.path.basename(os.path.normpath(a.input))
    if a.preset:
        cfg["preset"] = a.preset
    out = _cast(kept, a.dtype)
    meta_out = {"format": "pt", "pathfm": json.dumps(cfg)}
    _write(a.output, out, meta_out)
    if not a.quiet:
        for n, why in dropped:
            _say(f"dropped {n} ({why})")
        for n in notes:
            _say(n)
    dts = sorted({str(t.dtype).replace("torch.", "") for t in out.values()})
    _say(f"wrote {a.output}: {len(out)} tensors ({', '.join(dts)}), {scheme} "
         f"{cfg['embed_dim']}x{cfg['depth']}, patch {cfg['patch_size']}, "
         f"{cfg['num_heads']} heads, {cfg['mlp']}, pool {cfg['pool']}; "
         f"{len(dropped)} dropped")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        a = parse_args(argv)
        if a.help:
            sys.stdout.write(HELP)
            return 0
        if a.version:
            print(f"{PROG} (pathfm) {VERSION}")
            return 0
        if a.list_presets:
            _list_presets()
            return 0
        return convert(a)
    except UsageError as e:
        _say(str(e))
        print(f"Try '{PROG} --help' for more information.", file=sys.stderr)
        return 2
    except ConvertError as e:
        _say(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        _say("out of memory")
        return 1
