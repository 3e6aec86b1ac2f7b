"""The tail cut: a softmax head never draws a class less likely than tail_cut times its most
likely class, and draws from the rest by the same inverse CDF. Checked against teacher-forced
probabilities of the engine's own output, for the dual-softmax and fatchord (softmax) families."""
import json
import subprocess
import sys

import numpy as np
import pytest

import sparsewave
from reference_models import dual_softmax_numpy as ref
from reference_models import wavernn_numpy as W
from small_models import softmax, write_small_model
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model


@pytest.fixture(scope="module")
def dual_path(tmp_path_factory):
    tensors, cfg = random_dual_softmax(48, 0.3, (4, 4), seed=3, n_mels=8, hop_length=10)
    for name in ("O2.weight", "O4.weight"):  # random heads are nearly flat; spread them so that cuts bite
        tensors[name] = tensors[name] * 8
    return save_model(tmp_path_factory.mktemp("tc") / "ds.sw", tensors, cfg), tensors, cfg


def _truncated_draw(logits, u, cut):
    """Inverse-CDF draw over the classes with p >= cut * p_max; also the distance of u to the
    nearest CDF edge and of any class to the cut, where float rounding could legitimately differ."""
    p = softmax(logits.astype(np.float64))
    keep = p >= cut * p.max()
    q = np.where(keep, p, 0.0)
    cdf = np.cumsum(q) / q.sum()
    k = min(int(np.searchsorted(cdf, u)), len(p) - 1)
    edge = np.min(np.abs(cdf - u))
    near_cut = np.min(np.abs(np.log(p / p.max()) - np.log(cut))) if cut > 0 else np.inf
    return k, edge, near_cut, keep


@pytest.mark.parametrize("cut", [0.05, 0.3])
def test_dual_softmax_draws_only_inside_the_cut_by_inverse_cdf(isa, dual_path, rng, cut):
    path, *_ = dual_path
    v = sparsewave.Vocoder.load(path, tail_cut=cut)
    assert v.tail_cut == cut
    mels = rng.standard_normal((8, 8)).astype(np.float32)
    u = rng.random((80, 2)).astype(np.float32)
    y = v.synthesize(mels, uniforms=u)
    c, f = ref.split_bytes(y.astype(np.float64))
    logits = v.logits(mels, y)  # the engine's own history fed back: the distributions it drew from
    checked = differs = 0
    for t in range(80):
        for half, k, col in ((slice(0, 256), c[t], 0), (slice(256, 512), f[t], 1)):
            want, edge, near_cut, keep = _truncated_draw(logits[t, half], u[t, col], cut)
            assert keep[k], f"step {t}: drew class {k}, which is past the tail cut"
            if edge <= 1e-5 or near_cut <= 1e-4:
                continue
            assert k == want, f"step {t} half {col}: drew {k}, the truncated inverse CDF gives {want}"
            checked += 1
            full = np.cumsum(softmax(logits[t, half].astype(np.float64)))
            differs += min(int(np.searchsorted(full, u[t, col])), 255) != k
    assert checked > 100
    assert differs > 0  # the cut changed draws: an engine that ignored it would fail above


def test_a_cut_near_one_draws_the_most_likely_class(dual_path, rng):
    path, *_ = dual_path
    v = sparsewave.Vocoder.load(path, tail_cut=0.9999)
    mels = rng.standard_normal((5, 8)).astype(np.float32)
    a, b = v.synthesize(mels, seed=1), v.synthesize(mels, seed=2)
    np.testing.assert_array_equal(a, b)  # the uniform no longer matters
    logits = v.logits(mels, a)
    c, f = ref.split_bytes(a.astype(np.float64))
    np.testing.assert_array_equal(c, logits[:, :256].argmax(1))
    np.testing.assert_array_equal(f, logits[:, 256:].argmax(1))


def test_fatchord_softmax_head_takes_the_cut(tmp_path, rng):
    path = write_small_model(tmp_path / "raw.sw", "fatchord-raw")
    greedy = sparsewave.Vocoder.load(path, tail_cut=0.9999)
    mels = rng.standard_normal((4, 8)).astype(np.float32)
    a, b = greedy.synthesize(mels, seed=1), greedy.synthesize(mels, seed=2)
    np.testing.assert_array_equal(a, b)
    free = sparsewave.Vocoder.load(path)
    assert free.tail_cut == 0.0
    assert not np.array_equal(free.synthesize(mels, seed=1), free.synthesize(mels, seed=2))


def test_the_file_config_sets_the_cut_and_load_overrides_it(tmp_path, dual_path, rng):
    _, tensors, cfg = dual_path
    cut_file = save_model(tmp_path / "cut.sw", tensors, dict(cfg, sampling={"tail_cut": 0.2, "note": "free text"}))
    mels = rng.standard_normal((5, 8)).astype(np.float32)
    from_file = sparsewave.Vocoder.load(cut_file)
    assert from_file.tail_cut == 0.2
    plain = sparsewave.Vocoder.load(dual_path[0])
    np.testing.assert_array_equal(from_file.synthesize(mels, seed=4),
                                  sparsewave.Vocoder.load(dual_path[0], tail_cut=0.2).synthesize(mels, seed=4))
    np.testing.assert_array_equal(sparsewave.Vocoder.load(cut_file, tail_cut=0.0).synthesize(mels, seed=4),
                                  plain.synthesize(mels, seed=4))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2.0, float("nan"), float("inf")])
def test_bad_cuts_are_refused(dual_path, tmp_path, bad):
    path, tensors, cfg = dual_path
    with pytest.raises(ValueError, match="tail_cut must be in"):
        sparsewave.Vocoder.load(path, tail_cut=bad)
    if np.isfinite(bad):  # JSON has no NaN/Inf: those never reach a file
        bad_file = save_model(tmp_path / "bad.sw", tensors, dict(cfg, sampling={"tail_cut": bad}))
        with pytest.raises(ValueError, match="tail_cut"):
            sparsewave.Vocoder.load(bad_file)


def test_cut_types_and_mol_heads_are_refused(dual_path, tmp_path):
    with pytest.raises(TypeError, match="tail_cut"):
        sparsewave.Vocoder.load(dual_path[0], tail_cut="0.1")
    mol = write_small_model(tmp_path / "mol.sw", "fatchord-mol")
    with pytest.raises(ValueError, match="mixture of logistics"):
        sparsewave.Vocoder.load(mol, tail_cut=0.1)
    assert sparsewave.Vocoder.load(mol, tail_cut=0.0).tail_cut == 0.0


def test_cli_takes_and_checks_tail_cut(dual_path, tmp_path):
    mel = tmp_path / "m.npy"
    np.save(mel, np.zeros((4, 8), np.float32))
    run = lambda *a: subprocess.run([sys.executable, "-m", "sparsewave", "synthesize", str(mel), "-m",
                                     str(dual_path[0]), "-o", str(tmp_path / "o.wav"), "-q", *a],
                                    capture_output=True, text=True)
    ok = run("--tail-cut", "0.05", "--seed", "1")
    assert ok.returncode == 0, ok.stderr
    bad = run("--tail-cut", "1.5")
    assert bad.returncode == 2 and "tail-cut" in bad.stderr
