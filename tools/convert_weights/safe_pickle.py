"""safe_pickle.py: a pickle module for torch.load that unpickles only
tensors and plain containers, like torch's weights_only=True.

Why: torch 1.13's weights_only unpickler misses opcodes (BINFLOAT: any
float in the checkpoint, e.g. {"lr": 0.1} beside the weights) and the
bfloat16 dtype, so it refuses ordinary checkpoints. This one lets pickle
run every opcode but resolves only the globals below; anything else (an
argparse.Namespace, a class of the training code) is refused by name.
"""
import collections
import pickle

import torch


class Refused(pickle.UnpicklingError):
    pass


def _allowed():
    rc = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch.serialization", "_get_layout"): torch.serialization._get_layout,
        ("torch", "Size"): torch.Size,
        ("torch", "Tensor"): torch.Tensor,
    }
    for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8,
               torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool,
               torch.complex64, torch.complex128):
        rc[("torch", str(dt).split(".", 1)[1])] = dt
    for tt in torch._tensor_classes:
        rc[(tt.__module__, tt.__name__)] = tt
    for ts in torch._storage_classes:
        rc[(ts.__module__, ts.__name__)] = ts
    for name in ("_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_tensor",
                 "_rebuild_tensor_v2", "_rebuild_meta_tensor_no_storage"):
        f = getattr(torch._utils, name, None)
        if f is not None:
            rc[("torch._utils", name)] = f
    return rc


_ALLOWED = _allowed()


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise Refused(f"it pickles {module}.{name}, not only tensors")


def load(f, **kw):
    return Unpickler(f, **kw).load()


Unpickler.__module__ = __name__
