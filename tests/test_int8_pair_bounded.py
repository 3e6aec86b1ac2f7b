"""Pair-bounded int8 weights (issue 16): the rule and the AVX2 fast kernel.

A matrix whose stored int8 pairs (columns 2i, 2i+1 of each block row) all keep
|q_a| + |q_b| <= 128 is flagged pair_bounded; AVX2 then multiplies xu = xq + 128
by the weights with vpmaddubsw (255 * 128 fits int16) and takes 128 * row_sum
back. Every result must still equal the integer reference bit for bit, and a
matrix past the bound must take the exact kernel.
"""
import numpy as np
import pytest

from sparsewave import BlockSparseMatrix
from sparse_reference import random_block_sparse
from test_int8_kernels import INT8_BLOCKS, assert_same, int8_reference, quantized_dense

F127 = np.float32(127)
PAIR_SCALE = np.float32(127.0 / 128.0)  # exact in float32
TINY_MAX = np.float32(1e-30)


def pairs_max(q):
    """Largest |q_a| + |q_b| over adjacent column pairs of a padded int matrix (0 if none)."""
    a = np.abs(q.astype(np.int64))
    return int((a[:, 0::2] + a[:, 1::2]).max(initial=0))


def pair_bounded_reference(w, block):
    """The documented pair_bounded rule in float32 on the padded dense matrix: (q, row_scale)."""
    br, bc = block
    rows, cols = w.shape
    pr, pc = -(-rows // br) * br, -(-cols // bc) * bc
    wp = np.zeros((pr, pc), np.float32)
    wp[:rows, :cols] = w
    a = np.abs(wp)
    row_max = np.maximum(a.max(axis=1, initial=0), ((a[:, 0::2] + a[:, 1::2]) * PAIR_SCALE).max(axis=1, initial=0))
    with np.errstate(divide="ignore"):
        inv = np.where(row_max >= TINY_MAX, F127 / row_max, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint(wp * inv[:, None]), -127, 127).astype(np.int64)
    # A pair rounded up to 129: its larger member (the first on a tie) steps toward zero.
    qa, qb = q[:, 0::2], q[:, 1::2]
    over = np.abs(qa) + np.abs(qb) > 128
    first = over & (np.abs(qa) >= np.abs(qb))
    second = over & ~first
    qa -= np.sign(qa) * first
    qb -= np.sign(qb) * second
    scale = np.where(row_max >= TINY_MAX, row_max / F127, np.float32(0)).astype(np.float32)
    return q, scale


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 33), (100, 37), (257, 129), (2688, 896)])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
def test_pair_bounded_rule_and_product(isa, rng, block, shape, density):
    w, _ = random_block_sparse(rng, *shape, block, density, empty_block_rows=0.2)
    w[0] = 0  # an all-zero row: scale 0
    if shape[1] >= 2:  # rows where the pair sum, not the max, sets the scale
        w[-1, :2] = [3.0, -2.9]
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", int8_rule="pair_bounded")
    assert m.dtype == np.int8 and m.pair_bounded
    wq, row_scale = quantized_dense(m)
    assert pairs_max(wq) <= 128
    want_q, want_scale = pair_bounded_reference(w, block)
    assert np.array_equal(row_scale, want_scale)
    assert np.array_equal(wq, want_q)
    x = rng.standard_normal(shape[1]).astype(np.float32)
    assert_same(m.matvec(x, out=np.full(shape[0], np.nan, np.float32)), int8_reference(m, x))
    y0 = rng.standard_normal(shape[0]).astype(np.float32)
    acc = y0.copy()
    m.matvec(x, out=acc, accumulate=True)
    assert_same(acc, int8_reference(m, x, y0))
    xs = rng.standard_normal((3, shape[1])).astype(np.float32) * np.float32([[1e-3], [1.0], [1e3]])
    out = np.full((3, shape[0]), np.nan, np.float32)
    assert_same(m.matvec_many(xs, out=out), np.stack([int8_reference(m, v) for v in xs]))


