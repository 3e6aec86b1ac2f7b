"""Mel spectrogram front end in NumPy, parameterised by a model's ``config["mel"]``.

Computes what librosa computes for the WaveRNN families sparsewave runs::

    y = preemphasis(audio)                                   (optional, y[n] = x[n] - p x[n-1])
    X = stft(y, n_fft, hop_length, win_length, window="hann", center, pad_mode)
    S = mel_basis @ |X| ** power                             (Slaney mel scale, Slaney area norm)
    S = 20 log10(max(1e-5, S)) - ref_level_db
    normalize = "symmetric": clip(2 M (S - min_db) / -min_db - M, -M, M)    M = max_abs_value
                "unit":      clip((S - min_db) / -min_db, 0, 1)
                "none":      S (dB)

The window is a periodic Hann of ``win_length`` zero-padded to ``n_fft`` (centred), as
``librosa.stft``; the filterbank equals ``librosa.filters.mel(..., htk=False, norm="slaney")``.
With ``center=True`` the signal is padded by ``n_fft // 2`` on both sides and there are
``1 + n_samples // hop_length`` frames (for even ``n_fft``).

No librosa or scipy is needed. Output is ``(frames, n_mels)`` float32, the layout
:meth:`sparsewave.Vocoder.synthesize` takes.
"""
from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from .emphasis import check_preemphasis
from .signal import check_mono_audio, frame_view

__all__ = ["MelFrontEnd", "mel_spectrogram", "mel_filterbank", "hann_window", "hz_to_mel", "mel_to_hz",
           "NORMALIZATIONS", "PAD_MODES"]

NORMALIZATIONS = ("symmetric", "unit", "none")
PAD_MODES = ("constant", "reflect")

# Keys a config must have; the others default as below.
_REQUIRED = ("sample_rate", "n_fft", "hop_length", "n_mels", "normalize")
_OPTIONAL_DEFAULTS = {
    "win_length": None,      # -> n_fft
    "fmin": 0.0,
    "fmax": None,            # -> sample_rate / 2
    "power": 1.0,
    "ref_level_db": 0.0,
    "min_level_db": None,    # required unless normalize == "none"
    "max_abs_value": None,   # required for "symmetric"; 1 for "unit"
    "center": True,
    "pad_mode": "constant",
    "preemphasis": 0.0,
}
# Names other code bases use for the same things: a config that has them was probably
# written for another tool, so say so instead of silently using a default.
_ALIASES = {"hop_size": "hop_length", "win_size": "win_length", "num_mels": "n_mels", "sr": "sample_rate",
            "sampling_rate": "sample_rate", "f_min": "fmin", "f_max": "fmax", "mel_fmin": "fmin",
            "mel_fmax": "fmax", "filter_length": "n_fft", "magnitude_power": "power",
            "symmetric_mels": "normalize"}

# Frames per FFT batch: bounds the temporary (frames x n_fft) array.
_FRAME_BLOCK = 512


# --------------------------------------------------------------------------- mel scale


# The Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic (steps of
# ln(6.4) / 27) above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freq):
    """Slaney mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(freq, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_part = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, f / _F_SP)


def mel_to_hz(mels):
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_filterbank(sample_rate: float, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters (n_mels, 1 + n_fft // 2), float64.

    Same as ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
    fmax=fmax, htk=False, norm="slaney")``: n_mels + 2 points equally spaced on the Slaney mel
    scale, triangles between neighbours evaluated at the FFT bin frequencies, each scaled by
    2 / (upper edge - lower edge) in Hz (equal area).
    """
    if fmax is None:
        fmax = sample_rate / 2.0
    n_bins = 1 + n_fft // 2
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_bins)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:n_mels + 2] - edges[:n_mels]))[:, None]
    return weights


