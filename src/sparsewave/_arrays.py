"""Input checking shared by the Python API: convert where it is safe, raise a
clear TypeError/ValueError otherwise."""
from __future__ import annotations

import numpy as np


def as_float32(value, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32 array of the given rank(s).

    Real numeric input (float64, float16, ints, bools) is converted; complex,
    object and string data raise TypeError; a wrong rank raises ValueError.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ranks:
        expected = " or ".join(f"{r}-D" for r in ranks)
        raise ValueError(f"{name} must be {expected}, got a {arr.ndim}-D array of shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_out(out, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Validate a caller-provided output array (never converted: it is written in place)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}")
    if out.dtype != np.float32:
        raise TypeError(f"{name} must be float32, got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return out


def nan_as_none(fields: dict) -> dict:
    """``fields`` with every non-finite float replaced by None, so that it is valid JSON."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in fields.items()}
