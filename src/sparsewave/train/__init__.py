"""Training recipe for the paper's dual-softmax WaveRNN (and Subscale WaveRNN, ``--arch subscale``)
with gradual block pruning.

``python -m sparsewave.train DATA_DIR -o run/`` (or :func:`main`) trains on a folder of WAV
files and writes ``run/model.sw``; see docs/training.md. Needs PyTorch
(``pip install 'sparsewave[train]'``). The PyTorch pieces are imported on first use, so
``from sparsewave.train import main`` works without torch (and reports that it is missing).
"""
from __future__ import annotations

from .cli import main

__all__ = ["main", "DualSoftmaxWaveRNN", "export_model", "export_tensors", "export_config", "split_bytes",
           "BlockPruner", "scheduled_sparsity", "blocks_to_prune", "TrainConfig", "train", "DEFAULT_MEL",
           "CropSampler", "load_checkpoint", "SubscaleWaveRNN"]

_LAZY = {
    "DualSoftmaxWaveRNN": "model", "export_model": "model", "export_tensors": "model", "export_config": "model",
    "split_bytes": "model", "BlockPruner": "prune", "scheduled_sparsity": "prune", "blocks_to_prune": "prune",
    "TrainConfig": "trainer", "train": "trainer", "load_checkpoint": "trainer", "DEFAULT_MEL": "data",
    "CropSampler": "data", "SubscaleWaveRNN": "subscale_model",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
