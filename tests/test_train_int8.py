"""sparsewave.train --quantize int8: the fake quantization is the engine's rule bit for bit, the
explicit GRU cell is nn.GRU, and a QAT-trained export scores in the int8 engine as the QAT model
computes. Tiny models on synthetic clips, CPU only, a few seconds."""
from __future__ import annotations


import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sparsewave  # noqa: E402
from sparsewave import _core  # noqa: E402
from sparsewave.sparse import BlockSparseMatrix  # noqa: E402
from sparsewave.train import cli as train_cli  # noqa: E402
from sparsewave.train.fake_quant import fake_quant, quantize_int8  # noqa: E402
from sparsewave.train.model import DualSoftmaxWaveRNN  # noqa: E402
from sparsewave.train.trainer import TrainConfig, train  # noqa: E402

from small_models import TINY_MEL as MEL, softmax as _softmax, write_voiced_clips  # noqa: E402


def _max_prob_error(got, want):
    """Largest relative difference of the coarse and fine probabilities above 1e-6."""
    worst = 0.0
    for half in (slice(0, 256), slice(256, 512)):
        p, q = _softmax(np.asarray(got, np.float64)[:, half]), _softmax(np.asarray(want, np.float64)[:, half])
        big = q > 1e-6
        worst = max(worst, float(np.max(np.abs(p - q)[big] / q[big])))
    return worst


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    return write_voiced_clips(tmp_path_factory.mktemp("wavs"), envelope=False)


# ------------------------------------------------------------------------------ the rule


def _hard_vectors(rng):
    """Random vectors plus the rule's edge cases: exact .5 ties, all zero, a tiny max, one element."""
    vs = [rng.standard_normal(n).astype(np.float32) * s for n, s in ((37, 1.0), (64, 1e-3), (200, 30.0))]
    vs.append(np.array([127.0, 0.5, 1.5, 2.5, -0.5, -2.5, 63.5, -126.5], np.float32))  # m = 127: ties exact
    vs.append(np.zeros(9, np.float32))
    vs.append(np.array([1e-31, -5e-32, 0.0], np.float32))  # below kQuantizeTinyMax
    vs.append(np.array([-3.0], np.float32))
    return vs


def test_vector_rule_is_the_engines_bit_for_bit():
    rng = np.random.default_rng(0)
    for x in _hard_vectors(rng):
        want_q, want_s = _core.quantize(x)
        q, s = quantize_int8(torch.from_numpy(x))
        np.testing.assert_array_equal(q.numpy().astype(np.int8), want_q)
        assert np.float32(s.item()).tobytes() == np.float32(want_s).tobytes()
        # fake_quant gives q * scale in float32, batched per vector
        fq = fake_quant(torch.from_numpy(np.stack([x, -x])), -1).numpy()
        np.testing.assert_array_equal(fq[0], want_q.astype(np.float32) * np.float32(want_s))
        np.testing.assert_array_equal(fq[1], (-want_q).astype(np.float32) * np.float32(want_s))
    # a float64 input is quantized in float32 as the engine does (values rounded first)
    x = rng.standard_normal(50)
    np.testing.assert_array_equal(quantize_int8(torch.from_numpy(x))[0].numpy(),
                                  _core.quantize(x.astype(np.float32))[0])


@pytest.mark.parametrize("block", [(8, 4), (4, 4)])
def test_weight_rule_is_store_int8_bit_for_bit(block):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((24, 16)).astype(np.float32)
    w[3] = 0.0                                   # an all-zero row: scale 0
    w[5] = np.array([127.0, 0.5, 1.5, -2.5] * 4, np.float32)  # m = 127: exact ties
    w[7] *= 1e-4
    w[9, :] = np.float32(1e-3)                   # no zero blocks anywhere else, so to_dense is every value
    m = BlockSparseMatrix.from_dense(w, block, dtype="int8")
    values, scales = m.quantized()
    q, s = quantize_int8(torch.from_numpy(w), 1)
    assert s.numpy()[:, 0].tobytes() == scales[:24].tobytes()
    np.testing.assert_array_equal(fake_quant(torch.from_numpy(w), 1).numpy(), m.to_dense())
    # the integers themselves (every block is stored: only row 3 is zero, and its blocks share rows)
    dense_q = np.zeros((24, 16), np.int8)
    row_ptr, block_col, _ = m.packed()
    br, bc = block
    for rb in range(len(row_ptr) - 1):
        for k in range(row_ptr[rb], row_ptr[rb + 1]):
            c = block_col[k] * bc
            dense_q[rb * br:(rb + 1) * br, c:c + bc] = values[k]
    np.testing.assert_array_equal(q.numpy().astype(np.int8), dense_q)


def test_fake_quant_passes_the_gradient_straight_through():
    x = torch.randn(3, 10, requires_grad=True)
    g = torch.randn(3, 10)
    (fake_quant(x, -1) * g).sum().backward()
    assert torch.equal(x.grad, g)


# ------------------------------------------------------------------------------ the explicit cell


