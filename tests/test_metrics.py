"""sparsewave.metrics.vocoder_metrics on a real LJ Speech clip (needs the [eval] extra).

Known answers: the recording against itself scores perfectly; noise under the recording's
envelope (what a whispering vocoder makes) scores low on voicing and intelligibility; a copy
shifted up 100 cents in pitch (Praat's PSOLA, same timing) shows a 100-cent pitch error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsewave.audio import read_audio
from sparsewave.metrics import METRIC_KEYS, dnsmos, missing_eval_packages, vocoder_metrics

pytestmark = pytest.mark.skipif(bool(missing_eval_packages(["pesq", "pystoi", "parselmouth", "onnxruntime", "speechmos"])),
                                reason="the [eval] extra is not installed (pip install 'sparsewave[eval]')")

# Never ../shared/data/eval: those clips are kept for measuring. 5.1 s: DNSMOS scores it in one
# window (a clip under 4.5 s is repeated to 9 s and more and scored in several).
CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ljspeech" / "LJ001-0004.wav"
needs_clip = pytest.mark.skipif(not CLIP.exists(), reason=f"LJ Speech clip not found: {CLIP} (../shared/data)")


@pytest.fixture(scope="module")
def recording():
    x, rate = read_audio(CLIP)
    return x.astype(np.float64), rate


def _same_envelope_noise(x, rate, rng):
    hop = rate // 100
    env = np.sqrt(np.convolve(x * x, np.ones(hop) / hop, mode="same"))
    return np.clip(env * rng.standard_normal(len(x)), -1.0, 1.0)


def _pitch_shifted(x, rate, cents):
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(x, sampling_frequency=rate)
    manipulation = call(sound, "To Manipulation", 0.01, 75, 600)
    tier = call(manipulation, "Extract pitch tier")
    call(tier, "Multiply frequencies", sound.xmin, sound.xmax, 2 ** (cents / 1200))
    call([tier, manipulation], "Replace pitch tier")
    return call(manipulation, "Get resynthesis (overlap-add)").values[0]


@needs_clip
def test_the_recording_against_itself(recording):
    x, rate = recording
    m = vocoder_metrics(x, x, rate)
    assert set(m) == set(METRIC_KEYS)
    assert m["vuv_f1"] == 1.0 and m["pitch_error_cents"] == 0.0 and m["delay_ms"] == 0.0
    assert m["stoi"] == pytest.approx(1.0, abs=1e-6) and m["pesq_wb"] > 4.5
    for k in ("sig", "bak", "ovrl"):
        assert m[f"dnsmos_{k}"] == m[f"reference_dnsmos_{k}"]
    assert 2.5 < m["dnsmos_ovrl"] < 4.0  # a clean studio recording
    assert m["compared_seconds"] == pytest.approx(len(x) / rate, abs=1e-3)


@needs_clip
def test_noise_with_the_recordings_envelope_scores_low(recording, rng):
    x, rate = recording
    m = vocoder_metrics(x, _same_envelope_noise(x, rate, rng), rate, reference_dnsmos=False)
    assert m["vuv_f1"] < 0.2 and m["voiced_synthesized"] < 0.1
    assert m["stoi"] < 0.7 and m["pesq_wb"] < 1.5
    assert m["dnsmos_ovrl"] < 2.0
    assert "reference_dnsmos_ovrl" not in m


@needs_clip
def test_a_pitch_shifted_copy_shows_the_shift(recording):
    x, rate = recording
    m = vocoder_metrics(x, _pitch_shifted(x, rate, 100.0), rate, dnsmos=False)
    assert m["vuv_f1"] > 0.85
    assert m["pitch_error_cents"] == pytest.approx(100.0, abs=15.0)
    assert not any(k.startswith(("dnsmos", "reference_dnsmos")) for k in m)


@needs_clip
def test_a_delayed_copy_is_realigned(recording):
    x, rate = recording
    late = np.concatenate([np.zeros(int(0.005 * rate)), x])[:len(x)]  # 5 ms late
    m = vocoder_metrics(x, late, rate, dnsmos=False)
    assert m["delay_ms"] == pytest.approx(5.0, abs=0.07)  # 110 samples at 22.05 kHz = 80 at 16 kHz
    assert m["stoi"] > 0.999 and m["vuv_f1"] > 0.97 and m["pitch_error_cents"] < 1.0


def test_short_clips_give_nan_where_a_metric_needs_more(rng):
    # 0.3 s of a vowel-like tone: too little for STOI's 30 frames and PESQ's utterance search.
    t = np.arange(int(0.3 * 16000)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * np.hanning(len(t))
    m = vocoder_metrics(x, x, 16000, dnsmos=False)
    assert np.isnan(m["stoi"])
    assert m["vuv_f1"] == 1.0


def test_dnsmos_loads_its_model_once():
    from sparsewave.metrics.dnsmos import _session

    x = 0.1 * np.sin(np.arange(int(9.5 * 16000)) * 0.07)  # one DNSMOS window
    dnsmos(x, 16000)
    before = _session.cache_info()
    dnsmos(x, 16000)
    after = _session.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1
    with pytest.raises(ValueError, match="silence"):
        dnsmos(np.zeros(16000), 16000)
