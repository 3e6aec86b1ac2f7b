"""Issue 14, defects 5, 8 and 10: what a weight file costs to load is bounded by what it holds.

* 5: a small file whose config claims huge dimensions (empty packed matrices) must not cost
  gigabytes or minutes: packed matrices are never expanded to dense, and a config whose
  precomputed conditioning tables pass the load budget (docs/format.md) is refused with a
  ValueError. Peak memory is measured in a fresh subprocess (``ru_maxrss``), never wall time.
* 8: finite but extreme weights (float32 max) are refused at load, naming the tensor.
* 10: an all-zero matrix that ``save_model`` packs (no stored blocks) loads cleanly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave import weights
from sparsewave.weights import save_model

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from reference_models import wavernn_numpy as W  # noqa: E402

# Under qemu-user (the emulated-arm64 CI job sets QEMU_CPU) memory limits and peak RSS are the
# emulator's, not the engine's: the resource checks run on native hosts only.
under_qemu = pytest.mark.skipif("QEMU_CPU" in os.environ, reason="qemu-user: RSS and address-space limits measure the emulator")



def empty_packed(name: str, rows: int, cols: int) -> dict[str, np.ndarray]:
    """The packed tensors of an all-zero (rows, cols) matrix in 16x1 blocks: no stored block."""
    return {
        name + ".bsr_shape": np.array([rows, cols, 16, 1], np.int32),
        name + ".bsr_row_ptr": np.zeros(-(-rows // 16) + 1, np.int32),
        name + ".bsr_block_col": np.zeros(0, np.int32),
        name + ".bsr_values": np.zeros((0, 16, 1), np.float32),
    }


def hostile_fatchord(path: Path, rnn_dims: int, n_mels: int) -> Path:
    """The issue's recipe: a fatchord model with hop 1 whose I and GRU matrices are stored packed
    and empty, so the file is tiny whatever rnn_dims and n_mels claim."""
    cfg = W.config_fatchord("RAW", {
        "voc_rnn_dims": rnn_dims, "voc_fc_dims": 8, "voc_compute_dims": 4, "voc_res_out_dims": 4,
        "voc_res_blocks": 0, "voc_upsample_factors": [1], "hop_length": 1, "num_mels": n_mels, "voc_pad": 1})
    tensors: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(0)
    for name, shape in W.expected_shapes(cfg).items():
        if name == "I.weight" or name.startswith("rnn") and "weight" in name or name == "fc1.weight":
            tensors.update(empty_packed(name, *shape))
        else:
            a = rng.standard_normal(shape).astype(np.float32) * 0.1
            tensors[name] = np.abs(a) + 0.5 if name.endswith("running_var") else a
    save_model(path, tensors, cfg, pack_sparse=False)
    return path


def load_in_subprocess(path: Path) -> dict:
    """Load ``path`` in a fresh interpreter; its peak RSS (MiB) and the error, if any."""
    code = textwrap.dedent(f"""
        import json, resource, sparsewave
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            sparsewave.Vocoder.load({str(path)!r})
            error = None
        except Exception as e:
            error = [type(e).__name__, str(e)]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"error": error, "grew_mib": (peak - before) / 1024}}))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@under_qemu
def test_huge_mel_projection_is_refused_by_the_load_budget(tmp_path):
    """146 KiB file, rnn_dims 2048 x n_mels 1024: its n_mels projections alone would be 3 x 12.6 M
    floats, and composing them took 121 s. It is refused before anything is composed."""
    path = hostile_fatchord(tmp_path / "mel_proj.sw", 2048, 1024)
    assert path.stat().st_size < 200_000
    r = load_in_subprocess(path)
    print(r)
    assert r["error"] is not None and r["error"][0] == "ValueError"
    assert "load budget" in r["error"][1] and "mel_proj.sw" in r["error"][1]
    assert "docs/format.md" in r["error"][1] and "### Load budget" in (TESTS.parent / "docs" / "format.md").read_text()
    assert r["grew_mib"] < 64


@under_qemu
def test_empty_packed_matrices_are_not_expanded(tmp_path):
    """611 KiB file, rnn_dims 8192 x n_mels 1: expanding its empty 24576 x 8192 GRU matrices to
    dense peaked at 3.1 GB. Kept sparse, the load costs what the file holds."""
    path = hostile_fatchord(tmp_path / "wide.sw", 8192, 1)
    assert path.stat().st_size < 1_000_000
    r = load_in_subprocess(path)
    print(r)
    assert r["error"] is None
    assert r["grew_mib"] < 100


