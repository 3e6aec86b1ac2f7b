"""Pre-emphasis y[n] = x[n] - a x[n-1] and its inverse, as the engine applies them for a model
whose config has "preemphasis": a (cpp/synth/emphasis.cpp): x[-1] = 0, arithmetic in float64."""
from __future__ import annotations

import numpy as np

__all__ = ["preemphasize", "deemphasize"]


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
