"""Subscale WaveRNN (docs/subscale.md): config and random-model helpers for trainers and benchmarks.

A subscale model is the dual-softmax WaveRNN (:mod:`sparsewave.dual_softmax`, every tensor of
that family) run on B interleaved sub-tensors, plus a causal dilated context stack over the
skewed step columns:

==========================  ==============  ==============================================
name                        shape           meaning
==========================  ==============  ==============================================
``ctx.in.weight``           (C, B)          1x1 conv over one skewed column
``ctx.in.bias``             (C,)
``ctx.conv{l}.weight``      (C, C, 2)       l = 0 .. D-1, dilation 2^l; tap 0 the older
``ctx.conv{l}.bias``        (C,)            column, tap 1 the newer
``ctx.out.weight``          (G*E, C)        E features per group (G = B; B/2 when fused)
``ctx.out.bias``            (G*E,)
``ctx.proj.weight``         (3N, E)         into the gates, rows in the order of I.weight
==========================  ==============  ==============================================

Fused Subscale (``fused=True``): sub-tensors 2k, 2k + 1 share one state of four parts of N/4
(coarse and fine of each), so ``I.weight`` is (3N, 7) (the four previous bytes, then this step's
bytes of parts 0..2) and the heads are ``O1``..``O8`` (part p: ``O{2p+1}`` (H, N/4),
``O{2p+2}`` (256, H)).
"""
from __future__ import annotations

import numpy as np

from .dual_softmax import dual_softmax_config, random_dual_softmax
from .weights import save_model

__all__ = ["subscale_config", "random_subscale", "write_random_subscale", "SUBSCALE_LIMITS"]

# key -> (lowest, highest) allowed, as docs/subscale.md "Limits".
SUBSCALE_LIMITS = {
    "sub_tensors": (1, 64),
    "horizon": (1, 4096),
    "context_channels": (1, 1024),
    "context_layers": (0, 16),
    "context_features": (1, 256),
}


def _checked_int(name: str, value, lo: int, hi: int) -> int:
    # bool is an int in Python; a config of True sub-tensors is a mistake, not 1.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return int(value)


def subscale_config(hidden: int, *, sub_tensors: int = 16, horizon: int = 8, context_channels: int = 64,
                    context_layers: int = 6, context_features: int = 8, n_mels: int = 80,
                    sample_rate: int = 24000, hop_length: int = 300, output_hidden: int | None = None,
                    upsample: str = "repeat", upsample_kernel: int = 0, block=(4, 4), fused: bool = False) -> dict:
    """The config of a subscale model: the dual-softmax keys plus B, F, C, D, E and ``fused``
    (docs/subscale.md)."""
    cfg = dual_softmax_config(hidden, n_mels=n_mels, sample_rate=sample_rate, hop_length=hop_length,
                              output_hidden=output_hidden, upsample=upsample, upsample_kernel=upsample_kernel,
                              block=block)
    cfg["family"] = "subscale"
    given = {"sub_tensors": sub_tensors, "horizon": horizon, "context_channels": context_channels,
             "context_layers": context_layers, "context_features": context_features}
    for key, value in given.items():
        cfg[key] = _checked_int(key, value, *SUBSCALE_LIMITS[key])
    if not isinstance(fused, (bool, np.bool_)):
        raise ValueError(f"fused must be True or False, got {fused!r}")
    if fused:
        if cfg["sub_tensors"] % 2:
            raise ValueError(f"fused needs an even sub_tensors (pairs), got {cfg['sub_tensors']}")
        if cfg["hidden"] % 4:
            raise ValueError(f"fused needs hidden divisible by 4 (four parts), got {cfg['hidden']}")
        cfg["fused"] = True
    return cfg


def random_subscale(hidden: int, density: float = 1.0, block=(4, 4), *, seed: int = 0, scale: float = 1.0,
                    **config_kwargs):
    """(float32 tensors, config) of a randomly initialised subscale model.

    The dual-softmax part is :func:`sparsewave.dual_softmax.random_dual_softmax` (R and O1..O4
    block-pruned to ``density``); the context stack and ``ctx.proj`` are dense, as the engine
    runs them. Their scales keep the stack's activations and the gate term O(1) for inputs in
    [-1, 1]: the residual layers add a damped branch each, so D layers do not blow up.
    """
    cfg = subscale_config(hidden, block=block, **config_kwargs)
    dual_keys = ("n_mels", "sample_rate", "hop_length", "output_hidden", "upsample", "upsample_kernel")
    tensors, _ = random_dual_softmax(hidden, density, block, seed=seed, scale=scale,
                                     **{k: cfg[k] for k in dual_keys if k in cfg})
    rng = np.random.default_rng([seed, 1])  # its own stream: the dual-softmax tensors match random_dual_softmax's
    B, C, D, E = (cfg[k] for k in ("sub_tensors", "context_channels", "context_layers", "context_features"))
    G = B // 2 if cfg.get("fused") else B  # groups: one state each

    def normal(shape, std):
        return (rng.standard_normal(shape) * std * scale).astype(np.float32)

    if cfg.get("fused"):  # four parts: I gains four byte columns, the heads come in four pairs
        from .dual_softmax import block_prune

        N, H = hidden, cfg["output_hidden"]
        tensors["I.weight"] = normal((3 * N, 7), 1.0 / np.sqrt(max(7 * density, 1)))
        for p in range(4):
            for name, shape in ((f"O{2 * p + 1}", (H, N // 4)), (f"O{2 * p + 2}", (256, H))):
                w = normal(shape, 1.0 / np.sqrt(max(shape[1] * density, 1)))
                tensors[name + ".weight"] = block_prune(w, density, block, rng)
                tensors[name + ".bias"] = normal(shape[0], 0.1)

    tensors["ctx.in.weight"] = normal((C, B), 1.5 / np.sqrt(B))
    tensors["ctx.in.bias"] = normal(C, 0.1)
    for layer in range(D):
        tensors[f"ctx.conv{layer}.weight"] = normal((C, C, 2), 0.5 / np.sqrt(2 * C))
        tensors[f"ctx.conv{layer}.bias"] = normal(C, 0.1)
    # e_D grows like sqrt(D) at most: divide it out so g and the gate term stay O(1).
    tensors["ctx.out.weight"] = normal((G * E, C), 1.0 / np.sqrt(C * (1 + 0.25 * D)))
    tensors["ctx.out.bias"] = normal(G * E, 0.1)
    tensors["ctx.proj.weight"] = normal((3 * hidden, E), 1.0 / np.sqrt(E))
    return tensors, cfg


def write_random_subscale(path, hidden: int, density: float = 1.0, block=(4, 4), **kwargs):
    """Write :func:`random_subscale`'s model to ``path`` (a sparsewave weight file); returns the path."""
    tensors, cfg = random_subscale(hidden, density, block, **kwargs)
    return save_model(path, tensors, cfg)
