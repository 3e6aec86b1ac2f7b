"""Small random models shared by several test files: PyTorch-like fatchord-family weights, and
the tiny model files the streaming tests run on both families."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reference_models import wavernn_numpy as W
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model

# A small mel front end (the training tests): clips of a fraction of a second have tens of frames.
TINY_MEL = {"sample_rate": 8000, "n_fft": 256, "hop_length": 32, "win_length": 256, "n_mels": 12, "fmin": 0.0,
            "fmax": 4000.0, "power": 1.0, "ref_level_db": 20.0, "min_level_db": -100.0, "normalize": "symmetric",
            "max_abs_value": 4.0, "center": True, "pad_mode": "constant", "preemphasis": 0.0}


def voiced_wave(n: int, f0: float, rng, amplitude: float = 1.0, envelope: bool = False) -> np.ndarray:
    """n samples at TINY_MEL's rate: five harmonics of a pitch that wobbles around f0, times
    `amplitude` (with `envelope`, faded in and out), plus a little noise drawn from `rng`."""
    rate = TINY_MEL["sample_rate"]
    t = np.arange(n) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 2 * t))) / rate
    y = sum(0.25 / k * np.sin(k * phase) for k in range(1, 6)) * amplitude
    if envelope:
        y = y * (0.5 + 0.5 * np.sin(np.pi * t / (n / rate)))
    return y + 0.01 * rng.standard_normal(n)


def write_voiced_clips(folder: Path, durations=((140.0, 0.45), (210.0, 0.5), (170.0, 0.4)), seed: int = 7,
                       envelope: bool = True, amplitude: float = 1.0) -> Path:
    """Synthetic 'voiced' WAV clips at TINY_MEL's rate (voiced_wave), one clipN.wav per
    (f0, seconds): training data for the tiny training tests."""
    import wave

    rate = TINY_MEL["sample_rate"]
    rng = np.random.default_rng(seed)
    for i, (f0, dur) in enumerate(durations):
        y = voiced_wave(int(dur * rate), f0, rng, amplitude, envelope)
        pcm = np.clip(np.round(y * 32767), -32768, 32767).astype("<i2")
        with wave.open(str(Path(folder) / f"clip{i}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
    return Path(folder)


def softmax(z):
    """Row-wise softmax of logits (float64 in, float64 out)."""
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def torch_like_params(cfg: dict, seed: int, sparsity=None, prune_input_layer: bool = False) -> dict:
    """PyTorch-like random weights; ``sparsity`` = (block_rows, block_cols, density) prunes the
    GRU and fc matrices (and I when ``prune_input_layer``) in whole blocks, keeping their scale."""
    rng = np.random.default_rng(seed)
    p = {}
    for name, shape in W.expected_shapes(cfg).items():
        if name.endswith("running_var"):
            a = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("running_mean") or name.endswith(".bias"):
            a = 0.1 * rng.standard_normal(shape)
        elif "batch_norm" in name:
            a = rng.uniform(0.8, 1.2, shape)
        elif "up_layers" in name:
            a = rng.uniform(0.5, 1.5, shape)
            a /= a.sum()  # a smoothing filter, like the trained ones
        else:
            a = rng.standard_normal(shape) / math.sqrt(int(np.prod(shape[1:])))
            if name == f"{cfg['fc_names'][-1]}.weight":
                a *= 4.0  # peakier output distributions, closer to a trained model's
            prune = len(shape) == 2 and sparsity is not None and (name != "I.weight" or prune_input_layer)
            if prune:
                br, bc, density = sparsity
                keep = rng.random((-(-shape[0] // br), -(-shape[1] // bc))) < density
                a = a * np.kron(keep, np.ones((br, bc)))[: shape[0], : shape[1]] / math.sqrt(density)
        p[name] = a.astype(np.float32)
    return p


def write_small_model(path: Path, kind: str) -> Path:
    """A tiny model file: ``kind`` is "dual-softmax", "fatchord-raw" or "fatchord-mol"."""
    if kind == "dual-softmax":
        tensors, cfg = random_dual_softmax(32, 0.3, (4, 4), n_mels=8, hop_length=16, upsample="conv",
                                           upsample_kernel=9)
    else:
        hp = {"num_mels": 8, "hop_length": 24, "voc_upsample_factors": [2, 3, 4], "voc_rnn_dims": 32,
              "voc_fc_dims": 32, "voc_compute_dims": 16, "voc_res_out_dims": 16, "voc_res_blocks": 2}
        cfg = W.config_fatchord("MOL" if kind.endswith("mol") else "RAW", hp)
        tensors = W.random_params(cfg, seed=3)
    return save_model(path, tensors, cfg)
