"""argparse ``type=`` functions shared by ``sparsewave`` and ``sparsewave train``: each turns the
text into a number or raises ArgumentTypeError saying what was expected (exit status 2)."""
from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "nonneg_int", "positive_float", "fraction"]


def _number(text: str, kind, ok, expected: str):
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return v


def positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def nonneg_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a non-negative integer")


def positive_float(text: str) -> float:
    return _number(text, float, lambda v: v > 0 and math.isfinite(v), "a positive number")


def fraction(upper_inclusive: bool):
    """A type for a number in [0, 1] (``upper_inclusive``) or [0, 1); NaN is refused."""
    top = "1]" if upper_inclusive else "1)"

    def parse(text: str) -> float:
        return _number(text, float, lambda v: 0.0 <= v <= 1.0 and (upper_inclusive or v < 1.0),
                       f"a number in [0, {top}")
    return parse
