"""Objective quality measures for a vocoder on real speech.

Two numbers computed with the engine and the package's own mel front end, always available:

- teacher-forced NLL (bits per sample): how well the model predicts the real audio given its
  mel and the true past samples (lower is better; 16 would be a uniform guess over 16-bit values);
- resynthesis mel correlation: the Pearson correlation between the clip's mel and the mel of
  the audio the model generates from it (1 is a perfect match). It rewards the right spectral
  envelope and loudness over time, and punishes hiss, buzz and smearing; it does not need the
  generated waveform to match sample by sample, which no sampled vocoder does.

Mel correlation cannot tell voiced speech from noise with the same envelope (such noise scores
0.956), so with the [eval] extra each resynthesis also gets the standard metrics of
``sparsewave.metrics.vocoder_metrics`` (re-exported here): PESQ wideband, STOI, V/UV F1 and
pitch error from Praat's tracker, and DNSMOS P.835 of the resynthesis and of the recording.
Choose models by V/UV F1 and DNSMOS, not by mel correlation alone.

Use clips the model was not trained on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import numpy as np

from ._arrays import nan_as_none
from .metrics import vocoder_metrics
from .metrics.extra import missing_eval_packages

__all__ = ["mel_correlation", "ClipScore", "evaluate_clip", "vocoder_metrics", "SCORING_PACKAGES"]

# What the standard metrics import ([eval] also has matplotlib, which only --plot needs).
SCORING_PACKAGES = ("pesq", "pystoi", "parselmouth", "onnxruntime", "speechmos")

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
    metrics: dict = field(default_factory=dict)  # vocoder_metrics, mean over the seeds; empty without them
    resynthesis: np.ndarray | None = field(default=None, repr=False, compare=False)  # the first seed's audio

    def as_dict(self) -> dict:
        """The scores as one flat dict (the metrics beside NLL and mel correlation), NaN as None
        (valid JSON); the audio is left out."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("metrics", "resynthesis")}
        return nan_as_none({**flat, **self.metrics})


def _mean_over_seeds(per_seed: list[dict]) -> dict:
    """Per key, the mean over the seeds that have a finite value (NaN if none has)."""
    out = {}
    for key in per_seed[0]:
        values = [d[key] for d in per_seed if key in d and np.isfinite(d[key])]
        out[key] = float(np.mean(values)) if values else float("nan")
    return out


def evaluate_clip(vocoder, audio, *, seed: int = 0, n_seeds: int = 1, batched: bool = False,
                  threads: int = 1, standard_metrics: bool | None = None) -> ClipScore:
    """Teacher-forced NLL and resynthesis mel correlation of ``audio`` (float in [-1, 1], already
    at ``vocoder.sample_rate``) under ``vocoder``, whose config must record its mel front end.
    The scores are averaged over resyntheses with seeds ``seed .. seed + n_seeds - 1``: one
    sampled waveform can hold a rare loud burst that moves them by a few hundredths.

    ``standard_metrics``: also score each resynthesis with ``vocoder_metrics`` (the recording's
    own DNSMOS once); None: when the [eval] extra is installed, True: always (MissingExtraError
    without it), False: never."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    from .audio import mel_spectrogram

    mel_cfg = vocoder.config.get("mel")
    if not mel_cfg:
        raise ValueError("this model records no mel front end (config 'mel'), so it cannot be scored on audio")
    if standard_metrics is None:
        standard_metrics = not missing_eval_packages(SCORING_PACKAGES)
    cfg = dict(mel_cfg, sample_rate=vocoder.sample_rate)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"audio must be a non-empty 1-D array, got shape {x.shape}")
    mel = mel_spectrogram(x, cfg)
    n = min(len(x), mel.shape[0] * vocoder.hop_length)
    nll = vocoder.nll(mel, x[:n])
    corrs, per_seed, first, synth_s = [], [], None, 0.0
    for s in range(seed, seed + n_seeds):
        t0 = time.perf_counter()
        generated = vocoder.synthesize(mel, seed=s, batched=batched, threads=threads)[:len(x)]
        synth_s += time.perf_counter() - t0
        first = generated if first is None else first
        corrs.append(mel_correlation(mel, mel_spectrogram(generated, cfg)))
        if standard_metrics:
            per_seed.append(vocoder_metrics(x, generated, vocoder.sample_rate, reference_dnsmos=not per_seed))
    return ClipScore(seconds=len(x) / vocoder.sample_rate, nll_bits=nll, mel_correlation=float(np.mean(corrs)),
                     mel_correlations=corrs, synth_seconds=synth_s,
                     metrics=_mean_over_seeds(per_seed) if per_seed else {}, resynthesis=first)
