"""sparsewave.train.average: the element-wise mean of exports, checked against NumPy; no PyTorch needed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("safetensors")

import sparsewave  # noqa: E402
from sparsewave.dual_softmax import random_dual_softmax  # noqa: E402
from sparsewave.train.average import average_exports, main  # noqa: E402
from sparsewave.weights import load_model_tensors, save_model  # noqa: E402


def _exports(tmp_path, n, *, seed=0, hidden=32, density=0.25):
    """n exports of 'one run': the same block masks, different values, steps 100, 200, ..."""
    base, cfg = random_dual_softmax(hidden, density, (4, 4), seed=seed, n_mels=8, hop_length=16, sample_rate=8000)
    rng = np.random.default_rng(seed + 1)
    paths, values = [], []
    for i in range(n):
        t = {k: np.where(v != 0, v + rng.standard_normal(v.shape).astype(np.float32), 0).astype(np.float32)
             if v.ndim == 2 else v + rng.standard_normal(v.shape).astype(np.float32) for k, v in base.items()}
        p = tmp_path / f"e{i}.sw"
        save_model(p, t, dict(cfg, training={"step": 100 * (i + 1)}))
        paths.append(p)
        values.append(load_model_tensors(p)[0])
    return paths, values


def test_mean_of_exports_matches_numpy(tmp_path):
    paths, values = _exports(tmp_path, 3)
    out = tmp_path / "avg.sw"
    info = average_exports(paths, out)
    got, cfg = load_model_tensors(out)
    assert set(got) == set(values[0])
    for k in got:
        want = np.mean([v[k].astype(np.float64) for v in values], axis=0)
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-6)
    assert info["steps"] == [100, 200, 300] and cfg["training"]["averaged_steps"] == [100, 200, 300]
    assert cfg["training"]["step"] == 300
    assert np.mean(got["R.weight"] == 0) == pytest.approx(np.mean(values[0]["R.weight"] == 0))
    v = sparsewave.Vocoder.load(out)  # the engine loads it
    assert np.isfinite(v.synthesize(np.zeros((3, 8), np.float32), seed=1)).all()


def test_refuses_mismatched_models(tmp_path):
    paths, _ = _exports(tmp_path, 2)
    other = tmp_path / "other"
    other.mkdir()
    odd, _ = _exports(other, 1, hidden=16)
    with pytest.raises(ValueError, match="different model"):
        average_exports([paths[0], odd[0]], tmp_path / "x.sw")
    with pytest.raises(ValueError, match="at least two"):
        average_exports([paths[0]], tmp_path / "x.sw")
    assert not (tmp_path / "x.sw").exists()
    assert main([str(tmp_path / "x.sw"), str(paths[0]), str(odd[0])]) == 1


def test_cli_notes_differing_masks(tmp_path, capsys):
    a, _ = _exports(tmp_path, 1, seed=0)
    other = tmp_path / "b"
    other.mkdir()
    b, _ = _exports(other, 1, seed=5)  # same architecture, other masks
    assert main([str(tmp_path / "m.sw"), str(a[0]), str(b[0])]) == 0
    assert "masks differ" in capsys.readouterr().err
