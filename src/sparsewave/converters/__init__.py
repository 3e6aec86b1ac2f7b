"""Converters from trainers' checkpoints to the sparsewave weight file.

Sources (detected from the file, or chosen with ``source=``):

* ``geneing-bin``: geneing/WaveRNN-Pytorch's compressed ``model.bin`` (pure NumPy).
* ``torch``: a PyTorch checkpoint or state_dict (``.pt``/``.pth``/``.ckpt``) of
  fatchord/WaveRNN, Coqui TTS's WaveRNN or geneing's model. Needs torch (the
  optional ``[convert]`` extra) and loads with ``weights_only=True``: no
  arbitrary unpickling.
* ``npz``: a NumPy ``.npz`` of state_dict-named arrays (``allow_pickle=False``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .fatchord_family import infer_config
from .geneing_bin import GeneingModelInfo, parse_geneing_model_bin, read_geneing_model_bin

__all__ = ["ConversionReport", "convert", "detect_source", "read_state_dict", "GeneingModelInfo",
           "parse_geneing_model_bin", "read_geneing_model_bin", "infer_config"]

SOURCES = ("geneing-bin", "torch", "npz")


@dataclass
class ConversionReport:
    source: str
    output: Path
    config: dict
    parameters: int = 0
    nonzero: int = 0
    matrices: list = field(default_factory=list)  # (name, shape, density)

    def summary(self) -> str:
        c = self.config
        head = c["head"] + (f" {c['n_classes']} classes" + (", mu-law" if c.get("mu_law") else "")
                            if c["head"] == "softmax" else f" ({c.get('mol_n_mix')} logistics)")
        lines = [
            f"converted {self.source} -> {self.output}",
            f"  model: {c['family']}/{c.get('variant', '?')}, rnn {c['rnn_dims']} x {c['n_rnn']}, fc {c['fc_dims']}, "
            f"{c['sample_rate']} Hz, hop {c['hop_length']}, {c['n_mels']} mels",
            f"  head: {head}",
            f"  parameters: {self.parameters:,} ({self.nonzero:,} nonzero, density {self.nonzero / max(self.parameters, 1):.3f})",
        ]
        for name, shape, density in self.matrices:
            lines.append(f"    {name:24s} {str(shape):14s} density {density:.3f}")
        return "\n".join(lines)


def detect_source(path) -> str:
    """Guess the checkpoint kind from the file's first bytes."""
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        # Both .npz and PyTorch's zip format are zip files: trust the suffix.
        return "npz" if p.suffix == ".npz" else "torch"
    if head[:2] == b"\x80\x02" or p.suffix in (".pt", ".pth", ".ckpt"):
        return "torch"
    if len(head) == 8 and int.from_bytes(head[:4], "little") <= 64:
        return "geneing-bin"  # starts with int32 res_blocks, n_upsample
    raise ValueError(f"cannot tell what kind of checkpoint '{path}' is; pass source= one of {SOURCES}")


def _state_dict_from_torch(path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise ImportError("converting a PyTorch checkpoint needs torch: pip install 'sparsewave[convert]' "
                          "(or pip install torch)") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle that needs arbitrary code is refused here
        raise ValueError(f"cannot load '{path}' safely as a PyTorch checkpoint (weights_only=True): {e}") from None
    for key in ("model", "state_dict", "model_state", "model_state_dict", "net"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping):
        raise ValueError(f"'{path}' holds a {type(obj).__name__}, not a state_dict")
    out = {}
    for k, v in obj.items():
        if hasattr(v, "detach"):
            k = k[len("module."):] if k.startswith("module.") else k
            out[k] = v.detach().cpu().float().numpy() if v.is_floating_point() else v.cpu().numpy()
    return out


def read_state_dict(path, source: str = "auto") -> tuple[dict[str, np.ndarray], dict | None]:
    """(state_dict-named float arrays, config hints or None) from a checkpoint."""
    source = detect_source(path) if source == "auto" else source
    if source == "geneing-bin":
        tensors, info = read_geneing_model_bin(path)
        return tensors, {"variant": "geneing", "bn_eps": float(info.bn_eps[0])}
    if source == "torch":
        return _state_dict_from_torch(path), None
    if source == "npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}, None
    raise ValueError(f"unknown source '{source}'; choose one of {SOURCES}")


def convert(src, out, *, source: str = "auto", overrides: Mapping | None = None) -> ConversionReport:
    """Convert a checkpoint to a sparsewave weight file (written atomically)."""
    from ..weights import save_model

    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"no such checkpoint: '{src}'")
    if src.is_dir():
        raise IsADirectoryError(f"'{src}' is a directory; give the checkpoint file")
    kind = detect_source(src) if source == "auto" else source
    sd, hints = read_state_dict(src, kind)
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked") and k != "step"}
    merged = dict(hints or {})
    merged.pop("variant", None)
    merged.update(overrides or {})
    config = infer_config(sd, merged)
    report = ConversionReport(source=kind, output=Path(out), config=config)
    for name, arr in sd.items():
        report.parameters += arr.size
        report.nonzero += int(np.count_nonzero(arr))
        if arr.ndim == 2 and arr.size >= 1024:
            report.matrices.append((name, arr.shape, np.count_nonzero(arr) / arr.size))
    save_model(out, sd, config)
    return report
