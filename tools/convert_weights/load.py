"""load.py: read a checkpoint in any of the public forms into a flat
{name: tensor} dict, plus the config.json that came with it (if any).

Forms: pickled state dicts (.pth/.pt/.bin, read with torch.load(...,
weights_only=True), or safe_pickle where torch 1.13 falls short: only
tensors and plain containers are unpickled, no code runs; --trust-pickle
lifts that for checkpoints that also pickle other objects), .safetensors
files, Hugging Face folders (config.json + model.safetensors /
pytorch_model.bin, or their sharded *.index.json).
"""
import json
import os

import torch
from safetensors import safe_open

from . import safe_pickle
from .errors import ConvertError

# Dicts that hold the model's state dict inside a training checkpoint.
WRAPPER_KEYS = ("teacher", "model", "state_dict", "student", "module", "model_ema")


def _restricted_load(path, **kw):
    """torch.load through safe_pickle. torch 1.13's torch.load ignores
    pickle_module unless weights_only (a bug), so call what it calls."""
    ser = torch.serialization
    with open(path, "rb") as f:
        if ser._is_zipfile(f):
            with ser._open_zipfile_reader(f) as zf:
                return ser._load(zf, "cpu", safe_pickle, encoding="utf-8")
        return ser._legacy_load(f, "cpu", safe_pickle, encoding="utf-8")


def _torch_load(path, trust_pickle):
    """torch.load with weights_only=True (torch >= 1.13: no code runs while
    unpickling); where torch 1.13's weights-only unpickler falls short, the
    same restriction through safe_pickle; --trust-pickle: plain torch.load."""
    tries = [torch.load] if trust_pickle else \
        [lambda p, **kw: torch.load(p, weights_only=True, **kw), _restricted_load]
    for i, fn in enumerate(tries):
        try:
            return fn(path, map_location="cpu")
        except FileNotFoundError:
            raise ConvertError(f"{path}: no such file")
        except IsADirectoryError:
            raise ConvertError(f"{path}: a folder without config.json")
        except safe_pickle.Refused as e:
            raise ConvertError(f"{path}: {e}; if you trust the file, rerun with "
                               f"--trust-pickle")
        except Exception as e:  # unpickling corrupt input raises anything
            text = str(e).strip()
            if i + 1 < len(tries) and ("weights only" in text.lower()
                                       or "weights_only" in text):
                continue
            first = text.splitlines()[0] if text else type(e).__name__
            raise ConvertError(f"{path}: not a readable PyTorch checkpoint "
                               f"(truncated or another format?): {first}")


def _load_safetensors(path):
    try:
        out = {}
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            for k in f.keys():
                out[k] = f.get_tensor(k)
        return out, meta
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file")
    except Exception as e:
        raise ConvertError(f"{path}: not a readable safetensors file: {e}")


def _load_file(path, trust_pickle):
    """A single checkpoint file: (object, safetensors metadata or {})."""
    if path.endswith(".safetensors"):
        return _load_safetensors(path)
    if not os.path.exists(path):
        raise ConvertError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(9)
    # a safetensors file under another name: 8-byte length then '{'
    if len(head) == 9 and head[8:9] == b"{" and not path.endswith((".pth", ".pt", ".bin")):
        return _load_safetensors(path)
    return _torch_load(path, trust_pickle), {}


def _load_folder(path, trust_pickle):
    cfg_path = os.path.join(path, "config.json")
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
    except FileNotFoundError:
        raise ConvertError(f"{path}: a folder without config.json")
    except (OSError, ValueError) as e:
        raise ConvertError(f"{cfg_path}: {e}")
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        ip = os.path.join(path, index)
        if os.path.exists(ip):
            return _load_shards(path, ip, trust_pickle), cfg
    for name in ("model.safetensors", "pytorch_model.bin", "pytorch_model.pth"):
        fp = os.path.join(path, name)
        if os.path.exists(fp):
            obj, _ = _load_file(fp, trust_pickle)
            return obj, cfg
    raise ConvertError(f"{path}: no model.safetensors, pytorch_model.bin or "
                       f"*.index.json next to config.json")


def _load_shards(folder, index_path, trust_pickle):
    try:
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConvertError(f"{index_path}: not a shard index: {e}")
    out = {}
    for shard in sorted(set(weight_map.values())):
        sp = os.path.join(folder, shard)
        obj, _ = _load_file(sp, trust_pickle)
        if not isinstance(obj, dict):
            raise ConvertError(f"{sp}: not a state dict")
        for k, v in obj.items():
            if k in out:
                raise ConvertError(f"{sp}: tensor '{k}' is in two shards")
            out[k] = v
    missing = sorted(set(weight_map) - set(out))
    if missing:
        raise ConvertError(f"{index_path}: {len(missing)} tensors listed but in no "
                           f"shard, e.g. '{missing[0]}'")
    return out


def _is_state_dict(d):
    return isinstance(d, dict) and d and all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in d.items())


def unwrap(obj, key, path, notes):
    """The state dict inside a checkpoint: obj itself, or obj[key]."""
    if key:
        if not isinstance(obj, dict) or key not in obj:
            have = ", ".join(sorted(k for k in obj if isinstance(k, str))[:12]) \
                if isinstance(obj, dict) else type(obj).__name__
            raise ConvertError(f"{path}: no '{key}' in the checkpoint (it has: {have})")
        obj = obj[key]
    elif isinstance(obj, dict) and not _is_state_dict(obj):
        found = [k for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)]
        if not found:
            tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
            if tensors:
                others = sorted(k for k in obj if not torch.is_tensor(obj[k]))
                notes.append(f"ignored {len(others)} entries that are not tensors: "
                             + ", ".join(map(str, others[:8])))
                return tensors
            raise ConvertError(f"{path}: no state dict found (keys: "
                               + ", ".join(map(str, list(obj)[:12])) + "); choose one with --key")
        # DINOv2 convention: the teacher is the model evaluated
        key = "teacher" if "teacher" in found else found[0]
        notes.append(f"using the state dict under '{key}'"
                     + (" of " + ", ".join(f"'{k}'" for k in found) if len(found) > 1 else "")
                     + (f", ignoring {len(obj) - 1} other entries" if len(obj) > 1 else "")
                     + " (choose with --key)")
        obj = obj[key]
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: {'%r' % key if key else 'the checkpoint'} is a "
                           f"{type(obj).__name__}, not a state dict")
    out = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise ConvertError(f"{path}: a state dict key that is not a string: {k!r}")
        if torch.is_tensor(v):
            out[k] = v
        elif isinstance(v, dict) and k in WRAPPER_KEYS:
            raise ConvertError(f"{path}: '{k}' nests another state dict; choose it with --key")
        else:
            notes.append(f"ignored '{k}': a {type(v).__name__}, not a tensor")
    if not out:
        raise ConvertError(f"{path}: the state dict holds no tensors")
    return out


def load(path, key=None, trust_pickle=False):
    """(tensors, hf_or_timm_config or None, safetensors metadata, notes)."""
    notes = []
    if os.path.isdir(path):
        obj, cfg = _load_folder(path, trust_pickle)
        meta = {}
    else:
        obj, meta = _load_file(path, trust_pickle)
        cfg = None
        side = os.path.join(os.path.dirname(path) or ".", "config.json")
        if os.path.exists(side):
            try:
                with open(side) as f:
                    cfg = json.load(f)
                notes.append(f"read {side}")
            except (OSError, ValueError) as e:
                raise ConvertError(f"{side}: {e}")
    return unwrap(obj, key, path, notes), cfg, meta, notes
