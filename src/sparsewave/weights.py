"""The sparsewave weight file: write it from any trainer, read it back safely.

A weight file is a safetensors container. ``__metadata__`` holds
``format = "sparsewave"``, ``format_version`` and ``config`` (the architecture
as JSON). Tensors are float32 and named like the trainer's PyTorch
``state_dict``; a sparse matrix may instead be stored pre-packed as block-CSR
(``NAME.bsr_shape``, ``NAME.bsr_row_ptr``, ``NAME.bsr_block_col``,
``NAME.bsr_values``). See docs/format.md for the full description.

Reading never unpickles anything: safetensors is a JSON header plus raw bytes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from ._atomic import atomic_write
from ._json_text import parse_json

FORMAT_NAME = "sparsewave"
FORMAT_VERSION = 1
PACKED_SUFFIXES = (".bsr_shape", ".bsr_row_ptr", ".bsr_block_col", ".bsr_values")

# Below this fraction of nonzero weights a matrix is stored packed (smaller
# file); the engine re-chooses the block shape at load either way.
PACK_BELOW_DENSITY = 0.5
# The engine refuses larger weights (cpp/format/safetensors.cpp, docs/format.md): the writer agrees.
MAX_WEIGHT_MAGNITUDE = 1e6


def _require_safetensors():
    try:
        import safetensors.numpy
    except ImportError as e:  # pragma: no cover - it is a declared dependency
        raise ImportError("writing weight files needs the 'safetensors' package: pip install safetensors") from e
    return safetensors.numpy


def pack_matrix(name: str, w: np.ndarray) -> dict[str, np.ndarray]:
    """Block-CSR tensors for matrix ``w`` in the block shape the engine picks (``block="auto"``)."""
    from .sparse import BlockSparseMatrix

    m = BlockSparseMatrix.from_dense(w, block="auto")
    row_ptr, block_col, values = m.packed()
    return {
        name + ".bsr_shape": np.array([*m.shape, *m.block], dtype=np.int32),
        name + ".bsr_row_ptr": row_ptr,
        name + ".bsr_block_col": block_col,
        name + ".bsr_values": values,
    }


def save_model(path, tensors: Mapping[str, np.ndarray], config: Mapping, *, pack_sparse: bool = True) -> Path:
    """Write a weight file atomically (temporary file, then rename).

    ``tensors``: name -> array (any real dtype; stored as float32, must be finite).
    ``config``: the architecture (see docs/format.md); stored as JSON.
    Matrices whose weights are mostly zero are stored packed when ``pack_sparse``.
    """
    st = _require_safetensors()
    if "family" not in config:
        raise ValueError("config needs a 'family' (e.g. 'fatchord')")
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.endswith(PACKED_SUFFIXES):
            out[name] = np.ascontiguousarray(value)
            continue
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"tensor '{name}' has non-numeric dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"tensor '{name}' holds NaN or Inf")
        if arr.size and float(np.max(np.abs(arr))) > MAX_WEIGHT_MAGNITUDE:
            raise ValueError(f"tensor '{name}' holds {float(np.max(np.abs(arr))):.3g}: weight magnitudes above "
                             f"{MAX_WEIGHT_MAGNITUDE:.0e} are refused (the engine would not load the file)")
        if pack_sparse and arr.ndim == 2 and arr.size >= 256 and np.count_nonzero(arr) < PACK_BELOW_DENSITY * arr.size:
            out.update(pack_matrix(name, arr))
        else:
            out[name] = arr
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(dict(config), sort_keys=True),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        st.save_file(out, str(tmp), metadata=metadata)
    return path


def load_model_tensors(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a weight file's tensors (packed matrices unpacked to dense) and config."""
    st = _require_safetensors()
    from safetensors import safe_open

    from .sparse import BlockSparseMatrix

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(f"'{path}' is not a sparsewave weight file")
    raw = st.load_file(str(path))
    tensors: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        if name.endswith(".bsr_shape"):
            base = name[: -len(".bsr_shape")]
            rows, cols, br, bc = (int(v) for v in value)
            m = BlockSparseMatrix.from_packed((rows, cols), (br, bc), raw[base + ".bsr_row_ptr"],
                                              raw[base + ".bsr_block_col"], raw[base + ".bsr_values"])
            tensors[base] = m.to_dense()
        elif not name.endswith(PACKED_SUFFIXES):
            tensors[name] = value
    if "config" not in meta:
        raise ValueError(f"'{path}' is not a sparsewave weight file: its metadata has no 'config'")
    return tensors, parse_json(meta["config"], f"the config of '{path}'")
