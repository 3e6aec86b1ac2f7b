"""Human-readable sizes and durations for progress lines and summaries."""
from __future__ import annotations

__all__ = ["format_bytes", "format_duration"]


def format_bytes(n: float | None) -> str:
    """1536 -> '1.50 KiB'; None -> 'n/a'."""
    if n is None:
        return "n/a"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def format_duration(seconds: float) -> str:
    """Whole seconds as 'm:ss', or 'h:mm:ss' from an hour on (negative counts as 0)."""
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
