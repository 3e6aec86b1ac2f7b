"""sparsewave.quality: the mel correlation and NLL figures that docs/quality.md reports."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import sparsewave
from sparsewave.metrics import missing_eval_packages
from sparsewave.quality import EDGE_FRAMES, SCORING_PACKAGES, evaluate_clip, mel_correlation, vocoder_metrics


def _float64_corr(a, b, edge=EDGE_FRAMES):
    n = min(len(a), len(b))
    return float(np.corrcoef(a[edge:n - edge].ravel(), b[edge:n - edge].ravel())[0, 1])


def test_mel_correlation_matches_numpy_on_random_mels(rng):
    for frames_a, frames_b, mels in ((40, 40, 80), (37, 52, 20), (7, 6, 1)):
        a = rng.normal(size=(frames_a, mels))
        b = 0.5 * a[:frames_b] if frames_b <= frames_a else 0.5 * np.vstack([a, rng.normal(size=(frames_b - frames_a, mels))])
        b = b + rng.normal(size=b.shape)
        assert mel_correlation(a, b) == pytest.approx(_float64_corr(a, b), abs=1e-12)


def test_mel_correlation_invariances(rng):
    a = rng.normal(size=(30, 16))
    assert mel_correlation(a, a) == pytest.approx(1.0)
    assert mel_correlation(a, 3.0 * a - 2.0) == pytest.approx(1.0)  # scale and offset free
    assert mel_correlation(a, -a) == pytest.approx(-1.0)
    assert abs(mel_correlation(a, rng.normal(size=(30, 16)))) < 0.2
    # Only the common frames are compared; the edge frames are ignored.
    b = a.copy()
    b[:EDGE_FRAMES] = 100.0
    assert mel_correlation(a, np.vstack([b, np.zeros((5, 16))])) == pytest.approx(1.0)


@pytest.mark.parametrize("a, b, msg", [
    (np.zeros(10), np.zeros(10), "2-D"),
    (np.ones((10, 4)), np.ones((10, 5)), "channel counts"),
    (np.ones((5, 4)), np.ones((5, 4)), "too few frames"),
    (np.full((10, 4), np.nan), np.ones((10, 4)), "NaN"),
    (np.ones((10, 4)), np.ones((10, 4)), "constant"),
])
def test_mel_correlation_refuses_bad_input(a, b, msg):
    with pytest.raises(ValueError, match=msg):
        mel_correlation(a, b)


def test_evaluate_clip_uses_the_engine(rng):
    voc = sparsewave.Vocoder.default()
    sr = voc.sample_rate
    t = np.arange(int(0.4 * sr)) / sr
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=t.size)).astype(np.float32)
    score = evaluate_clip(voc, audio, seed=3, standard_metrics=False)
    assert score.seconds == pytest.approx(len(audio) / sr)
    assert 0.0 < score.nll_bits < 32.0
    assert -1.0 <= score.mel_correlation <= 1.0
    assert score.metrics == {} and set(score.as_dict()) == {"seconds", "nll_bits", "mel_correlation",
                                                            "mel_correlations", "synth_seconds"}
    # The same numbers as the public API gives.
    from sparsewave.audio import mel_spectrogram

    cfg = dict(voc.config["mel"], sample_rate=sr)
    mel = mel_spectrogram(audio, cfg)
    assert score.nll_bits == pytest.approx(voc.nll(mel, audio), rel=1e-6)
    generated = voc.synthesize(mel, seed=3)[:len(audio)]
    np.testing.assert_array_equal(score.resynthesis, generated)
    again = mel_correlation(mel, mel_spectrogram(generated, cfg))
    assert score.mel_correlation == pytest.approx(again, abs=1e-9)
    three = evaluate_clip(voc, audio, seed=3, n_seeds=3, standard_metrics=False)
    assert three.mel_correlations[0] == pytest.approx(score.mel_correlation, abs=1e-12)
    assert len(three.mel_correlations) == 3 and three.mel_correlation == pytest.approx(np.mean(three.mel_correlations))
    assert three.nll_bits == score.nll_bits
    with pytest.raises(ValueError, match="n_seeds"):
        evaluate_clip(voc, audio, n_seeds=0)
    with pytest.raises(ValueError, match="1-D"):
        evaluate_clip(voc, np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_clip(voc, np.zeros(0, np.float32))


@pytest.mark.skipif(bool(missing_eval_packages(SCORING_PACKAGES)), reason="the [eval] extra is not installed")
def test_evaluate_clip_adds_the_standard_metrics(rng):
    voc = sparsewave.Vocoder.default()
    sr = voc.sample_rate
    t = np.arange(int(0.6 * sr)) / sr
    audio = (0.3 * np.sin(2 * np.pi * 180 * t) * np.hanning(len(t)) + 0.01 * rng.normal(size=t.size)).astype(np.float32)
    score = evaluate_clip(voc, audio, seed=1, n_seeds=2, standard_metrics=True)
    # Seed 1's resynthesis scores as vocoder_metrics scores it; the recording's DNSMOS is computed once.
    first = vocoder_metrics(audio, score.resynthesis, sr)
    second = vocoder_metrics(audio, evaluate_clip(voc, audio, seed=2, standard_metrics=False).resynthesis, sr,
                             reference_dnsmos=False)
    for key in ("stoi", "vuv_f1", "dnsmos_ovrl"):
        values = [v for v in (first[key], second[key]) if np.isfinite(v)]
        assert score.metrics[key] == pytest.approx(np.mean(values) if values else np.nan, nan_ok=True), key
    assert score.metrics["reference_dnsmos_ovrl"] == pytest.approx(first["reference_dnsmos_ovrl"])
    flat = score.as_dict()
    assert flat["seconds"] == score.seconds and "vuv_f1" in flat and "resynthesis" not in flat


def test_evaluate_clip_names_a_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pystoi", None)  # as if not installed
    voc = sparsewave.Vocoder.default()
    audio = np.zeros(voc.sample_rate // 2, np.float32)
    audio[::50] = 0.5
    with pytest.raises(ImportError, match="'pystoi'") as e:
        evaluate_clip(voc, audio, standard_metrics=True)
    assert "pip install 'sparsewave[eval]'" in str(e.value)
    # auto: without the extra it scores what it can, as before the extra existed.
    assert evaluate_clip(voc, audio).metrics == {}
