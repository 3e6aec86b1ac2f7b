"""Bring a recording and its resynthesis onto one time line at the metrics' rate (16 kHz).

PESQ wideband, STOI, Praat's pitch frames and DNSMOS are all defined on 16 kHz audio, so both
signals are resampled with the package's own resampler (``sparsewave.audio.resample``). A
vocoder's output may then differ from the recording by a few samples of length (its frame
grid) or a small delay; STOI and the frame-by-frame pitch comparison need both removed:

- the delay is the lag, within ``max_delay_s``, that best correlates the two signals' short-time
  RMS envelopes (a sampled vocoder keeps the envelope, not the waveform, so the envelope is
  what both share); the resynthesis is shifted by it (dropping its first samples if it lags,
  padding zeros in front if it leads), and the recording is left as it is;
- both are then cut to their common length.
"""
from __future__ import annotations

import numpy as np

from ..audio.resample import resample
from ..audio.signal import check_mono_audio

__all__ = ["METRIC_RATE", "MAX_LENGTH_MISMATCH", "at_metric_rate", "estimate_delay", "align"]

METRIC_RATE = 16000
# The resynthesis may be this much shorter or longer than the recording (a fraction of its length);
# more suggests the two files are not a recording and its resynthesis.
MAX_LENGTH_MISMATCH = 0.1
_ENVELOPE_S = 0.005  # envelope smoothing: short enough to locate a delay of a few ms


def at_metric_rate(audio, sample_rate: int, name: str = "audio") -> np.ndarray:
    """``audio`` (mono float) as float64 at 16 kHz."""
    x = check_mono_audio(audio, name)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    return x if sample_rate == METRIC_RATE else resample(x, int(sample_rate), METRIC_RATE)


def _envelope(x: np.ndarray, width: int) -> np.ndarray:
    window = np.hanning(width + 2)[1:-1]
    return np.sqrt(np.maximum(np.convolve(x * x, window / window.sum(), mode="same"), 0.0))


def estimate_delay(reference: np.ndarray, synthesized: np.ndarray, max_delay: int, sample_rate: int = METRIC_RATE) -> int:
    """The lag d in [-max_delay, max_delay] samples at which ``synthesized[t + d]`` best follows
    ``reference[t]`` (positive: the resynthesis lags): the highest Pearson correlation of the two
    RMS envelopes over their overlap at that lag. 0 when either signal is silent."""
    if max_delay < 0:
        raise ValueError(f"max_delay must be >= 0, got {max_delay}")
    a = _envelope(np.asarray(reference, np.float64), max(3, int(round(_ENVELOPE_S * sample_rate))))
    b = _envelope(np.asarray(synthesized, np.float64), max(3, int(round(_ENVELOPE_S * sample_rate))))
    max_delay = min(max_delay, len(a) - 2, len(b) - 2)
    if max_delay <= 0 or not (a.any() and b.any()):
        return 0
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    lags = np.arange(-max_delay, max_delay + 1)
    dot = np.fft.irfft(np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n), n)[lags % n]  # sum_t a[t] b[t + d]
    # Overlap of lag d: t in [lo, hi) for a, [lo + d, hi + d) for b; its sums from cumulative sums.
    lo = np.maximum(0, -lags)
    hi = np.minimum(len(a), len(b) - lags)
    ca, ca2 = np.concatenate([[0.0], np.cumsum(a)]), np.concatenate([[0.0], np.cumsum(a * a)])
    cb, cb2 = np.concatenate([[0.0], np.cumsum(b)]), np.concatenate([[0.0], np.cumsum(b * b)])
    count = hi - lo
    sa, sa2 = ca[hi] - ca[lo], ca2[hi] - ca2[lo]
    sb, sb2 = cb[hi + lags] - cb[lo + lags], cb2[hi + lags] - cb2[lo + lags]
    cov = dot - sa * sb / count
    var = np.maximum(sa2 - sa * sa / count, 0.0) * np.maximum(sb2 - sb * sb / count, 0.0)
    pearson = np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), -np.inf)
    return int(lags[np.argmax(pearson)])


def align(reference, synthesized, sample_rate: int, *, max_delay_s: float = 0.02):
    """(reference, synthesized, delay) at 16 kHz, float64, of equal length: the resynthesis shifted by
    the estimated delay (samples at 16 kHz, see ``estimate_delay``) and both cut to their common
    length. Raises ValueError when the lengths differ by more than ``MAX_LENGTH_MISMATCH`` of the
    recording's or ``max_delay_s`` is negative."""
    if not max_delay_s >= 0:
        raise ValueError(f"max_delay_s must be >= 0, got {max_delay_s}")
    ref = at_metric_rate(reference, sample_rate, "reference")
    syn = at_metric_rate(synthesized, sample_rate, "synthesized")
    if abs(len(syn) - len(ref)) > MAX_LENGTH_MISMATCH * len(ref):
        raise ValueError(f"the resynthesis lasts {len(syn) / METRIC_RATE:.3f} s and the recording "
                         f"{len(ref) / METRIC_RATE:.3f} s: more than {MAX_LENGTH_MISMATCH:.0%} apart, "
                         "so they are not a recording and its resynthesis")
    delay = estimate_delay(ref, syn, int(round(max_delay_s * METRIC_RATE)))
    syn = syn[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay), syn])
    n = min(len(ref), len(syn))
    return ref[:n], syn[:n], delay