def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` (scipy ``get_window('hann', fftbins=True)``),
    zero-padded to ``n_fft`` with the window centred (librosa ``pad_center``)."""
    n = np.arange(win_length, dtype=np.float64)
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    out = np.zeros(n_fft, dtype=np.float64)
    left = (n_fft - win_length) // 2
    out[left:left + win_length] = win
    return out


# --------------------------------------------------------------------------- config


def _mel_section(config: Mapping) -> Mapping:
    """Accept either ``config["mel"]`` or a whole model config holding a "mel" dict."""
    if not isinstance(config, Mapping):
        raise TypeError(f"mel config must be a dict (a model's config['mel']), got {type(config).__name__}")
    inner = config.get("mel")
    if isinstance(inner, Mapping):
        return inner
    return config


def _number(cfg: Mapping, key: str, kind=float):
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"mel config '{key}' must be a number, got {v!r}")
    if not math.isfinite(float(v)):
        raise ValueError(f"mel config '{key}' must be finite, got {v!r}")
    if kind is int:
        if float(v) != int(v):
            raise ValueError(f"mel config '{key}' must be an integer, got {v!r}")
        return int(v)
    return float(v)


def normalize_mel_config(config: Mapping) -> dict:
    """Validated, complete mel settings (every key present, defaults filled in).

    Raises ValueError naming the offending key for anything missing or out of range.
    """
    src = _mel_section(config)
    for alias, key in _ALIASES.items():
        if alias in src and key not in src:
            raise ValueError(f"mel config has '{alias}' but no '{key}': sparsewave reads '{key}' "
                             f"(the config looks written for another tool)")
    missing = [k for k in _REQUIRED if k not in src]
    if missing:
        raise ValueError(f"mel config lacks {', '.join(repr(k) for k in missing)} "
                         f"(needs {', '.join(_REQUIRED)}; has {', '.join(sorted(map(str, src))) or 'nothing'})")
    cfg: dict[str, Any] = dict(_OPTIONAL_DEFAULTS)
    cfg.update({k: src[k] for k in src if k in _OPTIONAL_DEFAULTS or k in _REQUIRED})

    out: dict[str, Any] = {}
    for key in ("sample_rate", "n_fft", "hop_length", "n_mels"):
        out[key] = _number(cfg, key, int)
        if out[key] <= 0:
            raise ValueError(f"mel config '{key}' must be positive, got {cfg[key]!r}")
    sr, n_fft = out["sample_rate"], out["n_fft"]
    out["win_length"] = n_fft if cfg["win_length"] is None else _number(cfg, "win_length", int)
    if not 1 <= out["win_length"] <= n_fft:
        raise ValueError(f"mel config 'win_length' must be in 1..n_fft ({n_fft}), got {out['win_length']}")
    out["fmin"] = _number(cfg, "fmin")
    out["fmax"] = sr / 2.0 if cfg["fmax"] is None else _number(cfg, "fmax")
    if not 0.0 <= out["fmin"] < out["fmax"]:
        raise ValueError(f"mel config needs 0 <= fmin < fmax, got fmin={out['fmin']}, fmax={out['fmax']}")
    if out["fmax"] > sr / 2.0:
        raise ValueError(f"mel config 'fmax' ({out['fmax']} Hz) is above the Nyquist frequency "
                         f"({sr / 2.0} Hz) of sample_rate {sr}")
    out["power"] = _number(cfg, "power")
    if out["power"] <= 0:
        raise ValueError(f"mel config 'power' must be positive (1 = magnitude, 2 = power), got {cfg['power']!r}")
    out["ref_level_db"] = _number(cfg, "ref_level_db")
    norm = cfg["normalize"]
    if norm is None or norm is False:
        norm = "none"
    if norm not in NORMALIZATIONS:
        raise ValueError(f"mel config 'normalize' must be one of {', '.join(NORMALIZATIONS)}, got {norm!r}")
    out["normalize"] = norm
    if norm != "none":
        if cfg["min_level_db"] is None:
            raise ValueError(f"mel config lacks 'min_level_db' (needed by normalize={norm!r})")
        out["min_level_db"] = _number(cfg, "min_level_db")
        if out["min_level_db"] >= 0:
            raise ValueError(f"mel config 'min_level_db' must be negative, got {cfg['min_level_db']!r}")
    else:
        out["min_level_db"] = None if cfg["min_level_db"] is None else _number(cfg, "min_level_db")
    if norm == "symmetric":
        if cfg["max_abs_value"] is None:
            raise ValueError("mel config lacks 'max_abs_value' (needed by normalize='symmetric')")
        out["max_abs_value"] = _number(cfg, "max_abs_value")
    elif norm == "unit":
        out["max_abs_value"] = 1.0 if cfg["max_abs_value"] is None else _number(cfg, "max_abs_value")
    else:
        out["max_abs_value"] = None if cfg["max_abs_value"] is None else _number(cfg, "max_abs_value")
    if out["max_abs_value"] is not None and out["max_abs_value"] <= 0:
        raise ValueError(f"mel config 'max_abs_value' must be positive, got {cfg['max_abs_value']!r}")
    if not isinstance(cfg["center"], (bool, np.bool_)):
        raise ValueError(f"mel config 'center' must be true or false, got {cfg['center']!r}")
    out["center"] = bool(cfg["center"])
    if cfg["pad_mode"] not in PAD_MODES:
        raise ValueError(f"mel config 'pad_mode' must be one of {', '.join(PAD_MODES)}, got {cfg['pad_mode']!r}")
    out["pad_mode"] = cfg["pad_mode"]
    out["preemphasis"] = check_preemphasis(_number(cfg, "preemphasis"), "mel config 'preemphasis'")
    return out


# --------------------------------------------------------------------------- front end


class MelFrontEnd:
    """Mel spectrogram of one model family; caches the window and the filterbank.

    ``MelFrontEnd(config)`` takes a model's ``config["mel"]`` (or the whole model config, e.g.
    ``Vocoder.config``). Calling it on mono audio at ``sample_rate`` gives (frames, n_mels)
    float32. Instances are immutable and safe to share between threads.
    """

    def __init__(self, config: Mapping):
        self.config = normalize_mel_config(config)
        c = self.config
        self.sample_rate: int = c["sample_rate"]
        self.n_fft: int = c["n_fft"]
        self.hop_length: int = c["hop_length"]
        self.win_length: int = c["win_length"]
        self.n_mels: int = c["n_mels"]
        self.window = hann_window(self.win_length, self.n_fft)
        self.window.setflags(write=False)
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, c["fmin"], c["fmax"])
        empty = np.flatnonzero(fb.max(axis=1) == 0)
        if empty.size:
            warnings.warn(f"mel filterbank: {empty.size} of {self.n_mels} mel filters are empty (first: "
                          f"{empty[0]}); n_mels={self.n_mels} is too many for n_fft={self.n_fft} "
                          f"between {c['fmin']} and {c['fmax']} Hz", stacklevel=2)
        # (n_bins, n_mels) so a block of frames (frames, n_bins) multiplies on the right.
        self.filterbank = np.ascontiguousarray(fb.T)
        self.filterbank.setflags(write=False)

    def __repr__(self) -> str:
        c = self.config
        return (f"MelFrontEnd(sample_rate={c['sample_rate']}, n_fft={c['n_fft']}, hop_length={c['hop_length']}, "
                f"win_length={c['win_length']}, n_mels={c['n_mels']}, fmin={c['fmin']}, fmax={c['fmax']}, "
                f"normalize={c['normalize']!r})")

    # -- sizes -------------------------------------------------------------
    def min_samples(self) -> int:
        """Fewest samples :meth:`__call__` accepts."""
        if not self.config["center"]:
            return self.n_fft
        if self.config["pad_mode"] == "reflect":
            return self.n_fft // 2 + 1
        return 1

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples (1 + n_samples // hop_length when centred)."""
        n = int(n_samples)
        if self.config["center"]:
            n += 2 * (self.n_fft // 2)
        return 1 + (n - self.n_fft) // self.hop_length

    # -- computation -------------------------------------------------------
    def _check_audio(self, audio, sample_rate) -> np.ndarray:
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ValueError(f"audio is at {sample_rate} Hz but this model's mel front end expects "
                             f"{self.sample_rate} Hz; resample first (sparsewave.audio.resample)")
        a = check_mono_audio(audio)
        if a.size < self.min_samples():
            why = ("center=False needs at least n_fft samples" if not self.config["center"]
                   else "reflect padding needs more than n_fft // 2 samples")
            raise ValueError(f"audio has {a.size} samples, too short: {why} ({self.min_samples()})")
        return a

    def magnitudes(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """Mel-filtered |STFT| ** power, before the log: (frames, n_mels) float64."""
        y = self._check_audio(audio, sample_rate)
        c = self.config
        if c["preemphasis"]:
            y = np.concatenate([y[:1], y[1:] - c["preemphasis"] * y[:-1]])
        if c["center"]:
            pad = self.n_fft // 2
            y = np.pad(y, (pad, pad), mode=c["pad_mode"])
        frames = frame_view(y, self.n_fft, self.hop_length)
        n_frames = len(frames)
        out = np.empty((n_frames, self.n_mels), dtype=np.float64)
        power = c["power"]
        for a in range(0, n_frames, _FRAME_BLOCK):
            spec = np.abs(np.fft.rfft(frames[a:a + _FRAME_BLOCK] * self.window, axis=1))
            if power == 2.0:
                spec *= spec
            elif power != 1.0:
                spec **= power
            out[a:a + _FRAME_BLOCK] = spec @ self.filterbank
        return out

    def __call__(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """Mel spectrogram (frames, n_mels) float32 of mono float audio at ``sample_rate``.

        ``sample_rate``, when given, is checked against the model's rate. Raises TypeError for
        non-float input and ValueError for a wrong rank, empty or too short input, NaN/Inf.
        """
        c = self.config
        s = 20.0 * np.log10(np.maximum(1e-5, self.magnitudes(audio, sample_rate))) - c["ref_level_db"]
        if c["normalize"] == "symmetric":
            m, lo = c["max_abs_value"], c["min_level_db"]
            s = np.clip(2.0 * m * (s - lo) / (-lo) - m, -m, m)
        elif c["normalize"] == "unit":
            lo = c["min_level_db"]
            s = np.clip((s - lo) / (-lo), 0.0, 1.0)
        return s.astype(np.float32)

    compute = __call__

    def to_magnitudes(self, mel) -> np.ndarray:
        """Undo :meth:`__call__`'s log and normalisation: (frames, n_mels) float64 in the units of
        :meth:`magnitudes`. Exact except where ``__call__`` clipped (at the floor or the top)."""
        c = self.config
        s = np.asarray(mel, dtype=np.float64)
        if c["normalize"] == "symmetric":
            m, lo = c["max_abs_value"], c["min_level_db"]
            s = (s + m) * (-lo) / (2.0 * m) + lo
        elif c["normalize"] == "unit":
            lo = c["min_level_db"]
            s = s * (-lo) + lo
        return 10.0 ** ((s + c["ref_level_db"]) / 20.0)


# Small cache so mel_spectrogram(audio, cfg) in a loop does not rebuild the filterbank.
_CACHE: "OrderedDict[tuple, MelFrontEnd]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _front_end(config: Mapping) -> MelFrontEnd:
    key = tuple(sorted(normalize_mel_config(config).items()))
    with _CACHE_LOCK:
        fe = _CACHE.get(key)
        if fe is not None:
            _CACHE.move_to_end(key)
            return fe
    fe = MelFrontEnd(config)
    with _CACHE_LOCK:
        _CACHE[key] = fe
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fe


def mel_spectrogram(audio, config: Mapping, sample_rate: int | None = None) -> np.ndarray:
    """Mel spectrogram (frames, n_mels) float32 of mono float ``audio`` as the model expects.

    ``config`` is the model's ``config["mel"]`` (or the whole model config). See
    :class:`MelFrontEnd` for the errors raised.
    """
    return _front_end(config)(audio, sample_rate)
