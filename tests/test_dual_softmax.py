"""The paper's dual-softmax WaveRNN: engine vs the float64 NumPy reference
(tests/reference_models/dual_softmax_numpy.py), random block-pruned weights,
several sizes/densities, both block shapes, every ISA this CPU runs."""
import numpy as np
import pytest

import sparsewave
from reference_models import dual_softmax_numpy as ref
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model

CASES = [  # hidden, density, block, upsample
    (16, 1.0, (4, 4), "repeat"),
    (34, 0.3, (16, 1), "conv"),     # odd half (17): padding inside blocks
    (64, 0.1, (4, 4), "conv"),
    (96, 0.05, (16, 1), "repeat"),
]


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(params=CASES, ids=lambda c: f"N{c[0]}-d{c[1]}-{c[2][0]}x{c[2][1]}-{c[3]}")
def model(request, tmp_path_factory):
    hidden, density, block, up = request.param
    kw = dict(upsample="conv", upsample_kernel=5) if up == "conv" else {}
    tensors, cfg = random_dual_softmax(hidden, density, block, seed=hidden, n_mels=8, hop_length=10, **kw)
    path = tmp_path_factory.mktemp("ds") / "model.sw"
    save_model(path, tensors, cfg)
    return sparsewave.Vocoder.load(path), tensors, cfg


def test_teacher_forced_probabilities(isa, model, rng):
    v, tensors, cfg = model
    mels = rng.standard_normal((7, 8)).astype(np.float32)
    audio = np.clip(rng.standard_normal(70) * 0.3, -1, 1).astype(np.float32)
    got = v.logits(mels, audio)
    want, *_ = ref.run(tensors, cfg, mels, audio=audio)
    assert got.shape == (70, 512)
    for half in (slice(0, 256), slice(256, 512)):
        p, q = _softmax(got[:, half].astype(np.float64)), _softmax(want[:, half])
        big = q > 1e-12  # relative error is meaningless below float32's range of exp
        assert np.max(np.abs(p - q)[big] / q[big]) < 1e-5
    # nll is the mean of -log2 P(c) - log2 P(f) of the same probabilities
    c, f = ref.split_bytes(audio.astype(np.float64))
    lp = np.log2(_softmax(want[:, :256])[np.arange(70), c]) + np.log2(_softmax(want[:, 256:])[np.arange(70), f])
    assert v.nll(mels, audio) == pytest.approx(-lp.mean(), rel=1e-5)


def test_sampling_with_given_uniforms(isa, model, rng):
    v, tensors, cfg = model
    mels = rng.standard_normal((6, 8)).astype(np.float32)
    u = rng.random((60, 2)).astype(np.float32)
    y = v.synthesize(mels, uniforms=u)
    _, c, f, margin = ref.run(tensors, cfg, mels, uniforms=u.astype(np.float64))
    # Free running: identical until the first step whose margin is <= 1e-5
    # (after a legitimate flip the two runs follow different histories).
    small = np.nonzero(margin.min(axis=1) <= 1e-5)[0]
    upto = small[0] if len(small) else len(y)
    want = (c * 256 + f) / 32767.5 - 1
    np.testing.assert_allclose(y[:upto], want[:upto], atol=1e-6)
    # Every step, with the reference's own history fed back (teacher forcing):
    logits = v.logits(mels, want.astype(np.float32))
    for t in range(60):
        for half, k, col in ((slice(0, 256), c[t], 0), (slice(256, 512), f[t], 1)):
            if margin[t, col] <= 1e-5:
                continue
            cdf = np.cumsum(_softmax(logits[t, half].astype(np.float64)))
            assert min(int(np.searchsorted(cdf, u[t, col])), 255) == k


def test_batched_matches_unbatched_per_fold(model, rng):
    v, tensors, cfg = model
    mels = rng.standard_normal((12, 8)).astype(np.float32)
    y1 = v.synthesize(mels, seed=5, batched=True, target=30, overlap=10, threads=1)
    y2 = v.synthesize(mels, seed=5, batched=True, target=30, overlap=10, threads=2)
    assert y1.shape == (120,) and np.array_equal(y1, y2)
    assert np.all(np.abs(y1) <= 1)


def test_uniform_shape_is_checked(model):
    v, *_ = model
    mels = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="uniforms"):
        v.synthesize(mels, uniforms=np.zeros(20, np.float32))  # needs (20, 2)


def test_bad_config_is_rejected(tmp_path):
    tensors, cfg = random_dual_softmax(8, 1.0, (4, 4), n_mels=4, hop_length=4)
    save_model(tmp_path / "odd.sw", tensors, dict(cfg, hidden=9))
    with pytest.raises(ValueError, match="hidden"):
        sparsewave.Vocoder.load(tmp_path / "odd.sw")
    bad = dict(tensors)
    bad["R.weight"] = bad["R.weight"][:, :-1]
    save_model(tmp_path / "shape.sw", bad, cfg)
    with pytest.raises(ValueError, match="R.weight"):
        sparsewave.Vocoder.load(tmp_path / "shape.sw")
