"""Construction, properties and bad input of BlockSparseMatrix."""
import numpy as np
import pytest

from sparsewave import BlockSparseMatrix
from sparse_reference import random_block_sparse


@pytest.mark.parametrize("block", [(4, 4), (16, 1), (1, 4), (1, 1), "4x4", "16x1", "1x4"])
def test_roundtrip_and_properties(rng, block):
    w, keep = random_block_sparse(rng, 50, 23, tuple(int(b) for b in str(block).strip("()").replace("x", ",").split(",")), 0.3)
    m = BlockSparseMatrix.from_dense(w, block=block)
    assert m.shape == (50, 23)
    assert np.array_equal(m.to_dense(), w)
    assert m.nnz_blocks == keep.sum()
    assert m.density == pytest.approx(keep.sum() / keep.size)
    br, bc = m.block
    assert m.nbytes >= m.nnz_blocks * br * bc * 4


def test_float64_input_converted(rng):
    w = rng.standard_normal((8, 8))
    m = BlockSparseMatrix.from_dense(w)
    assert np.array_equal(m.to_dense(), w.astype(np.float32))
    y = m.matvec(rng.standard_normal(8))  # float64 x is converted too
    assert y.dtype == np.float32


def test_non_contiguous_inputs_are_copied(rng):
    w = rng.standard_normal((40, 60)).astype(np.float32)
    m = BlockSparseMatrix.from_dense(w[:, ::2], block=(4, 4))
    assert np.array_equal(m.to_dense(), w[:, ::2])
    x = rng.standard_normal(60).astype(np.float32)[::2]
    np.testing.assert_allclose(m.matvec(x), w[:, ::2].astype(np.float64) @ x, rtol=1e-4, atol=1e-4)
    xt = rng.standard_normal((5, 30)).astype(np.float32).T  # Fortran-ordered
    np.testing.assert_allclose(m.matmul(xt), w[:, ::2].astype(np.float64) @ xt, rtol=1e-4, atol=1e-4)


def test_all_zero_blocks_dropped():
    w = np.zeros((8, 8), np.float32)
    w[5, 6] = 2.0
    m = BlockSparseMatrix.from_dense(w, block=(4, 4))
    assert m.nnz_blocks == 1 and m.density == 0.25
    assert BlockSparseMatrix.from_dense(w, block=(1, 1)).nnz_blocks == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_rejected(bad):
    w = np.ones((6, 6), np.float32)
    w[3, 4] = bad
    with pytest.raises(ValueError, match=r"\(3, 4\).*not finite"):
        BlockSparseMatrix.from_dense(w)


@pytest.mark.parametrize("w", [np.ones(5), np.ones((2, 3, 4)), np.float32(1.0)])
def test_wrong_rank_weights(w):
    with pytest.raises(ValueError, match="2-D"):
        BlockSparseMatrix.from_dense(w)


@pytest.mark.parametrize("w", [np.ones((3, 3), complex), np.array([["a", "b"]]), np.array([[object()]])])
def test_wrong_dtype_weights(w):
    with pytest.raises(TypeError, match="real numbers"):
        BlockSparseMatrix.from_dense(w)


@pytest.mark.parametrize("block", [(2, 2), (4, 1), (8, 8), "banana", (4,), "4x"])
def test_unsupported_block(block):
    with pytest.raises((ValueError, TypeError)):
        BlockSparseMatrix.from_dense(np.ones((4, 4)), block=block)


def test_matvec_bad_inputs(rng):
    m = BlockSparseMatrix.from_dense(rng.standard_normal((12, 10)))
    with pytest.raises(ValueError, match="length 9, expected 10"):
        m.matvec(np.ones(9))
    with pytest.raises(ValueError, match="1-D"):
        m.matvec(np.ones((10, 1, 1)))
    with pytest.raises(TypeError, match="real numbers"):
        m.matvec(np.ones(10, complex))
    with pytest.raises(TypeError, match="float32"):
        m.matvec(np.ones(10), out=np.zeros(12))
    with pytest.raises(ValueError, match="shape"):
        m.matvec(np.ones(10), out=np.zeros(11, np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        m.matvec(np.ones(10), out=np.zeros(24, np.float32)[::2])
    with pytest.raises(ValueError, match="accumulate"):
        m.matvec(np.ones(10), accumulate=True)
    ro = np.zeros(12, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        m.matvec(np.ones(10), out=ro)


def test_matmul_bad_inputs(rng):
    m = BlockSparseMatrix.from_dense(rng.standard_normal((12, 10)))
    with pytest.raises(ValueError, match="9 rows, expected 10"):
        m.matmul(np.ones((9, 4)))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        m.matmul(np.ones((10, 4, 2)))
    with pytest.raises(ValueError, match="shape"):
        m.matmul(np.ones((10, 4)), out=np.zeros((12, 5), np.float32))
    assert m.matmul(np.ones(10)).shape == (12,)  # 1-D is a matvec


def test_packed_roundtrip(rng):
    w, _ = random_block_sparse(rng, 37, 29, (16, 1), 0.4)
    m = BlockSparseMatrix.from_dense(w, block=(16, 1))
    rp, bcol, vals = m.packed()
    m2 = BlockSparseMatrix.from_packed(m.shape, m.block, rp, bcol, vals)
    assert np.array_equal(m2.to_dense(), w)


def test_packed_hostile_inputs(rng):
    w, _ = random_block_sparse(rng, 16, 16, (4, 4), 0.6)
    rp, bcol, vals = BlockSparseMatrix.from_dense(w).packed()
    good = dict(shape=(16, 16), block=(4, 4), row_ptr=rp, block_col=bcol, values=vals)

    def attempt(match, **changes):
        with pytest.raises(ValueError, match=match):
            BlockSparseMatrix.from_packed(**{**good, **changes})

    attempt("row_ptr has", row_ptr=rp[:-1])
    attempt("row_ptr decreases", row_ptr=np.array([0, 3, 1, 4, len(bcol)], np.int32))
    attempt("row_ptr ends", row_ptr=np.append(rp[:-1], len(bcol) + 1).astype(np.int32))
    bad_col = bcol.copy()
    bad_col[0] = 99
    attempt("outside", block_col=bad_col)
    neg = bcol.copy()
    neg[-1] = -1
    attempt("outside", block_col=neg)
    attempt("block values", values=vals[:-1])
    nan_vals = vals.copy()
    nan_vals[0, 0, 0] = np.nan
    attempt("not finite", values=nan_vals)
    # A nonzero in the padding of a 10x10 matrix packed as 4x4 blocks.
    rp2, bc2, v2 = BlockSparseMatrix.from_dense(np.ones((12, 12), np.float32)).packed()
    with pytest.raises(ValueError, match="padding"):
        BlockSparseMatrix.from_packed((10, 10), (4, 4), rp2, bc2, v2)
