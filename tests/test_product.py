"""Product-level checks on the real geneing model: copy synthesis quality
through the package's own mel front end, and every bad-input case users hit."""
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave.audio import mel_spectrogram, read_audio
from sparsewave.converters import convert
from sparsewave.quality import mel_correlation

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA / "wavernn_geneing_mailabs" / "model.bin").exists(),
                                reason=f"real model not found under {DATA} (../shared/data)")


@pytest.fixture(scope="module")
def vocoder(tmp_path_factory):
    out = tmp_path_factory.mktemp("product") / "geneing.sw"
    convert(DATA / "wavernn_geneing_mailabs" / "model.bin", out)
    return sparsewave.Vocoder.load(out)


def test_resynth_of_unseen_speech_follows_its_mel(vocoder):
    # LJ Speech is not what this model was trained on; the PyTorch reference
    # scores 0.83 on LJ001-0001 by this measure.
    audio, rate = read_audio(DATA / "ljspeech" / "LJ001-0001.wav", target_rate=vocoder.sample_rate)
    mel_cfg = dict(vocoder.config["mel"], sample_rate=vocoder.sample_rate)
    mel_in = mel_spectrogram(audio, mel_cfg)
    wave = vocoder.synthesize(mel_in, seed=0, batched=True, threads=2)
    mel_out = mel_spectrogram(wave, mel_cfg)
    corr = mel_correlation(mel_in, mel_out)  # common frames, two edge frames dropped at each end
    print(f"resynth mel correlation: {corr:.3f}")
    assert corr >= 0.8


def test_bad_mels_are_refused(vocoder):
    n = vocoder.n_mels
    ok = np.zeros((10, n), np.float32)
    cases = [
        (np.zeros(n, np.float32), ValueError, "2-D"),
        (np.zeros((2, 3, n), np.float32), ValueError, "2-D"),
        (np.zeros((10, n + 1), np.float32), ValueError, f"\\(frames, {n}\\)"),
        (np.zeros((0, n), np.float32), ValueError, "no frames"),
        (ok.astype(np.complex64), TypeError, "float"),
        (ok.astype(str), TypeError, "float"),
        (np.where(np.eye(10, n) > 0, np.nan, 0).astype(np.float32), ValueError, "NaN"),
        (np.where(np.eye(10, n) > 0, np.inf, 0).astype(np.float32), ValueError, "NaN or Inf"),
    ]
    for mels, err, match in cases:
        with pytest.raises(err, match=match):
            vocoder.synthesize(mels)
    # (n_mels, frames) is accepted when it cannot be read the other way
    assert vocoder.synthesize(ok.T.copy(), seed=1).shape == (10 * vocoder.hop_length,)


def test_absurdly_long_input_is_refused_before_any_work(vocoder):
    v = sparsewave.Vocoder.load(vocoder.path)
    v.max_frames = 100
    with pytest.raises(ValueError, match="limit of 100"):
        v.synthesize(np.zeros((101, v.n_mels), np.float32))


def test_model_path_problems(tmp_path, vocoder):
    with pytest.raises(FileNotFoundError, match="no such model"):
        sparsewave.Vocoder.load(tmp_path / "missing.sw")
    with pytest.raises(IsADirectoryError, match="directory"):
        sparsewave.Vocoder.load(tmp_path)
    bad = tmp_path / "truncated.sw"
    bad.write_bytes(Path(vocoder.path).read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated"):
        sparsewave.Vocoder.load(bad)


def test_audio_channels_and_rates(tmp_path):
    sf = pytest.importorskip("soundfile")
    t = np.arange(4410) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], 1) * 0.5
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100)
    with pytest.warns(UserWarning, match="(?i)stereo|channel|mono"):
        audio, rate = read_audio(path, target_rate=16000)
    assert rate == 16000 and audio.ndim == 1 and abs(len(audio) - 1600) <= 1
    with pytest.raises((ValueError, OSError)):
        read_audio(tmp_path / "nothing.wav")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 16000)
    with pytest.raises(ValueError):
        read_audio(empty)
