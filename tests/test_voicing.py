"""sparsewave.voicing: the pitch / voicing check that mel correlation lacks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsewave.audio import read_audio
from sparsewave.voicing import frame_pitch, voicing_agreement

HELD_OUT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ljspeech_extra" / "LJ001-0098.wav"


def harmonic(f0, rate, seconds, rng, n_harmonics=6):
    t = np.arange(int(seconds * rate)) / rate
    amps = rng.uniform(0.2, 1.0, n_harmonics)
    phases = rng.uniform(0, 2 * np.pi, n_harmonics)
    x = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t + p) for k, (a, p) in enumerate(zip(amps, phases)))
    return 0.2 * x / np.abs(x).max()


@pytest.mark.parametrize("rate, hop", [(16000, 200), (22050, 256), (24000, 300)])
def test_pitch_of_harmonic_signals(rng, rate, hop):
    for f0 in rng.uniform(60.0, 450.0, 4):
        x = harmonic(f0, rate, 0.5, rng) + 0.003 * rng.standard_normal(int(0.5 * rate))
        fp = frame_pitch(x.astype(np.float32), rate, hop)
        inner = slice(4, -4)  # frames that see the signal over a whole window
        assert fp.voiced[inner].mean() >= 0.95, f0
        assert np.median(fp.pitch_hz[inner]) == pytest.approx(f0, rel=0.01)
        assert len(fp.voiced) == 1 + len(x) // hop


def test_noise_and_silence_are_unvoiced(rng):
    rate, hop = 22050, 256
    noise = frame_pitch(rng.standard_normal(rate), rate, hop)
    assert noise.voiced.mean() < 0.05 and noise.periodicity.mean() < 0.4
    # A tone, then digital silence: the silent frames fall under the level floor.
    x = np.concatenate([harmonic(200.0, rate, 0.3, rng), np.zeros(rate // 2)])
    fp = frame_pitch(x, rate, hop)
    assert fp.voiced[3:20].all() and not fp.voiced[-20:].any()
    assert not frame_pitch(np.zeros(5000), rate, hop).voiced.any()
    assert len(frame_pitch(np.zeros(10), rate, hop).voiced) == 1  # shorter than one hop


def test_agreement_scores(rng):
    rate, hop = 22050, 256
    x = harmonic(180.0, rate, 0.6, rng)
    same = voicing_agreement(x, x, rate, hop)
    assert same.voiced_f1 == 1.0 and same.agreement == 1.0 and same.pitch_error_cents == 0.0
    assert same.periodicity_rmse == 0.0 and same.gross_pitch_errors == 0.0
    # 100 cents sharp: voiced everywhere, pitch error about 100 cents, all of it "gross".
    sharp = voicing_agreement(x, harmonic(180.0 * 2 ** (100 / 1200), rate, 0.6, rng), rate, hop)
    assert sharp.voiced_f1 > 0.95 and sharp.pitch_error_cents == pytest.approx(100.0, abs=5.0)
    assert sharp.gross_pitch_errors > 0.9
    # Noise in place of the voice: no voiced frame in common.
    whisper = voicing_agreement(x, 0.2 * rng.standard_normal(len(x)), rate, hop)
    assert whisper.voiced_f1 < 0.1 and whisper.generated_voiced < 0.05 and whisper.periodicity_rmse > 0.4
    # Lengths may differ: only the common frames count; a NaN pitch error becomes None for JSON.
    assert voicing_agreement(x, x[: len(x) // 2], rate, hop).voiced_f1 > 0.95
    silent = voicing_agreement(np.zeros(4000), np.zeros(4000), rate, hop)
    assert silent.voiced_f1 == 0.0 and silent.agreement == 1.0 and np.isnan(silent.pitch_error_cents)
    assert silent.as_dict()["pitch_error_cents"] is None


@pytest.mark.parametrize("audio, err, msg", [
    (np.zeros(100, np.int16), TypeError, "float"),
    (np.zeros((2, 100)), ValueError, "1-D"),
    (np.zeros(0), ValueError, "empty"),
    (np.array([0.0, np.nan, 0.0]), ValueError, "NaN"),
])
def test_bad_input(audio, err, msg):
    with pytest.raises(err, match=msg):
        frame_pitch(audio, 22050, 256)
    with pytest.raises(err, match=msg):
        voicing_agreement(np.zeros(1000), audio, 22050, 256)


def test_bad_rate_or_hop():
    for rate, hop in ((0, 256), (22050, 0), (-1, 256)):
        with pytest.raises(ValueError, match="positive"):
            frame_pitch(np.zeros(1000), rate, hop)


@pytest.mark.skipif(not HELD_OUT.exists(), reason=f"held-out clip not found: {HELD_OUT} (../shared/data)")
def test_real_speech_is_partly_voiced_at_a_plausible_pitch():
    x, rate = read_audio(HELD_OUT)
    fp = frame_pitch(x, rate, 256)
    assert 0.3 < fp.voiced.mean() < 0.9  # LJ Speech: about 60 % of frames
    assert 150.0 < np.median(fp.pitch_hz[fp.voiced]) < 300.0  # one female speaker
