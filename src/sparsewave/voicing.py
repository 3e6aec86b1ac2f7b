"""Voicing and pitch agreement between a recording and its resynthesis, by Praat's pitch tracker.

The resynthesis mel correlation (``sparsewave.quality``) cannot tell voiced speech from noise
with the same spectral envelope: white noise shaped band by band to the input mel scores 0.95
(``experiments/mel_metric_blind_spot.py``). This module checks what it misses: whether the
resynthesis is voiced where the recording is, and at the same pitch.

Both signals go through Praat's autocorrelation pitch tracker (Boersma 1993) via
``praat-parselmouth`` (``pip install 'sparsewave[eval]'``) with Praat's standard settings
(floor 75 Hz, ceiling 600 Hz) at a 10 ms step. A frame is voiced where Praat's path picks a
pitch. Over the frames both tracks share:

- **V/UV F1**: F1 of the resynthesis's voiced frames against the recording's (1 is perfect; a
  resynthesis that whispers scores near 0); NaN when neither signal has a voiced frame;
- **pitch error**: the median of |1200 log2(f_synth / f_ref)| cents over frames voiced in both
  (NaN when there are none).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ._arrays import nan_as_none
from .audio.signal import check_mono_audio
from .metrics.extra import require

__all__ = ["PITCH_FLOOR_HZ", "PITCH_CEILING_HZ", "TIME_STEP_S", "FramePitch", "frame_pitch",
           "VoicingScore", "voicing_agreement"]

PITCH_FLOOR_HZ = 75.0  # Praat's defaults
PITCH_CEILING_HZ = 600.0
TIME_STEP_S = 0.01


@dataclass
class FramePitch:
    """Praat's pitch track of one signal: arrays of equal length, one entry per frame."""
    times: np.ndarray  # frame centres, seconds
    pitch_hz: np.ndarray  # NaN where unvoiced
    periodicity: np.ndarray  # the strongest voiced candidate's autocorrelation peak, 0..1 (0: none)

    @property
    def voiced(self) -> np.ndarray:
        return np.isfinite(self.pitch_hz)


def frame_pitch(audio, sample_rate: int, *, time_step: float = TIME_STEP_S, floor: float = PITCH_FLOOR_HZ,
                ceiling: float = PITCH_CEILING_HZ) -> FramePitch:
    """Praat's pitch track (``Sound: To Pitch (ac)``) of ``audio`` (mono float). Two signals of the
    same length and rate get the same frame times. Raises MissingExtraError without
    praat-parselmouth, TypeError / ValueError for bad audio or settings."""
    x = check_mono_audio(audio)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    if not (time_step > 0 and 0 < floor < ceiling):
        raise ValueError(f"need time_step > 0 and 0 < floor < ceiling, got {time_step}, {floor}, {ceiling}")
    parselmouth = require("parselmouth", "the pitch tracker (sparsewave.voicing)")
    sound = parselmouth.Sound(x, sampling_frequency=float(sample_rate))
    if sound.duration < 3.0 / floor:  # Praat needs three periods of the floor pitch for one frame
        return FramePitch(times=np.zeros(0), pitch_hz=np.zeros(0), periodicity=np.zeros(0))
    pitch = sound.to_pitch_ac(time_step=time_step, pitch_floor=floor, pitch_ceiling=ceiling)
    f0 = pitch.selected_array["frequency"].astype(np.float64)
    candidates = pitch.to_array()  # (candidates, frames) of (frequency, strength); frequency 0 = unvoiced
    strength = np.where(candidates["frequency"] > 0, candidates["strength"], 0.0).max(axis=0)
    return FramePitch(times=np.asarray(pitch.xs(), dtype=np.float64), pitch_hz=np.where(f0 > 0, f0, np.nan),
                      periodicity=np.clip(strength, 0.0, 1.0))


@dataclass
class VoicingScore:
    """Agreement of a resynthesis's voicing and pitch with the recording's (module docstring)."""
    vuv_f1: float
    pitch_error_cents: float
    voiced_reference: float  # fraction of frames voiced in the recording
    voiced_synthesized: float

    def as_dict(self) -> dict:
        """Fields as a dict, NaN as None (so that it is valid JSON)."""
        return nan_as_none(asdict(self))


def voicing_agreement(reference, synthesized, sample_rate: int, **settings) -> VoicingScore:
    """Compare the voicing and pitch of ``synthesized`` with ``reference`` over their common frames
    (both at ``sample_rate`` and on one time line; ``sparsewave.metrics.align`` does that).
    ``settings``: time_step, floor, ceiling of ``frame_pitch``."""
    check_mono_audio(reference, "reference")
    check_mono_audio(synthesized, "synthesized")
    ref = frame_pitch(reference, sample_rate, **settings)
    syn = frame_pitch(synthesized, sample_rate, **settings)
    n = min(len(ref.times), len(syn.times))
    rv, sv = ref.voiced[:n], syn.voiced[:n]
    both = rv & sv
    voiced = rv.sum() + sv.sum()
    f1 = 2.0 * both.sum() / voiced if voiced else float("nan")
    cents = np.abs(1200.0 * np.log2(syn.pitch_hz[:n][both] / ref.pitch_hz[:n][both]))
    return VoicingScore(vuv_f1=float(f1), pitch_error_cents=float(np.median(cents)) if both.any() else float("nan"),
                        voiced_reference=float(rv.mean()) if n else float("nan"),
                        voiced_synthesized=float(sv.mean()) if n else float("nan"))
