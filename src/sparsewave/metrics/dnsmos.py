"""DNSMOS P.835: a neural estimate of listeners' SIG (speech), BAK (background) and OVRL (overall)
opinion scores, 1-5, from the audio alone (no reference).

The model is Microsoft's DNS Challenge ONNX network as the ``speechmos`` package ships it
(``speechmos/dnsmos_models/sig_bak_ovr.onnx``); it runs here through onnxruntime with nothing
fetched at run time. We drive the model ourselves rather than through ``speechmos.dnsmos``:
that module imports librosa (and numba) for the P.808 score, which P.835 does not use.

The procedure is DNSMOS's own: 16 kHz audio, a clip shorter than the 9.01 s input is repeated
(doubled) until it is long enough, the model scores 9.01 s windows every second, each raw
score goes through its calibration polynomial, and the clip's score is the mean over windows.
The ONNX session is created once per process (first call) and reused.
"""
from __future__ import annotations

import functools

import numpy as np

from .alignment import METRIC_RATE, at_metric_rate
from .extra import require

__all__ = ["dnsmos", "DNSMOS_KEYS"]

DNSMOS_KEYS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
_WINDOW_S = 9.01
_MODEL = ("dnsmos_models", "sig_bak_ovr.onnx")
# Calibration of the raw outputs to MOS (DNSMOS P.835, non-personalised model), highest power first.
_CALIBRATION = {
    "dnsmos_sig": (-0.08397278, 1.22083953, 0.0052439),
    "dnsmos_bak": (-0.13166888, 1.60915514, -0.39604546),
    "dnsmos_ovrl": (-0.06766283, 1.11546468, 0.04602535),
}
# One thread: the scores are the same at any count, and callers (trainers) share the CPU.
_THREADS = 1
_BATCH = 8  # windows per model call: bounds memory on long clips


@functools.lru_cache(maxsize=1)
def _session():
    ort = require("onnxruntime", "DNSMOS")
    require("speechmos", "DNSMOS (its ONNX model)")
    from importlib.resources import files

    model = files("speechmos").joinpath(*_MODEL)
    if not model.is_file():
        raise FileNotFoundError(f"the speechmos package has no {'/'.join(_MODEL)}; reinstall it (pip install 'sparsewave[eval]')")
    options = ort.SessionOptions()
    options.intra_op_num_threads = _THREADS
    options.inter_op_num_threads = _THREADS
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # do not busy-wait on a shared CPU
    return ort.InferenceSession(model.read_bytes(), options, providers=["CPUExecutionProvider"])


def _windows(x: np.ndarray) -> np.ndarray:
    """The model's input windows of ``x`` (16 kHz), as DNSMOS cuts them."""
    length = int(_WINDOW_S * METRIC_RATE)
    while len(x) < length:
        x = np.concatenate([x, x])
    count = int(np.floor(len(x) / METRIC_RATE) - _WINDOW_S) + 1
    starts = [k * METRIC_RATE for k in range(count) if k * METRIC_RATE + length <= len(x)]
    return np.stack([x[s:s + length] for s in starts]).astype(np.float32)


def dnsmos(audio, sample_rate: int) -> dict:
    """{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"} of ``audio`` (mono float in [-1, 1]; resampled to
    16 kHz). Raises MissingExtraError without onnxruntime / speechmos, ValueError for a silent
    clip (DNSMOS of digital silence is meaningless) and the usual audio errors."""
    x = at_metric_rate(audio, sample_rate)
    if not np.any(x):
        raise ValueError("audio is digital silence: DNSMOS has nothing to score")
    windows = _windows(np.clip(x, -1.0, 1.0))
    session = _session()
    raw = np.concatenate([session.run(None, {"input_1": windows[a:a + _BATCH]})[0]
                          for a in range(0, len(windows), _BATCH)]).astype(np.float64)
    return {key: float(np.mean(np.polyval(_CALIBRATION[key], raw[:, i]))) for i, key in enumerate(DNSMOS_KEYS)}
