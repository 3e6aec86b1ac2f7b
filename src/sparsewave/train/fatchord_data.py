"""Training clips and crops for the fatchord family: the model's own front end and labels.

Audio is read at the model's sample rate and its mel comes from the model's own ``config["mel"]``
(the settings the engine uses at synthesis time), so fine-tuning sees exactly what inference will.
Targets are the classes the engine's teacher forcing scores (:func:`labels_of`); the value fed
back at step t is that of the class of sample t - 1, and 0 before the first sample.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .data import read_wav
from .fatchord_model import label_values, labels_of

__all__ = ["LabelClip", "load_label_clip", "load_label_clips", "label_crop"]


@dataclass
class LabelClip:
    name: str
    labels: np.ndarray  # (n,) int16 class of every sample
    fed: np.ndarray     # (n,) float32 value fed back after each sample (that of its class)
    mels: np.ndarray    # (frames, n_mels) float32

    @property
    def samples(self) -> int:
        return len(self.labels)


def load_label_clip(path, config: Mapping) -> LabelClip:
    from ..audio.mel import mel_spectrogram

    n_classes, mu_law = int(config["n_classes"]), bool(config["mu_law"])
    audio = read_wav(path, int(config["sample_rate"]))
    labels = labels_of(audio, n_classes, mu_law)
    mels = mel_spectrogram(audio, config["mel"])
    return LabelClip(Path(path).name, labels.astype(np.int16), label_values(labels, n_classes),
                     np.ascontiguousarray(mels, dtype=np.float32))


def load_label_clips(paths: Sequence[Path], config: Mapping, min_frames: int = 1) -> list[LabelClip]:
    """Clips with at least ``min_frames`` whole frames of audio."""
    hop = int(config["hop_length"])
    clips = [load_label_clip(p, config) for p in paths]
    return [c for c in clips if c.samples // hop >= min_frames]


def label_crop(clip: LabelClip, k: int, frames: int, hop: int, ctx: int) -> dict[str, np.ndarray]:
    """Samples of frames k .. k+frames, the values fed before each, and mel frames k-ctx .. k+frames+ctx."""
    a, b = k * hop, (k + frames) * hop
    first = np.float32(0.0) if a == 0 else clip.fed[a - 1]
    prev = np.concatenate([[first], clip.fed[a:b - 1]]).astype(np.float32)
    M = clip.mels.shape[1]
    mels = np.zeros((frames + 2 * ctx, M), np.float32)  # zeros beyond the utterance's edges
    lo, hi = k - ctx, k + frames + ctx
    src_lo, src_hi = max(lo, 0), min(hi, clip.mels.shape[0])
    mels[src_lo - lo:src_hi - lo] = clip.mels[src_lo:src_hi]
    return {"labels": clip.labels[a:b].astype(np.int64), "prev": prev, "mels": mels}
