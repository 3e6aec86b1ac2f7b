"""The experiment scripts (experiments/) still run against today's package.

Each runs end to end on a short synthetic voiced clip in a temporary folder, so a renamed or
removed API breaks this test instead of silently breaking the script. Their figures are not
checked: they are measurements, not assertions about the engine.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sparsewave import Vocoder
from sparsewave.audio import write_audio
from sparsewave.metrics import missing_eval_packages

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / "experiments"
DEFAULT_VOICE_RUN = ROOT / "training" / "default_voice"

# The emulated-ARM job runs a copy of tests/ without the rest of the checkout.
pytestmark = pytest.mark.skipif(not (EXPERIMENTS / "README.md").is_file(),
                                reason=f"{EXPERIMENTS} absent (tests run outside a full checkout)")


def _clip(tmp_path: Path, name: str = "clip.wav", seconds: float = 0.4) -> Path:
    """A 140 Hz pulse-like tone with a little noise, at the default voice's rate."""
    rate = Vocoder.default().sample_rate
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    x = 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * np.exp(-((t % (1 / 140)) * 900))
    x += 0.01 * rng.standard_normal(len(t))
    return write_audio(tmp_path / name, x.astype(np.float32), rate)


def _run(script: str, *args) -> str:
    result = subprocess.run([sys.executable, str(EXPERIMENTS / script), *map(str, args)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_script_is_listed_and_runs_help():
    scripts = sorted(p.name for p in EXPERIMENTS.glob("*.py"))
    readme = (EXPERIMENTS / "README.md").read_text()
    assert scripts, "no experiment scripts found"
    for script in scripts:
        assert f"`{script}" in readme, f"{script} is missing from experiments/README.md"
        assert "usage:" in _run(script, "--help")


def test_noise_shaping_runs(tmp_path):
    out = _run("noise_shaping.py", _clip(tmp_path), "--snr", 20, "--alpha", 0, 0.86)
    assert "| 20 |" in out


def test_mel_metric_blind_spot_runs(tmp_path):
    out = _run("mel_metric_blind_spot.py", _clip(tmp_path))
    assert "white noise" in out.lower()


needs_eval = pytest.mark.skipif(bool(missing_eval_packages()), reason="the [eval] extra is not installed")


@needs_eval
def test_teacher_forced_residual_runs(tmp_path):
    out = _run("teacher_forced_residual.py", _clip(tmp_path), "--seconds", 0.3)
    assert "LPC" in out


@needs_eval
@pytest.mark.skipif(not (DEFAULT_VOICE_RUN / "log.jsonl").is_file(), reason="training/default_voice run log absent")
def test_quality_table_runs_on_the_default_voice_run(tmp_path):
    # The run's log names its held-out clips; the synthetic clip borrows one of those names.
    held_out = Path((DEFAULT_VOICE_RUN / "validation.txt").read_text().split()[0]).name
    clip = _clip(tmp_path, name=held_out)
    out = _run("quality_table.py", DEFAULT_VOICE_RUN, "--clips", clip, "--seeds", 1)
    assert "| default_voice |" in out
