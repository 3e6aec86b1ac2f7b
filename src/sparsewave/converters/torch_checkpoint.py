"""Read PyTorch checkpoints of fatchord-family WaveRNNs without running their code.

Only ``torch.load(..., weights_only=True)`` is used: PyTorch's restricted
unpickler, which builds tensors and plain containers and refuses every other
global. Real training checkpoints sometimes carry harmless non-tensor objects
next to the weights (a Coqui ``Coqpit`` config object, NumPy scalars in the
loss log). Those names -- and only names from a short list of config / NumPy
modules -- are mapped to :class:`InertObject`, a stand-in that records the
arguments it is given and never calls anything, so such a checkpoint still
loads and its config can be read as a dict. Anything else (``os.system``,
``builtins.eval``, an unknown class) makes loading fail with ValueError.

Recognised checkpoint shapes:

* fatchord/WaveRNN ``model.save()``: a plain state_dict (with a ``step`` tensor).
* geneing/WaveRNN-Pytorch: a plain state_dict, or ``{"state_dict": ..., "global_step": ...}``.
* Coqui TTS: ``{"model": state_dict, "config": dict, "optimizer": ..., "step": ...}``.
* Any of these nested one level under ``model`` / ``state_dict`` / ``model_state_dict`` / ...
"""
from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any, Mapping

import numpy as np

# Globals that may be replaced by an inert stand-in (prefix match on "module.name").
_INERT_PREFIXES = (
    "TTS.", "coqpit.", "trainer.", "mozilla_voice_tts.",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.dtype", "numpy.dtypes.", "numpy.ndarray",
    "argparse.Namespace", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.Path",
    "collections.defaultdict",
)
_STATE_DICT_KEYS = ("model", "state_dict", "model_state", "model_state_dict", "net", "generator", "vocoder")
_MAX_RETRIES = 64


class InertObject:
    """Stand-in for an object the checkpoint pickled by class; never executes anything.

    ``name`` is the global it replaced, ``args`` what the pickle passed to it,
    ``state`` what it set on it.
    """

    name = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<inert {self.name}>"


def _inert_class(name: str) -> type:
    return type("Inert", (InertObject,), {"name": name})


def _allowed_inert(name: str) -> bool:
    return any(name == p or (p.endswith(".") and name.startswith(p)) or name.startswith(p + ".")
               for p in _INERT_PREFIXES)


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("converting a PyTorch checkpoint needs torch: pip install 'sparsewave[convert]' "
                          "(or pip install torch)") from None
    import inspect

    if "weights_only" not in inspect.signature(torch.load).parameters:
        raise ImportError(f"torch {torch.__version__} cannot load checkpoints safely (no weights_only); "
                          "converting needs torch >= 1.13")
    return torch


def _unsafe_name(message: str) -> str | None:
    """The global a weights-only load stopped at, from torch's error message."""
    m = re.search(r"GLOBAL ([\w.]+)", message)
    return m.group(1) if m else None


def _weights_only_detail(message: str) -> str:
    """The informative middle of torch's weights-only error (without its boilerplate)."""
    text = message
    if "trusted source." in text:
        text = text.split("trusted source.", 1)[1]
    text = text.split("Check the documentation", 1)[0]
    return re.sub(r"\s+", " ", text).strip()[:300] or "the weights-only unpickler refused it"


def load_checkpoint(path) -> Any:
    """``torch.load(path, weights_only=True)``, with inert stand-ins for config objects.

    Raises ImportError without torch, ValueError for an unreadable or unsafe file.
    """
    torch = _import_torch()
    path = str(path)
    stubs: dict[str, type] = {}
    # Zip checkpoints can be scanned for their globals up front (no unpickling).
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        names = []
    refused = [n for n in names if not _allowed_inert(n)]
    if refused:
        raise _unsafe_error(path, refused)
    for n in names:
        stubs[n] = _inert_class(n)
    for _ in range(_MAX_RETRIES):
        try:
            with _allow(torch, stubs), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": we report errors ourselves
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # UnpicklingError, RuntimeError (bad zip), EOFError, ...
            msg = str(e)
            name = _unsafe_name(msg)
            if name and name not in stubs:
                if not _allowed_inert(name) or not hasattr(torch.serialization, "safe_globals"):
                    raise _unsafe_error(path, [name]) from None
                stubs[name] = _inert_class(name)
                continue
            first = msg.strip().splitlines()[0] if msg.strip() else type(e).__name__
            if "weights_only" in msg or "Weights only load failed" in msg:
                raise ValueError(f"refusing to load '{path}': {_weights_only_detail(msg)}") from None
            raise ValueError(f"cannot read '{path}' as a PyTorch checkpoint: {first[:300]}") from None
    raise ValueError(f"refusing to load '{path}': too many non-tensor objects in the pickle")