def test_rounding_never_breaks_the_bound(rng):
    # Many rows whose pair sum sets the scale, with members near rounding ties.
    for _ in range(20):
        rows, cols = 64, 32
        w = rng.standard_normal((rows, cols)).astype(np.float32)
        w[:, 1::2] = (np.float32(1) - w[:, 0::2] * rng.choice([0.49, 0.5, 0.51])).astype(np.float32)
        for block in INT8_BLOCKS:
            m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", int8_rule="pair_bounded")
            wq, row_scale = quantized_dense(m)
            assert m.pair_bounded and pairs_max(wq) <= 128
            assert np.array_equal(wq, pair_bounded_reference(w, block)[0])


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("cols", [1, 2, 5, 8, 33, 896])
def test_weights_exactly_at_the_bound(isa, rng, block, cols):
    # q = w (row max 127): pairs (127, 1), (64, 64), (1, 127) of one sign and mixed,
    # x at +-127 (xu = 255 or 1): vpmaddubsw pairs reach +-255 * 128 = +-32640.
    rows = 20
    pairs = np.array([[127, 1], [64, 64], [1, 127], [-127, -1], [-64, -64], [-1, -127], [127, -1], [-64, 64]])
    w = np.zeros((rows, cols + cols % 2), np.float32)
    for r in range(rows):
        if r % 5 == 4:
            continue  # an all-zero row
        chosen = pairs[rng.integers(0, 3, cols // 2 + 1) + 3 * (r % 2)] if r % 5 < 2 else \
            pairs[rng.integers(0, len(pairs), cols // 2 + 1)]
        w[r] = chosen[:w.shape[1] // 2].reshape(-1)
        w[r, :2] = [127, 1] if r % 2 == 0 else [-127, -1]  # the row max: 127
    w = w[:, :cols]
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")  # the old rule, here exact
    assert m.pair_bounded and np.array_equal(quantized_dense(m)[0][:rows, :cols], w)
    for x in (np.full(cols, 3.0, np.float32), np.full(cols, -3.0, np.float32),
              np.where(rng.random(cols) < 0.5, -3.0, 3.0).astype(np.float32)):
        assert_same(m.matvec(x, out=np.full(rows, np.nan, np.float32)), int8_reference(m, x))


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_a_pair_past_the_bound_takes_the_exact_kernel(isa, rng, block):
    # One pair of 65 + 64 = 129: 255 * 129 would saturate int16 in the fast kernel.
    rows, cols = 16, 64
    w = np.zeros((rows, cols), np.float32)
    w[:, 0::2], w[:, 1::2] = 64.0, 64.0
    w[:, 0] = 127.0  # row max 127: q = w
    w[:, 1] = 1.0
    w[5, 10] = 65.0
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    assert not m.pair_bounded
    x = np.full(cols, 2.0, np.float32)  # xq = 127, xu = 255 everywhere
    assert_same(m.matvec(x, out=np.full(rows, np.nan, np.float32)), int8_reference(m, x))
    # The same integers read from a file keep the flag off too.
    row_ptr, block_col, _ = m.packed()
    values, row_scale = m.quantized()
    again = BlockSparseMatrix.from_packed(m.shape, block, row_ptr, block_col, values, row_scale=row_scale)
    assert not again.pair_bounded
    assert_same(again.matvec(x), int8_reference(m, x))
    # And the flag comes back once the pair is within the bound.
    values = values.copy()
    values[values == 65] = 64
    bounded = BlockSparseMatrix.from_packed(m.shape, block, row_ptr, block_col, values, row_scale=row_scale)
    assert bounded.pair_bounded
    assert_same(bounded.matvec(x), int8_reference(bounded, x))


def test_int8_rule_errors():
    w = np.ones((8, 4), np.float32)
    with pytest.raises(ValueError, match="int8_rule"):
        BlockSparseMatrix.from_dense(w, block=(8, 4), dtype="int8", int8_rule="nope")
    with pytest.raises(ValueError, match="pair_bounded"):
        BlockSparseMatrix.from_dense(w, block=(8, 4), int8_rule="pair_bounded")
    assert not BlockSparseMatrix.from_dense(w, block=(8, 4)).pair_bounded


def test_save_model_pair_bounded_rule(tmp_path):
    # The loop's int8 matrices are stored by the pair-bounded rule in the engine's block
    # choice; the file loads and runs as stored (its matrices flagged at load).
    import sparsewave
    from sparsewave.dual_softmax import random_dual_softmax
    from sparsewave.weights import int8_matrix_columns, load_model_tensors, save_model

    tensors, cfg = random_dual_softmax(64, 0.3, (8, 4), n_mels=8, hop_length=16, seed=7)
    f = save_model(tmp_path / "pair.sw", tensors, cfg, weights="int8", int8_rule="pair_bounded")
    old = save_model(tmp_path / "old.sw", tensors, cfg, weights="int8")
    stored, _ = load_model_tensors(f)
    for name, cols in int8_matrix_columns(cfg).items():
        w = np.asarray(tensors[name], np.float32)[:, :cols]
        block = BlockSparseMatrix.from_dense(w, block="auto", dtype="int8").block
        want = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", int8_rule="pair_bounded")
        assert want.pair_bounded and np.array_equal(stored[name][:, :cols], want.to_dense())
    rng = np.random.default_rng(0)
    mels = rng.uniform(0, 1, (5, cfg["n_mels"])).astype(np.float32)
    audio = rng.uniform(-0.9, 0.9, 5 * cfg["hop_length"]).astype(np.float32)
    v, v_old = sparsewave.Vocoder.load(f), sparsewave.Vocoder.load(old)
    assert "int8" in {m["dtype"] for m in v.describe()["matrices"]}
    a, b = v.logits(mels, audio), v_old.logits(mels, audio)
    assert np.all(np.isfinite(a)) and not np.array_equal(a, b)  # a different quantization
    np.testing.assert_allclose(a, b, atol=0.05 * np.abs(b).max())
    with pytest.raises(ValueError, match="int8_rule"):
        save_model(tmp_path / "x.sw", tensors, cfg, weights="int8", int8_rule="max")
    with pytest.raises(ValueError, match="weights='int8'"):
        save_model(tmp_path / "x.sw", tensors, cfg, int8_rule="pair_bounded")


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_pairs_rounded_past_the_bound_step_back(isa, block):
    # Pairs (found by search) whose two members both round up to a sum of 129 in float32:
    # the larger member steps back toward zero, and the product stays exact.
    pairs = np.array([[9.13628, 9.574822], [4.495175, 4.5659657], [3.6185746, 3.5624723], [9.51841, 9.082452]],
                     np.float32)
    w = np.zeros((8, 8), np.float32)
    w[:4, 2:4] = pairs
    w[4:, 4:6] = -pairs
    a, b = np.abs(w[:4, 2]), np.abs(w[:4, 3])
    inv = F127 / ((a + b) * PAIR_SCALE)
    assert np.all(np.rint(a * inv) + np.rint(b * inv) == 129)  # the unfixed rounding
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", int8_rule="pair_bounded")
    wq = quantized_dense(m)[0]
    assert m.pair_bounded and pairs_max(wq) == 128
    assert np.array_equal(wq, pair_bounded_reference(w, block)[0])
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    assert_same(m.matvec(x, out=np.full(8, np.nan, np.float32)), int8_reference(m, x))


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("nvec", [2, 3, 7, 8, 9, 16, 17])
def test_pair_bounded_many_vectors(isa, rng, block, nvec):
    # The many-vector pair kernels (one pass over the weights, each vector its own xu and
    # scale) against the integer reference, with pairs at the bound (|q_a| + |q_b| = 128) and
    # x at +-127 (xu at 1 and 255, the unsigned extremes), empty block rows and odd shapes.
    rows, cols = 41, 70
    w, _ = random_block_sparse(rng, rows, cols, block, 0.5, empty_block_rows=0.2)
    w[:, 0:2] = [2.0, -2.0]  # a pair that sets its row's scale at the bound
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8", int8_rule="pair_bounded")
    assert m.pair_bounded and pairs_max(quantized_dense(m)[0]) == 128
    xs = (rng.standard_normal((nvec, cols)) * 10.0 ** rng.integers(-3, 4, (nvec, 1))).astype(np.float32)
    xs[0] = np.where(np.arange(cols) % 3 == 0, -1.0, 1.0)  # every byte at +-127
    xs[-1] = 0  # an all-zero vector: scale 0
    want = np.stack([int8_reference(m, v) for v in xs])
    out = np.full((nvec, rows), np.nan, np.float32)
    assert_same(m.matvec_many(xs, out=out), want)
    y0 = rng.standard_normal((nvec, rows)).astype(np.float32)
    acc = y0.copy()
    m.matvec_many(xs, out=acc, accumulate=True)
    assert_same(acc, y0 + want)
