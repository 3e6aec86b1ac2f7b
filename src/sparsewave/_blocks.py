"""Block shapes of block-sparse matrices, written "4x4" / "16x1" or as a pair (rows, cols)."""
from __future__ import annotations

__all__ = ["parse_block", "format_block", "PRUNING_BLOCKS"]

# The shapes block pruning produces: the engine's block kernels (8x4 is the int8 shape; 1x1 is the
# unstructured fallback, not a pruning choice). Training and ``sparsewave bench --random`` offer these.
PRUNING_BLOCKS = ((4, 4), (16, 1), (8, 4))


def parse_block(block, supported=None) -> tuple[int, int]:
    """(rows, cols) of a block given as "4x4", "16x1" or a pair like (4, 4).

    ``supported``: the shapes allowed (e.g. the engine's kernels), or None for any positive
    pair. Raises ValueError for a malformed or unsupported shape, TypeError for a non-pair.
    """
    if isinstance(block, str):
        try:
            pair = tuple(int(p) for p in block.lower().split("x"))
        except ValueError:
            raise ValueError(f"block must look like '4x4' or (4, 4), got {block!r}") from None
    else:
        try:
            pair = tuple(int(b) for b in block)
        except TypeError:
            raise TypeError(f"block must be a pair like (4, 4), got {block!r}") from None
    if len(pair) != 2:
        raise ValueError(f"block must have two sizes (rows x cols) like '4x4' or (4, 4), got {block!r}")
    if pair[0] < 1 or pair[1] < 1:
        raise ValueError(f"block sizes must be positive, got {pair[0]}x{pair[1]}")
    if supported is not None and pair not in tuple(tuple(s) for s in supported):
        raise ValueError(f"unsupported block {format_block(pair)}; supported: "
                         f"{', '.join(format_block(s) for s in supported)}")
    return pair


def format_block(block) -> str:
    """(4, 4) -> '4x4'."""
    return "x".join(str(int(b)) for b in block)
