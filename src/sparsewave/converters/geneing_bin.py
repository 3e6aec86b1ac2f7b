"""Safe reader for geneing/WaveRNN-Pytorch's ``model.bin`` (pruned WaveRNN, Eigen sparse format).

The file is treated as untrusted input: every count is checked against the bytes that are
actually left before anything is read or allocated, every record type / size / index is
validated, and any problem raises :class:`ValueError` with a message naming the record and
the offset. Only NumPy and the standard library are used (no torch).

Return value
------------
:func:`read_geneing_model_bin` (path) and :func:`parse_geneing_model_bin` (bytes) return a
tuple ``(tensors, info)``:

* ``tensors``: ``dict[str, np.ndarray]`` of C-contiguous float32 arrays named exactly like the
  PyTorch ``state_dict`` of geneing's ``Model`` (``upsample.resnet.conv_in.weight``,
  ``upsample.resnet.batch_norm.running_var``, ``upsample.up_layers.1.weight``, ``I.weight``,
  ``rnn1.weight_ih_l0``, ``fc1.bias``, ``fc3.weight`` ...). Batch-norm running statistics are
  included; ``num_batches_tracked`` (not stored in the file) is not. Sparse matrices are
  decoded to dense arrays with zeros in the pruned blocks.
* ``info``: a frozen :class:`GeneingModelInfo` with the header values (``res_blocks``,
  ``n_upsample``, ``total_scale``, ``pad``), the upsample scales and kernel sizes, the
  dimensions inferred from the records and the batch-norm epsilons.

File layout (little endian)
---------------------------
Header: int32 res_blocks, n_upsample, total_scale, pad. Then records, in this order::

    conv_in (Conv1d), batch_norm (BatchNorm1d),
    res_blocks x [conv1 (Conv1d), batch_norm1, conv2 (Conv1d), batch_norm2],
    conv_out (Conv1d with bias), resnet_stretch (Stretch2d),
    n_upsample x [Stretch2d, Conv2d], I (Linear), rnn1 (GRU), fc1 (Linear), fc3 (Linear)

Record: int32 type (1 Conv1d, 2 Conv2d, 3 BatchNorm1d, 4 Linear, 5 GRU, 6 Stretch2d), char[64]
name (``str(module)``, NUL padded), then the payload:

* Conv1d: int32 elSize, hasBias, in, out, kernel; f32 weight[out][in][kernel]; f32 bias[out]
  if hasBias.
* Conv2d: int32 elSize, kernel; f32 weight[kernel]  (state_dict shape (1, 1, 1, kernel)).
* BatchNorm1d: int32 elSize, C; f32 eps; f32 weight[C], bias[C], running_mean[C], running_var[C].
* Linear: int32 elSize, rows, cols; compressed matrix (rows x cols); f32 bias[rows].
* GRU: int32 elSize, hidden, input; compressed W_ir, W_iz, W_in (hidden x input), W_hr, W_hz,
  W_hn (hidden x hidden); f32 b_ir, b_iz, b_in, b_hr, b_hz, b_hn (hidden each).
* Stretch2d: int32 x_scale, y_scale.

Compressed matrix: int32 nW; f32 w[nW]; int32 nIdx; uint8 idx[nIdx]. Columns are grouped in
blocks of 4. Row by row, idx holds the block-column number of each stored block, 255 ends a
row, and one extra 255 ends the matrix (rows + 1 terminators in all). w holds the 4 values of
every stored block in the same order, so nW == 4 * (number of stored blocks).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Dict, Tuple, Union

import numpy as np

__all__ = ["GeneingModelInfo", "parse_geneing_model_bin", "read_geneing_model_bin"]

# Record type codes used by geneing's convert_model.py / library/src/wavernn.h.
TYPE_CONV1D = 1
TYPE_CONV2D = 2
TYPE_BATCHNORM1D = 3
TYPE_LINEAR = 4
TYPE_GRU = 5
TYPE_STRETCH2D = 6
_TYPE_NAMES = {
    TYPE_CONV1D: "Conv1d",
    TYPE_CONV2D: "Conv2d",
    TYPE_BATCHNORM1D: "BatchNorm1d",
    TYPE_LINEAR: "Linear",
    TYPE_GRU: "GRU",
    TYPE_STRETCH2D: "Stretch2d",
}

NAME_LEN = 64
SPARSE_GROUP = 4  # columns per stored block
ROW_END = 255  # idx terminator; hence block numbers 0..254 and cols <= 4 * 255
MAX_COLS = SPARSE_GROUP * ROW_END

#: Refuse files larger than this (the real model is 617,700 bytes).
MAX_FILE_BYTES = 1 << 30
#: Default bound on the total number of dense parameters produced (the real model has 648,937;
#: fatchord's largest layout about 4.5 M). Sparse matrices expand on decoding, so this keeps a
#: small hostile file from requesting gigabytes.
DEFAULT_MAX_DENSE_PARAMS = 64_000_000
#: Upper bounds on header values (far above anything a WaveRNN uses).
MAX_RES_BLOCKS = 256
MAX_UPSAMPLE = 16
MAX_PAD = 64
MAX_SCALE = 1 << 16


@dataclass(frozen=True)
class GeneingModelInfo:
    """Header values and dimensions of a geneing ``model.bin``.

    Attributes:
        res_blocks, n_upsample, total_scale, pad: the four header int32s.
        upsample_scales: time stretch of each upsample stage, e.g. (4, 5, 10).
        upsample_kernel_sizes: Conv2d smoothing kernel lengths, each 2 * scale + 1.
        resnet_stretch: time stretch applied to the MelResNet output (== total_scale).
        n_mels: conditioning mel channels (conv_in input channels).
        compute_dims: MelResNet width (conv_in output channels).
        res_out_dims: MelResNet output channels (the aux vector).
        rnn_dims: GRU hidden size (also the ``I`` output size).
        fc_dims: fc1 output size.
        n_classes: fc3 output size (softmax classes, 2 ** bits).
        aux_to_I: number of aux channels concatenated into ``I``'s input
            (``I.in = 1 + n_mels + aux_to_I``; 31 in the released model).
        aux_to_fc1: number of aux channels concatenated into fc1's input
            (``fc1.in = rnn_dims + aux_to_fc1``; 32 in the released model).
        bn_eps: eps of every BatchNorm1d record, in file order.
        record_names: the char[64] name field of every record (``str(module)``, truncated).
    """

    res_blocks: int
    n_upsample: int
    total_scale: int
    pad: int
    upsample_scales: Tuple[int, ...]
    upsample_kernel_sizes: Tuple[int, ...]
    resnet_stretch: int
    n_mels: int
    compute_dims: int
    res_out_dims: int
    rnn_dims: int
    fc_dims: int
    n_classes: int
    aux_to_I: int
    aux_to_fc1: int
    bn_eps: Tuple[float, ...]
    record_names: Tuple[str, ...]


class _Reader:
    """Bounds-checked little-endian cursor over an immutable byte buffer."""

    def __init__(self, data: bytes, max_dense_params: int):
        self.data = data
        self.size = len(data)
        self.off = 0
        self.dense_budget = max_dense_params
        self.record = "header"

    def left(self) -> int:
        return self.size - self.off

    def fail(self, msg: str) -> "ValueError":
        return ValueError(f"model.bin: record '{self.record}': {msg}")

    def need(self, nbytes: int, what: str) -> None:
        if nbytes < 0:
            raise self.fail(f"negative size for {what}")
        if nbytes > self.left():
            raise ValueError(
                f"model.bin truncated: record '{self.record}' needs {nbytes} bytes of {what} "
                f"at offset {self.off}, file has {self.left()} left"
            )

    def i32(self, what: str) -> int:
        self.need(4, what)
        (v,) = struct.unpack_from("<i", self.data, self.off)
        self.off += 4
        return int(v)

    def i32s(self, n: int, what: str) -> Tuple[int, ...]:
        self.need(4 * n, what)
        vals = struct.unpack_from(f"<{n}i", self.data, self.off)
        self.off += 4 * n
        return tuple(int(v) for v in vals)

    def f32(self, count: int, what: str) -> np.ndarray:
        if count < 0:
            raise self.fail(f"negative element count {count} for {what}")
        self.need(4 * count, what)
        arr = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.off)
        self.off += 4 * count
        arr = arr.astype(np.float32)  # native-endian copy, detached from the buffer
        if not np.all(np.isfinite(arr)):
            raise self.fail(f"{what} contains NaN or infinite values")
        return arr

    def u8(self, count: int, what: str) -> np.ndarray:
        if count < 0:
            raise self.fail(f"negative byte count {count} for {what}")
        self.need(count, what)
        arr = np.frombuffer(self.data, dtype=np.uint8, count=count, offset=self.off)
        self.off += count
        return arr

    def charge(self, nparams: int, what: str) -> None:
        """Account for ``nparams`` dense float32 outputs before allocating them."""
        if nparams > self.dense_budget:
            raise self.fail(
                f"{what} would need {nparams} dense parameters, more than the remaining limit "
                f"of {self.dense_budget} (max_dense_params)"
            )
        self.dense_budget -= nparams


def _check_dim(r: _Reader, value: int, what: str, lo: int = 1, hi: int = 1 << 20) -> int:
    if not lo <= value <= hi:
        raise r.fail(f"{what} = {value} is out of range [{lo}, {hi}]")
    return value


def _record_header(r: _Reader, record: str, expected_type: int) -> str:
    r.record = record
    start = r.off
    rtype = r.i32("record type")
    if rtype != expected_type:
        got = _TYPE_NAMES.get(rtype, "unknown")
        raise r.fail(
            f"expected record type {expected_type} ({_TYPE_NAMES[expected_type]}) at offset "
            f"{start}, got {rtype} ({got})"
        )
    raw = r.u8(NAME_LEN, "name field").tobytes()
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace")


def _el_size(r: _Reader) -> None:
    el = r.i32("elSize")
    if el != 4:
        raise r.fail(f"elSize is {el}, only 4 (float32) is supported")


def _compressed_matrix(r: _Reader, rows: int, cols: int, what: str) -> np.ndarray:
    """Decode one block-sparse matrix into a dense float32 (rows, cols) array."""
    if cols % SPARSE_GROUP != 0:
        raise r.fail(f"{what}: {cols} columns is not a multiple of the block size {SPARSE_GROUP}")
    if cols > MAX_COLS:
        raise r.fail(f"{what}: {cols} columns cannot be addressed by uint8 block numbers (max {MAX_COLS})")
    n_block_cols = cols // SPARSE_GROUP

    n_w = r.i32(f"{what} weight count")
    if n_w < 0:
        raise r.fail(f"{what}: negative weight count {n_w}")
    if n_w % SPARSE_GROUP != 0:
        raise r.fail(f"{what}: weight count {n_w} is not a multiple of {SPARSE_GROUP}")
    if n_w > rows * cols:
        raise r.fail(f"{what}: weight count {n_w} exceeds the {rows}x{cols} matrix size")
    w = r.f32(n_w, f"{what} weights")

    n_idx = r.i32(f"{what} index count")
    if n_idx < rows + 1:
        raise r.fail(f"{what}: index count {n_idx} is smaller than rows + 1 = {rows + 1} terminators")
    idx = r.u8(n_idx, f"{what} block indices")

    is_end = idx == ROW_END
    n_end = int(np.count_nonzero(is_end))
    if n_end != rows + 1:
        raise r.fail(f"{what}: found {n_end} row terminators (255), expected rows + 1 = {rows + 1}")
    if not is_end[-1]:
        raise r.fail(f"{what}: block index list does not end with the final terminator 255")
    # Row of each entry = number of terminators before it; the last real row is rows - 1, so a
    # block between the rows-th terminator and the final one (row == rows) is malformed.
    row_of = np.cumsum(is_end) - is_end
    blk_mask = ~is_end
    blk_rows = row_of[blk_mask].astype(np.int64)
    blk_cols = idx[blk_mask].astype(np.int64)  # ints: block * 4 would overflow uint8
    n_blocks = blk_cols.size
    if n_blocks and int(blk_rows.max()) >= rows:
        raise r.fail(f"{what}: block index after the last row terminator")
    if n_blocks and int(blk_cols.max()) >= n_block_cols:
        raise r.fail(
            f"{what}: block-column index {int(blk_cols.max())} out of range for {cols} columns "
            f"(max {n_block_cols - 1})"
        )
    if n_blocks * SPARSE_GROUP != n_w:
        raise r.fail(
            f"{what}: {n_blocks} stored blocks need {n_blocks * SPARSE_GROUP} weights, "
            f"file has {n_w}"
        )
    flat = blk_rows * n_block_cols + blk_cols
    if np.unique(flat).size != n_blocks:
        raise r.fail(f"{what}: a block is stored twice in the same row")

    r.charge(rows * cols, what)
    dense = np.zeros((rows, n_block_cols, SPARSE_GROUP), dtype=np.float32)
    dense[blk_rows, blk_cols, :] = w.reshape(n_blocks, SPARSE_GROUP)
    return dense.reshape(rows, cols)


def _conv1d(r: _Reader, record: str, prefix: str, out: Dict[str, np.ndarray], *, want_bias: bool,
            in_ch: int | None, out_ch: int | None, kernel: int | None) -> Tuple[str, int, int, int]:
    name = _record_header(r, record, TYPE_CONV1D)
    _el_size(r)
    has_bias, c_in, c_out, k = r.i32s(4, "Conv1d dims")
    if has_bias not in (0, 1):
        raise r.fail(f"hasBias is {has_bias}, expected 0 or 1")
    if bool(has_bias) != want_bias:
        raise r.fail(f"hasBias is {has_bias}, but this layer {'has' if want_bias else 'has no'} bias in the model")
    _check_dim(r, c_in, "in_channels")
    _check_dim(r, c_out, "out_channels")
    _check_dim(r, k, "kernel_size", hi=1024)
    for got, want, what in ((c_in, in_ch, "in_channels"), (c_out, out_ch, "out_channels"), (k, kernel, "kernel_size")):
        if want is not None and got != want:
            raise r.fail(f"{what} is {got}, expected {want}")
    n = c_out * c_in * k
    r.need(4 * (n + (c_out if has_bias else 0)), "Conv1d weights")
    r.charge(n + (c_out if has_bias else 0), "Conv1d")
    out[prefix + ".weight"] = r.f32(n, "Conv1d weights").reshape(c_out, c_in, k)
    if has_bias:
        out[prefix + ".bias"] = r.f32(c_out, "Conv1d bias")
    return name, c_in, c_out, k


def _batchnorm(r: _Reader, record: str, prefix: str, out: Dict[str, np.ndarray], channels: int) -> Tuple[str, float]:
    name = _record_header(r, record, TYPE_BATCHNORM1D)
    _el_size(r)
    c = r.i32("BatchNorm1d channels")
    if c != channels:
        raise r.fail(f"BatchNorm1d has {c} channels, expected {channels}")
    r.need(4 * (1 + 4 * c), "BatchNorm1d eps and parameters")
    eps = float(r.f32(1, "BatchNorm1d eps")[0])
    if not eps > 0.0:
        raise r.fail(f"BatchNorm1d eps is {eps}, must be > 0")
    r.charge(4 * c, "BatchNorm1d")
    for field in ("weight", "bias", "running_mean", "running_var"):
        out[f"{prefix}.{field}"] = r.f32(c, f"BatchNorm1d {field}")
    if np.any(out[prefix + ".running_var"] < 0):
        raise r.fail("BatchNorm1d running_var has negative entries")
    return name, eps


def _stretch(r: _Reader, record: str) -> Tuple[str, int]:
    name = _record_header(r, record, TYPE_STRETCH2D)
    x_scale, y_scale = r.i32s(2, "Stretch2d scales")
    _check_dim(r, x_scale, "Stretch2d x_scale", hi=MAX_SCALE)
    if y_scale != 1:
        raise r.fail(f"Stretch2d y_scale is {y_scale}, only 1 (stretch along time only) is supported")
    return name, x_scale


def _linear(r: _Reader, record: str, prefix: str, out: Dict[str, np.ndarray]) -> Tuple[str, int, int]:
    name = _record_header(r, record, TYPE_LINEAR)
    _el_size(r)
    rows, cols = r.i32s(2, "Linear dims")
    # Every row needs one terminator byte and one float32 of bias: bound rows by the bytes left.
    _check_dim(r, rows, "Linear rows (out_features)", hi=max(1, r.left() // 5))
    _check_dim(r, cols, "Linear cols (in_features)", hi=MAX_COLS)
    out[prefix + ".weight"] = _compressed_matrix(r, rows, cols, "Linear weight")
    r.charge(rows, "Linear bias")
    out[prefix + ".bias"] = r.f32(rows, "Linear bias")
    return name, rows, cols


def _gru(r: _Reader, record: str, prefix: str, out: Dict[str, np.ndarray]) -> Tuple[str, int, int]:
    name = _record_header(r, record, TYPE_GRU)
    _el_size(r)
    hidden, n_in = r.i32s(2, "GRU dims")
    # 6 matrices of `hidden` rows (each row needs a terminator byte) + 6 bias vectors.
    _check_dim(r, hidden, "GRU hidden size", hi=min(MAX_COLS, max(1, r.left() // 30)))
    _check_dim(r, n_in, "GRU input size", hi=MAX_COLS)
    w_ih = [_compressed_matrix(r, hidden, n_in, f"GRU W_i{g}") for g in "rzn"]
    w_hh = [_compressed_matrix(r, hidden, hidden, f"GRU W_h{g}") for g in "rzn"]
    r.charge(6 * hidden, "GRU biases")
    b = r.f32(6 * hidden, "GRU biases")
    out[prefix + ".weight_ih_l0"] = np.ascontiguousarray(np.vstack(w_ih))
    out[prefix + ".weight_hh_l0"] = np.ascontiguousarray(np.vstack(w_hh))
    out[prefix + ".bias_ih_l0"] = b[: 3 * hidden].copy()
    out[prefix + ".bias_hh_l0"] = b[3 * hidden:].copy()
    return name, hidden, n_in


def parse_geneing_model_bin(
    data: Union[bytes, bytearray, memoryview],
    *,
    max_dense_params: int = DEFAULT_MAX_DENSE_PARAMS,
) -> Tuple[Dict[str, np.ndarray], GeneingModelInfo]:
    """Parse the bytes of a geneing ``model.bin``; see the module docstring for the result.

    Raises:
        ValueError: on any truncated, inconsistent, corrupt or oversized input.
    """
    data = bytes(data)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"model.bin: file is {len(data)} bytes, larger than the {MAX_FILE_BYTES} byte limit")
    r = _Reader(data, max_dense_params)
    res_blocks, n_up, total_scale, pad = r.i32s(4, "header (res_blocks, n_upsample, total_scale, pad)")
    _check_dim(r, res_blocks, "header res_blocks", lo=0, hi=MAX_RES_BLOCKS)
    _check_dim(r, n_up, "header n_upsample", lo=1, hi=MAX_UPSAMPLE)
    _check_dim(r, total_scale, "header total_scale", hi=MAX_SCALE)
    _check_dim(r, pad, "header pad", lo=0, hi=MAX_PAD)

    t: Dict[str, np.ndarray] = {}
    names = []
    eps = []
    rn = "upsample.resnet"

    name, n_mels, compute_dims, _ = _conv1d(r, "conv_in", f"{rn}.conv_in", t, want_bias=False,
                                            in_ch=None, out_ch=None, kernel=2 * pad + 1)
    names.append(name)
    name, e = _batchnorm(r, "batch_norm", f"{rn}.batch_norm", t, compute_dims)
    names.append(name)
    eps.append(e)
    for i in range(res_blocks):
        for j in (1, 2):
            name, *_ = _conv1d(r, f"layers.{i}.conv{j}", f"{rn}.layers.{i}.conv{j}", t, want_bias=False,
                               in_ch=compute_dims, out_ch=compute_dims, kernel=1)
            names.append(name)
            name, e = _batchnorm(r, f"layers.{i}.batch_norm{j}", f"{rn}.layers.{i}.batch_norm{j}", t, compute_dims)
            names.append(name)
            eps.append(e)
    name, _, res_out_dims, _ = _conv1d(r, "conv_out", f"{rn}.conv_out", t, want_bias=True,
                                       in_ch=compute_dims, out_ch=None, kernel=1)
    names.append(name)

    name, resnet_stretch = _stretch(r, "resnet_stretch")
    names.append(name)
    if resnet_stretch != total_scale:
        raise r.fail(f"resnet_stretch scale {resnet_stretch} differs from header total_scale {total_scale}")

    scales, kernels = [], []
    for i in range(n_up):
        name, s = _stretch(r, f"up_layers.{2 * i}")
        names.append(name)
        r.record = f"up_layers.{2 * i + 1}"
        name = _record_header(r, r.record, TYPE_CONV2D)
        _el_size(r)
        k = r.i32("Conv2d kernel size")
        if k != 2 * s + 1:
            raise r.fail(f"Conv2d kernel size is {k}, expected 2 * scale + 1 = {2 * s + 1}")
        r.charge(k, "Conv2d")
        t[f"upsample.up_layers.{2 * i + 1}.weight"] = r.f32(k, "Conv2d weights").reshape(1, 1, 1, k)
        names.append(name)
        scales.append(s)
        kernels.append(k)
    prod = 1
    for s in scales:
        prod *= s
    if prod != total_scale:
        r.record = "upsample"
        raise r.fail(f"product of upsample scales {scales} is {prod}, header total_scale is {total_scale}")

    name, rnn_dims, i_in = _linear(r, "I", "I", t)
    names.append(name)
    aux_to_i = i_in - 1 - n_mels
    if not 0 <= aux_to_i <= res_out_dims:
        raise r.fail(f"in_features {i_in} is not 1 + n_mels ({n_mels}) + 0..{res_out_dims} aux channels")

    name, hidden, gru_in = _gru(r, "rnn1", "rnn1", t)
    names.append(name)
    if hidden != rnn_dims or gru_in != rnn_dims:
        raise r.fail(f"GRU is {gru_in}->{hidden}, expected {rnn_dims}->{rnn_dims} (the I output size)")

    name, fc_dims, fc1_in = _linear(r, "fc1", "fc1", t)
    names.append(name)
    aux_to_fc1 = fc1_in - rnn_dims
    if not 0 <= aux_to_fc1 <= res_out_dims:
        raise r.fail(f"in_features {fc1_in} is not rnn_dims ({rnn_dims}) + 0..{res_out_dims} aux channels")

    # The C++ library calls this layer fc2; in the PyTorch model (and the state_dict) it is fc3.
    name, n_classes, fc3_in = _linear(r, "fc3", "fc3", t)
    names.append(name)
    if fc3_in != fc_dims:
        raise r.fail(f"in_features is {fc3_in}, expected fc1's out_features {fc_dims}")

    if r.left() != 0:
        r.record = "end of file"
        raise r.fail(f"{r.left()} unexpected trailing bytes at offset {r.off}")

    info = GeneingModelInfo(
        res_blocks=res_blocks,
        n_upsample=n_up,
        total_scale=total_scale,
        pad=pad,
        upsample_scales=tuple(scales),
        upsample_kernel_sizes=tuple(kernels),
        resnet_stretch=resnet_stretch,
        n_mels=n_mels,
        compute_dims=compute_dims,
        res_out_dims=res_out_dims,
        rnn_dims=rnn_dims,
        fc_dims=fc_dims,
        n_classes=n_classes,
        aux_to_I=aux_to_i,
        aux_to_fc1=aux_to_fc1,
        bn_eps=tuple(eps),
        record_names=tuple(names),
    )
    return t, info


def read_geneing_model_bin(
    path: Union[str, os.PathLike],
    *,
    max_dense_params: int = DEFAULT_MAX_DENSE_PARAMS,
) -> Tuple[Dict[str, np.ndarray], GeneingModelInfo]:
    """Read and validate a geneing ``model.bin`` file.

    Returns ``(tensors, info)``: ``tensors`` maps PyTorch state_dict names to float32 arrays
    (dense, batch-norm running stats included, no ``num_batches_tracked``), ``info`` is a
    :class:`GeneingModelInfo` with the header values, upsample scales / kernel sizes and the
    inferred dimensions. Raises ``ValueError`` for truncated, corrupt or hostile files (and
    ``OSError`` if the file cannot be opened).
    """
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"model.bin: file is {size} bytes, larger than the {MAX_FILE_BYTES} byte limit")
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    return parse_geneing_model_bin(data, max_dense_params=max_dense_params)
