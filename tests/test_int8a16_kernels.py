"""int8 weights with 16-bit inputs ("int8a16") on every kernel path, bit-exact against NumPy.

The rule (kernels/table.h SpmvI8A16Fn/QuantizeI16Fn, BlockSparseMatrix::use_wide_inputs):
the weights are the int8 ones (test_int8_kernels.py); each product quantizes x to
q = round-half-even(x * (qmax / max|x|)) with scale max|x| / qmax, where qmax is the
matrix's input_qmax = min(16383, (2^31 - 1) // the largest row sum of |q_w|); it sums
q_w * q_x exactly in int32 and writes float32(acc) * (row_scale * x_scale).
"""
import numpy as np
import pytest

from sparsewave import BlockSparseMatrix, Vocoder, _core
from sparse_reference import random_block_sparse
from test_int8_kernels import INT8_BLOCKS, assert_same, quantize_reference, quantized_dense

SHAPES = [(1, 1), (3, 5), (8, 4), (17, 33), (100, 37), (257, 129), (768, 256)]


def quantize16_reference(x, qmax):
    """QuantizeI16Fn in float32: (q int16, scale float32)."""
    return quantize_reference(x, qmax, np.int16)


def expected_qmax(m):
    wq, _ = quantized_dense(m)
    return int(min(16383, (2**31 - 1) // max(1, int(np.abs(wq).sum(axis=1).max(initial=0)))))


def a16_reference(m, x, y0=None):
    wq, row_scale = quantized_dense(m)
    xp = np.zeros(wq.shape[1], np.float32)
    xp[:x.shape[0]] = x
    xq, x_scale = quantize16_reference(xp, m.input_qmax)
    acc = wq @ xq.astype(np.int64)
    assert np.abs(acc).max(initial=0) < 2**31  # what input_qmax guarantees
    y = (acc.astype(np.float32) * (row_scale * np.float32(x_scale)))[:m.shape[0]]
    return y if y0 is None else y0 + y


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.0, 0.03, 0.3, 1.0])
def test_matvec_equals_integer_reference(isa, rng, block, shape, density):
    w, keep = random_block_sparse(rng, *shape, block, density, empty_block_rows=0.2)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", input_bits=16)
    assert m.dtype == np.int8 and m.input_bits == 16 and m.input_qmax == expected_qmax(m) == 16383
    x = (rng.standard_normal(shape[1]) * 10.0 ** rng.integers(-3, 4)).astype(np.float32)
    out = np.full(shape[0], np.nan, np.float32)  # poison: every entry must be written
    assert_same(m.matvec(x, out=out), a16_reference(m, x))
    y0 = rng.standard_normal(shape[0]).astype(np.float32)
    acc = y0.copy()
    m.matvec(x, out=acc, accumulate=True)
    assert_same(acc, a16_reference(m, x, y0))
    # The same weights as the 8-bit product's, and many vectors run one product each.
    m8 = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    assert all(np.array_equal(a, b) for a, b in zip(m.quantized(), m8.quantized()))
    nvec = int(rng.integers(2, 18))
    xs = (rng.standard_normal((nvec, shape[1])) * 10.0 ** rng.integers(-3, 4, (nvec, 1))).astype(np.float32)
    xs[-1] = 0
    assert_same(m.matvec_many(xs, out=np.full((nvec, shape[0]), np.nan, np.float32)),
                np.stack([a16_reference(m, v) for v in xs]))
    y0 = rng.standard_normal((nvec, shape[0])).astype(np.float32)
    acc = y0.copy()
    m.matvec_many(xs, out=acc, accumulate=True)
    assert_same(acc, y0 + np.stack([a16_reference(m, v) for v in xs]))


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("sign", [1, -1, 0])
def test_int32_bound_shrinks_qmax_and_stays_exact(isa, rng, block, sign):
    # A dense row of 20,000 weights at +-127 times x at 16383 would pass 2^31:
    # input_qmax shrinks so that even every product at its extreme, one sign, sums exactly.
    rows, cols = 9, 20000
    x = (np.where(rng.random(cols) < 0.5, -1.0, 1.0) if sign == 0 else np.ones(cols)).astype(np.float32)
    w = np.tile((sign or 1) * np.sign(x), (rows, 1)).astype(np.float32)
    if sign == 0:
        w *= np.where(rng.random(w.shape) < 0.5, -1, 1).astype(np.float32)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", input_bits=16)
    assert m.input_qmax == expected_qmax(m) == (2**31 - 1) // (127 * cols)
    got = m.matvec(x, out=np.full(rows, np.nan, np.float32))
    assert_same(got, a16_reference(m, x))
    if sign:
        assert np.allclose(got, sign * cols, rtol=1e-6)


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_nan_inf_and_zero_x(isa, rng, block):
    w, _ = random_block_sparse(rng, 40, 70, block, 0.3, empty_block_rows=0.2)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", input_bits=16)
    for bad in (np.nan, np.inf, -np.inf):
        for at in (0, 33, 69):  # vector body and scalar tail of the quantizer
            x = rng.standard_normal(70).astype(np.float32)
            x[at] = bad
            assert np.isnan(m.matvec(x, out=np.zeros(40, np.float32))).all()
    assert_same(m.matvec(np.zeros(70, np.float32)), np.zeros(40, np.float32))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 33, 70])
