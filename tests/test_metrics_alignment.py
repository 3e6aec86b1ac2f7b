"""sparsewave.metrics without the [eval] extra: alignment at 16 kHz and the missing-package error."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from sparsewave.metrics import MissingExtraError, missing_eval_packages, vocoder_metrics
from sparsewave.metrics.alignment import METRIC_RATE, align, estimate_delay
from sparsewave.metrics.extra import require


def _speechlike(rng, seconds=1.0, rate=METRIC_RATE):
    """Noise bursts under a syllable-rate envelope: a delay is visible in the envelope."""
    t = np.arange(int(seconds * rate)) / rate
    env = np.maximum(0.0, np.sin(2 * np.pi * 3.1 * t)) ** 2 * (1.0 + 0.5 * np.sin(2 * np.pi * 7.3 * t))
    return 0.2 * env * rng.standard_normal(len(t))


@pytest.mark.parametrize("shift", [0, 37, -52, 160])
def test_a_shifted_copy_is_aligned_exactly(rng, shift):
    x = _speechlike(rng)
    y = np.concatenate([np.zeros(shift), x])[:len(x)] if shift >= 0 else np.concatenate([x[-shift:], np.zeros(-shift)])
    assert estimate_delay(x, y, 320) == shift
    ref, syn, delay = align(x, y, METRIC_RATE)
    assert delay == shift and len(ref) == len(syn)
    # The overlapping part is the recording itself, sample for sample.
    lo, hi = max(0, -shift), len(ref) - max(0, shift)
    np.testing.assert_array_equal(syn[lo:hi], x[lo:hi])


def test_delay_search_is_bounded_and_silence_gives_none(rng):
    x = _speechlike(rng)
    late = np.concatenate([np.zeros(800), x])[:len(x)]  # 50 ms: beyond the default 20 ms
    assert abs(estimate_delay(x, late, 320)) <= 320
    assert estimate_delay(x, np.zeros_like(x), 320) == 0
    assert estimate_delay(x, late, 0) == 0
    with pytest.raises(ValueError, match="max_delay"):
        estimate_delay(x, x, -1)


def test_align_resamples_to_16k_and_cuts_to_the_common_length(rng):
    x = _speechlike(rng, rate=22050).astype(np.float32)
    ref, syn, delay = align(x, x[:-300], 22050)  # a resynthesis a little short of the recording
    assert delay == 0 and len(ref) == len(syn) == int(np.ceil((len(x) - 300) * 16000 / 22050))
    assert ref.dtype == syn.dtype == np.float64


@pytest.mark.parametrize("kwargs, err, msg", [
    (dict(reference=np.zeros(16000), synthesized=np.zeros(8000), sample_rate=16000), ValueError, "not a recording"),
    (dict(reference=np.zeros(100), synthesized=np.zeros(100), sample_rate=0), ValueError, "sample_rate"),
    (dict(reference=np.zeros(100, np.int16), synthesized=np.zeros(100), sample_rate=16000), TypeError, "float"),
    (dict(reference=np.zeros((2, 100)), synthesized=np.zeros(100), sample_rate=16000), ValueError, "1-D"),
])
def test_align_refuses_bad_input(kwargs, err, msg):
    with pytest.raises(err, match=msg):
        align(**kwargs)


def test_a_missing_package_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "parselmouth", None)  # imports of it now fail, as when not installed
    assert "praat-parselmouth" in missing_eval_packages()
    assert missing_eval_packages(["parselmouth"]) == ["praat-parselmouth"]
    with pytest.raises(MissingExtraError, match=r"'praat-parselmouth' \(pip install 'sparsewave\[eval\]'\)"):
        require("parselmouth", "the pitch tracker")
    x = np.sin(np.arange(16000) * 0.1) * 0.1
    with pytest.raises(ImportError, match="'praat-parselmouth'") as e:
        vocoder_metrics(x, x, 16000, dnsmos=False)
    assert "pip install 'sparsewave[eval]'" in str(e.value)
    with pytest.raises(ValueError, match="not a package of the"):
        require("numpy", "anything")
