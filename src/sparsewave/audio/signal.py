"""Shared handling of 1-D audio signals: the input check every analysis applies, and the
strided frame view the STFT-style analyses slide over a signal."""
from __future__ import annotations

import numpy as np


def check_mono_audio(audio, name: str = "audio") -> np.ndarray:
    """``audio`` as a float64 1-D array. Raises TypeError for non-float input (integer PCM gets
    a hint) and ValueError for a wrong rank, no samples, or NaN/Inf."""
    a = np.asarray(audio)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be a real float array, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must be float samples in [-1, 1], got dtype {a.dtype}; "
                        "convert int16 PCM with audio / 32768")
    if a.ndim != 1:
        hint = " (multi-channel? downmix to mono first, e.g. audio.mean(axis=1))" if a.ndim == 2 else ""
        raise ValueError(f"{name} must be 1-D mono samples, got shape {a.shape}{hint}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    finite = np.isfinite(a)
    if not finite.all():
        raise ValueError(f"{name} holds NaN or Inf (first at sample {int(np.argmin(finite))})")
    return a.astype(np.float64, copy=False)


def frame_view(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Read-only (frames, frame_length) view of the 1-D array ``y``: frame k starts at sample
    k * hop_length; only whole frames (none if ``y`` is shorter than one)."""
    n = max(0, 1 + (len(y) - frame_length) // hop_length)
    return np.lib.stride_tricks.as_strided(y, (n, frame_length), (y.strides[0] * hop_length, y.strides[0]),
                                           writeable=False)
