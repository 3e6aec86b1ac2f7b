"""Voicing and pitch agreement between a clip and its resynthesis.

The resynthesis mel correlation (``sparsewave.quality``) cannot tell voiced speech from noise
with the same spectral envelope: white noise shaped band by band to the input mel scores 0.95
(``experiments/mel_metric_blind_spot.py``). This module checks what it misses: whether the generated
audio is periodic where the input is, and at the same pitch.

Per frame (the model's hop), the estimator takes the normalised cross-correlation between a
window of the signal and the same window shifted by each lag of 2–23 ms (pitch 43–500 Hz at any
rate), and calls the frame **voiced** when the best lag correlates at ``threshold`` or more and
the frame is no more than ``floor_db`` below the clip's loudest frame. The pitch is the rate over
the shortest lag that reaches 90 % of the best correlation (which avoids picking a multiple of
the period), refined by a parabola through its neighbours. It is a plain autocorrelation
tracker, not a state-of-the-art one; both signals go through the same one, so its mistakes
largely cancel in the comparison.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ._arrays import nan_as_none
from .audio.signal import check_mono_audio, frame_view

__all__ = ["FramePitch", "frame_pitch", "VoicingScore", "voicing_agreement"]

MIN_PITCH_HZ = 43.0
MAX_PITCH_HZ = 500.0


@dataclass
class FramePitch:
    """Per-frame analysis of one signal: arrays of equal length, one entry per hop."""
    periodicity: np.ndarray  # best normalised correlation over the lag range, in [-1, 1]
    pitch_hz: np.ndarray  # pitch of that lag (meaningful only where voiced)
    voiced: np.ndarray  # bool


_FRAME_BLOCK = 256  # frames analysed at once: bounds memory on long clips


def _analyse_frames(frames: np.ndarray, window: int, lag_lo: int, lag_hi: int, sample_rate: int):
    """Best normalised correlation, its pitch, and the window's energy, for each row of ``frames``
    (a window of ``window`` samples followed by ``lag_hi + 1`` more)."""
    n_frames, span = frames.shape
    # corr[k, lag] = sum_j a[j] * s[j + lag] for the window a = s[:window], by FFT.
    n_fft = 1 << int(np.ceil(np.log2(span + window)))
    head = np.fft.rfft(frames[:, :window], n=n_fft, axis=1)
    whole = np.fft.rfft(frames, n=n_fft, axis=1)
    corr = np.fft.irfft(np.conj(head) * whole, n=n_fft, axis=1)[:, :lag_hi + 2]
    sq = np.concatenate([np.zeros((n_frames, 1)), np.cumsum(frames * frames, axis=1)], axis=1)
    energy_head = sq[:, window]
    lags = np.arange(lag_hi + 2)
    energy_shifted = sq[:, lags + window] - sq[:, lags]
    denom = np.sqrt(np.maximum(energy_head[:, None] * energy_shifted, 1e-30))
    rho = np.where(energy_head[:, None] > 1e-20, corr / denom, 0.0)
    search = rho[:, lag_lo:lag_hi + 1]
    best = search.max(axis=1)
    # The shortest lag within 90 % of the best: the period, not a multiple of it.
    lag = np.argmax(search >= 0.9 * best[:, None], axis=1) + lag_lo
    # Climb to the local peak at or after that lag, then refine with a parabola.
    rows = np.arange(n_frames)
    for _ in range(lag_hi):
        climb = (lag < lag_hi) & (rho[rows, np.minimum(lag + 1, lag_hi)] > rho[rows, lag])
        if not climb.any():
            break
        lag = lag + climb
    left, mid, right = rho[rows, lag - 1], rho[rows, lag], rho[rows, lag + 1]
    curve = left - 2 * mid + right
    offset = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
    return best, sample_rate / (lag + np.clip(offset, -0.5, 0.5)), energy_head


def frame_pitch(audio, sample_rate: int, hop_length: int, *, threshold: float = 0.6,
                floor_db: float = 40.0) -> FramePitch:
    """Periodicity, pitch and voicing of ``audio`` every ``hop_length`` samples (frame k is
    centred on sample k * hop_length, like the mel front end's centred frames)."""
    x = check_mono_audio(audio)
    if sample_rate <= 0 or hop_length <= 0:
        raise ValueError(f"sample_rate and hop_length must be positive, got {sample_rate} and {hop_length}")
    lag_lo = max(1, int(np.floor(sample_rate / MAX_PITCH_HZ)))
    lag_hi = int(np.ceil(sample_rate / MIN_PITCH_HZ))
    window = 2 * lag_hi  # two periods of the lowest pitch
    span = window + lag_hi + 1
    n_frames = 1 + len(x) // hop_length
    padded = np.pad(x, (window // 2, span))
    frames = frame_view(padded, span, hop_length)[:n_frames]
    parts = [_analyse_frames(frames[a:a + _FRAME_BLOCK], window, lag_lo, lag_hi, sample_rate)
             for a in range(0, n_frames, _FRAME_BLOCK)]
    best, pitch, energy = (np.concatenate(p) for p in zip(*parts))
    level_db = 10 * np.log10(np.maximum(energy, 1e-30))
    loud_enough = level_db >= level_db.max() - floor_db
    return FramePitch(periodicity=best, pitch_hz=pitch, voiced=(best >= threshold) & loud_enough)


@dataclass
class VoicingScore:
    """Agreement of a generated signal's voicing and pitch with the reference's."""
    voiced_f1: float  # F1 of the generated voiced frames against the reference's (0 if neither voices)
    agreement: float  # fraction of frames with the same voiced / unvoiced decision
    reference_voiced: float  # fraction of the reference's frames that are voiced
    generated_voiced: float
    periodicity_rmse: float  # RMS difference of the periodicity curves, over all frames
    pitch_error_cents: float  # median |pitch difference| over frames voiced in both (nan if none)
    gross_pitch_errors: float  # fraction of those off by more than 50 cents (nan if none)

    def as_dict(self) -> dict:
        """Fields as a dict, NaN as None (so that it is valid JSON)."""
        return nan_as_none(asdict(self))


def voicing_agreement(reference, generated, sample_rate: int, hop_length: int, *,
                      threshold: float = 0.6, floor_db: float = 40.0) -> VoicingScore:
    """Compare the voicing and pitch of ``generated`` with ``reference`` over their common
    frames (see the module docstring). Raises TypeError / ValueError for non-float, non-1-D,
    empty or non-finite input."""
    ref = frame_pitch(reference, sample_rate, hop_length, threshold=threshold, floor_db=floor_db)
    gen = frame_pitch(generated, sample_rate, hop_length, threshold=threshold, floor_db=floor_db)
    n = min(len(ref.voiced), len(gen.voiced))
    rv, gv = ref.voiced[:n], gen.voiced[:n]
    both = rv & gv
    if both.any():
        cents = np.abs(1200.0 * np.log2(gen.pitch_hz[:n][both] / ref.pitch_hz[:n][both]))
        error, gross = float(np.median(cents)), float(np.mean(cents > 50.0))
    else:
        error = gross = float("nan")
    f1 = 2.0 * both.sum() / max(1, rv.sum() + gv.sum())
    rmse = float(np.sqrt(np.mean((ref.periodicity[:n] - gen.periodicity[:n]) ** 2)))
    return VoicingScore(voiced_f1=float(f1), agreement=float(np.mean(rv == gv)), reference_voiced=float(rv.mean()),
                        generated_voiced=float(gv.mean()), periodicity_rmse=rmse, pitch_error_cents=error,
                        gross_pitch_errors=gross)
