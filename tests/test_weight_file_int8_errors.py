"""Hostile int8 matrices in weight files: each is refused by ``Vocoder.load`` with a ValueError
naming the matrix (or tensor) and the problem, whatever weights the load asks for.

Starting point: a small fatchord model written with ``save_model(..., weights="int8")``;
fc_dims 22 gives ``fc1.weight`` padding rows (22 -> 24) and an aux tail (``fc1.weight.i8_tail``).
"""
from __future__ import annotations

import numpy as np
import pytest
import safetensors.numpy as stn
from safetensors import safe_open

import sparsewave
from reference_models import wavernn_numpy as W
from small_models import torch_like_params
from sparsewave.weights import pack_int8_matrix, save_model

HH = "rnn1.weight_hh_l0"
FC1 = "fc1.weight"


def _config() -> dict:
    return W.config_fatchord("RAW", {
        "voc_rnn_dims": 32, "voc_fc_dims": 22, "voc_compute_dims": 8, "voc_res_out_dims": 8,
        "voc_res_blocks": 1, "voc_upsample_factors": [2, 3], "hop_length": 6, "num_mels": 6, "voc_pad": 2})


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    cfg = _config()
    tensors = torch_like_params(cfg, seed=2, sparsity=(4, 4, 0.5))
    path = save_model(tmp_path_factory.mktemp("int8") / "ok.sw", tensors, cfg, weights="int8")
    sparsewave.Vocoder.load(path)  # the starting point loads
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    raw = stn.load_file(str(path))
    assert {HH + ".i8_values", FC1 + ".i8_values"} <= set(raw) and any(k.startswith(FC1 + ".i8_tail") for k in raw)
    assert raw[FC1 + ".i8_scale"].size == 24  # padding rows 22, 23
    return raw, meta, tensors, path


def _write(tmp_path, raw: dict, meta: dict):
    path = tmp_path / "bad.sw"
    stn.save_file({k: np.ascontiguousarray(v) for k, v in raw.items()}, str(path), metadata=meta)
    return path


def _refused(path, pattern: str) -> str:
    for weights in (None, "float32", "int8"):  # the checks do not depend on the kernels asked for
        with pytest.raises(ValueError, match=pattern) as info:
            sparsewave.Vocoder.load(path, weights=weights)
    print(info.value)  # visible with pytest -s
    return str(info.value)


def _edit(raw: dict, name: str, fn) -> dict:
    out = dict(raw)
    out[name] = fn(out[name].copy())
    return out


def _set(a, index, value):
    a.reshape(-1)[index] = value
    return a


def _first_row_with_two_blocks(row_ptr) -> int:
    return int(np.nonzero(np.diff(row_ptr) >= 2)[0][0])


def _swap_first_two_blocks(raw, name):
    rb = _first_row_with_two_blocks(raw[name + ".i8_row_ptr"])
    k = int(raw[name + ".i8_row_ptr"][rb])
    return _edit(raw, name + ".i8_block_col", lambda c: c[np.r_[:k, k + 1, k, k + 2:len(c)]])


