"""Standard vocoder metrics (``pip install 'sparsewave[eval]'``): PESQ wideband, STOI, V/UV F1 and
pitch error from Praat's tracker, DNSMOS P.835, all at 16 kHz, and a spectrogram plot.

``vocoder_metrics(reference, synthesized, sample_rate) -> dict`` scores a resynthesis against its
recording (``sparsewave evaluate`` and a trainer's validation call it); ``dnsmos(audio, rate)``
scores one signal alone. The optional packages are imported when a metric first runs, and a
missing one raises ``MissingExtraError`` (an ImportError) naming it.
"""
from .compare import METRIC_KEYS, vocoder_metrics
from .dnsmos import dnsmos
from .extra import EVAL_PACKAGES, MissingExtraError, missing_eval_packages

__all__ = ["vocoder_metrics", "dnsmos", "METRIC_KEYS", "EVAL_PACKAGES", "MissingExtraError", "missing_eval_packages"]
