"""Mel spectrograms stored in files: .npy, .npz and PyTorch .pt, as other tools save them.

:func:`read_mel_file` returns the array as stored (2-D, either orientation); the model that
vocodes it decides which axis is which (:meth:`sparsewave.Vocoder.check_mels`).
:func:`mel_range_warning` notices mels normalised differently from what a model was trained on.

Nothing here unpickles untrusted data: NumPy files load with ``allow_pickle=False``, PyTorch
files with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from .._paths import check_input_file

__all__ = ["read_mel_file", "expected_mel_range", "mel_range_warning"]

# Keys under which a .npz or a dict in a .pt file may hold the mel, in order of preference.
_NPZ_KEYS = ("mel", "mels")
_TORCH_KEYS = ("mel", "mels", "spec", "mel_spectrogram")


class _Refused(Exception):
    """A file we understood and refuse, with the message for the user (not wrapped again)."""


def read_mel_file(path) -> np.ndarray:
    """A 2-D mel spectrogram from .npy, .npz (one array, or one named 'mel'/'mels') or .pt (needs torch).

    The file kind is read from its content, not its name. Leading axes of size 1 are dropped.
    Raises FileNotFoundError / IsADirectoryError / PermissionError for path problems,
    ImportError for a .pt file without torch, and ValueError for anything else unreadable.
    """
    p = check_input_file(path, "mel file")
    with open(p, "rb") as f:
        head = f.read(8)
    try:
        if head.startswith(b"\x93NUMPY"):
            arr = np.load(p, allow_pickle=False)
        elif head.startswith(b"PK"):
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
            arr = _torch_load_tensor(p) if any(n.endswith("data.pkl") for n in names) else _npz_mel(p)
        elif head[:1] == b"\x80" or p.suffix.lower() in (".pt", ".pth"):
            arr = _torch_load_tensor(p)
        else:
            raise _Refused(f"'{p}' is not a .npy, .npz or .pt mel file")
    except _Refused as e:
        raise ValueError(str(e)) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot read mel file '{p}': {_one_line(e)}") from None
    arr = np.asarray(arr)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"mel in '{p}' has shape {arr.shape}; expected 2-D (frames, n_mels) or (n_mels, frames)")
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"mel in '{p}' has dtype {arr.dtype}; expected floating point")
    return arr


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _npz_mel(p: Path) -> np.ndarray:
    with np.load(p, allow_pickle=False) as z:
        files = list(z.files)
        key = next((k for k in _NPZ_KEYS if k in files), None)
        if key is None:
            if len(files) != 1:
                raise _Refused(f"'{p}' holds {len(files)} arrays ({', '.join(files[:6])}); expected one, "
                               "or one named 'mel'")
            key = files[0]
        return z[key]


def _torch_load_tensor(p: Path) -> np.ndarray:
    """The one tensor in a PyTorch file, loaded with ``weights_only=True``: plain tensors and
    containers only, never arbitrary pickled objects (the file may come from anywhere)."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"reading '{p}' (a PyTorch file) needs torch; save the mel with numpy.save instead") from None
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:
        raise _Refused(f"cannot load '{p}' safely as a PyTorch tensor (weights_only=True): "
                       f"{_one_line(e)[:200]}") from None
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if hasattr(v, "detach")}
        key = next((k for k in _TORCH_KEYS if k in tensors), None)
        if key is None and len(tensors) != 1:
            raise _Refused(f"'{p}' holds a dict with {len(tensors)} tensors; expected one mel tensor (or a key 'mel')")
        obj = tensors[key] if key is not None else next(iter(tensors.values()))
    if not hasattr(obj, "detach"):
        raise _Refused(f"'{p}' holds a {type(obj).__name__}, not a tensor")
    return obj.detach().cpu().float().numpy()


def expected_mel_range(config: Mapping) -> tuple[float, float] | None:
    """(low, high) of the mel values a model was trained on, from its config's "mel" section:
    [-M, M] for normalize "symmetric" (M = max_abs_value, default 4), [0, M] for "unit"
    (default 1); None when the mels are not normalised or the config does not say."""
    m = config.get("mel") or {}
    norm = m.get("normalize")
    if norm == "symmetric":
        hi = float(m.get("max_abs_value", 4.0))
        return -hi, hi
    if norm == "unit":
        return 0.0, float(m.get("max_abs_value", 1.0))
    return None


def mel_range_warning(mel, config: Mapping) -> str | None:
    """A warning when ``mel``'s values lie well outside the range the model was trained on
    (a sign of mels made by another front end: the output would be noise), else None."""
    span = expected_mel_range(config)
    if span is None:
        return None
    lo, hi = span
    values = np.asarray(mel)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    a, b = float(np.min(values[finite])), float(np.max(values[finite]))
    slack = 0.05 * (hi - lo)
    if a < lo - slack or b > hi + slack:
        return (f"warning: mel values span [{a:.2f}, {b:.2f}] but this model was trained on mels "
                f"normalised to [{lo:g}, {hi:g}]; the output will probably be noise")
    return None
