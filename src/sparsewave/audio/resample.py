"""Band-limited sample-rate conversion: polyphase windowed-sinc (Kaiser) FIR, NumPy only.

The ratio ``target / orig`` is reduced by the gcd to ``up / down`` (22050 -> 16000 is
320 / 441). Conceptually the signal is upsampled by ``up`` (zeros inserted), low-pass filtered
and kept every ``down``-th sample; the polyphase form computes only the kept samples::

    y[n] = sum_m x[m] h(n * down - m * up)          (x is zero outside the signal)

``h`` is a linear-phase Kaiser-windowed sinc at the upsampled rate, designed from a
passband edge, a stopband edge (fractions of the lower of the two Nyquist frequencies) and a
stopband attenuation with Kaiser's formulas. The default ("hq": flat to 91.3 % of Nyquist,
>= 120 dB from Nyquist on) is the spec of libsoxr's HQ recipe that librosa's default
``soxr_hq`` uses: the stopband starts at the output Nyquist, so everything that would alias is
attenuated by the full amount. Output sample n sits at input time ``n * down / up`` (no
delay) and there are ``ceil(n_in * up / down)`` of them, as ``scipy.signal.resample_poly``
and librosa give.

When scipy is importable, ``backend="auto"`` hands the same filter to
``scipy.signal.resample_poly`` (compiled polyphase loop); results agree with the NumPy path
to rounding (~1e-15).
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

__all__ = ["resample", "design_filter", "rational_ratio", "QUALITY"]

# passband edge, stopband edge (fractions of the lower Nyquist), stopband attenuation (dB)
QUALITY: Mapping[str, tuple[float, float, float]] = {
    "hq": (0.913, 1.0, 120.0),    # libsoxr HQ spec (librosa's default 'soxr_hq')
    "vhq": (0.913, 1.0, 170.0),   # more attenuation, ~1.4x the taps
    "fast": (0.80, 1.0, 80.0),    # about 1/3 of the taps of "hq"
}

# Above this many filter taps the scipy path is skipped (its filter is a dense array).
_SCIPY_MAX_TAPS = 1 << 22
# Elements (channels x outputs x taps) per gathered block in the NumPy path.
_BLOCK_ELEMS = 1 << 21


def rational_ratio(orig_rate, target_rate) -> tuple[int, int]:
    """(up, down) with target / orig = up / down in lowest terms."""
    o, t = _rate(orig_rate, "orig_rate"), _rate(target_rate, "target_rate")
    g = math.gcd(o, t)
    return t // g, o // g


def _rate(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of samples per second, got {v!r}")
    if not math.isfinite(float(v)) or float(v) != int(v) or int(v) <= 0:
        raise ValueError(f"{name} must be a positive whole number of Hz, got {v!r}")
    return int(v)


def _kaiser_beta(atten_db: float) -> float:
    if atten_db > 50:
        return 0.1102 * (atten_db - 8.7)
    if atten_db >= 21:
        return 0.5842 * (atten_db - 21) ** 0.4 + 0.07886 * (atten_db - 21)
    return 0.0


class _Kernel:
    """The interpolation filter h(t), t in samples of the upsampled rate, |t| <= half."""

    def __init__(self, up: int, down: int, passband: float, stopband: float, attenuation_db: float):
        if not 0.0 < passband < stopband:
            raise ValueError(f"need 0 < passband < stopband, got passband={passband}, stopband={stopband}")
        if stopband > 2.0:
            raise ValueError(f"stopband must be at most 2 (x Nyquist), got {stopband}")
        if not attenuation_db >= 20.0:
            raise ValueError(f"attenuation_db must be at least 20, got {attenuation_db}")
        self.up, self.down = up, down
        r = max(up, down)
        nyq = 0.5 / r                                      # lower Nyquist, cycles per upsampled sample
        self.cutoff = 0.5 * (passband + stopband) * nyq    # -6 dB point
        width = (stopband - passband) * nyq
        self.beta = _kaiser_beta(attenuation_db)
        n_minus_1 = (attenuation_db - 7.95) / (2.285 * 2.0 * math.pi * width)
        self.half = max(1, int(math.ceil(n_minus_1 / 2.0)))
        self.taps = 2 * self.half + 1
        self._i0_beta = float(np.i0(self.beta))

    def __call__(self, t) -> np.ndarray:
        """up * 2 fc sinc(2 fc t) * kaiser(t): gain ``up`` makes each polyphase branch unity at DC."""
        t = np.asarray(t, dtype=np.float64)
        inside = np.abs(t) <= self.half
        r = np.clip(t / self.half, -1.0, 1.0)
        w = np.i0(self.beta * np.sqrt(1.0 - r * r)) / self._i0_beta
        h = 2.0 * self.cutoff * np.sinc(2.0 * self.cutoff * t) * w * self.up
        return np.where(inside, h, 0.0)


def _params(quality, passband, stopband, attenuation_db):
    if quality not in QUALITY:
        raise ValueError(f"quality must be one of {', '.join(QUALITY)}, got {quality!r}")
    pb, sb, at = QUALITY[quality]
    return (pb if passband is None else float(passband), sb if stopband is None else float(stopband),
            at if attenuation_db is None else float(attenuation_db))


def design_filter(up: int, down: int, *, quality: str = "hq", passband: float | None = None,
                  stopband: float | None = None, attenuation_db: float | None = None) -> np.ndarray:
    """The full FIR (2 * half + 1 taps, float64, centred) that :func:`resample` applies for
    ``up / down``, scaled to unit DC gain (``scipy.signal.resample_poly(x, up, down,
    window=h)`` applies it identically, multiplying by ``up`` itself)."""
    k = _Kernel(int(up), int(down), *_params(quality, passband, stopband, attenuation_db))
    return k(np.arange(-k.half, k.half + 1)) / k.up


def _resample_numpy(x2: np.ndarray, k: _Kernel, n_out: int) -> np.ndarray:
    """x2: (channels, n_in) float64 -> (channels, n_out) float64."""
    up, down, half = k.up, k.down, k.half
    ch, n_in = x2.shape
    n_taps = 2 * half // up + 1                      # inputs under the filter for one output
    pad_l = half // up                               # first output reads from x[-(half // up)]
    last_lo = -((half - (n_out - 1) * down) // up)   # ceil(((n_out - 1) down - half) / up)
    pad_r = max(0, last_lo + n_taps - n_in)
    xp = np.zeros((ch, pad_l + n_in + pad_r), dtype=np.float64)
    xp[:, pad_l:pad_l + n_in] = x2
    y = np.empty((ch, n_out), dtype=np.float64)
    s_row, s_el = xp.strides
    j = np.arange(n_taps)
    # Outputs n = r + i * up share a phase: same coefficients, inputs advancing by `down`.
    for r in range(min(up, n_out)):
        lo = -((half - r * down) // up)              # first input index for output r
        coef = k(r * down - (lo + j) * up)
        count = (n_out - 1 - r) // up + 1
        for a in range(0, count, max(1, _BLOCK_ELEMS // (n_taps * ch))):
            b = min(count, a + max(1, _BLOCK_ELEMS // (n_taps * ch)))
            start = pad_l + lo + a * down
            view = np.lib.stride_tricks.as_strided(
                xp[:, start:], shape=(ch, b - a, n_taps), strides=(s_row, s_el * down, s_el), writeable=False)
            y[:, r + a * up:r + b * up:up] = view @ coef
    return y


def _scipy_resample_poly():
    try:
        from scipy.signal import resample_poly
    except Exception:  # scipy absent or broken: the NumPy path covers everything
        return None
    return resample_poly


def resample(x, orig_rate, target_rate, *, axis: int = -1, quality: str = "hq", passband: float | None = None,
             stopband: float | None = None, attenuation_db: float | None = None, backend: str = "auto") -> np.ndarray:
    """Resample ``x`` along ``axis`` from ``orig_rate`` to ``target_rate`` (Hz, whole numbers).

    Returns float32 unless ``x`` is float64. ``quality`` picks a preset of :data:`QUALITY`;
    ``passband`` / ``stopband`` (fractions of the lower Nyquist frequency) and
    ``attenuation_db`` override it. ``backend``: "auto" (scipy's compiled polyphase loop when
    importable, same filter), "numpy" or "scipy". Equal rates return a copy.
    """
    up, down = rational_ratio(orig_rate, target_rate)
    if backend not in ("auto", "numpy", "scipy"):
        raise ValueError(f"backend must be 'auto', 'numpy' or 'scipy', got {backend!r}")
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"x must be a real float array, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError("x must have at least one dimension (samples)")
    out_dtype = np.float64 if a.dtype == np.float64 else np.float32
    pb, sb, at = _params(quality, passband, stopband, attenuation_db)
    kernel = _Kernel(up, down, pb, sb, at)           # validates the filter spec even for equal rates
    if not np.all(np.isfinite(a)):
        raise ValueError("x holds NaN or Inf")
    moved = np.moveaxis(a, axis, -1)
    n_in = moved.shape[-1]
    if up == down == 1:
        return np.moveaxis(moved.astype(out_dtype, copy=True), -1, axis)
    n_out = -(-n_in * up // down)
    lead = moved.shape[:-1]
    if n_in == 0:
        return np.moveaxis(np.zeros(lead + (0,), out_dtype), -1, axis)
    x2 = moved.reshape(-1, n_in).astype(np.float64, copy=False)
    rp = None
    if backend != "numpy":
        rp = _scipy_resample_poly() if kernel.taps <= _SCIPY_MAX_TAPS else None
        if rp is None and backend == "scipy":
            raise RuntimeError("backend='scipy' needs scipy (pip install scipy)"
                               if _scipy_resample_poly() is None else
                               f"backend='scipy': the filter has {kernel.taps} taps, more than {_SCIPY_MAX_TAPS}")
    if rp is not None:
        h = kernel(np.arange(-kernel.half, kernel.half + 1)) / up
        y = rp(x2, up, down, axis=-1, window=h)[:, :n_out]
    else:
        y = _resample_numpy(x2, kernel, n_out)
    return np.moveaxis(y.reshape(lead + (n_out,)).astype(out_dtype, copy=False), -1, axis)
