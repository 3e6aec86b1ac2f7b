"""Objective quality measures for a vocoder on real speech.

Two numbers, both computed with the engine and the package's own mel front end:

- teacher-forced NLL (bits per sample): how well the model predicts the real audio given its
  mel and the true past samples (lower is better; 16 would be a uniform guess over 16-bit values);
- resynthesis mel correlation: the Pearson correlation between the clip's mel and the mel of
  the audio the model generates from it (1 is a perfect match). It rewards the right spectral
  envelope and loudness over time, and punishes hiss, buzz and smearing; it does not need the
  generated waveform to match sample by sample, which no sampled vocoder does.

Mel correlation cannot tell voiced speech from noise with the same envelope, so each clip also
gets the voicing scores of ``sparsewave.voicing`` (voiced-frame F1, pitch error): a voice that
whispers scores near 0 there whatever its mel correlation.

Use clips the model was not trained on.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ._arrays import nan_as_none

__all__ = ["mel_correlation", "ClipScore", "evaluate_clip"]

# Frames dropped at each end before comparing mels: they see the STFT's edge padding.
EDGE_FRAMES = 2


def mel_correlation(reference, generated, *, edge: int = EDGE_FRAMES) -> float:
    """Pearson correlation of two (frames, n_mels) mels over their common frames, ``edge`` frames
    dropped at each end. Raises ValueError for mismatched mel counts, non-finite values, too few
    frames, or a constant mel (correlation undefined)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(generated, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mels must be 2-D (frames, n_mels), got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"mels have different channel counts: {a.shape[1]} and {b.shape[1]}")
    if edge < 0:
        raise ValueError(f"edge must be >= 0, got {edge}")
    n = min(a.shape[0], b.shape[0])
    if n - 2 * edge < 2:
        raise ValueError(f"too few frames to compare: {n} in common, {2 * edge} dropped at the edges")
    a, b = a[edge:n - edge], b[edge:n - edge]
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("mels contain NaN or Inf")
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    if denom == 0.0:
        raise ValueError("a mel is constant, so its correlation is undefined")
    return float((a * b).sum() / denom)


@dataclass
class ClipScore:
    """Scores of one clip (see the module docstring)."""
    seconds: float
    nll_bits: float
    mel_correlation: float  # mean over the seeds
    mel_correlations: list  # one per seed
    synth_seconds: float  # wall time of the resyntheses
    voiced_f1: float  # sparsewave.voicing, mean over the seeds
    pitch_error_cents: float  # median over frames voiced in both, mean over seeds (nan if none)

    def as_dict(self) -> dict:
        """Fields as a dict, NaN as None (so that it is valid JSON)."""
        return nan_as_none(asdict(self))


def evaluate_clip(vocoder, audio, *, seed: int = 0, n_seeds: int = 1, batched: bool = False,
                  threads: int = 1) -> ClipScore:
    """Teacher-forced NLL and resynthesis mel correlation of ``audio`` (float in [-1, 1], already
    at ``vocoder.sample_rate``) under ``vocoder``, whose config must record its mel front end.
    The correlation is averaged over resyntheses with seeds ``seed .. seed + n_seeds - 1``: one
    sampled waveform can hold a rare loud burst that moves it by a few hundredths. The voicing
    scores (``sparsewave.voicing``) compare each resynthesis with ``audio``."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    from .audio import mel_spectrogram
    from .voicing import voicing_agreement

    mel_cfg = vocoder.config.get("mel")
    if not mel_cfg:
        raise ValueError("this model records no mel front end (config 'mel'), so it cannot be scored on audio")
    cfg = dict(mel_cfg, sample_rate=vocoder.sample_rate)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"audio must be a non-empty 1-D array, got shape {x.shape}")
    mel = mel_spectrogram(x, cfg)
    n = min(len(x), mel.shape[0] * vocoder.hop_length)
    nll = vocoder.nll(mel, x[:n])
    corrs, voicing, synth_s = [], [], 0.0
    for s in range(seed, seed + n_seeds):
        t0 = time.perf_counter()
        generated = vocoder.synthesize(mel, seed=s, batched=batched, threads=threads)[:len(x)]
        synth_s += time.perf_counter() - t0
        corrs.append(mel_correlation(mel, mel_spectrogram(generated, cfg)))
        voicing.append(voicing_agreement(x, generated, vocoder.sample_rate, vocoder.hop_length))
    cents = [v.pitch_error_cents for v in voicing if np.isfinite(v.pitch_error_cents)]
    return ClipScore(seconds=len(x) / vocoder.sample_rate, nll_bits=nll, mel_correlation=float(np.mean(corrs)),
                     mel_correlations=corrs, synth_seconds=synth_s,
                     voiced_f1=float(np.mean([v.voiced_f1 for v in voicing])),
                     pitch_error_cents=float(np.mean(cents)) if cents else float("nan"))