def test_explicit_cell_is_nn_gru():
    torch.manual_seed(0)
    model = DualSoftmaxWaveRNN(32, n_mels=5, hop_length=4)
    x = torch.randn(3, 40, 8)
    h0 = 0.5 * torch.randn(1, 3, 32)
    with torch.no_grad():
        want, want_n = torch.func.functional_call(model.gru, {"weight_ih_l0": model.masked_weight_ih()}, (x, h0))
        got, got_n = model.gru_steps(x, h0)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    torch.testing.assert_close(got_n, want_n, rtol=0, atol=1e-5)
    # and the QAT forward differs from it (the quantization is really applied) yet stays close
    with torch.no_grad():
        q, _ = model.gru_steps(x, h0, quantize=True)
    assert 1e-5 < float((q - want).abs().max()) < 0.1


def test_masked_column_stays_zero_under_qat():
    torch.manual_seed(0)
    model = DualSoftmaxWaveRNN(16, n_mels=3, hop_length=4, quantize="int8")
    batch = {k: torch.randint(0, 256, (2, 8)) for k in ("c", "f", "prev_c", "prev_f")}
    batch["mels"] = torch.randn(2, 2, 3)
    model.loss(batch).backward()
    for gate in range(3):
        assert torch.all(model.gru.weight_ih_l0.grad[gate * 16:gate * 16 + 8, 2] == 0)
    for name in ("O1", "O2", "O3", "O4"):
        assert float(getattr(model, name).weight.grad.abs().sum()) > 0
    assert float(model.gru.weight_hh_l0.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="quantize"):
        DualSoftmaxWaveRNN(16, quantize="int4")


# ------------------------------------------------------------------------------ training sees the engine


def _config(wav_dir, out, **kw):
    base = dict(data=[str(wav_dir)], out=str(out), hidden=32, mel=dict(MEL), steps=4, batch=4, seq_frames=4,
                sparsity=0.5, block="8x4", prune_heads=True, prune_start=1, prune_steps=2, prune_every=1, lr=3e-3,
                val_clips=1, val_crops=4, val_every=4, log_every=1, export_every=0, checkpoint_every=0,
                threads=1, seed=3, quiet=True, quantize="int8")
    base.update(kw)
    return TrainConfig(**base)


def test_qat_export_scores_in_the_int8_engine_as_trained(wav_dir, tmp_path):
    out = tmp_path / "qat"
    res = train(_config(wav_dir, out))
    model = res["model_obj"]
    assert model.quantize == "int8"
    v8 = sparsewave.Vocoder.load(out / "model.sw", weights="int8")
    v32 = sparsewave.Vocoder.load(out / "model.sw")
    assert [m["dtype"] for m in v8.describe()["matrices"]] == ["int8"] * 5  # R, O1..O4 all run int8
    assert v8.config["training"]["quantized_training"] == "int8"
    from sparsewave.train.data import load_clip

    clip = load_clip(wav_dir / "clip1.wav", MEL)
    audio = ((clip.c.astype(np.float64) * 256 + clip.f) / 32767.5 - 1)[:1000].astype(np.float32)
    mels = clip.mels[: -(-len(audio) // 32)]
    qat = model.teacher_forced_logits(mels, audio)
    model.quantize = None
    flt = model.teacher_forced_logits(mels, audio)
    err_int8 = _max_prob_error(v8.logits(mels, audio), qat)
    err_float = _max_prob_error(v32.logits(mels, audio), flt)
    gap = _max_prob_error(flt, qat)  # what quantization changes: the check's resolving power
    # measured: 1.2e-7 for both, the quantization itself moves the probabilities by 4.4e-3
    assert err_int8 <= 1e-4 and err_float <= 1e-4, (err_int8, err_float)
    assert gap > 1e-3, gap


def test_cli_and_refusals(wav_dir, tmp_path):
    assert train_cli.build_parser().parse_args([str(wav_dir), "-o", "x", "--quantize", "int8"]).quantize == "int8"
    with pytest.raises(SystemExit):
        train_cli.main([str(wav_dir), "-o", str(tmp_path / "x"), "--quantize", "int4"])
    with pytest.raises(ValueError, match="8x4"):
        train(_config(wav_dir, tmp_path / "bad", block="16x1", steps=1))
    with pytest.raises(ValueError, match="multiples of 4"):
        train(_config(wav_dir, tmp_path / "bad", hidden=36, steps=1))


def test_fine_tuning_a_float_model_with_qat(wav_dir, tmp_path):
    """The usual recipe: train float, then --init its export with --quantize int8."""
    train(_config(wav_dir, tmp_path / "float", steps=2, quantize=None))
    res = train(_config(wav_dir, tmp_path / "ft", steps=1, init=str(tmp_path / "float" / "model.sw"),
                        keep_masks=True))
    assert res["model_obj"].quantize == "int8"
    assert sparsewave.Vocoder.load(tmp_path / "ft" / "model.sw").config["training"]["quantized_training"] == "int8"
