"""``sparsewave evaluate --plot``: the recording's and the resynthesis's spectrograms one above the
other, on one time axis and one colour scale, so harmonics (or their absence) can be seen.

Drawn with matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch)
and written atomically (``sparsewave._atomic``).
"""
from __future__ import annotations

import numpy as np

from .._atomic import atomic_write
from ..audio.signal import frame_view
from .alignment import METRIC_RATE
from .extra import require

__all__ = ["log_spectrogram", "plot_spectrograms"]

_N_FFT = 1024  # 64 ms at 16 kHz: resolves the harmonics of a voice down to about 60 Hz
_HOP = 160  # 10 ms
_DYNAMIC_RANGE_DB = 80.0


def log_spectrogram(x: np.ndarray) -> np.ndarray:
    """(bins, frames) magnitude in dB of ``x`` (16 kHz), Hann window, centred frames."""
    padded = np.pad(np.asarray(x, dtype=np.float64), (_N_FFT // 2, _N_FFT // 2))
    if len(padded) < _N_FFT:
        padded = np.pad(padded, (0, _N_FFT - len(padded)))
    frames = frame_view(padded, _N_FFT, _HOP) * np.hanning(_N_FFT)
    return 20.0 * np.log10(np.maximum(np.abs(np.fft.rfft(frames, axis=1)).T, 1e-10))


def plot_spectrograms(path, reference: np.ndarray, synthesized: np.ndarray, *, titles=("recording", "resynthesis")) -> None:
    """Write a PNG at ``path``: spectrograms of ``reference`` (top) and ``synthesized`` (bottom),
    both 16 kHz audio as ``sparsewave.metrics.align`` returns them. Raises MissingExtraError
    without matplotlib."""
    require("matplotlib", "--plot (spectrograms)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    specs = [log_spectrogram(reference), log_spectrogram(synthesized)]
    top = max(s.max() for s in specs)
    seconds = max(len(reference), len(synthesized)) / METRIC_RATE
    fig = Figure(figsize=(max(6.0, min(24.0, 1.6 * seconds + 2.0)), 6.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True, sharey=True)
    fig.subplots_adjust(left=0.08, right=0.88, bottom=0.09, top=0.94, hspace=0.25)  # fixed: a layout engine costs seconds
    for ax, spec, title in zip(axes, specs, titles):
        image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=top - _DYNAMIC_RANGE_DB, vmax=top,
                          extent=(0.0, spec.shape[1] * _HOP / METRIC_RATE, 0.0, METRIC_RATE / 2000.0),
                          interpolation="nearest")
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.colorbar(image, cax=fig.add_axes((0.9, 0.09, 0.018, 0.85)), label="dB")
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