CASES = {
    "value -128": (lambda r: _edit(r, HH + ".i8_values", lambda v: _set(v, 5, -128)),
                   rf"int8 matrix '{HH}'.*-128.*outside \[-127, 127\]"),
    "one scale short": (lambda r: _edit(r, HH + ".i8_scale", lambda s: s[:-1]),
                        rf"int8 matrix '{HH}'.*expected 96 row scales"),
    "NaN scale": (lambda r: _edit(r, HH + ".i8_scale", lambda s: _set(s, 3, np.nan)),
                  rf"'{HH}\.i8_scale' holds a NaN or Inf"),
    "negative scale": (lambda r: _edit(r, HH + ".i8_scale", lambda s: _set(s, 3, -0.01)),
                       rf"int8 matrix '{HH}'.*row scale 3 is negative"),
    "scale beyond 1e6 / 127": (lambda r: _edit(r, HH + ".i8_scale", lambda s: _set(s, 0, 1e5)),
                               rf"int8 matrix '{HH}'.*above 1e6"),
    "block column out of range": (lambda r: _edit(r, HH + ".i8_block_col", lambda c: _set(c, 0, 8)),
                                  rf"int8 matrix '{HH}'.*block column index 8 .*outside \[0, 8\)"),
    "block columns out of order": (lambda r: _swap_first_two_blocks(r, HH),
                                   rf"int8 matrix '{HH}'.*not strictly increasing"),
    "row_ptr decreasing": (lambda r: _edit(r, HH + ".i8_row_ptr", lambda p: _set(p, 1, p[2] + 1)),
                           rf"int8 matrix '{HH}'.*row_ptr decreases"),
    "values stored as I32": (lambda r: _edit(r, HH + ".i8_values", lambda v: v.astype(np.int32)),
                             rf"'{HH}\.i8_values' must be I8, got I32"),
    "scales stored as F16": (lambda r: _edit(r, HH + ".i8_scale", lambda s: s.astype(np.float16)),
                             rf"'{HH}\.i8_scale' must be F32"),
    "wrong row count": (lambda r: _edit(r, HH + ".i8_shape", lambda s: _set(s, 0, 64)),
                        rf"int8 matrix '{HH}' has shape \(64, 32\), expected 96 rows"),
    "16x1 blocks": (lambda r: _edit(_edit(r, HH + ".i8_shape", lambda s: _set(_set(s, 2, 16), 3, 1)),
                                    HH + ".i8_values", lambda v: v.reshape(-1, 16, 1)),
                    rf"int8 matrix '{HH}'.*need 8x4 or 4x4 blocks, got 16x1"),
    "values of another block shape": (lambda r: _edit(r, HH + ".i8_values", lambda v: v.reshape(-1, 16, 1)),
                                      rf"'{HH}\.i8_values' has shape \(\d+, 16, 1\), expected \(\*, \d, 4\)"),
    "missing scales": (lambda r: {k: v for k, v in r.items() if k != HH + ".i8_scale"},
                       rf"no tensor '{HH}\.i8_scale'"),
    "non-zero padding value": (lambda r: _edit(r, FC1 + ".i8_values", lambda v: _set(v, v.size - 1, 3)),
                               rf"int8 matrix '{FC1}'.*non-zero value in the padding"),
    "non-zero padding-row scale": (lambda r: _edit(r, FC1 + ".i8_scale", lambda s: _set(s, 23, 0.5)),
                                   rf"int8 matrix '{FC1}'.*row scale 23 of a padding row is not zero"),
    "missing tail": (lambda r: {k: v for k, v in r.items() if not k.startswith(FC1 + ".i8_tail")},
                     rf"no matrix '{FC1}\.i8_tail'"),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_int8_matrix_is_refused(valid, tmp_path, case):
    raw, meta, _, _ = valid
    edit, pattern = CASES[case]
    _refused(_write(tmp_path, edit(raw), meta), pattern)


def test_truncated_int8_file(valid, tmp_path):
    _, _, _, path = valid
    bad = tmp_path / "cut.sw"
    bad.write_bytes(path.read_bytes()[:-37])
    _refused(bad, r"truncated")


def test_int8_and_float_copies_of_one_matrix(valid, tmp_path):
    raw, meta, tensors, _ = valid
    _refused(_write(tmp_path, {**raw, HH: tensors[HH]}, meta), rf"matrix '{HH}' is stored both as int8 and as floats")


def test_int8_over_other_columns_than_the_loop_multiplies(valid, tmp_path):
    """fc1's int8 form must cover exactly the columns the sample loop multiplies (rnn_dims = 32),
    not also its aux columns, whose scale would differ from the one the engine uses."""
    raw, meta, tensors, _ = valid
    w = tensors[FC1]
    edited = {k: v for k, v in raw.items() if not k.startswith(FC1 + ".")}
    edited.update(pack_int8_matrix(FC1, w, w.shape[1]))
    path = _write(tmp_path, edited, meta)
    msg = _refused(path, rf"int8 matrix '{FC1}' quantizes its first {w.shape[1]} columns, but the sample loop "
                         r"multiplies the first 32")
    assert str(path) in msg


def test_tail_beside_a_whole_int8_matrix(valid, tmp_path):
    raw, meta, tensors, _ = valid
    _refused(_write(tmp_path, {**raw, HH + ".i8_tail": tensors[HH][:, :4]}, meta),
             rf"int8 matrix '{HH}' covers every column but the file also has '{HH}\.i8_tail'")
