"""int8 matrices in weight files (issue 16): ``save_model(..., weights="int8")`` stores the sample
loop's matrices quantized exactly as ``Vocoder.load(..., weights="int8")`` quantizes a float file,
so the two load to the same model (same logits, NLL, samples, matrix report). Loaded with float
weights, an int8 file runs the float kernels on its dequantized weights. The file is smaller.
"""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import sparsewave
from reference_models import wavernn_numpy as W
from small_models import torch_like_params
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.models import default_model_path
from sparsewave.sparse import BlockSparseMatrix
from sparsewave.weights import int8_matrix_columns, load_model_tensors, save_model

GENEING = {
    "family": "fatchord", "variant": "geneing", "sample_rate": 16000, "n_mels": 8, "hop_length": 10, "pad": 2,
    "upsample_factors": [2, 5], "upsample_kernel_sizes": [5, 11], "res_blocks": 1, "compute_dims": 8,
    "res_out_dims": 8, "bn_eps": 1e-5, "rnn_dims": 64, "fc_dims": 48, "n_rnn": 1, "fc_names": ["fc1", "fc3"],
    "n_fc": 2, "aux_slices": {"I": [0, 3], "fc1": [4, 8]}, "head": "softmax", "bits": 8, "n_classes": 256,
    "mu_law": False,
}


def _model(kind: str):
    if kind == "fatchord-mol":  # two GRUs; rnn2, fc1 and fc2 have aux columns (stored as .i8_tail)
        cfg = W.config_fatchord("MOL", {"num_mels": 8, "hop_length": 24, "voc_upsample_factors": [2, 3, 4],
                                        "voc_rnn_dims": 64, "voc_fc_dims": 48, "voc_compute_dims": 16,
                                        "voc_res_out_dims": 16, "voc_res_blocks": 1})
        return torch_like_params(cfg, seed=5, sparsity=(4, 4, 0.4)), cfg
    if kind == "geneing":
        return torch_like_params(GENEING, seed=6, sparsity=(4, 4, 0.3)), GENEING
    if kind == "dual-softmax":  # hidden / 2 = 32: R's int8 blocks move whole when its rows are permuted
        return random_dual_softmax(64, 0.3, (4, 4), n_mels=8, hop_length=16, seed=7)
    # hidden / 2 = 20 is no multiple of 8: an 8x4 int8 R is requantized after the permutation
    return random_dual_softmax(40, 1.0, (4, 4), n_mels=8, hop_length=16, seed=8)


KINDS = ("fatchord-mol", "geneing", "dual-softmax", "dual-softmax-unaligned")


def _header(path) -> dict:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def _inputs(cfg, seed=0):
    rng = np.random.default_rng(seed)
    mels = rng.uniform(0, 1, (5, cfg["n_mels"])).astype(np.float32)
    audio = rng.uniform(-0.9, 0.9, 5 * cfg["hop_length"]).astype(np.float32)
    return mels, audio


@pytest.fixture(scope="module", params=KINDS)
def files(request, tmp_path_factory):
    tensors, cfg = _model(request.param)
    d = tmp_path_factory.mktemp(request.param)
    return request.param, tensors, cfg, save_model(d / "f32.sw", tensors, cfg), \
        save_model(d / "i8.sw", tensors, cfg, weights="int8")


def test_int8_file_is_the_int8_load_of_the_float_file(files):
    kind, tensors, cfg, f32, i8 = files
    stored = {k[: -len(".i8_values")] for k in _header(i8) if k.endswith(".i8_values")}
    assert stored and stored <= set(int8_matrix_columns(cfg))
    from_file, at_load = sparsewave.Vocoder.load(i8), sparsewave.Vocoder.load(f32, weights="int8")
    assert from_file.describe() == at_load.describe()
    assert from_file.loop_macs == at_load.loop_macs
    mels, audio = _inputs(cfg)
    if kind == "dual-softmax-unaligned":  # requantized: the row scales may move by a float rounding
        np.testing.assert_allclose(from_file.logits(mels, audio), at_load.logits(mels, audio), rtol=1e-5, atol=1e-5)
        return
    np.testing.assert_array_equal(from_file.logits(mels, audio), at_load.logits(mels, audio))
    assert from_file.nll(mels, audio) == at_load.nll(mels, audio)
    np.testing.assert_array_equal(from_file.synthesize(mels, seed=3), at_load.synthesize(mels, seed=3))


