"""Random block-sparse matrices and the float64 dense reference for tests."""
import numpy as np


def random_block_sparse(rng, rows, cols, block, density, empty_block_rows=0.0):
    """Dense float32 matrix whose nonzeros form whole blocks of ``block``.

    Each block of the padded grid is kept with probability ``density``; a
    fraction ``empty_block_rows`` of block rows is forced empty.
    """
    br, bc = block
    nbr, nbc = -(-rows // br), -(-cols // bc)
    keep = rng.random((nbr, nbc)) < density
    if empty_block_rows and nbr:
        keep[rng.random(nbr) < empty_block_rows] = False
    mask = np.kron(keep, np.ones((br, bc), dtype=bool))[:rows, :cols]
    values = rng.standard_normal((rows, cols)).astype(np.float32)
    values[values == 0] = 1.0  # a kept block must not be all-zero by chance
    return np.where(mask, values, np.float32(0)), keep


def reference_product(w, x):
    """float64 W @ x and a tolerance scaled to float32 accumulation error."""
    w64, x64 = w.astype(np.float64), x.astype(np.float64)
    ref = w64 @ x64
    k = max(w.shape[1], 1)
    tol = 16 * np.finfo(np.float32).eps * np.sqrt(k) * (np.abs(w64) @ np.abs(x64)) + 1e-30
    return ref, tol


def assert_close(got, ref, tol):
    assert got.shape == ref.shape
    assert np.all(np.isfinite(got)), "output has NaN/Inf (poisoned entries not written?)"
    err = np.abs(got.astype(np.float64) - ref)
    bad = err > tol
    assert not bad.any(), f"{bad.sum()} entries off; worst error {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}"
