"""int8 weights on every kernel path: bit-exact against a NumPy integer reference.

The documented rule (kernels/table.h SpmvI8Fn/QuantizeFn, BlockSparseMatrix::store_int8):
weights are stored per row as q = round-half-even(w * (127 / max|row|)) with the float32
scale max|row| / 127; each product quantizes x the same way (m = max|x|, in float32), sums
q_w * q_x exactly in int32 and writes float32(acc) * (row_scale * x_scale). All of it is
float32 arithmetic NumPy reproduces, so the engine must equal the reference exactly.
"""
import numpy as np
import pytest

import sparsewave
from sparsewave import BlockSparseMatrix, _core
from sparse_reference import assert_close, random_block_sparse, reference_product

INT8_BLOCKS = [(8, 4), (4, 4)]
SHAPES = [(1, 1), (3, 5), (8, 4), (17, 33), (31, 16), (100, 37), (257, 129), (768, 256), (2688, 896)]
DENSITIES = [0.0, 0.03, 0.3, 1.0]
F127 = np.float32(127)
TINY_MAX = np.float32(1e-30)  # kQuantizeTinyMax: a smaller max quantizes to zeros, scale 0


def quantize_reference(x, qmax=127, dtype=np.int8):
    """QuantizeFn in float32: (q int8, scale float32); with qmax and int16, QuantizeI16Fn."""
    x = np.asarray(x, np.float32)
    q = np.zeros(x.shape, dtype)
    if x.size == 0:
        return q, np.float32(0)
    if not np.all(np.isfinite(x)):
        return q, np.float32(np.nan)
    m = np.abs(x).max()
    if m < TINY_MAX:
        return q, np.float32(0)
    inv = np.float32(qmax) / m
    return np.rint(x * inv).astype(dtype), m / np.float32(qmax)


