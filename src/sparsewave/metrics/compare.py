"""``vocoder_metrics``: standard scores of a resynthesis against its recording, all at 16 kHz.

- ``pesq_wb``: PESQ wideband (ITU-T P.862.2) MOS-LQO, 1.04-4.64 (``pesq``);
- ``stoi``: short-time objective intelligibility, 0-1 (``pystoi``);
- ``vuv_f1``, ``pitch_error_cents``, ``voiced_reference``, ``voiced_synthesized``: Praat's
  pitch tracker on both signals (``sparsewave.voicing``);
- ``dnsmos_sig`` / ``dnsmos_bak`` / ``dnsmos_ovrl``: DNSMOS P.835 of the resynthesis, and
  ``reference_dnsmos_*`` of the recording itself: the ceiling its own recording conditions set
  (``sparsewave.metrics.dnsmos``);
- ``delay_ms``: the delay of the resynthesis that alignment removed; ``compared_seconds``: the duration
  compared (``sparsewave.metrics.alignment``).

A score a clip is too short for (PESQ and STOI need about half a second of speech) is NaN.
"""
from __future__ import annotations

import warnings

import numpy as np

from .alignment import METRIC_RATE, align
from .dnsmos import DNSMOS_KEYS, dnsmos as dnsmos_scores
from .extra import require, require_all

__all__ = ["vocoder_metrics", "METRIC_KEYS"]

METRIC_KEYS = ("pesq_wb", "stoi", "vuv_f1", "pitch_error_cents", "voiced_reference", "voiced_synthesized",
               *DNSMOS_KEYS, *(f"reference_{k}" for k in DNSMOS_KEYS), "delay_ms", "compared_seconds")


def _pesq_wb(ref: np.ndarray, syn: np.ndarray) -> float:
    pesq = require("pesq", "PESQ")
    score = pesq.pesq(METRIC_RATE, ref, syn, "wb", on_error=pesq.PesqError.RETURN_VALUES)
    return float(score) if score >= 0 else float("nan")  # negative: PESQ found no utterance or too little audio


def _stoi(ref: np.ndarray, syn: np.ndarray) -> float:
    pystoi = require("pystoi", "STOI")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = pystoi.stoi(ref, syn, METRIC_RATE, extended=False)
    # pystoi warns and returns 1e-5 when fewer than 30 frames of speech remain.
    return float("nan") if any("Not enough STFT frames" in str(w.message) for w in caught) else float(score)


def vocoder_metrics(reference, synthesized, sample_rate: int, *, dnsmos: bool = True, reference_dnsmos: bool = True,
                    max_delay_s: float = 0.02) -> dict:
    """Scores of ``synthesized`` (a vocoder's resynthesis) against ``reference`` (the recording),
    both mono float in [-1, 1] at ``sample_rate``; see the module docstring for the keys.

    Both are resampled to 16 kHz and aligned (``sparsewave.metrics.alignment.align``: delay up to
    ``max_delay_s``, common length). ``dnsmos=False`` skips DNSMOS (the slow part, about a second
    per 9 s of audio), ``reference_dnsmos=False`` only the recording's (a trainer scoring the same
    clips at every validation needs it once); skipped keys are absent.

    Raises MissingExtraError naming the package when the [eval] extra is incomplete, ValueError
    for bad audio or lengths that differ by more than 10 %.
    """
    from ..voicing import voicing_agreement  # imported here: sparsewave.voicing imports this package

    require_all(["pesq", "pystoi", "parselmouth", *(("onnxruntime", "speechmos") if dnsmos else ())], "vocoder_metrics")
    ref, syn, delay = align(reference, synthesized, sample_rate, max_delay_s=max_delay_s)
    if not ref.any():
        raise ValueError("the reference is digital silence over the compared part: nothing to score against")
    voicing = voicing_agreement(ref, syn, METRIC_RATE)
    out = {"pesq_wb": _pesq_wb(ref, syn), "stoi": _stoi(ref, syn), "vuv_f1": voicing.vuv_f1,
           "pitch_error_cents": voicing.pitch_error_cents, "voiced_reference": voicing.voiced_reference,
           "voiced_synthesized": voicing.voiced_synthesized}
    if dnsmos:
        out.update(dnsmos_scores(syn, METRIC_RATE) if syn.any() else dict.fromkeys(DNSMOS_KEYS, float("nan")))
        if reference_dnsmos:
            out.update({f"reference_{k}": v for k, v in dnsmos_scores(ref, METRIC_RATE).items()})
    out.update(delay_ms=1000.0 * delay / METRIC_RATE, compared_seconds=len(ref) / METRIC_RATE)
    return out
