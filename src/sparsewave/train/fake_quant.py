"""Fake int8 quantization for quantization-aware training, mirroring the engine's int8 products.

The engine's rule (cpp/kernels/quantize_rule.h, QuantizeFn in cpp/kernels/table.h, and
``BlockSparseMatrix::store_int8`` in cpp/matrix/block_sparse_matrix.cpp; docs/format.md,
"int8 matrices"), all in float32:

* a vector x (each product's input, quantized per call): m = max |x|,
  q = round-half-even(x * (127 / m)), scale = m / 127;
* a weight matrix, per row: the same with m = max |row|, q clamped to [-127, 127];
* m below 1e-30 (an all-zero vector or row) gives q = 0 and scale 0.

:func:`quantize_int8` returns (q, scale) as the engine computes them; :func:`fake_quant`
returns q * scale in the input's dtype with a straight-through gradient (identity), so
training sees the rounded values the engine multiplies and still learns the float weights.
"""
from __future__ import annotations

import torch

__all__ = ["quantize_int8", "fake_quant", "TINY_MAX"]

TINY_MAX = 1e-30  # kQuantizeTinyMax: below it 127 / m would overflow


def quantize_int8(x: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """(q, scale) of ``x`` quantized along ``dim`` (a vector per slice): q float32 integers in
    [-127, 127], scale float32 with ``dim`` kept as size 1. Computed in float32 like the engine."""
    x = x.detach().float()
    m = x.abs().amax(dim=dim, keepdim=True)
    ok = m >= TINY_MAX
    safe = torch.where(ok, m, torch.ones_like(m))
    inv = torch.where(ok, torch.full_like(m, 127.0) / safe, torch.zeros_like(m))
    q = torch.round(x * inv).clamp_(-127.0, 127.0)  # torch.round: half to even
    scale = torch.where(ok, m / 127.0, torch.zeros_like(m))
    return q, scale


def fake_quant(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x`` replaced by its int8 value q * scale (per slice along ``dim``), gradient passed
    straight through. Weights: ``dim=1`` (per row); activations: ``dim=-1`` (per vector)."""
    q, scale = quantize_int8(x, dim)
    return x + ((q * scale).to(x.dtype) - x).detach()
