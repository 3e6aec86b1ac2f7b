"""Every kernel path against a float64 dense NumPy reference."""
import numpy as np
import pytest

from sparsewave import BlockSparseMatrix
from sparse_reference import assert_close, random_block_sparse, reference_product

BLOCKS = [(4, 4), (16, 1), (1, 4), (1, 1)]
SHAPES = [(1, 1), (3, 5), (4, 4), (16, 1), (17, 33), (31, 16), (64, 64), (100, 37), (257, 129), (768, 256)]
DENSITIES = [0.0, 0.03, 0.1, 0.5, 1.0]


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", DENSITIES)
def test_matvec_matches_reference(isa, rng, block, shape, density):
    w, keep = random_block_sparse(rng, *shape, block, density, empty_block_rows=0.2)
    m = BlockSparseMatrix.from_dense(w, block=block)
    assert m.nnz_blocks == keep.sum()
    x = rng.standard_normal(shape[1]).astype(np.float32)
    out = np.full(shape[0], np.nan, dtype=np.float32)  # poison
    got = m.matvec(x, out=out)
    assert got is out
    assert_close(out, *reference_product(w, x))


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", [(17, 33), (64, 64), (257, 129)])
def test_matvec_accumulates(isa, rng, block, shape):
    w, _ = random_block_sparse(rng, *shape, block, 0.3)
    m = BlockSparseMatrix.from_dense(w, block=block)
    x = rng.standard_normal(shape[1]).astype(np.float32)
    y0 = rng.standard_normal(shape[0]).astype(np.float32)
    out = y0.copy()
    m.matvec(x, out=out, accumulate=True)
    ref, tol = reference_product(w, x)
    assert_close(out, ref + y0, tol + 1e-6 * np.abs(y0))


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", [(4, 4), (17, 33), (64, 64), (100, 37), (768, 256)])
@pytest.mark.parametrize("batch", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33])
def test_matmul_matches_reference(isa, rng, block, shape, batch):
    density = rng.choice([0.0, 0.05, 0.3, 1.0])
    w, _ = random_block_sparse(rng, *shape, block, density, empty_block_rows=0.1)
    m = BlockSparseMatrix.from_dense(w, block=block)
    x = rng.standard_normal((shape[1], batch)).astype(np.float32)
    out = np.full((shape[0], batch), np.nan, dtype=np.float32)
    m.matmul(x, out=out)
    assert_close(out, *reference_product(w, x))


@pytest.mark.parametrize("block", BLOCKS)
def test_matmul_accumulates(isa, rng, block):
    w, _ = random_block_sparse(rng, 70, 45, block, 0.4)
    m = BlockSparseMatrix.from_dense(w, block=block)
    x = rng.standard_normal((45, 11)).astype(np.float32)
    y0 = rng.standard_normal((70, 11)).astype(np.float32)
    out = y0.copy()
    m.matmul(x, out=out, accumulate=True)
    ref, tol = reference_product(w, x)
    assert_close(out, ref + y0, tol + 1e-6 * np.abs(y0))


@pytest.mark.parametrize("block", BLOCKS)
def test_matmul_columns_equal_matvec(isa, rng, block):
    w, _ = random_block_sparse(rng, 96, 80, block, 0.2)
    m = BlockSparseMatrix.from_dense(w, block=block)
    x = rng.standard_normal((80, 16)).astype(np.float32)
    y = m.matmul(x)
    for j in range(16):
        ref, tol = reference_product(w, x[:, j])
        assert_close(y[:, j], ref, tol)


@pytest.mark.parametrize("block", BLOCKS)
def test_large_values_and_cancellation(isa, rng, block):
    # Rows whose terms cancel exactly expose wrong accumulation order/lanes.
    w = np.zeros((32, 32), dtype=np.float32)
    w[:, :16] = 1e6
    w[:, 16:] = -1e6
    x = np.ones(32, dtype=np.float32)
    assert np.all(BlockSparseMatrix.from_dense(w, block=block).matvec(x) == 0.0)


