"""``sparsewave evaluate`` with and without the [eval] extra: JSON keys, --plot, --metrics, and
the error that names a missing package. In-process (``cli.main``) so that a package can be
hidden from the imports with ``sys.modules``."""
from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import numpy as np
import pytest

import sparsewave
from sparsewave import cli
from sparsewave.audio import write_audio
from sparsewave.metrics import missing_eval_packages

STANDARD = ("pesq_wb", "stoi", "vuv_f1", "pitch_error_cents", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl",
            "reference_dnsmos_ovrl")
needs_eval = pytest.mark.skipif(bool(missing_eval_packages()), reason="the [eval] extra is not installed")


def evaluate(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = cli.main(["evaluate", *map(str, args)])
        except SystemExit as e:
            rc = e.code
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two short vowel-like clips at the default voice's rate."""
    rate = sparsewave.Vocoder.default().sample_rate
    folder = tmp_path_factory.mktemp("clips")
    t = np.arange(int(0.6 * rate)) / rate
    paths = []
    for name, f0 in (("low", 150.0), ("high", 230.0)):
        x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.hanning(len(t))
        paths.append(write_audio(folder / f"{name}.wav", (0.2 * x).astype(np.float32), rate))
    return paths


@needs_eval
def test_json_has_the_standard_metrics_and_plot_writes_a_png(clips, tmp_path):
    png = tmp_path / "spec.png"
    p = evaluate(clips[0], "--json", "--plot", png, "--metrics", "all")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    summary, row = report["summary"], report["clips"][0]
    assert summary["standard_metrics"] is True
    for key in (*STANDARD, "nll_bits", "mel_correlation"):
        assert key in summary and key in row, key
    assert 0.0 <= row["vuv_f1"] <= 1.0 and 1.0 <= row["dnsmos_ovrl"] <= 5.0
    assert row["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["spec.png"]  # written atomically: no temporary left


@needs_eval
def test_several_clips_get_one_plot_each_and_a_text_report(clips, tmp_path):
    p = evaluate(*clips, "--plot", tmp_path / "spec.png", "--metrics", "all")
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["spec-high.png", "spec-low.png"]
    assert "V/UV F1" in p.stdout and "DNSMOS SIG/BAK/OVRL" in p.stdout and "(recording " in p.stdout


@pytest.mark.skipif(bool(missing_eval_packages(["matplotlib"])), reason="matplotlib not installed")
def test_clips_of_the_same_name_get_numbered_plots(clips, tmp_path):
    from sparsewave.cli.evaluate import _plot_paths

    twin = tmp_path / "other" / clips[0].name
    paths = _plot_paths(tmp_path / "s.png", [clips[0], twin, clips[1]])
    assert [p.name for p in paths] == ["s-1-low.png", "s-2-low.png", "s-3-high.png"]
    assert _plot_paths(tmp_path / "s.png", [clips[0]]) == [tmp_path / "s.png"]


def test_basic_leaves_the_standard_metrics_out(clips):
    p = evaluate(clips[0], "--json", "--metrics", "basic")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["summary"]["standard_metrics"] is False
    assert not any(k in report["clips"][0] or k in report["summary"] for k in STANDARD)
    assert np.isfinite(report["clips"][0]["nll_bits"]) and "mel_correlation" in report["summary"]


def test_a_missing_package_is_named(clips, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pesq", None)  # as if not installed
    p = evaluate(clips[0], "--metrics", "all")
    assert p.returncode == 1 and "pesq" in p.stderr and "pip install 'sparsewave[eval]'" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not p.stdout
    # auto: scores what it can, as evaluate did before the extra, and says what it skipped.
    p = evaluate(clips[0], "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["summary"]["standard_metrics"] is False
    assert "skipped" in p.stderr and "pesq" in p.stderr and "pip install 'sparsewave[eval]'" in p.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    p = evaluate(clips[0], "--plot", tmp_path / "x.png", "--metrics", "basic")
    assert p.returncode == 1 and "matplotlib" in p.stderr and "sparsewave[eval]" in p.stderr, p.stderr
    assert not list(tmp_path.iterdir())
