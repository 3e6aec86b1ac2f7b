"""Models trained on pre-emphasised audio (config "preemphasis": a): the engine de-emphasises
what it samples and pre-emphasises the audio it scores. Checked against a float64 NumPy
de-emphasis of the same model's output without the key, on every entry point."""
from __future__ import annotations

import numpy as np
import pytest

import sparsewave
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model


def _deemphasize(y, a):
    out, prev = np.empty(len(y)), 0.0
    for i, v in enumerate(np.asarray(y, np.float64)):
        prev = v + np.float64(np.float32(a)) * prev
        out[i] = prev
    return np.clip(out, -1.0, 1.0)


def _preemphasize(x, a):
    x = np.asarray(x, np.float32).astype(np.float64)
    y = x.copy()
    y[1:] -= np.float64(np.float32(a)) * x[:-1]
    return y.astype(np.float32)


@pytest.fixture(params=[(24, 0.5, (4, 4), 0.86), (34, 0.3, (16, 1), 0.97), (16, 1.0, (4, 4), 0.3)],
                ids=lambda p: f"N{p[0]}-a{p[3]}")
def pair(request, tmp_path):
    """(plain model, the same weights with "preemphasis": a, a)."""
    hidden, density, block, a = request.param
    tensors, cfg = random_dual_softmax(hidden, density, block, seed=hidden, n_mels=8, hop_length=10)
    save_model(tmp_path / "plain.sw", tensors, cfg)
    save_model(tmp_path / "emph.sw", tensors, dict(cfg, preemphasis=a))
    return sparsewave.Vocoder.load(tmp_path / "plain.sw"), sparsewave.Vocoder.load(tmp_path / "emph.sw"), a


def test_synthesis_is_the_deemphasised_model_output(isa, pair, rng):
    plain, emph, a = pair
    assert plain.preemphasis == 0.0 and emph.preemphasis == pytest.approx(a)
    mels = rng.standard_normal((9, 8)).astype(np.float32)
    u = rng.random((90, 2)).astype(np.float32)
    y = plain.synthesize(mels, uniforms=u)  # the same draws: the model's loop does not change
    np.testing.assert_allclose(emph.synthesize(mels, uniforms=u), _deemphasize(y, a), atol=2e-6)
    # batched: folds joined in the model's domain, then de-emphasised as one signal
    yb = plain.synthesize(mels, seed=4, batched=True, target=30, overlap=10)
    eb = emph.synthesize(mels, seed=4, batched=True, target=30, overlap=10, threads=2)
    np.testing.assert_allclose(eb, _deemphasize(yb, a), atol=2e-6)
    assert np.all(np.abs(eb) <= 1.0)


def test_stream_equals_synthesize(pair, rng):
    _, emph, _ = pair
    mels = rng.standard_normal((11, 8)).astype(np.float32)
    whole = emph.synthesize(mels, seed=9)
    s = emph.streamer(seed=9)
    parts = [s.push(mels[i:i + 3]) for i in range(0, 11, 3)] + [s.flush()]
    assert np.array_equal(np.concatenate(parts), whole)


def test_scoring_sees_the_preemphasised_audio(pair, rng):
    plain, emph, a = pair
    mels = rng.standard_normal((7, 8)).astype(np.float32)
    audio = np.clip(rng.standard_normal(70) * 0.3, -1, 1).astype(np.float32)
    np.testing.assert_array_equal(emph.logits(mels, audio), plain.logits(mels, _preemphasize(audio, a)))
    assert emph.nll(mels, audio) == plain.nll(mels, _preemphasize(audio, a))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.9", None, [0.5]])
def test_bad_preemphasis_is_rejected(tmp_path, bad):
    tensors, cfg = random_dual_softmax(8, 1.0, (4, 4), n_mels=4, hop_length=4)
    save_model(tmp_path / "bad.sw", tensors, dict(cfg, preemphasis=bad))
    with pytest.raises(ValueError, match="preemphasis"):
        sparsewave.Vocoder.load(tmp_path / "bad.sw")