@pytest.mark.parametrize("block", BLOCKS)
def test_empty_shapes(isa, block):
    for rows, cols in [(0, 0), (0, 5), (5, 0)]:
        m = BlockSparseMatrix.from_dense(np.zeros((rows, cols), np.float32), block=block)
        assert m.shape == (rows, cols) and m.nnz_blocks == 0
        y = m.matvec(np.zeros(cols, np.float32))
        assert y.shape == (rows,) and np.all(y == 0)
        assert m.matmul(np.zeros((cols, 3), np.float32)).shape == (rows, 3)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", [(4, 4), (17, 33), (64, 64), (257, 129), (768, 256)])
@pytest.mark.parametrize("nvec", [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 25, 33])
def test_matvec_many_matches_reference(isa, rng, block, shape, nvec):
    density = rng.choice([0.0, 0.05, 0.3, 1.0])
    w, _ = random_block_sparse(rng, *shape, block, density, empty_block_rows=0.1)
    m = BlockSparseMatrix.from_dense(w, block=block)
    x = rng.standard_normal((nvec, shape[1])).astype(np.float32)
    out = np.full((nvec, shape[0]), np.nan, dtype=np.float32)
    m.matvec_many(x, out=out)
    ref, tol = reference_product(w, x.T)
    assert_close(out, ref.T, tol.T)
    y0 = rng.standard_normal((nvec, shape[0])).astype(np.float32)
    acc = y0.copy()
    m.matvec_many(x, out=acc, accumulate=True)
    assert_close(acc, ref.T + y0, tol.T + 1e-6 * np.abs(y0))


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", [(17, 33), (257, 129), (768, 256)])
@pytest.mark.parametrize("accumulate", [False, True])
def test_matvec_many_bits_do_not_depend_on_the_vector_count(isa, rng, block, shape, accumulate):
    # Streamed conditioning (a few frames per call) must equal whole-utterance conditioning (all
    # frames in one product) bit for bit, whichever kernel a vector count picks.
    w, _ = random_block_sparse(rng, *shape, block, 0.3, empty_block_rows=0.1)
    m = BlockSparseMatrix.from_dense(w, block=block)
    x = rng.standard_normal((37, shape[1])).astype(np.float32)
    y0 = rng.standard_normal((37, shape[0])).astype(np.float32)
    whole = y0.copy()
    m.matvec_many(x, out=whole, accumulate=accumulate)
    for n in (1, 3, 4, 9, 16):
        for i in range(0, 37, n):
            part = y0[i:i + n].copy()
            m.matvec_many(x[i:i + n], out=part, accumulate=accumulate)
            assert np.array_equal(part, whole[i:i + n]), (n, i)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", [(4, 4), (17, 33), (100, 37), (768, 256)])
def test_float16_weights(isa, rng, block, shape):
    # float16 storage: the kernels must compute exactly the float32 product of
    # the rounded weights (which to_dense returns), for one and many vectors.
    w, _ = random_block_sparse(rng, *shape, block, rng.choice([0.05, 0.3, 1.0]), empty_block_rows=0.1)
    m = BlockSparseMatrix.from_dense(w, block=block, dtype="float16")
    assert m.dtype == np.float16
    rounded = m.to_dense()
    assert np.array_equal(rounded, w.astype(np.float16).astype(np.float32))
    x = rng.standard_normal(shape[1]).astype(np.float32)
    out = np.full(shape[0], np.nan, np.float32)
    assert_close(m.matvec(x, out=out), *reference_product(rounded, x))
    xs = rng.standard_normal((5, shape[1])).astype(np.float32)
    ref, tol = reference_product(rounded, xs.T)
    assert_close(m.matvec_many(xs), ref.T, tol.T)
    full = BlockSparseMatrix.from_dense(w, block=block)
    assert m.nbytes < full.nbytes or full.nnz_blocks == 0


def test_float16_range_is_checked():
    with pytest.raises(ValueError, match="float16"):
        BlockSparseMatrix.from_dense(np.full((4, 4), 1e6, np.float32), dtype="float16")
    with pytest.raises(ValueError, match="dtype"):
        BlockSparseMatrix.from_dense(np.ones((4, 4)), dtype="int16")
