"""The sparsewave weight file: write it from any trainer, read it back safely.

A weight file is a safetensors container. ``__metadata__`` holds
``format = "sparsewave"``, ``format_version`` and ``config`` (the architecture
as JSON). Tensors are float32 and named like the trainer's PyTorch
``state_dict``; a sparse matrix may instead be stored pre-packed as block-CSR
(``NAME.bsr_shape``, ``NAME.bsr_row_ptr``, ``NAME.bsr_block_col``,
``NAME.bsr_values``). See docs/format.md for the full description.

With ``save_model(..., weights="int8")`` the matrices the sample loop
multiplies are stored as int8 block-CSR with one float32 scale per row
(``NAME.i8_shape``, ``NAME.i8_row_ptr``, ``NAME.i8_block_col``,
``NAME.i8_values``, ``NAME.i8_scale``, and ``NAME.i8_tail`` for columns the
loop does not multiply), quantized exactly as ``Vocoder.load(weights="int8")``
quantizes them.

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
INT8_SUFFIXES = (".i8_shape", ".i8_row_ptr", ".i8_block_col", ".i8_values", ".i8_scale")
# save_model(weights=...): float32 everywhere, or int8 for the sample loop's matrices.
FILE_WEIGHT_TYPES = ("float32", "int8")

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


def _float_matrix(name: str, arr: np.ndarray, pack_sparse: bool) -> dict[str, np.ndarray]:
    """A float32 tensor stored dense, or packed when it is a mostly-zero matrix."""
    if pack_sparse and arr.ndim == 2 and arr.size >= 256 and np.count_nonzero(arr) < PACK_BELOW_DENSITY * arr.size:
        return pack_matrix(name, arr)
    return {name: arr}


def int8_matrix_columns(config: Mapping) -> dict[str, int]:
    """The matrices the sample loop multiplies per sample -> how many of their first columns it multiplies.

    These are what ``Vocoder.load(weights="int8")`` quantizes (the rest of a matrix, e.g. the
    aux columns of ``fc1.weight``, is applied once per frame and stays float32).
    """
    family = config.get("family")
    try:
        if family == "fatchord":
            h, f = int(config["rnn_dims"]), int(config["fc_dims"])
            cols = {"rnn1.weight_hh_l0": h}
            if int(config["n_rnn"]) == 2:  # rnn2's W_ih h1 runs per sample; rnn1's input side is hoisted
                cols.update({"rnn2.weight_ih_l0": h, "rnn2.weight_hh_l0": h})
            for i, n in enumerate(config["fc_names"]):
                cols[f"{n}.weight"] = h if i == 0 else f
            return cols
        if family == "dual_softmax":
            n = int(config["hidden"])
            ho = int(config.get("output_hidden", n // 2))
            return {"R.weight": n, "O1.weight": n // 2, "O2.weight": ho, "O3.weight": n // 2, "O4.weight": ho}
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"weights='int8' needs a valid {family} config: {e!r}") from None
    raise ValueError(f"weights='int8' supports the families fatchord and dual_softmax, not {family!r}")


def _int8_packing(w: np.ndarray):
    """The engine's int8 packing of the per-sample part ``w`` of a matrix, or None where its block
    choice (``block="auto"``) for this zero pattern is a float shape (16x1, 1x4, 1x1)."""
    from .sparse import BlockSparseMatrix

    m = BlockSparseMatrix.from_dense(np.ascontiguousarray(w, np.float32), block="auto", dtype="int8")
    return m if m.dtype == np.int8 else None


def runs_in_int8(w: np.ndarray) -> bool:
    """Whether the engine runs the per-sample part ``w`` of a matrix in int8."""
    return _int8_packing(w) is not None


def pack_int8_matrix(name: str, w: np.ndarray, cols: int, pack_sparse: bool = True,
                     int8_rule: str = "row_max") -> dict[str, np.ndarray] | None:
    """int8 tensors for columns [0, cols) of ``w``, as the engine packs them with int8 weights.

    The block shape is the engine's own choice (``BlockSparseMatrix.from_dense(..., block="auto",
    dtype="int8")``); when that choice is a float shape (16x1, 1x4 or 1x1) there is no int8 form and
    None is returned. Columns from ``cols`` on go to the float matrix ``name + ".i8_tail"``.
    ``int8_rule="pair_bounded"`` quantizes in that block shape with the pair-bounded rule
    (docs/format.md, "int8 matrices").
    """
    from .sparse import BlockSparseMatrix

    if w.ndim != 2 or not 0 < cols <= w.shape[1]:
        raise ValueError(f"matrix '{name}' of shape {w.shape} has no {cols} columns to store as int8")
    m = _int8_packing(w[:, :cols])
    if m is None:
        return None
    if int8_rule != "row_max":  # the same block choice, quantized by the other rule
        m = BlockSparseMatrix.from_dense(w[:, :cols], block=m.block, dtype="int8", int8_rule=int8_rule)
    row_ptr, block_col, _ = m.packed()
    values, scale = m.quantized()
    out = {
        name + ".i8_shape": np.array([w.shape[0], cols, *m.block], dtype=np.int32),
        name + ".i8_row_ptr": row_ptr,
        name + ".i8_block_col": block_col,
        name + ".i8_values": values,
        name + ".i8_scale": scale,
    }
    if cols < w.shape[1]:
        out.update(_float_matrix(name + ".i8_tail", np.ascontiguousarray(w[:, cols:]), pack_sparse))
    return out


def save_model(path, tensors: Mapping[str, np.ndarray], config: Mapping, *, pack_sparse: bool = True,
               weights: str = "float32", int8_rule: str = "row_max") -> Path:
    """Write a weight file atomically (temporary file, then rename).

    ``tensors``: name -> array (any real dtype; stored as float32, must be finite).
    ``config``: the architecture (see docs/format.md); stored as JSON.
    Matrices whose weights are mostly zero are stored packed when ``pack_sparse``.
    ``weights="int8"`` stores the matrices the sample loop multiplies (:func:`int8_matrix_columns`)
    as int8 with one float32 scale per row, about a quarter of their float32 bytes, quantized
    exactly as ``Vocoder.load(..., weights="int8")`` would quantize them: loading such a file
    gives the same model as loading the float32 file with ``weights="int8"``. A matrix the
    engine runs in a float block shape (16x1, 1x1) stays float32.
    ``int8_rule="pair_bounded"`` (with ``weights="int8"``) quantizes them with the pair-bounded
    rule instead (docs/format.md): slightly coarser weights that AVX2 multiplies with a faster
    exact kernel; the file then differs from ``Vocoder.load(float_file, weights="int8")``.
    """
    st = _require_safetensors()
    if "family" not in config:
        raise ValueError("config needs a 'family' (e.g. 'fatchord')")
    if weights not in FILE_WEIGHT_TYPES:
        raise ValueError(f"weights must be one of {', '.join(map(repr, FILE_WEIGHT_TYPES))}, got {weights!r}")
    if int8_rule not in ("row_max", "pair_bounded"):
        raise ValueError(f"int8_rule must be 'row_max' or 'pair_bounded', got {int8_rule!r}")
    if int8_rule != "row_max" and weights != "int8":
        raise ValueError("int8_rule='pair_bounded' needs weights='int8'")
    int8_cols = int8_matrix_columns(config) if weights == "int8" else {}
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.endswith(PACKED_SUFFIXES + INT8_SUFFIXES):
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
        packed = pack_int8_matrix(name, arr, int8_cols[name], pack_sparse, int8_rule) if name in int8_cols else None
        out.update(packed if packed is not None else _float_matrix(name, arr, pack_sparse))
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
    """Read a weight file's tensors (packed matrices unpacked to dense, int8 ones dequantized) and config."""
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
        elif name.endswith(".i8_shape"):
            base = name[: -len(".i8_shape")]
            rows, cols, br, bc = (int(v) for v in value)
            m = BlockSparseMatrix.from_packed((rows, cols), (br, bc), raw[base + ".i8_row_ptr"],
                                              raw[base + ".i8_block_col"], raw[base + ".i8_values"],
                                              row_scale=raw[base + ".i8_scale"])
            tensors[base] = m.to_dense()
        elif not name.endswith(PACKED_SUFFIXES + INT8_SUFFIXES):
            tensors[name] = value
    # An int8 matrix's remaining float columns follow its int8 ones.
    for tail in [k for k in tensors if k.endswith(".i8_tail")]:
        base = tail[: -len(".i8_tail")]
        if base not in tensors:
            raise ValueError(f"'{path}' has '{tail}' but no int8 matrix '{base}'")
        tensors[base] = np.concatenate([tensors[base], tensors.pop(tail)], axis=1)
    if "config" not in meta:
        raise ValueError(f"'{path}' is not a sparsewave weight file: its metadata has no 'config'")
    return tensors, parse_json(meta["config"], f"the config of '{path}'")