def test_huge_upsampling_taps_are_refused(tmp_path):
    """A 1 KiB change of config: one upsampling stage of factor 100,000 with a 4,097-tap kernel
    makes the polyphase taps cost 2e9 multiply-adds at load (8.5 s here): past the budget."""
    cfg = W.config_fatchord("RAW", {
        "voc_rnn_dims": 16, "voc_fc_dims": 8, "voc_compute_dims": 4, "voc_res_out_dims": 4,
        "voc_res_blocks": 0, "voc_upsample_factors": [100_000], "hop_length": 100_000, "num_mels": 4,
        "voc_pad": 1})
    cfg["upsample_kernel_sizes"] = [4097]
    p = W.random_params(cfg, seed=1)
    p = {k: (np.abs(v) + 0.5 if k.endswith("running_var") else v) for k, v in p.items()}
    save_model(tmp_path / "taps.sw", p, cfg)
    with pytest.raises(ValueError, match=r"taps\.sw.*multiply-adds, the load budget \(reached at the upsampling taps\)"):
        sparsewave.Vocoder.load(tmp_path / "taps.sw")


@under_qemu
def test_hostile_model_still_synthesizes(tmp_path):
    """The wide, empty model is a valid (silly) model: it loads and synthesizes a frame."""
    v = sparsewave.Vocoder.load(hostile_fatchord(tmp_path / "wide.sw", 8192, 1))
    y = v.synthesize(np.zeros((2, 1), np.float32), seed=1)
    assert y.shape == (2,) and np.all(np.abs(y) <= 1)


# --------------------------------------------------------------------------- defect 8: extreme weights


def small_fatchord():
    cfg = W.config_fatchord("MOL", {
        "voc_rnn_dims": 16, "voc_fc_dims": 8, "voc_compute_dims": 4, "voc_res_out_dims": 4,
        "voc_res_blocks": 1, "voc_upsample_factors": [2], "hop_length": 2, "num_mels": 4, "voc_pad": 1})
    p = W.random_params(cfg, seed=3)
    p = {k: (np.abs(v) + 0.5 if k.endswith("running_var") else v) for k, v in p.items()}
    return cfg, p


@pytest.mark.parametrize("name", ["fc3.weight", "I.bias", "upsample.resnet.batch_norm.running_var"])
def test_extreme_weight_is_refused(tmp_path, name, monkeypatch):
    monkeypatch.setattr(weights, "MAX_WEIGHT_MAGNITUDE", np.inf)  # a writer other than ours
    cfg, p = small_fatchord()
    p[name] = p[name].copy()
    p[name].flat[0] = np.finfo(np.float32).max
    save_model(tmp_path / "extreme.sw", p, cfg)
    with pytest.raises(ValueError, match=rf"'{name}'.*magnitude"):
        sparsewave.Vocoder.load(tmp_path / "extreme.sw")


def test_extreme_packed_weight_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "MAX_WEIGHT_MAGNITUDE", np.inf)  # a writer other than ours
    cfg, p = small_fatchord()
    w = np.zeros_like(p["rnn1.weight_hh_l0"])
    w[0, 0] = -3.4e38
    p["rnn1.weight_hh_l0"] = w  # mostly zero: save_model packs it
    save_model(tmp_path / "extreme.sw", p, cfg)
    with pytest.raises(ValueError, match=r"rnn1.weight_hh_l0.*magnitude"):
        sparsewave.Vocoder.load(tmp_path / "extreme.sw")


# --------------------------------------------------------------------------- defect 10: an all-zero packed matrix


def test_all_zero_packed_matrix_loads(tmp_path):
    cfg, p = small_fatchord()
    p["rnn1.weight_hh_l0"] = np.zeros_like(p["rnn1.weight_hh_l0"])
    save_model(tmp_path / "zero.sw", p, cfg)
    header = json.loads((tmp_path / "zero.sw").read_bytes()[8:][: int.from_bytes(
        (tmp_path / "zero.sw").read_bytes()[:8], "little")])
    assert header["rnn1.weight_hh_l0.bsr_values"]["shape"][0] == 0  # no stored block
    v = sparsewave.Vocoder.load(tmp_path / "zero.sw")
    assert v.describe()["matrices"][0]["stored_values"] == 0
    assert v.synthesize(np.zeros((3, 4), np.float32), seed=1).shape == (6,)