def _allow(torch, stubs: dict):
    """Context allowing the inert stand-ins (torch >= 2.5; older torch gets none)."""
    if stubs and hasattr(torch.serialization, "safe_globals"):
        return torch.serialization.safe_globals([(cls, n) for n, cls in stubs.items()])
    return contextlib.nullcontext()


def _unsafe_error(path: str, names) -> ValueError:
    shown = ", ".join(sorted(set(names))[:5])
    return ValueError(
        f"refusing to load '{path}': its pickle calls {shown}, which is not a tensor or plain container "
        "(torch.load(weights_only=True) refuses it; it may run arbitrary code). If you trust the file, "
        "extract the state_dict yourself and save only that: torch.save(sd, 'weights.pt')")


def plain(obj: Any, depth: int = 0) -> Any:
    """Config-like objects (dicts, inert stand-ins, lists) as plain Python values."""
    if depth > 20:
        return None
    if isinstance(obj, InertObject):
        st = obj.state
        if isinstance(st, tuple) and len(st) == 2 and isinstance(st[0], Mapping):
            st = st[0]
        if isinstance(st, Mapping):
            return {str(k): plain(v, depth + 1) for k, v in st.items()}
        return None
    if isinstance(obj, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, depth + 1) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "numel") and hasattr(obj, "item"):
        try:
            return obj.item() if obj.numel() == 1 else None
        except Exception:
            return None
    return None


def _is_tensor(v) -> bool:
    return hasattr(v, "detach") and hasattr(v, "is_floating_point")


def _tensor_count(obj) -> int:
    return sum(1 for v in obj.values() if _is_tensor(v)) if isinstance(obj, Mapping) else 0


def split_checkpoint(obj: Any, path="checkpoint") -> tuple[dict[str, np.ndarray], dict]:
    """(state_dict as float32 NumPy arrays, meta) from whatever ``torch.load`` returned.

    meta: ``trainer`` ("coqui", "fatchord", "geneing-checkpoint" or "state_dict"),
    ``config`` (plain dict or None), ``step`` (int or None), ``container`` key.
    """
    if _is_tensor(obj):
        raise ValueError(f"'{path}' holds a single tensor, not a state_dict or checkpoint")
    if not isinstance(obj, Mapping):
        kind = obj.name if isinstance(obj, InertObject) else type(obj).__name__
        raise ValueError(f"'{path}' holds a {kind}, not a state_dict or checkpoint")
    meta: dict = {"trainer": "state_dict", "config": None, "step": None, "container": None}
    sd = obj
    if _tensor_count(obj) == 0:
        for key in _STATE_DICT_KEYS:
            if key in obj and isinstance(obj[key], Mapping) and _tensor_count(obj[key]) > 0:
                sd = obj[key]
                meta["container"] = key
                break
        else:
            keys = ", ".join(sorted(str(k) for k in obj)[:8])
            raise ValueError(f"'{path}' holds no tensors at its top level nor under "
                             f"{'/'.join(_STATE_DICT_KEYS)} (keys: {keys or 'none'}): not a model checkpoint")
        cfg = obj.get("config")
        cfg = plain(cfg) if cfg is not None else None
        meta["config"] = cfg if isinstance(cfg, dict) else None
        for k in ("step", "global_step", "iteration"):
            if isinstance(obj.get(k), (int, np.integer)) and not isinstance(obj.get(k), bool):
                meta["step"] = int(obj[k])
                break
        if meta["config"] is not None or "optimizer" in obj and meta["container"] == "model":
            meta["trainer"] = "coqui"
        elif "global_step" in obj:
            meta["trainer"] = "geneing-checkpoint"
    out: dict[str, np.ndarray] = {}
    for k, v in sd.items():
        if not _is_tensor(v):
            continue
        if v.is_floating_point():
            out[str(k)] = v.detach().cpu().float().numpy().copy()
        elif not v.is_complex():
            out[str(k)] = v.detach().cpu().numpy().copy()
    if "step" in out and meta["trainer"] == "state_dict":
        meta["trainer"] = "fatchord"  # fatchord's model.save(): state_dict with a 'step' buffer
        if out["step"].size == 1:
            meta["step"] = int(out["step"].reshape(-1)[0])
    return out, meta


def read_torch_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """Load a ``.pt``/``.pth``/``.ckpt`` safely and split it into (state_dict arrays, meta)."""
    return split_checkpoint(load_checkpoint(path), path)
