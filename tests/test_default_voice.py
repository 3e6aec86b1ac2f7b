"""The default voice shipped in the package (issue "Default voice"): it loads from a fresh
install, meets the size / format / sparsity promises, and the command line uses it when no
--model is given. Its quality is checked on a clip held out of its training."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave import models
from sparsewave.audio import mel_spectrogram, read_audio, write_audio
from sparsewave.quality import mel_correlation

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# Held out of the default voice's training (sparsewave/models/README.md); never eval/.
HELD_OUT = DATA / "ljspeech_extra" / "LJ001-0098.wav"
# Its V/UV F1 (Praat) is in models/README.md; the floor leaves room for other seeds and ISAs.
MIN_HELD_OUT_VUV_F1 = 0.75
# Measured resynthesis mel correlation of HELD_OUT is in models/README.md; this floor leaves
# room for other seeds and ISAs (float rounding changes the sampled path).
MIN_RESYNTH_MEL_CORRELATION = 0.75


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sparsewave", *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def test_default_voice_is_packaged_small_and_sparse():
    path = models.default_model_path()
    assert path.is_file() and path.parent == Path(models.__file__).resolve().parent
    assert path.stat().st_size <= 2 * 1024 * 1024
    # The model card and the MIT notice of the pretrained weights ship beside it.
    assert (path.parent / "README.md").is_file()
    assert "MIT License" in (path.parent / models.LICENSE_NOTICE).read_text()
    v = sparsewave.Vocoder.default()
    assert v.family == "fatchord" and v.sample_rate == 16000 and v.n_mels == 80
    assert v.n_classes == 1024  # geneing's 10-bit linear softmax
    mel = v.config["mel"]
    assert mel["sample_rate"] == 16000 and mel["hop_length"] == v.hop_length == 200
    gru = [m for m in v.describe()["matrices"] if m["name"].startswith("rnn1")]
    assert len(gru) == 1 and gru[0]["per_sample"]
    nonzero, executed = v.loop_macs
    assert 0 < nonzero <= executed
    assert v.config["training"]["recipe"] == "sparsewave.train --init"
    half = sparsewave.Vocoder.default(weights="float16")
    assert half.sample_rate == v.sample_rate


def test_missing_default_voice_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(models, "DEFAULT_VOICE", "no-such-voice.sw")
    with pytest.raises(FileNotFoundError, match="reinstall"):
        sparsewave.Vocoder.default()


def test_cli_uses_the_default_voice(tmp_path):
    v = sparsewave.Vocoder.default()
    info = run_cli("info", "--json")
    assert info.returncode == 0, info.stderr
    assert Path(json.loads(info.stdout)["path"]).name == models.DEFAULT_VOICE
    # A short synthetic clip: resynth and evaluate with no --model.
    sr = v.sample_rate
    t = np.arange(int(0.3 * sr)) / sr
    wav = tmp_path / "tone.wav"
    write_audio(wav, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), sr)
    out = tmp_path / "out.wav"
    p = run_cli("resynth", wav, "-o", out, "--seed", "1", "-q")
    assert p.returncode == 0, p.stderr
    audio, rate = read_audio(out)
    assert rate == sr and len(audio) == len(t) and np.isfinite(audio).all() and np.abs(audio).max() > 0
    b = run_cli("bench", "--seconds", "0.05", "--repeats", "1", "--threads", "1", "--json")
    assert b.returncode == 0, b.stderr
    assert models.DEFAULT_VOICE in json.loads(b.stdout)["model"]
    e = run_cli("evaluate", wav, "--json")
    assert e.returncode == 0, e.stderr
    report = json.loads(e.stdout)
    assert Path(report["summary"]["model"]).name == models.DEFAULT_VOICE
    assert report["summary"]["clips"] == 1 and np.isfinite(report["clips"][0]["nll_bits"])
    if report["summary"]["standard_metrics"]:  # the [eval] extra is installed
        assert 0.0 <= report["clips"][0]["vuv_f1"] <= 1.0 and "dnsmos_ovrl" in report["summary"]


def test_evaluate_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, msg in ((["evaluate", empty], "no .wav or .flac"), (["evaluate", tmp_path / "nope.wav"], "no such")):
        p = run_cli(*args)
        assert p.returncode == 1 and msg in p.stderr, p.stderr


@pytest.mark.skipif(not HELD_OUT.exists(), reason=f"held-out clip not found: {HELD_OUT} (../shared/data)")
def test_resynth_of_a_held_out_clip_follows_its_mel(tmp_path):
    out = tmp_path / "resynth.wav"
    p = run_cli("resynth", HELD_OUT, "-o", out, "--seed", "0", "-q")
    assert p.returncode == 0, p.stderr
    v = sparsewave.Vocoder.default()
    cfg = dict(v.config["mel"], sample_rate=v.sample_rate)
    source, _ = read_audio(HELD_OUT, target_rate=v.sample_rate)
    generated, rate = read_audio(out)
    assert rate == v.sample_rate and len(generated) == len(source)
    corr = mel_correlation(mel_spectrogram(source, cfg), mel_spectrogram(generated, cfg))
    print(f"default voice, resynthesis mel correlation of {HELD_OUT.name}: {corr:.3f}")
    assert corr >= MIN_RESYNTH_MEL_CORRELATION


@pytest.mark.skipif(not HELD_OUT.exists(), reason=f"held-out clip not found: {HELD_OUT} (../shared/data)")
def test_default_voice_voices_a_held_out_clip():
    """Mel correlation cannot tell voice from whisper: the resynthesis must be voiced where the
    recording is (Praat's V/UV F1, [eval] extra)."""
    pytest.importorskip("parselmouth", reason="the [eval] extra (praat-parselmouth) is not installed")
    from sparsewave.voicing import voicing_agreement

    v = sparsewave.Vocoder.default()
    source, _ = read_audio(HELD_OUT, target_rate=v.sample_rate)
    generated = v.synthesize(mel_spectrogram(source, dict(v.config["mel"], sample_rate=v.sample_rate)), seed=0)
    agreement = voicing_agreement(source, generated[: len(source)], v.sample_rate)
    print(f"default voice, V/UV F1 of {HELD_OUT.name}: {agreement.vuv_f1:.3f}, "
          f"pitch error {agreement.pitch_error_cents:.0f} cents")
    assert agreement.vuv_f1 >= MIN_HELD_OUT_VUV_F1
