"""BlockSparseMatrix: block-CSR weights with kernels for the active ISA."""
from __future__ import annotations

import numpy as np

from . import _core
from ._arrays import as_float32, check_out
from ._blocks import parse_block

SUPPORTED_BLOCKS = ((4, 4), (8, 4), (16, 1), (1, 4), (1, 1))
# Block shapes with int8 kernels (dot-product instructions sum 4 adjacent bytes).
INT8_BLOCKS = ((8, 4), (4, 4))


def _parse_block(block) -> tuple[int, int]:
    """A block shape the engine's kernels run (one of SUPPORTED_BLOCKS)."""
    return parse_block(block, SUPPORTED_BLOCKS)


def _out_buffer(out, accumulate: bool, shape: tuple[int, ...]) -> np.ndarray:
    """The array a product writes: the caller's ``out`` (checked), else a new one."""
    if out is not None:
        return check_out(out, "out", shape)
    if accumulate:
        raise ValueError("accumulate=True needs out= (the array to add into)")
    return np.empty(shape, dtype=np.float32)


class BlockSparseMatrix:
    """A matrix stored as block-CSR with all-zero blocks dropped.

    Build it with :meth:`from_dense` (or :meth:`from_packed`), then use
    :meth:`matvec` (``A @ x``) or :meth:`matmul` (``A @ X`` for a batch of
    columns). Shapes that are not a multiple of the block are zero-padded
    internally; products and :meth:`to_dense` use the true shape.
    """

    __slots__ = ("_m", "_shape")

    def __init__(self, core_matrix: "_core.BlockSparseMatrix"):
        if not isinstance(core_matrix, _core.BlockSparseMatrix):
            raise TypeError("use BlockSparseMatrix.from_dense(...) or .from_packed(...)")
        self._m = core_matrix
        self._shape = (core_matrix.rows, core_matrix.cols)

    @classmethod
    def from_dense(cls, w, block=(4, 4), dtype="float32", int8_rule="row_max",
                   input_bits=8) -> "BlockSparseMatrix":
        """Pack a 2-D float array; blocks that are entirely zero are not stored.

        ``block="auto"`` packs with the block shape the engine itself picks for
        every matrix it loads (C++ ``pack_best``): the least
        ``stored values * c + 8 * block rows``, with c = 1 for (4, 4) and
        (16, 1) (about one FMA lane per value), c = 2 for (1, 4) (a row's
        four consecutive columns: an x load per four weights; it stores
        column-group pruning, like geneing's, without padding) and c = 6 for
        (1, 1) (unstructured: an index and a scalar op per value); ties go to
        the first of (4, 4), (16, 1), (1, 4), (1, 1).
        ``dtype="float16"`` stores the weights as IEEE half floats (half the
        bytes streamed per product; arithmetic stays float32; ``to_dense()``
        returns the rounded weights).
        ``dtype="int8"`` (blocks (8, 4) or (4, 4)) stores each row as 8-bit
        integers times one float scale (max |row| / 127): a quarter of the
        bytes. Each product quantizes x to 8 bits with its own scale
        (max |x| / 127), sums in exact int32 and rescales per row, so results
        carry both roundings; ``to_dense()`` returns the dequantized weights and
        :meth:`quantized` the integers. With ``block="auto"`` the int8 shapes
        compete at their lower cost, and a matrix that 16x1 or 1x1 packs best
        stays float32 (check :attr:`dtype`).
        ``int8_rule="pair_bounded"`` (explicit int8 block only) scales each row
        by max(max |w| / 127, max (|w_a| + |w_b|) / 128) over adjacent column
        pairs, so every stored pair has |q_a| + |q_b| <= 128
        (:attr:`pair_bounded`): AVX2 then takes its faster exact kernel.
        ``input_bits=16`` (int8 only; ``Vocoder.load(weights="int8a16")``)
        quantizes each product's x to 16 bits instead of 8: codes up to
        :attr:`input_qmax` (16383, or less where a row's sum of |q| times it
        would pass 2^31 - 1), so the int32 sums stay exact and x's rounding
        all but vanishes. The weights and their bytes are the same.
        Raises ValueError for NaN/Inf weights, weights beyond float16's range,
        a non-2-D array or an unsupported block or dtype.
        """
        auto = isinstance(block, str) and block.lower() == "auto"
        br, bc = (0, 0) if auto else _parse_block(block)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float16, np.int8):
            raise ValueError(f"dtype must be float32, float16 or int8, got {dtype}")
        if dtype == np.int8 and not auto and (br, bc) not in INT8_BLOCKS:
            raise ValueError(f"int8 weights need block (8, 4) or (4, 4), got {(br, bc)}")
        if int8_rule not in ("row_max", "pair_bounded"):
            raise ValueError(f"int8_rule must be 'row_max' or 'pair_bounded', got {int8_rule!r}")
        if int8_rule != "row_max" and (dtype != np.int8 or auto):
            raise ValueError("int8_rule='pair_bounded' needs dtype='int8' and an explicit int8 block")
        if input_bits not in (8, 16) or input_bits.__class__ is bool:
            raise ValueError(f"input_bits must be 8 or 16, got {input_bits!r}")
        if input_bits == 16 and dtype != np.int8:
            raise ValueError("input_bits=16 needs dtype='int8' (16-bit inputs meet int8 weights)")
        w = as_float32(w, "weights", 2)
        if auto:
            m = _core.BlockSparseMatrix.pack_best(w, "int8a16" if input_bits == 16 else dtype.name)
        else:
            m = _core.BlockSparseMatrix.from_dense(w, br, bc)
            if dtype == np.float16:
                m.store_half()
            elif dtype == np.int8:
                m.store_int8(pair_bounded=int8_rule == "pair_bounded")
                if input_bits == 16:
                    m.use_wide_inputs()
        return cls(m)

    @classmethod
    def from_packed(cls, shape, block, row_ptr, block_col, values, row_scale=None) -> "BlockSparseMatrix":
        """Build from block-CSR arrays (inverse of :meth:`packed`); every index is checked.

        With ``row_scale`` (float32, one per padded row) ``values`` are the int8
        weights of :meth:`quantized` (integers in [-127, 127]) and the matrix
        stores int8: the inverse of ``packed()[:2]`` + ``quantized()``.
        """
        br, bc = _parse_block(block)
        rows, cols = (int(s) for s in shape)
        row_ptr = np.ascontiguousarray(row_ptr, dtype=np.int32)
        block_col = np.ascontiguousarray(block_col, dtype=np.int32)
        if row_scale is not None:
            q = np.asarray(values)
            if q.dtype != np.int8:
                raise ValueError(f"int8 values must have dtype int8, got {q.dtype}")
            scale = as_float32(row_scale, "row_scale", 1)
            return cls(_core.BlockSparseMatrix.from_packed_int8(rows, cols, br, bc, row_ptr, block_col,
                                                                 np.ascontiguousarray(q).reshape(-1), scale))
        values = as_float32(values, "values", (1, 2, 3)).reshape(-1)
        return cls(_core.BlockSparseMatrix.from_packed(rows, cols, br, bc, row_ptr, block_col, values))

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def block(self) -> tuple[int, int]:
        return (self._m.block_rows, self._m.block_cols)

    @property
    def pair_bounded(self) -> bool:
        """int8 weights with |q_a| + |q_b| <= 128 in every adjacent column pair (checked at store)."""
        return bool(self._m.pair_bounded)

    @property
    def input_bits(self) -> int:
        """Bits each int8 product quantizes x to: 8, or 16 (``input_bits=16``); 32 for float weights."""
        return 16 if self._m.wide_inputs else 8 if self._m.int8 else 32

    @property
    def input_qmax(self) -> int:
        """The largest code of x's quantization: 127 for 8-bit inputs, up to 16383 for 16-bit."""
        return self._m.input_qmax

    @property
    def dtype(self) -> np.dtype:
        """Storage type of the weights (float32, float16 or int8)."""
        return np.dtype(np.int8 if self._m.int8 else np.float16 if self._m.half else np.float32)

    @property
    def nnz_blocks(self) -> int:
        return self._m.nnz_blocks

    @property
    def density(self) -> float:
        """Stored blocks divided by all blocks of the (padded) shape."""
        return self._m.density

    @property
    def nbytes(self) -> int:
        """Bytes of weights and indices the products read."""
        return self._m.nbytes

    def packed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row_ptr int32, block_col int32, values float32 (nnz_blocks, br, bc))."""
        return self._m.packed()

    def quantized(self) -> tuple[np.ndarray, np.ndarray]:
        """int8 storage: (values int8 (nnz_blocks, br, bc), row_scale float32 per padded row).

        Row r's weights are ``values * row_scale[r]``. ValueError for a float matrix.
        """
        return self._m.quantized()

    def to_dense(self) -> np.ndarray:
        return self._m.to_dense()

    def matvec(self, x, out=None, accumulate: bool = False) -> np.ndarray:
        """Return ``A @ x``; with ``out`` and ``accumulate=True``, ``out += A @ x``."""
        if out is not None and accumulate.__class__ is bool:
            # Fast path for ready-made float32 buffers: the binding accepts only
            # exact, contiguous arrays of the right length and changes nothing
            # on refusal, so anything else falls through to the checks below.
            try:
                self._m.matvec(x, out, accumulate)
                return out
            except (TypeError, ValueError):
                pass
        rows, cols = self.shape
        x = as_float32(x, "x", 1)
        if x.shape[0] != cols:
            raise ValueError(f"x has length {x.shape[0]}, expected {cols} (the matrix has shape {self.shape})")
        out = _out_buffer(out, accumulate, (rows,))
        self._m.matvec(x, out, bool(accumulate))
        return out

    def matvec_many(self, x, out=None, accumulate: bool = False) -> np.ndarray:
        """Return ``X @ A.T`` for X of shape (n, cols): n independent vectors, one per row.

        Each stored block is loaded once for up to four vectors, which is how
        batched generation runs one state vector per stream.
        """
        rows, cols = self.shape
        x = as_float32(x, "X", 2)
        if x.shape[1] != cols:
            raise ValueError(f"X has {x.shape[1]} columns, expected {cols} (the matrix has shape {self.shape})")
        out = _out_buffer(out, accumulate, (x.shape[0], rows))
        self._m.matvec_many(x, out, bool(accumulate))
        return out

    def matmul(self, x, out=None, accumulate: bool = False) -> np.ndarray:
        """Return ``A @ X`` for X of shape (cols, B): the batched product.

        A 1-D X is treated as :meth:`matvec`.
        """
        rows, cols = self.shape
        x = as_float32(x, "X", (1, 2))
        if x.ndim == 1:
            return self.matvec(x, out=out, accumulate=accumulate)
        if x.shape[0] != cols:
            raise ValueError(f"X has {x.shape[0]} rows, expected {cols} (the matrix has shape {self.shape})")
        out = _out_buffer(out, accumulate, (rows, x.shape[1]))
        self._m.matmul(x, out, bool(accumulate))
        return out

    def __matmul__(self, x):
        return self.matmul(x)

    def __repr__(self) -> str:
        return (f"BlockSparseMatrix(shape={self.shape}, block={self.block}, dtype={self.dtype.name}, "
                f"nnz_blocks={self.nnz_blocks}, density={self.density:.4f})")
