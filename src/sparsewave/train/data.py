"""Training data: WAV folders -> (coarse, fine bytes, mel frames) clips -> random crops.

Mel features come from the project's own front end (:mod:`sparsewave.audio.mel`), with the
settings of :data:`DEFAULT_MEL` stored in the exported model's config under "mel", so the
model is conditioned exactly as ``sparsewave`` computes mels at synthesis time.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from ..audio.io import find_audio_files, read_audio
from .model import preemphasize, split_bytes

__all__ = ["DEFAULT_MEL", "Clip", "find_wavs", "split_holdout", "read_wav", "load_clip", "load_clips",
           "CropSampler", "fixed_crops", "perturb_feedback"]

# LJ Speech at 22,050 Hz: 1024-point STFT (46 ms), hop 256 (11.6 ms), 80 Slaney mels from 0 to
# 8 kHz of the magnitude, 20 log10(max(1e-5, S)) - 20 dB, mapped linearly from [-100, 0] dB to
# [-4, 4] and clipped. Frame j covers samples j*256 .. j*256+255 (centred STFT).
DEFAULT_MEL = {
    "sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mels": 80,
    "fmin": 0.0, "fmax": 8000.0, "power": 1.0, "ref_level_db": 20.0, "min_level_db": -100.0,
    "normalize": "symmetric", "max_abs_value": 4.0, "center": True, "pad_mode": "constant",
    "preemphasis": 0.0,
}


@dataclass
class Clip:
    name: str
    c: np.ndarray      # (n,) uint8 coarse bytes
    f: np.ndarray      # (n,) uint8 fine bytes
    mels: np.ndarray   # (frames, n_mels) float32, frames = 1 + n // hop

    @property
    def samples(self) -> int:
        return len(self.c)


def find_wavs(dirs: Iterable) -> list[Path]:
    """Every ``*.wav`` under the given folders (recursively) or given files, sorted, deduplicated."""
    try:
        return find_audio_files(dirs, suffixes=(".wav",))
    except FileNotFoundError as e:
        raise FileNotFoundError(f"data: {e}") from None


def split_holdout(files: Sequence[Path], n_val: int) -> tuple[list[Path], list[Path]]:
    """(train, validation): the validation clips are ``n_val`` files evenly spaced through the
    sorted list (first and every len/n_val-th), a deterministic choice."""
    files = list(files)
    if n_val <= 0:
        return files, []
    if n_val >= len(files):
        raise ValueError(f"need more than {n_val} clips to hold out {n_val} for validation, got {len(files)}")
    idx = sorted({int(i * len(files) / n_val) for i in range(n_val)})
    val = [files[i] for i in idx]
    chosen = set(idx)
    return [f for i, f in enumerate(files) if i not in chosen], val


def read_wav(path, target_rate: int) -> np.ndarray:
    """Mono float32 audio in [-1, 1] at ``target_rate`` (:func:`sparsewave.audio.read_audio`:
    channels averaged, resampled when the file's rate differs)."""
    return read_audio(path, target_rate)[0]


def load_clip(path, mel_config: Mapping, preemphasis: float = 0.0) -> Clip:
    """A clip's mels (of the audio as it is) and the bytes the model learns to sample: those of
    the audio, or of the pre-emphasised audio when ``preemphasis`` > 0 (see docs/training.md)."""
    from ..audio.mel import mel_spectrogram

    audio = read_wav(path, int(mel_config["sample_rate"]))
    c, f = split_bytes(preemphasize(audio, preemphasis))
    mels = mel_spectrogram(audio, mel_config)
    return Clip(Path(path).name, c, f, np.ascontiguousarray(mels, dtype=np.float32))


def load_clips(paths: Sequence[Path], mel_config: Mapping, min_frames: int = 1,
               preemphasis: float = 0.0) -> list[Clip]:
    """Load clips, dropping those with fewer than ``min_frames`` whole frames of audio."""
    hop = int(mel_config["hop_length"])
    clips = [load_clip(p, mel_config, preemphasis) for p in paths]
    return [c for c in clips if c.samples // hop >= min_frames]


def _crop(clip: Clip, k: int, frames: int, hop: int, ctx: int):
    """Bytes of frames k .. k+frames (and the sample before), mel frames k-ctx .. k+frames+ctx."""
    a, b = k * hop, (k + frames) * hop
    c = clip.c[a:b].astype(np.int64)
    f = clip.f[a:b].astype(np.int64)
    if a == 0:  # the engine starts every utterance from c = 128, f = 0
        pc, pf = np.int64(128), np.int64(0)
    else:
        pc, pf = np.int64(clip.c[a - 1]), np.int64(clip.f[a - 1])
    prev_c = np.concatenate([[pc], c[:-1]])
    prev_f = np.concatenate([[pf], f[:-1]])
    M = clip.mels.shape[1]
    mels = np.zeros((frames + 2 * ctx, M), np.float32)  # zeros beyond the utterance's edges
    lo, hi = k - ctx, k + frames + ctx
    src_lo, src_hi = max(lo, 0), min(hi, clip.mels.shape[0])
    mels[src_lo - lo:src_hi - lo] = clip.mels[src_lo:src_hi]
    return c, f, prev_c, prev_f, mels


def _stack(items) -> dict[str, torch.Tensor]:
    if items and isinstance(items[0], dict):  # crops of another family (``crop_fn``)
        return {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in items[0]}
    c, f, pc, pf, m = zip(*items)
    return {"c": torch.from_numpy(np.stack(c)), "f": torch.from_numpy(np.stack(f)),
            "prev_c": torch.from_numpy(np.stack(pc)), "prev_f": torch.from_numpy(np.stack(pf)),
            "mels": torch.from_numpy(np.stack(m))}


def perturb_feedback(prev_c: np.ndarray, prev_f: np.ndarray, std: float, rng: np.random.Generator,
                     coarse_only: bool = False):
    """The fed-back bytes of one crop with Gaussian noise of standard deviation ``std`` (in units
    of full scale) added to the 16-bit samples they encode. Targets are left clean. With
    ``coarse_only`` the noise is rounded to whole coarse steps (256 LSB) and the fine bytes are
    kept: the model still learns that the fine byte moves smoothly from sample to sample (which
    noise on the whole sample hides, and which keeps pauses quiet) while learning to distrust
    the coarse past.

    Why: under teacher forcing the model only ever sees real past samples, so at synthesis time
    one badly drawn coarse byte in a pause is followed by more (the model trusts its input and
    not the mel) and grows into a loud burst. Training on a noisy past teaches it to fall back
    on the mel when the past looks wrong, as LPCNet does with its noise injection.
    """
    if coarse_only:
        steps = np.rint(rng.standard_normal(np.shape(prev_c)) * (std * 32767.5 / 256.0)).astype(np.int64)
        return np.clip(prev_c.astype(np.int64) + steps, 0, 255), prev_f.astype(np.int64)
    u = prev_c.astype(np.int64) * 256 + prev_f.astype(np.int64)
    u = np.clip(np.rint(u + rng.standard_normal(u.shape) * (std * 32767.5)), 0, 65535).astype(np.int64)
    return u >> 8, u & 255


class CropSampler:
    """Random crops of ``frames`` mel frames (``frames * hop`` samples) into batches.

    Clips are drawn in proportion to their number of crop positions. ``rng`` is a NumPy
    Generator whose state is saved in checkpoints. With ``feedback_noise`` > 0 each crop's
    fed-back samples get noise of a standard deviation drawn uniformly from [0, feedback_noise]
    (see :func:`perturb_feedback`), so the model also sees clean and nearly clean pasts.
    """

    def __init__(self, clips: Sequence[Clip], *, frames: int, batch: int, hop: int, ctx: int = 0,
                 rng: np.random.Generator | None = None, feedback_noise: float = 0.0,
                 coarse_noise_only: bool = False, crop_fn=None):
        if not (feedback_noise >= 0.0 and np.isfinite(feedback_noise)):
            raise ValueError(f"feedback_noise must be a finite number >= 0, got {feedback_noise}")
        if crop_fn is not None and feedback_noise > 0:
            raise ValueError("feedback noise is implemented for the dual-softmax model only")
        self.crop_fn = crop_fn or _crop
        self.clips = [c for c in clips if c.samples // hop >= frames]
        if not self.clips:
            raise ValueError(f"no training clip has {frames} whole frames ({frames * hop} samples)")
        self.frames, self.batch, self.hop, self.ctx = int(frames), int(batch), int(hop), int(ctx)
        positions = np.array([c.samples // hop - frames + 1 for c in self.clips], dtype=np.float64)
        self.p = positions / positions.sum()
        self.positions = positions.astype(np.int64)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.feedback_noise = float(feedback_noise)
        self.coarse_noise_only = bool(coarse_noise_only)

    def sample(self) -> dict[str, torch.Tensor]:
        which = self.rng.choice(len(self.clips), size=self.batch, p=self.p)
        items = []
        for i in which:
            k = int(self.rng.integers(0, self.positions[i]))
            items.append(self.crop_fn(self.clips[i], k, self.frames, self.hop, self.ctx))
        if self.feedback_noise > 0:  # drawn after the crops, so noise does not change which crops
            for j, (c, f, pc, pf, m) in enumerate(items):
                pc, pf = perturb_feedback(pc, pf, self.rng.uniform(0.0, self.feedback_noise), self.rng,
                                          coarse_only=self.coarse_noise_only)
                items[j] = (c, f, pc, pf, m)
        return _stack(items)


def fixed_crops(clips: Sequence[Clip], *, n: int, frames: int, hop: int, ctx: int = 0, batch: int = 16,
                seed: int = 1234, crop_fn=None) -> list[dict[str, torch.Tensor]]:
    """A deterministic set of ``n`` crops (the validation set), in batches of at most ``batch``."""
    usable = [c for c in clips if c.samples // hop >= frames]
    if not usable or n <= 0:
        return []
    rng = np.random.default_rng(seed)
    items = []
    for j in range(n):
        clip = usable[j % len(usable)]
        k = int(rng.integers(0, clip.samples // hop - frames + 1))
        items.append((crop_fn or _crop)(clip, k, frames, hop, ctx))
    return [_stack(items[i:i + batch]) for i in range(0, len(items), batch)]
