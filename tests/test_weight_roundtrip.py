"""Property test of the weight file: whatever ``save_model`` writes, ``Vocoder.load`` reads, and
the loaded model computes what the in-memory weights compute.

Random models of both families (random sizes, random zero patterns per matrix: dense, all zero,
zero rows, zero columns, scattered zeros, zero blocks) are saved with the default packing and
with ``pack_sparse=False``. Checked for each: the file loads; ``load_model_tensors`` gives back
the exact arrays; packed and dense files give bit-identical logits and synthesis (the packed
form only saves space); and the logits match the float64 NumPy reference.
(Issue 14, defect 6: a dual-softmax ``cond.weight`` with 62 % zeros was written packed and then
refused at load.)
"""
from __future__ import annotations

import numpy as np
import pytest

import sparsewave
from reference_models import dual_softmax_numpy as DS
from reference_models import wavernn_numpy as W
from sparsewave.weights import load_model_tensors, save_model

N_DUAL_SOFTMAX = 150
N_FATCHORD = 50
LOGIT_REL = 1e-4  # as tests/test_fatchord_random.py: float32 engine vs float64 reference
PATTERNS = ("dense", "zero", "rows", "cols", "scattered", "blocks4x4", "blocks16x1")


def _zero_pattern(w: np.ndarray, rng) -> np.ndarray:
    """``w`` with one randomly chosen pattern of zeros (often sparse enough to be stored packed)."""
    kind = PATTERNS[rng.integers(len(PATTERNS))]
    rows, cols = w.shape
    if kind == "dense":
        keep = np.ones(w.shape, bool)
    elif kind == "zero":
        keep = np.zeros(w.shape, bool)
    elif kind == "rows":
        keep = np.repeat(rng.random((rows, 1)) < rng.random(), cols, axis=1)
    elif kind == "cols":  # e.g. unused mel bins: the report's case
        keep = np.repeat(rng.random((1, cols)) < rng.random(), rows, axis=0)
    elif kind == "scattered":
        keep = rng.random(w.shape) < rng.random()
    else:
        br, bc = (4, 4) if kind == "blocks4x4" else (16, 1)
        tiles = rng.random((-(-rows // br), -(-cols // bc))) < rng.random()
        keep = np.kron(tiles, np.ones((br, bc), bool))[:rows, :cols]
    return np.where(keep, w, np.float32(0)).astype(np.float32)


def _random_dual_softmax(seed: int):
    rng = np.random.default_rng(seed)
    N = 2 * int(rng.integers(1, 33))
    M = int(rng.integers(1, 25))
    H = int(rng.integers(1, 41))
    cfg = {"family": "dual_softmax", "sample_rate": 16000, "hop_length": int(rng.integers(1, 7)), "n_mels": M,
           "hidden": N, "output_hidden": H, "upsample": "repeat"}
    shapes = {"R.weight": (3 * N, N), "I.weight": (3 * N, 3), "cond.weight": (3 * N, M),
              "O1.weight": (H, N // 2), "O2.weight": (256, H), "O3.weight": (H, N // 2), "O4.weight": (256, H)}
    t = {name: _zero_pattern((rng.standard_normal(s) / np.sqrt(s[1])).astype(np.float32), rng)
         for name, s in shapes.items()}
    for name, n in {"R.bias": 3 * N, "I.bias": 3 * N, "cond.bias": 3 * N, "O1.bias": H, "O2.bias": 256,
                    "O3.bias": H, "O4.bias": 256}.items():
        t[name] = (0.1 * rng.standard_normal(n)).astype(np.float32)
    if rng.random() < 0.5:
        k = 2 * int(rng.integers(0, 3)) + 1
        cfg.update(upsample="conv", upsample_kernel=k)
        t["upsample.weight"] = (rng.random(k) / k).astype(np.float32)
    return t, cfg


def _random_fatchord(seed: int):
    rng = np.random.default_rng(seed)
    factors = [int(f) for f in rng.integers(1, 4, rng.integers(1, 3))]
    cfg = W.config_fatchord("MOL", {
        "voc_rnn_dims": int(rng.integers(4, 49)), "voc_fc_dims": int(rng.integers(4, 41)),
        "voc_compute_dims": int(rng.integers(2, 17)), "voc_res_out_dims": 4 * int(rng.integers(1, 5)),
        "voc_res_blocks": int(rng.integers(0, 3)), "voc_upsample_factors": factors,
        "hop_length": int(np.prod(factors)), "num_mels": int(rng.integers(1, 21)), "voc_pad": 3})
    t = {}
    for name, shape in W.expected_shapes(cfg).items():
        if name.endswith("running_var"):
            a = rng.uniform(0.5, 1.5, shape)
        elif "up_layers" in name:
            a = rng.uniform(0.5, 1.5, shape)
            a /= a.sum()
        elif name.endswith(("running_mean", ".bias")):
            a = 0.1 * rng.standard_normal(shape)
        else:
            a = rng.standard_normal(shape) / np.sqrt(int(np.prod(shape[1:])))
        a = a.astype(np.float32)
        t[name] = _zero_pattern(a, rng) if a.ndim == 2 else a
    return t, cfg


def _reference_logits(tensors, cfg, mels, audio) -> np.ndarray:
    if cfg["family"] == "dual_softmax":
        return DS.run(tensors, cfg, mels, audio=audio)[0]
    mels_up, aux = W.conditioning(tensors, cfg, mels.T)
    prev = np.concatenate([[0.0], audio[:-1].astype(np.float64)])  # MOL head: the sample itself is fed back
    return W.teacher_forced_logits(W.prepare(tensors, cfg), cfg, mels_up, aux, prev)


CASES = [("dual_softmax", s) for s in range(N_DUAL_SOFTMAX)] + [("fatchord", s) for s in range(N_FATCHORD)]


def _generate(family: str, seed: int):
    return (_random_dual_softmax if family == "dual_softmax" else _random_fatchord)(1000 + seed)


@pytest.mark.parametrize("family,seed", CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_save_load_round_trip(tmp_path, family, seed):
    tensors, cfg = _generate(family, seed)
    packed = save_model(tmp_path / "packed.sw", tensors, cfg)
    dense = save_model(tmp_path / "dense.sw", tensors, cfg, pack_sparse=False)

    back, back_cfg = load_model_tensors(packed)
    assert back_cfg == cfg and back.keys() == tensors.keys()
    for name, a in tensors.items():
        np.testing.assert_array_equal(back[name], a, err_msg=name)
    v_packed, v_dense = sparsewave.Vocoder.load(packed), sparsewave.Vocoder.load(dense)
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(1, 6))
    mels = rng.uniform(0, 1, (frames, cfg["n_mels"])).astype(np.float32)
    audio = rng.uniform(-0.95, 0.95, frames * cfg["hop_length"]).astype(np.float32)
    got = v_packed.logits(mels, audio)
    np.testing.assert_array_equal(got, v_dense.logits(mels, audio))
    np.testing.assert_array_equal(v_packed.synthesize(mels, seed=seed), v_dense.synthesize(mels, seed=seed))
    want = _reference_logits(tensors, cfg, mels, audio)
    assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) < LOGIT_REL


def test_the_cases_store_the_reported_matrices_packed(tmp_path):
    """The random cases do write what failed (issue 14, defect 6): a dual-softmax cond.weight and
    I.weight stored packed, all-zero matrices stored packed, and packed fatchord matrices."""
    from safetensors import safe_open

    packed, all_zero = set(), 0
    for family, seed in CASES:
        tensors, cfg = _generate(family, seed)
        path = save_model(tmp_path / f"{family}-{seed}.sw", tensors, cfg)
        with safe_open(str(path), framework="numpy") as f:
            names = {k[: -len(".bsr_shape")] for k in f.keys() if k.endswith(".bsr_shape")}
        packed |= {(family, n) for n in names}
        all_zero += sum(not np.any(tensors[n]) for n in names)
    assert {("dual_softmax", "cond.weight"), ("dual_softmax", "I.weight")} <= packed
    assert any(family == "fatchord" for family, _ in packed)
    assert all_zero > 0
