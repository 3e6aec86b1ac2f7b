"""sparsewave.voicing: V/UV F1 and pitch error from Praat's tracker (the [eval] extra)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsewave.audio import read_audio
from sparsewave.metrics import missing_eval_packages
from sparsewave.voicing import frame_pitch, voicing_agreement

HELD_OUT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ljspeech_extra" / "LJ001-0098.wav"
needs_praat = pytest.mark.skipif(bool(missing_eval_packages(["parselmouth"])),
                                 reason="praat-parselmouth not installed (pip install 'sparsewave[eval]')")


def harmonic(f0, rate, seconds, rng, n_harmonics=6):
    t = np.arange(int(seconds * rate)) / rate
    amps = rng.uniform(0.2, 1.0, n_harmonics)
    phases = rng.uniform(0, 2 * np.pi, n_harmonics)
    x = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t + p) for k, (a, p) in enumerate(zip(amps, phases)))
    return 0.2 * x / np.abs(x).max()


@needs_praat
@pytest.mark.parametrize("rate", [16000, 22050, 24000])
def test_pitch_of_harmonic_signals(rng, rate):
    for f0 in rng.uniform(80.0, 450.0, 4):
        x = harmonic(f0, rate, 0.5, rng) + 0.003 * rng.standard_normal(int(0.5 * rate))
        fp = frame_pitch(x.astype(np.float32), rate)
        assert fp.voiced.mean() >= 0.9, f0
        assert np.median(fp.pitch_hz[fp.voiced]) == pytest.approx(f0, rel=0.01)
        assert np.median(fp.periodicity[fp.voiced]) > 0.9
        assert np.allclose(np.diff(fp.times), 0.01)


@needs_praat
def test_noise_and_silence_are_unvoiced(rng):
    rate = 16000
    noise = frame_pitch(rng.standard_normal(rate), rate)
    assert noise.voiced.mean() < 0.05
    # A tone, then digital silence: Praat's path leaves the silent frames unvoiced.
    x = np.concatenate([harmonic(200.0, rate, 0.3, rng), np.zeros(rate // 2)])
    fp = frame_pitch(x, rate)
    assert fp.voiced[(fp.times > 0.05) & (fp.times < 0.25)].all() and not fp.voiced[fp.times > 0.4].any()
    assert not frame_pitch(np.zeros(5000), rate).voiced.any()
    assert len(frame_pitch(np.zeros(10), rate).times) == 0  # shorter than three periods of the floor


@needs_praat
def test_agreement_scores(rng):
    rate = 16000
    x = harmonic(180.0, rate, 0.6, rng)
    same = voicing_agreement(x, x, rate)
    assert same.vuv_f1 == 1.0 and same.pitch_error_cents == 0.0 and same.voiced_reference == same.voiced_synthesized
    # 100 cents sharp: voiced everywhere, pitch error about 100 cents.
    sharp = voicing_agreement(x, harmonic(180.0 * 2 ** (100 / 1200), rate, 0.6, rng), rate)
    assert sharp.vuv_f1 > 0.95 and sharp.pitch_error_cents == pytest.approx(100.0, abs=5.0)
    # Noise in place of the voice: no voiced frame in common.
    whisper = voicing_agreement(x, 0.2 * rng.standard_normal(len(x)), rate)
    assert whisper.vuv_f1 < 0.1 and whisper.voiced_synthesized < 0.05 and np.isnan(whisper.pitch_error_cents)
    # Lengths may differ: only the common frames count; NaN becomes None for JSON.
    assert voicing_agreement(x, x[: len(x) // 2], rate).vuv_f1 > 0.95
    silent = voicing_agreement(np.zeros(4000), np.zeros(4000), rate)
    assert np.isnan(silent.vuv_f1) and np.isnan(silent.pitch_error_cents)
    assert silent.as_dict()["vuv_f1"] is None


@pytest.mark.parametrize("audio, err, msg", [
    (np.zeros(100, np.int16), TypeError, "float"),
    (np.zeros((2, 100)), ValueError, "1-D"),
    (np.zeros(0), ValueError, "empty"),
    (np.array([0.0, np.nan, 0.0]), ValueError, "NaN"),
])
def test_bad_input(audio, err, msg):
    # Checked before Praat is needed: these hold without the extra too.
    with pytest.raises(err, match=msg):
        frame_pitch(audio, 16000)
    with pytest.raises(err, match=msg):
        voicing_agreement(np.zeros(1000), audio, 16000)


@pytest.mark.parametrize("rate, kwargs", [(0, {}), (-1, {}), (16000, {"time_step": 0}),
                                          (16000, {"floor": 600.0, "ceiling": 75.0})])
def test_bad_rate_or_settings(rate, kwargs):
    with pytest.raises(ValueError, match="sample_rate|time_step"):
        frame_pitch(np.zeros(1000), rate, **kwargs)


@needs_praat
@pytest.mark.skipif(not HELD_OUT.exists(), reason=f"held-out clip not found: {HELD_OUT} (../shared/data)")
def test_real_speech_is_partly_voiced_at_a_plausible_pitch():
    x, rate = read_audio(HELD_OUT)
    fp = frame_pitch(x, rate)
    assert 0.3 < fp.voiced.mean() < 0.9  # LJ Speech: about 60 % of frames
    assert 150.0 < np.median(fp.pitch_hz[fp.voiced]) < 300.0  # one female speaker
