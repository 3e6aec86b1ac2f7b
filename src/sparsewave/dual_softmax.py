"""The paper's dual-softmax WaveRNN: weight-file helpers for trainers.

Parameter names in the weight file (those of an ordinary PyTorch module; see
docs/format.md):

=================  ==============  ==========================================
name               shape           meaning
=================  ==============  ==========================================
``R.weight``       (3N, N)         recurrent gates stacked (u, r, e), each N
                                   rows with the coarse half first
``R.bias``         (3N,)           optional recurrent-side bias (PyTorch GRU's
                                   bias_hh: inside r * (R_e h + b))
``I.weight``       (3N, 3)         input gates on [c_{t-1}, f_{t-1}, c_t];
                                   the c_t column is masked to the fine half
``I.bias``         (3N,)           gate biases b_u, b_r, b_e
``cond.weight``    (3N, n_mels)    conditioning projection into all gates
``cond.bias``      (3N,)
``O1.weight``      (H, N/2)        coarse head: O2 relu(O1 y_c + b1) + b2
``O2.weight``      (256, H)
``O3.weight``      (H, N/2)        fine head:   O4 relu(O3 y_f + b3) + b4
``O4.weight``      (256, H)
``O*.bias``
``upsample.weight`` (k,)           smoothing conv after repeat (upsample="conv")
=================  ==============  ==========================================

A PyTorch module holding ``nn.Linear(N, 3N, bias=False)`` as ``R``,
``nn.Linear(3, 3N)`` as ``I``, ``nn.Linear(n_mels, 3N)`` as ``cond`` and
``nn.Linear`` layers ``O1``..``O4`` exports with
``save_model(path, {k: v.numpy() for k, v in model.state_dict().items()}, config)``.
"""
from __future__ import annotations

import numpy as np

from .weights import save_model

__all__ = ["dual_softmax_config", "random_dual_softmax", "block_prune"]


def dual_softmax_config(hidden: int, *, n_mels: int = 80, sample_rate: int = 24000, hop_length: int = 300,
                        output_hidden: int | None = None, upsample: str = "repeat", upsample_kernel: int = 0,
                        block=(4, 4)) -> dict:
    if hidden < 2 or hidden % 2:
        raise ValueError(f"hidden must be an even number >= 2, got {hidden}")
    cfg = {"family": "dual_softmax", "sample_rate": int(sample_rate), "hop_length": int(hop_length),
           "n_mels": int(n_mels), "hidden": int(hidden), "output_hidden": int(output_hidden or hidden // 2),
           "upsample": upsample, "block": list(block)}
    if upsample == "conv":
        if upsample_kernel < 1 or upsample_kernel % 2 == 0:
            raise ValueError("upsample='conv' needs an odd upsample_kernel")
        cfg["upsample_kernel"] = int(upsample_kernel)
    return cfg


def block_prune(w: np.ndarray, density: float, block, rng) -> np.ndarray:
    """Keep each (block)-shaped tile with probability ``density`` (random pattern)."""
    br, bc = block
    rows, cols = w.shape
    keep = rng.random((-(-rows // br), -(-cols // bc))) < density
    mask = np.kron(keep, np.ones((br, bc), dtype=bool))[:rows, :cols]
    return np.where(mask, w, 0).astype(np.float32)


def random_dual_softmax(hidden: int, density: float = 1.0, block=(4, 4), *, seed: int = 0, scale: float = 1.0,
                        **config_kwargs):
    """(tensors, config) of a randomly initialised, block-pruned model.

    R's three gate matrices and O1..O4 are pruned separately to ``density``.
    Speed does not depend on the values, so this measures a model size before
    training it.
    """
    rng = np.random.default_rng(seed)
    cfg = dual_softmax_config(hidden, block=block, **config_kwargs)
    N, half, H, M = hidden, hidden // 2, cfg["output_hidden"], cfg["n_mels"]

    def dense(rows, cols):
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(max(cols * density, 1))).astype(np.float32)

    t = {
        "R.weight": np.concatenate([block_prune(dense(N, N), density, block, rng) for _ in range(3)]),
        "R.bias": (rng.standard_normal(3 * N) * 0.1).astype(np.float32),
        "I.weight": dense(3 * N, 3),
        "I.bias": (rng.standard_normal(3 * N) * 0.1).astype(np.float32),
        "cond.weight": (dense(3 * N, M) * 0.3).astype(np.float32),
        "cond.bias": (rng.standard_normal(3 * N) * 0.1).astype(np.float32),
    }
    for name, (rows, cols) in {"O1": (H, half), "O2": (256, H), "O3": (H, half), "O4": (256, H)}.items():
        t[name + ".weight"] = block_prune(dense(rows, cols), density, block, rng)
        t[name + ".bias"] = (rng.standard_normal(rows) * 0.1).astype(np.float32)
    if cfg["upsample"] == "conv":
        k = cfg["upsample_kernel"]
        t["upsample.weight"] = (np.hanning(k + 2)[1:-1] / np.hanning(k + 2)[1:-1].sum()).astype(np.float32)
    return t, cfg


def write_random_dual_softmax(path, hidden: int, density: float = 1.0, block=(4, 4), **kwargs):
    tensors, cfg = random_dual_softmax(hidden, density, block, **kwargs)
    return save_model(path, tensors, cfg)