@pytest.mark.parametrize("qmax", [1, 127, 845, 32767])
def test_quantizer_matches_the_rule(isa, rng, n, qmax):
    for x in (rng.standard_normal(n).astype(np.float32), (np.arange(n) % 9 - 4.5).astype(np.float32)):
        q, s = _core.quantize_i16(x, qmax)
        q_ref, s_ref = quantize16_reference(x, qmax)
        assert q.dtype == np.int16 and np.array_equal(q, q_ref) and (s == s_ref or np.isnan(s) and np.isnan(s_ref))
    with pytest.raises(ValueError, match="qmax"):
        _core.quantize_i16(np.zeros(3, np.float32), 40000)


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_closer_to_float64_than_8_bit_inputs(isa, rng, block):
    # With x kept to 15 bits, the error is the weights' rounding alone: the same
    # product on the dequantized weights in float64, within float32 rounding.
    w, _ = random_block_sparse(rng, 768, 256, block, 0.1)
    x = rng.standard_normal(256).astype(np.float32)
    m16 = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", input_bits=16)
    m8 = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    exact = w.astype(np.float64) @ x.astype(np.float64)
    weights_only = m16.to_dense().astype(np.float64) @ x.astype(np.float64)
    err16, err8 = np.abs(m16.matvec(x) - exact), np.abs(m8.matvec(x) - exact)
    assert np.median(err16) < 0.75 * np.median(err8)
    # |dx| <= half a step (max|x| / qmax) per entry, plus float32's rounding of the rescale.
    abs_w = np.abs(m16.to_dense()).astype(np.float64)
    bound = abs_w.sum(axis=1) * np.abs(x).max() * (0.5 + 1e-4) / m16.input_qmax
    bound += 4 * np.finfo(np.float32).eps * (abs_w @ np.abs(x).astype(np.float64))
    assert np.all(np.abs(m16.matvec(x) - weights_only) <= bound)


def test_bad_arguments():
    w = np.ones((8, 8), np.float32)
    with pytest.raises(ValueError, match="input_bits"):
        BlockSparseMatrix.from_dense(w, block=(8, 4), dtype="int8", input_bits=12)
    with pytest.raises(ValueError, match="input_bits=16 needs dtype='int8'"):
        BlockSparseMatrix.from_dense(w, block=(4, 4), dtype="float32", input_bits=16)
    m = BlockSparseMatrix.from_dense(w, block="auto", dtype="int8", input_bits=16)
    assert m.input_bits == 16 and m.dtype == np.int8
    assert BlockSparseMatrix.from_dense(w, block=(16, 1)).input_bits == 32


@pytest.mark.parametrize("kind", ["fatchord-raw", "dual-softmax"])
def test_vocoder_load_int8a16(isa, tmp_path, kind):
    # weights="int8a16" runs the int8 matrices with 16-bit inputs and says so; its
    # logits sit closer to float32's than weights="int8"'s; an int8 file loaded
    # with it equals the float file loaded with it (the same int8 weights).
    from small_models import save_model, write_small_model
    from sparsewave.weights import load_model_tensors
    path = write_small_model(tmp_path / "f32.sw", kind)
    tensors, cfg = load_model_tensors(path)
    i8_path = save_model(tmp_path / "i8.sw", tensors, cfg, weights="int8")
    v32, v8, v16 = (Vocoder.load(path, weights=w) for w in ("float32", "int8", "int8a16"))
    dtypes = {m["dtype"] for m in v16.describe()["matrices"] if m.get("per_sample")}
    assert "int8a16" in dtypes and "int8" not in dtypes
    rng = np.random.default_rng(0)
    mels = rng.standard_normal((12, v32.n_mels)).astype(np.float32)
    audio = (np.sin(np.arange(12 * v32.hop_length) * 0.05) * 0.5).astype(np.float32)
    f, q8, q16 = (v.logits(mels, audio).astype(np.float64) for v in (v32, v8, v16))
    # The logits' error against float32: 8-bit inputs add theirs to the weights' rounding.
    assert np.abs(q16 - f).mean() < 0.9 * np.abs(q8 - f).mean()  # measured 0.79 and 0.65
    assert np.array_equal(Vocoder.load(i8_path, weights="int8a16").logits(mels, audio), q16.astype(np.float32))
    with pytest.raises(ValueError, match="int8a16"):
        Vocoder.load(path, weights="int16")