def quantized_dense(m):
    """The stored int8 weights as a dense int64 matrix of the padded shape, and the row scales."""
    values, row_scale = m.quantized()
    row_ptr, block_col, _ = m.packed()
    br, bc = m.block
    n_block_rows = len(row_ptr) - 1
    dense = np.zeros((n_block_rows * br, -(-m.shape[1] // bc) * bc), np.int64)
    block_row = np.repeat(np.arange(n_block_rows), np.diff(row_ptr))
    for i in range(br):
        for j in range(bc):
            dense[block_row * br + i, block_col * bc + j] = values[:, i, j]
    return dense, row_scale


def int8_reference(m, x, y0=None):
    """What every ISA must return for m.matvec(x) (out += ... when y0 is given)."""
    wq, row_scale = quantized_dense(m)
    xp = np.zeros(wq.shape[1], np.float32)  # the engine quantizes the zero-padded x
    xp[:x.shape[0]] = x
    xq, x_scale = quantize_reference(xp)
    acc = wq @ xq.astype(np.int64)
    assert np.abs(acc).max(initial=0) < 2**31  # the engine sums in int32
    y = acc.astype(np.float32) * (row_scale * np.float32(x_scale))
    y = y[:m.shape[0]]
    return y if y0 is None else y0 + y


def assert_same(got, want):
    assert got.dtype == np.float32 and got.shape == want.shape
    # array_equal with equal_nan: NaN where the reference is NaN, every other bit the same
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert same.all(), f"{(~same).sum()} of {same.size} differ; first at {np.argwhere(~same)[0]}: " \
                       f"got {got[~same][0]!r}, want {want[~same][0]!r}"


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", DENSITIES)
def test_matvec_equals_integer_reference(isa, rng, block, shape, density):
    w, keep = random_block_sparse(rng, *shape, block, density, empty_block_rows=0.2)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    assert m.dtype == np.int8 and m.nnz_blocks == keep.sum()
    x = rng.standard_normal(shape[1]).astype(np.float32)
    out = np.full(shape[0], np.nan, np.float32)  # poison: every entry must be written
    assert m.matvec(x, out=out) is out
    assert_same(out, int8_reference(m, x))
    y0 = rng.standard_normal(shape[0]).astype(np.float32)
    acc = y0.copy()
    m.matvec(x, out=acc, accumulate=True)
    assert_same(acc, int8_reference(m, x, y0))


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_random_shapes(isa, rng, block):
    # Odd shapes around the block and vector widths (4, 8, 32 columns), random densities.
    for _ in range(40):
        rows, cols = (int(v) for v in rng.integers(1, 80, size=2))
        density = float(rng.choice([0.0, 0.1, 0.5, 1.0]))
        w, _ = random_block_sparse(rng, rows, cols, block, density, empty_block_rows=0.3)
        w *= np.float32(10.0) ** rng.integers(-3, 4)  # scales must not matter to exactness
        m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
        x = (rng.standard_normal(cols) * 10.0 ** rng.integers(-3, 4)).astype(np.float32)
        assert_same(m.matvec(x, out=np.full(rows, np.nan, np.float32)), int8_reference(m, x))


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("shape", [(8, 4), (17, 33), (257, 129), (768, 256)])
@pytest.mark.parametrize("nvec", [1, 2, 3, 4, 5, 8, 9, 16, 17])
def test_matvec_many_quantizes_each_vector(isa, rng, block, shape, nvec):
    w, _ = random_block_sparse(rng, *shape, block, float(rng.choice([0.05, 0.3, 1.0])), empty_block_rows=0.1)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    # Vectors of very different magnitude: each gets its own scale.
    x = (rng.standard_normal((nvec, shape[1])) * 10.0 ** np.arange(nvec)[:, None]).astype(np.float32)
    want = np.stack([int8_reference(m, v) for v in x])
    out = np.full((nvec, shape[0]), np.nan, np.float32)
    m.matvec_many(x, out=out)
    assert_same(out, want)
    y0 = rng.standard_normal((nvec, shape[0])).astype(np.float32)
    acc = y0.copy()
    m.matvec_many(x, out=acc, accumulate=True)
    assert_same(acc, y0 + want)


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("sign", [1, -1])
def test_extreme_values_do_not_saturate(isa, rng, block, sign):
    # Every weight quantizes to +-127 and every x to +-127, signs chosen so each
    # product is sign * 127 * 127: pairs of them (what vpmaddubsw adds into int16)
    # reach +-32258, and an x offset into unsigned bytes (x + 128) would saturate.
    rows, cols = 64, 896
    x = np.where(rng.random(cols) < 0.5, -1.0, 1.0).astype(np.float32) * np.float32(0.75)
    w = np.tile(sign * np.sign(x), (rows, 1)).astype(np.float32) * np.float32(3.0)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    values, row_scale = m.quantized()
    assert np.all(np.abs(values) == 127)
    assert np.all(np.abs(quantize_reference(x)[0]) == 127)
    got = m.matvec(x, out=np.full(rows, np.nan, np.float32))
    assert_same(got, int8_reference(m, x))
    # acc = sign * 127 * 127 * cols, exact in float32; y = acc * (3/127) * (0.75/127)
    assert np.allclose(got, sign * 3.0 * 0.75 * cols, rtol=1e-6)
    # Alternating signs within each pair: the pair sums cancel to 0 exactly.
    w_alt = w * np.where(np.arange(cols) % 2 == 0, 1.0, -1.0).astype(np.float32)
    m_alt = BlockSparseMatrix.from_dense(w_alt, block=block, dtype="int8")
    assert_same(m_alt.matvec(x), np.zeros(rows, np.float32))
    # The same extremes through the many-vector kernels (one pass over the weights for up to
    # eight vectors): x, -x and x with every other pair flipped, in every slot of a group.
    xs = np.stack([x, -x, x * np.where(np.arange(cols) // 2 % 2 == 0, 1, -1).astype(np.float32)] * 3)
    out = np.full((len(xs), rows), np.nan, np.float32)
    assert_same(m.matvec_many(xs, out=out), np.stack([int8_reference(m, v) for v in xs]))
    assert np.allclose(out[1], -sign * 3.0 * 0.75 * cols, rtol=1e-6)


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_nan_or_inf_in_x_gives_nan(isa, rng, block):
    w, _ = random_block_sparse(rng, 40, 70, block, 0.3, empty_block_rows=0.2)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    for bad in (np.nan, np.inf, -np.inf):
        for at in (0, 33, 69):  # vector body and scalar tail of the quantizer
            x = rng.standard_normal(70).astype(np.float32)
            x[at] = bad
            out = np.zeros(40, np.float32)
            assert np.isnan(m.matvec(x, out=out)).all()  # every row, stored blocks or not
            acc = np.ones(40, np.float32)
            assert np.isnan(m.matvec(x, out=acc, accumulate=True)).all()


def test_zero_x_gives_zero(isa):
    m = BlockSparseMatrix.from_dense(np.ones((16, 12), np.float32), block=(8, 4), dtype="int8")
    assert_same(m.matvec(np.zeros(12, np.float32)), np.zeros(16, np.float32))


@pytest.mark.parametrize("n", range(71))
def test_quantizer_matches_the_rule(isa, rng, n):
    for scale in (1e-28, 1e-3, 1.0, 1e30):
        x = (rng.standard_normal(n) * scale).astype(np.float32)
        q, s = _core.quantize(x)
        want_q, want_s = quantize_reference(x)
        assert q.dtype == np.int8 and np.array_equal(q, want_q)
        assert np.float32(s) == want_s
        assert np.all(np.abs(q) <= 127)
        if n and np.abs(x).max() >= TINY_MAX:
            assert np.abs(q).max() == 127


@pytest.mark.parametrize("n", [0, 1, 7, 8, 31, 32, 33, 64, 70])
def test_quantizer_zeros_and_non_finite(isa, n):
    q, s = _core.quantize(np.zeros(n, np.float32))
    assert np.array_equal(q, np.zeros(n, np.int8)) and s == 0.0
    for bad in (np.nan, np.inf, -np.inf):
        for at in {0, n // 2, n - 1} if n else ():
            x = np.ones(n, np.float32)
            x[at] = bad
            q, s = _core.quantize(x)
            assert np.isnan(s) and np.array_equal(q, np.zeros(n, np.int8))


def test_quantizer_rounds_ties_to_even(isa):
    # max |x| = 127 makes the multiplier exactly 1, so x * inv keeps the .5 ties.
    ties = np.array([127, 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 126.5, -126.5, 0.49999997, -127], np.float32)
    want = np.array([127, 0, 2, 2, 4, 0, -2, -2, 126, -126, 0, -127], np.int8)
    for reps in (1, 3, 6):  # 12, 36 and 72 values: scalar tail and 32-wide vector body
        q, s = _core.quantize(np.tile(ties, reps))
        assert np.array_equal(q, np.tile(want, reps)) and s == np.float32(1.0)


def test_quantizer_is_the_documented_float32_rule(isa, rng):
    # Values where other ways of computing round(x * 127 / m) (float64, or
    # dividing by m last) fall on the other side of a .5: rare, so searched for.
    m = np.float32(rng.uniform(0.5, 2.0))
    v = (rng.uniform(-1.0, 1.0, 4_000_000) * m).astype(np.float32)
    documented = np.rint(v * (F127 / m))
    in_float64 = np.rint(v.astype(np.float64) * 127 / np.float64(m))
    divided_last = np.rint(v * F127 / m)
    picked = v[(documented != in_float64) | (documented != divided_last)]
    assert picked.size > 0
    x = np.tile(np.concatenate([[m], picked, -picked]).astype(np.float32), 3)  # >= 32: vector body too
    q, s = _core.quantize(x)
    want_q, want_s = quantize_reference(x)
    assert np.array_equal(q, want_q) and np.float32(s) == want_s
    w = np.ones((8, x.size), np.float32)
    assert_same(BlockSparseMatrix.from_dense(w, block=(8, 4), dtype="int8").matvec(x),
                int8_reference(BlockSparseMatrix.from_dense(w, block=(8, 4), dtype="int8"), x))


# max|x| below 1e-30 quantizes as all zeros with scale 0 on every ISA: 127 / m
# would overflow to inf (then the float-to-int conversion is out of range,
# -128 on AVX2, undefined behaviour in C++).
def test_quantizer_tiny_maximum():
    x = np.tile(np.array([1e-38, -5e-39, 0.0, 3e-39], np.float32), 12)
    previous = sparsewave.isa()
    try:
        results = {}
        for name in sparsewave.available_isas():
            sparsewave.set_isa(name)
            results[name] = _core.quantize(x)
    finally:
        sparsewave.set_isa(previous)
    for name, (q, _) in results.items():
        q = q.astype(np.int64)
        assert np.all(np.abs(q) <= 127), name
        assert not q.any(), name
    assert all(scale == 0 for _, scale in results.values())
    first = next(iter(results.values()))[0]
    assert all(np.array_equal(q, first) for q, _ in results.values())


# The same rule for a weight row whose max |w| is below 1e-30: zeros, scale 0.
def test_weight_rows_with_a_tiny_maximum():
    w = np.zeros((8, 4), np.float32)
    w[0] = [1e-38, -1e-38, 5e-39, 0.0]
    w[1] = [1.0, -0.5, 0.0, 0.25]
    m = BlockSparseMatrix.from_dense(w, block=(8, 4), dtype="int8")
    q = m.quantized()[0][0].astype(np.int64)
    assert not q[0].any() and m.quantized()[1][0] == 0
    assert np.array_equal(q[1], [127, -64, 0, 32])  # the normal row next to it is fine


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (100, 37), (257, 129)])
def test_weight_quantization_rule(rng, block, shape):
    w, _ = random_block_sparse(rng, *shape, block, 0.3, empty_block_rows=0.2)
    w[0] = 0  # an all-zero row: scale 0, weights 0
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    assert m.dtype == np.int8 and m.block == block and m.shape == shape
    wq, row_scale = quantized_dense(m)
    rows, cols = shape
    row_max = np.zeros(wq.shape[0], np.float32)
    row_max[:rows] = np.abs(w).max(axis=1)
    assert np.array_equal(row_scale, row_max / F127)
    with np.errstate(divide="ignore"):
        inv = np.where(row_max > 0, F127 / row_max, np.float32(0)).astype(np.float32)
    want = np.clip(np.rint(w * inv[:rows, None]), -127, 127)
    assert np.array_equal(wq[:rows, :cols], want)
    assert not wq[rows:].any() and not wq[:, cols:].any()  # padding stays zero
    # Within half a step of the weight (and float32's rounding of w * inv, at
    # most ~1e-5 steps); the largest of each nonzero row is +-127.
    s = row_scale[:rows, None].astype(np.float64)
    assert np.all(np.abs(w - wq[:rows, :cols] * s) <= s * (0.5 + 1e-4))
    nonzero = row_max[:rows] > 0
    assert np.all(np.abs(wq[:rows][nonzero]).max(axis=1) == 127)
    # to_dense and packed show the dequantized weights the kernels multiply.
    dequantized = wq.astype(np.float32) * row_scale[:, None]  # float32, as store_int8 computes it
    assert np.array_equal(m.to_dense(), dequantized[:rows, :cols])
    row_ptr, block_col, values = m.packed()
    block_row = np.repeat(np.arange(len(row_ptr) - 1), np.diff(row_ptr))
    first_row = block_row * block[0]
    for i in range(block[0]):
        q_i = m.quantized()[0][:, i, :].astype(np.float32)
        assert np.array_equal(values[:, i, :], q_i * row_scale[first_row + i][:, None])


@pytest.mark.parametrize("block", INT8_BLOCKS)
def test_a_quarter_of_the_bytes(rng, block):
    w, _ = random_block_sparse(rng, 768, 256, block, 0.1)
    f32 = BlockSparseMatrix.from_dense(w, block=block)
    i8 = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    values = f32.nnz_blocks * block[0] * block[1]
    indices = (len(f32.packed()[0]) + f32.nnz_blocks) * 4
    assert f32.nbytes == values * 4 + indices
    assert i8.nbytes == values + indices + 768 * 4  # plus one float scale per row
    assert i8.nbytes < 0.4 * f32.nbytes
    assert "int8" in repr(i8)


def test_matmul_multiplies_the_dequantized_weights(isa, rng):
    # The batched product has no int8 kernel: it reads the float32 dequantized
    # values (what to_dense returns) and does not quantize X.
    w, _ = random_block_sparse(rng, 70, 45, (8, 4), 0.4)
    m = BlockSparseMatrix.from_dense(w, block=(8, 4), dtype="int8")
    x = rng.standard_normal((45, 6)).astype(np.float32)
    assert_close(m.matmul(x), *reference_product(m.to_dense(), x))


def test_int8_needs_an_int8_block():
    w = np.ones((16, 16), np.float32)
    for block in [(16, 1), (1, 1)]:
        with pytest.raises(ValueError, match="int8"):
            BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    with pytest.raises(ValueError, match="int8"):
        BlockSparseMatrix.from_dense(w, block=(4, 4)).quantized()  # a float matrix has no int8 values
    with pytest.raises(ValueError, match="int8"):
        BlockSparseMatrix.from_dense(w, block=(4, 4), dtype="float16").quantized()
    with pytest.raises(ValueError, match="not finite|NaN"):
        BlockSparseMatrix.from_dense(np.full((8, 4), np.nan, np.float32), block=(8, 4), dtype="int8")


def test_column_limit_keeps_int32_sums_exact():
    # 127 * 127 * 131072 < 2**31: wider rows could overflow the int32 sum.
    ok = BlockSparseMatrix.from_dense(np.zeros((8, 131072), np.float32), block=(8, 4), dtype="int8")
    assert ok.dtype == np.int8
    with pytest.raises(ValueError, match="columns"):
        BlockSparseMatrix.from_dense(np.zeros((8, 131073), np.float32), block=(8, 4), dtype="int8")


def test_empty_shapes(isa):
    for rows, cols in [(0, 0), (0, 5), (5, 0)]:
        m = BlockSparseMatrix.from_dense(np.zeros((rows, cols), np.float32), block=(8, 4), dtype="int8")
        assert m.shape == (rows, cols) and m.nnz_blocks == 0 and m.dtype == np.int8
        assert_same(m.matvec(np.zeros(cols, np.float32)), np.zeros(rows, np.float32))
        assert m.matvec_many(np.zeros((2, cols), np.float32)).shape == (2, rows)


@pytest.mark.parametrize("block", INT8_BLOCKS)
@pytest.mark.parametrize("shape", [(256, 256), (2688, 896)])
def test_accuracy_against_the_float64_product(isa, rng, block, shape):
    # Gaussian weights and x: each row's error against the exact float64 product
    # of the *original* weights stays within the two roundings' worst case, and
    # far below 2 % of |row| * |x| in practice.
    w, _ = random_block_sparse(rng, *shape, block, 0.1)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="int8")
    x = rng.standard_normal(shape[1]).astype(np.float32)
    y = m.matvec(x).astype(np.float64)
    w64, x64 = w.astype(np.float64), x.astype(np.float64)
    err = np.abs(y - w64 @ x64)
    s_w = np.abs(w64).max(axis=1) / 127
    s_x = np.abs(x64).max() / 127
    # |dW| <= s_w / 2 and |dx| <= s_x / 2 per entry, plus the float32 rescale.
    nnz = (w != 0).sum(axis=1)
    half_step = 0.5 + 1e-4  # float32's rounding of w * inv adds ~1e-5 of a step
    bound = (half_step * s_w * ((w != 0) @ np.abs(x64)) + half_step * s_x * np.abs(w64).sum(axis=1)
             + nnz * s_w * s_x * half_step**2)
    bound += 4 * np.finfo(np.float32).eps * (np.abs(w64) @ np.abs(x64) + bound)
    assert np.all(err <= bound)
    norms = np.linalg.norm(w64, axis=1) * np.linalg.norm(x64)
    kept = norms > 0
    assert np.all(err[kept] <= 0.02 * norms[kept])
    assert np.median(err[kept] / norms[kept]) < 0.005