def test_weights_default_to_what_the_file_stores(files):
    _, _, _, f32, i8 = files
    assert sparsewave.Vocoder.load(i8).describe() == sparsewave.Vocoder.load(i8, weights="int8").describe()
    assert sparsewave.Vocoder.load(f32).describe() == sparsewave.Vocoder.load(f32, weights="float32").describe()
    assert "int8" in {m["dtype"] for m in sparsewave.Vocoder.load(i8).describe()["matrices"]}
    assert {m["dtype"] for m in sparsewave.Vocoder.load(f32).describe()["matrices"]} == {"float32"}
    half = sparsewave.Vocoder.load(i8, weights="float16").describe()["matrices"]
    assert {m["dtype"] for m in half} == {"float16"}


def test_float_load_of_an_int8_file_uses_the_dequantized_weights(files, tmp_path):
    """weights="float32": the float kernels on value * scale, i.e. the float file of the dequantized tensors."""
    kind, _, cfg, _, i8 = files
    deq, back_cfg = load_model_tensors(i8)
    assert back_cfg == cfg
    deq_file = save_model(tmp_path / "deq.sw", deq, cfg)
    as_float = sparsewave.Vocoder.load(i8, weights="float32")
    assert {m["dtype"] for m in as_float.describe()["matrices"]} == {"float32"}
    mels, audio = _inputs(cfg, seed=1)
    got = as_float.logits(mels, audio)
    np.testing.assert_array_equal(got, sparsewave.Vocoder.load(deq_file).logits(mels, audio))
    # ... which is not the int8 model: its products also quantize their inputs.
    assert not np.array_equal(got, sparsewave.Vocoder.load(i8).logits(mels, audio))


def test_load_model_tensors_dequantizes_only_the_loop_columns(files):
    _, tensors, cfg, _, i8 = files
    back, _ = load_model_tensors(i8)
    assert back.keys() == tensors.keys()
    header = _header(i8)
    for name, a in tensors.items():
        cols = int8_matrix_columns(cfg).get(name)
        if name + ".i8_values" not in header:
            np.testing.assert_array_equal(back[name], a, err_msg=name)
            continue
        want = BlockSparseMatrix.from_dense(a[:, :cols], block="auto", dtype="int8").to_dense()
        np.testing.assert_array_equal(back[name][:, :cols], want, err_msg=name)
        np.testing.assert_array_equal(back[name][:, cols:], a[:, cols:], err_msg=name + " (float tail)")


def _matrix_bytes(path, names) -> int:
    """Bytes of every tensor that stores one of ``names`` (dense, packed, int8 and its tail)."""
    total = 0
    for k, v in _header(path).items():
        if k != "__metadata__" and any(k == n or k.startswith(n + ".") for n in names):
            total += v["data_offsets"][1] - v["data_offsets"][0]
    return total


def test_default_voice_int8_file_is_smaller(tmp_path):
    """The int8 matrices take well under their float32 bytes, the rest of the file is unchanged.
    Not the 4x of the values alone: float32 packs the GRU and fc1 (geneing's column groups of
    four) in 1x4 blocks, a third of the values int8's 4x4 blocks hold (measured 1.63x)."""
    tensors, cfg = load_model_tensors(default_model_path())
    f32 = save_model(tmp_path / "f32.sw", tensors, cfg)
    i8 = save_model(tmp_path / "i8.sw", tensors, cfg, weights="int8")
    names = sorted(k[: -len(".i8_values")] for k in _header(i8) if k.endswith(".i8_values"))
    assert names == ["fc1.weight", "fc3.weight", "rnn1.weight_hh_l0"]
    ratio = _matrix_bytes(f32, names) / _matrix_bytes(i8, names)
    assert ratio > 1.5, ratio
    rest = f32.stat().st_size - _matrix_bytes(f32, names)
    assert abs((i8.stat().st_size - _matrix_bytes(i8, names)) - rest) < 4096  # headers differ a little


def test_save_model_weights_argument(tmp_path):
    tensors, cfg = _model("dual-softmax")
    with pytest.raises(ValueError, match="weights must be one of 'float32', 'int8'"):
        save_model(tmp_path / "x.sw", tensors, cfg, weights="float16")
    with pytest.raises(ValueError, match="supports the families fatchord and dual_softmax"):
        save_model(tmp_path / "x.sw", tensors, {**cfg, "family": "lpcnet"}, weights="int8")
    with pytest.raises(ValueError, match="needs a valid fatchord config"):
        save_model(tmp_path / "x.sw", tensors, {"family": "fatchord"}, weights="int8")
    assert not (tmp_path / "x.sw").exists()
