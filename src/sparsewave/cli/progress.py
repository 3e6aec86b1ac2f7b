"""A one-line progress bar on stderr for long syntheses."""
from __future__ import annotations

import sys
import time

from .._format import format_duration


class ProgressBar:
    """One-line progress on stderr: bar, samples done, real-time factor, ETA.

    Called with the count the engine reports; ``scale`` converts it to output samples.
    """

    def __init__(self, total: int, scale: float, sample_rate: int, stream=None, width: int = 28):
        self.total = max(1, int(total))  # units the engine counts
        self.scale = scale  # output samples per counted unit
        self.sample_rate = sample_rate
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.last_len = 0

    def __call__(self, done: int) -> None:
        done = min(int(done), self.total)
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        frac = done / self.total
        out_done = done * self.scale
        rtf = out_done / self.sample_rate / elapsed
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"\r[{bar}] {frac * 100:5.1f}%  {int(out_done):,}/{int(self.total * self.scale):,} samples  "
                f"{rtf:5.2f}x real time  ETA {format_duration(eta) if eta == eta else '--:--'}")
        pad = max(0, self.last_len - len(line))  # blank out the rest of a longer previous line
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self.last_len = len(line)

    def finish(self) -> None:
        self(self.total)
        self.stream.write("\n")
        self.stream.flush()
