"""Pre-emphasis y[n] = x[n] - a x[n-1] and its inverse, as the engine applies them for a model
whose config has "preemphasis": a (cpp/synth/emphasis.cpp): x[-1] = 0, arithmetic in float64."""
from __future__ import annotations

import numpy as np

__all__ = ["preemphasize", "deemphasize", "check_preemphasis"]


def preemphasize(audio, a: float) -> np.ndarray:
    """float32 y[n] = x[n] - a x[n-1] of float32 audio, computed in float64 and rounded once, so
    its 16-bit split matches the engine's. With a = 0 the audio is returned as given (a float64
    caller keeps its exact byte split)."""
    if a == 0:
        return np.asarray(audio)
    x = np.asarray(audio, dtype=np.float32).astype(np.float64)
    y = x.copy()
    y[1:] -= np.float64(np.float32(a)) * x[:-1]
    return y.astype(np.float32)


def deemphasize(y, a: float) -> np.ndarray:
    """float64 x[n] = y[n] + a x[n-1] (an IIR, so a loop), unclipped."""
    out = np.empty(len(y))
    prev = 0.0
    for i, v in enumerate(np.asarray(y, dtype=np.float64).tolist()):
        prev = v + a * prev
        out[i] = prev
    return out


def check_preemphasis(a, what: str = "preemphasis") -> float:
    """``a`` as a float when 0 <= a < 1 holds also in float32, the precision the engine filters
    in (0.99999999 rounds to 1.0 there: an integrator that never forgets); else ValueError."""
    if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)) or not np.isfinite(a):
        raise ValueError(f"{what} must be a number in [0, 1), got {a!r}")
    if not (0.0 <= float(a) and np.float32(a) < 1.0):
        raise ValueError(f"{what} must be in [0, 1) and below 1 as a float32 (the engine's precision), got {a!r}")
    return float(a)
