"""The ``sparsewave`` command line, run as a user would (``python -m sparsewave`` in a subprocess).

Exit codes: 0 success, 2 usage error, 1 failure with a one-line message (no traceback unless
--debug / SPARSEWAVE_DEBUG=1). Output files are written atomically: a failed run leaves no
partial file and does not touch an existing one.
"""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import wavernn_numpy as W  # noqa: E402

from sparsewave import cli  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GENEING_BIN = DATA / "wavernn_geneing_mailabs" / "model.bin"

# A tiny geneing-layout model: fast enough for many subprocess runs.
TINY = {
    "family": "fatchord", "variant": "geneing", "sample_rate": 16000, "n_mels": 20, "hop_length": 10, "pad": 2,
    "upsample_factors": [2, 5], "upsample_kernel_sizes": [5, 11], "res_blocks": 1, "compute_dims": 8,
    "res_out_dims": 8, "bn_eps": 1e-5, "rnn_dims": 32, "fc_dims": 16, "n_rnn": 1, "fc_names": ["fc1", "fc3"],
    "n_fc": 2, "aux_slices": {"I": [0, 3], "fc1": [4, 8]}, "head": "softmax", "bits": 8, "n_classes": 256,
    "mu_law": False,
}
N_MELS = TINY["n_mels"]
HOP = TINY["hop_length"]


def run(*args, env=None, timeout=120):
    """``python -m sparsewave ARGS`` -> CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.pop("SPARSEWAVE_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sparsewave", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def main_run(*args):
    """In-process ``sparsewave ARGS`` (no interpreter start-up): same fields as ``run``."""
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.pop("SPARSEWAVE_DEBUG", None)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                rc = cli.main([str(a) for a in args])
            except SystemExit as e:  # argparse: --help, usage errors
                rc = e.code if isinstance(e.code, int) else 1
    finally:
        if saved is not None:
            os.environ["SPARSEWAVE_DEBUG"] = saved
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def assert_failed(p, code=1):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    if code == 1:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, p.stderr
        assert lines[0].startswith("sparsewave"), p.stderr


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def tiny_npz(work):
    rng = np.random.default_rng(0)
    params = {}
    for name, shape in W.expected_shapes(TINY).items():
        if name.endswith("running_var"):
            params[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            params[name] = (0.3 * rng.standard_normal(shape)).astype(np.float32)
    path = work / "tiny.npz"
    np.savez(path, **params)
    return path


@pytest.fixture(scope="module")
def model(work, tiny_npz):
    out = work / "tiny.sw"
    p = run("convert", tiny_npz, "-o", out)
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture(scope="module")
def mel(work):
    rng = np.random.default_rng(1)
    m = rng.uniform(-3, 3, (40, N_MELS)).astype(np.float32)  # (frames, n_mels)
    path = work / "mel.npy"
    np.save(path, m)
    return path


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


# --------------------------------------------------------------------------- help / usage


@pytest.mark.parametrize("command", [[], ["convert"], ["info"], ["synthesize"], ["synth"], ["bench"], ["resynth"],
                                     ["evaluate"], ["eval"]])
def test_help(command):
    p = main_run(*command, "--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: sparsewave")
    if command:
        assert "--debug" in p.stdout


def test_version_and_console_script():
    h = run("synthesize", "--help")
    assert h.returncode == 0 and h.stdout.startswith("usage: sparsewave synthesize")
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("sparsewave ")
    exe = shutil.which("sparsewave")
    if exe is None:
        pytest.skip("the sparsewave console script is not on PATH")
    q = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert q.returncode == 0 and q.stdout == p.stdout


def test_usage_errors(work, model, mel, tiny_npz):
    out = work / "usage.wav"
    cases = [
        [],
        ["frobnicate"],
        ["convert"],
        ["convert", tiny_npz],
        ["convert", tiny_npz, "-o", work / "x.sw", "--mu-law", "--no-mu-law"],
        ["convert", tiny_npz, "-o", work / "x.sw", "--from", "tensorflow"],
        ["convert", tiny_npz, "-o", work / "x.sw", "--sample-rate", "fast"],
        ["synthesize", mel, "--model", model],
        ["synthesize", mel, "-o", out, "--model", model, "--threads", "0"],
        ["synthesize", mel, "-o", out, "--model", model, "--seed", "-3"],
        ["bench", model, "--seconds", "-1"],
        ["bench", model, "--repeats", "0"],
    ]
    for i, args in enumerate(cases):
        p = run(*args) if i < 3 else main_run(*args)  # a few as real processes, the rest in-process (fast)
        assert_failed(p, 2)
        assert "usage" in p.stderr or "error" in p.stderr, args
    assert not out.exists() and not (work / "x.sw").exists()


# --------------------------------------------------------------------------- convert


def test_convert_prints_summary_and_writes_model(work, tiny_npz):
    out = work / "c.sw"
    p = run("convert", tiny_npz, "-o", out, "--from", "npz")
    assert p.returncode == 0, p.stderr
    for text in ("converted npz", "density", "head: softmax, 256 classes", "size:", "engine: loads OK"):
        assert text in p.stdout, (text, p.stdout)
    assert out.is_file() and no_temp_files(work)
    q = run("convert", tiny_npz, "-o", out, "--quiet")
    assert q.returncode == 0 and q.stdout == "" and q.stderr == ""


def test_convert_overrides(work, tiny_npz):
    cfg = work / "over.json"
    cfg.write_text(json.dumps({"mel": {"fmin": 55}, "sample_rate": 8000}))
    out = work / "over.sw"
    p = run("convert", tiny_npz, "-o", out, "--config", cfg, "--sample-rate", "22050", "--mu-law", "-q")
    assert p.returncode == 0, p.stderr
    info = json.loads(run("info", out, "--json").stdout)
    assert info["sample_rate"] == 22050  # the flag beats the file
    assert info["mu_law"] is True and info["mel"]["fmin"] == 55
    p = run("convert", tiny_npz, "-o", out, "--no-mu-law", "-q")
    assert json.loads(run("info", out, "--json").stdout)["mu_law"] is False


def test_convert_failures(work, tiny_npz):
    out = work / "fail.sw"
    (work / "notes.txt").write_text("hello\n" * 20)
    (work / "bad.json").write_text("{not json")
    (work / "list.json").write_text("[1, 2]")
    cases = [
        (["convert", work / "missing.pt", "-o", out], "no such checkpoint"),
        (["convert", work / "notes.txt", "-o", out], "cannot tell"),
        (["convert", work, "-o", out], "directory"),
        (["convert", tiny_npz, "-o", work / "no_such_dir" / "m.sw"], "does not exist"),
        (["convert", tiny_npz, "-o", out, "--config", work / "bad.json"], "not valid JSON"),
        (["convert", tiny_npz, "-o", out, "--config", work / "list.json"], "JSON object"),
        (["convert", tiny_npz, "-o", out, "--from", "torch"], ""),
    ]
    for i, (args, msg) in enumerate(cases):
        p = run(*args) if i == 0 else main_run(*args)
        assert_failed(p, 1)
        assert msg in p.stderr, (args, p.stderr)
    assert not out.exists() and no_temp_files(work)


def test_convert_does_not_clobber_on_failure(work, tiny_npz):
    out = work / "keep.sw"
    out.write_bytes(b"precious")
    np.savez(work / "broken.npz", **{"I.weight": np.zeros((4, 4), np.float32)})
    p = run("convert", work / "broken.npz", "-o", out)
    assert_failed(p, 1)
    assert out.read_bytes() == b"precious" and no_temp_files(work)


@pytest.mark.skipif(not GENEING_BIN.is_file(), reason="shared geneing model not found")
def test_convert_and_info_real_geneing(work):
    out = work / "geneing.sw"
    p = run("convert", GENEING_BIN, "-o", out)
    assert p.returncode == 0, p.stderr
    assert "geneing-bin" in p.stdout and "147,605 nonzero" in p.stdout
    info = json.loads(run("info", out, "--json").stdout)
    assert (info["sample_rate"], info["hop_length"], info["n_mels"], info["n_classes"]) == (16000, 200, 80, 1024)
    assert info["loop_macs"]["nonzero"] > 0 and info["loop_macs"]["executed"] >= info["loop_macs"]["nonzero"]


# --------------------------------------------------------------------------- info


def test_info_text_and_json(model):
    p = run("info", model)
    assert p.returncode == 0, p.stderr
    for text in ("architecture:", "16000 Hz", "hop 10", "20 mels", "loop MACs:", "ISA:", "matrices", "memory:"):
        assert text in p.stdout, (text, p.stdout)
    info = json.loads(run("info", model, "--json").stdout)
    for key in ("sample_rate", "hop_length", "n_mels", "n_classes", "head", "architecture", "matrices", "loop_macs",
                "memory", "isa", "available_isas", "file_bytes", "config"):
        assert key in info, key
    assert info["file_bytes"] == model.stat().st_size
    assert info["architecture"]["rnn_dims"] == 32
    assert info["isa"] in info["available_isas"]
    assert all({"name", "shape", "block", "density", "stored_values"} <= set(m) for m in info["matrices"])


def test_info_failures(work, model):
    corrupt = work / "corrupt.sw"
    corrupt.write_bytes(os.urandom(2000))
    truncated = work / "truncated.sw"
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    for args, msg in ((["info", work / "nope.sw"], "no such model file"),
                      (["info", corrupt], "cannot load model"),
                      (["info", truncated], "cannot load model"),
                      (["info", work], "directory")):
        p = run(*args) if args[1] == corrupt else main_run(*args)
        assert_failed(p, 1)
        assert msg in p.stderr, p.stderr


def test_debug_shows_traceback(work):
    corrupt = work / "corrupt2.sw"
    corrupt.write_bytes(b"\x00" * 64)
    p = run("info", corrupt, "--debug")
    assert p.returncode == 1 and "Traceback" in p.stderr
    p = run("--debug", "info", corrupt)
    assert p.returncode == 1 and "Traceback" in p.stderr
    p = run("info", corrupt, env={"SPARSEWAVE_DEBUG": "1"})
    assert p.returncode == 1 and "Traceback" in p.stderr


# --------------------------------------------------------------------------- synthesize


def test_synthesize_npy(work, model, mel):
    out = work / "a.wav"
    p = run("synthesize", mel, "-o", out, "--model", model, "--seed", "7")
    assert p.returncode == 0, p.stderr
    sr, pcm = read_wav(out)
    assert sr == 16000 and pcm.size == 40 * HOP
    assert "wrote" in p.stderr and p.stdout == ""
    out2 = work / "b.wav"
    assert run("synth", mel, "-o", out2, "-m", model, "--seed", "7", "-q").returncode == 0
    assert out.read_bytes() == out2.read_bytes()  # same seed, same audio
    assert "seed 7" in p.stderr
    assert no_temp_files(work)
    # an unseeded run reports its seed, and that seed reproduces it
    p = run("synthesize", mel, "-o", work / "c.wav", "--model", model)
    seed = p.stderr.rsplit("seed ", 1)[1].split(")")[0]
    assert run("synthesize", mel, "-o", work / "d.wav", "--model", model, "--seed", seed, "-q").returncode == 0
    assert (work / "c.wav").read_bytes() == (work / "d.wav").read_bytes()


def test_synthesize_warns_about_mel_range(work, model):
    np.save(work / "loud.npy", np.full((20, N_MELS), 40.0, np.float32))  # model trained on [-4, 4]
    p = run("synthesize", work / "loud.npy", "-o", work / "loud.wav", "--model", model)
    assert p.returncode == 0 and "warning: mel values span [40.00, 40.00]" in p.stderr
    assert "warning" not in run("synthesize", work / "loud.npy", "-o", work / "loud.wav", "--model", model,
                                "-q").stderr


def test_synthesize_batched_threads_and_layouts(work, model, mel):
    m = np.load(mel)
    np.save(work / "mel_t.npy", m.T)  # (n_mels, frames)
    np.savez(work / "mel.npz", spectrogram=m)
    for src in (work / "mel_t.npy", work / "mel.npz"):
        out = work / f"{src.stem}_{src.suffix[1:]}.wav"
        p = run("synthesize", src, "-o", out, "--model", model, "--batched", "--threads", "2",
                "--target", "100", "--overlap", "20", "--seed", "1", "-q")
        assert p.returncode == 0, p.stderr
        assert read_wav(out)[1].size == 40 * HOP


def test_synthesize_torch_mel(work, model, mel):
    torch = pytest.importorskip("torch")
    torch.save(torch.from_numpy(np.load(mel).T.copy()).unsqueeze(0), work / "mel.pt")  # (1, n_mels, frames)
    p = run("synthesize", work / "mel.pt", "-o", work / "pt.wav", "--model", model, "-q")
    assert p.returncode == 0, p.stderr
    assert read_wav(work / "pt.wav")[1].size == 40 * HOP


def test_synthesize_failures_leave_no_file(work, model, mel):
    out = work / "keep.wav"
    out.write_bytes(b"old audio")
    np.save(work / "wrong.npy", np.zeros((10, N_MELS + 1), np.float32))
    np.save(work / "nan.npy", np.full((10, N_MELS), np.nan, np.float32))
    np.save(work / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(work / "two.npz", a=np.zeros((5, N_MELS)), b=np.zeros((5, N_MELS)))
    (work / "garbage.sw").write_bytes(os.urandom(500))
    cases = [
        (["synthesize", work / "wrong.npy", "-o", out, "--model", model], "mel channels"),
        (["synthesize", work / "nan.npy", "-o", out, "--model", model], "NaN"),
        (["synthesize", work / "obj.npy", "-o", out, "--model", model], "cannot read mel"),
        (["synthesize", work / "two.npz", "-o", out, "--model", model], "2 arrays"),
        (["synthesize", work / "missing.npy", "-o", out, "--model", model], "no such mel file"),
        (["synthesize", mel, "-o", out, "--model", work / "missing.sw"], "no such model file"),
        (["synthesize", mel, "-o", out, "--model", work / "garbage.sw"], "cannot load model"),
        (["synthesize", mel, "-o", out, "--model", work], "directory"),
        (["synthesize", mel, "-o", work / "nodir" / "x.wav", "--model", model], "does not exist"),
        (["synthesize", mel, "-o", work, "--model", model], "is a directory"),
    ]
    for i, (args, msg) in enumerate(cases):
        p = run(*args) if i == 0 else main_run(*args)
        assert_failed(p, 1)
        assert msg in p.stderr, (args, p.stderr)
    assert out.read_bytes() == b"old audio"
    assert no_temp_files(work) and not (work / "nodir").exists()


def test_write_wav_is_atomic(tmp_path, monkeypatch):
    """A writer that dies half way leaves the old file and no temporary behind. The command line
    writes through sparsewave.audio.write_audio, the package's one WAV writer."""
    import sparsewave.audio.io as aio

    target = tmp_path / "out.wav"
    target.write_bytes(b"old")

    class DyingSoundfile:
        @staticmethod
        def write(fileobj, data, sr, subtype=None, format=None):
            fileobj.write(b"RIFF partial")
            raise OSError("disk full")

    monkeypatch.setattr(aio, "_sf", DyingSoundfile)
    with pytest.raises(OSError, match="disk full"):
        aio.write_audio(target, np.zeros(100, np.float32), 16000)
    assert target.read_bytes() == b"old" and no_temp_files(tmp_path)
    # Without soundfile the standard library path writes the same 16-bit PCM. The one float -> PCM
    # rule (aio.float_to_pcm16) scales by 32768, the inverse of reading, so -1.0 is -32768 and
    # +1.0 saturates at 32767 (the CLI's old writer scaled by 32767: -1.0 was -32767).
    monkeypatch.setattr(aio, "_sf", None)
    audio = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], np.float32)
    assert aio.write_audio(target, audio, 22050) == target
    sr, pcm = read_wav(target)
    assert sr == 22050 and pcm.tolist() == [0, 16384, -16384, 32767, -32768, 32767]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_synthesize_writes_what_write_audio_writes(work, model, mel):
    """One PCM rule: the WAV of `sparsewave synthesize` equals write_audio of the same audio."""
    from sparsewave import Vocoder
    from sparsewave.audio import write_audio

    out = work / "cli_pcm.wav"
    p = main_run("synthesize", mel, "-o", out, "--model", model, "--seed", "11", "--threads", "2")
    assert p.returncode == 0, p.stderr
    assert "batched, 2 threads" in p.stderr  # --threads N > 1 implies --batched on the command line
    voc = Vocoder.load(model)
    audio = voc.synthesize(np.load(mel), seed=11, batched=True, threads=2)
    ref = write_audio(work / "api_pcm.wav", audio, voc.sample_rate)
    assert read_wav(out)[1].tolist() == read_wav(ref)[1].tolist()
    assert out.read_bytes() == ref.read_bytes()
    assert np.abs(audio).max() > 0.1  # not a trivially silent comparison


def test_progress_bar_on_a_tty(model, mel, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    rc = cli.main(["synthesize", str(mel), "-o", str(tmp_path / "p.wav"), "--model", str(model)])
    err = capsys.readouterr().err
    assert rc == 0
    assert "100.0%" in err and "real time" in err and "ETA" in err and "samples" in err
    rc = cli.main(["synthesize", str(mel), "-o", str(tmp_path / "q.wav"), "--model", str(model), "--quiet"])
    assert rc == 0 and capsys.readouterr().err == ""


def test_progress_bar_format():
    buf = io.StringIO()
    bar = cli.ProgressBar(total=1000, scale=0.5, sample_rate=100, stream=buf)
    bar(250)
    bar(5000)  # counts past the total are clamped
    bar.finish()
    text = buf.getvalue()
    assert " 25.0%" in text and "125/500 samples" in text and "100.0%" in text and text.endswith("\n")


# --------------------------------------------------------------------------- bench


def test_bench_json_and_table(model, mel):
    p = run("bench", model, "--seconds", "0.05", "--repeats", "1", "--threads", "2", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert [(x["mode"], x["threads"]) for x in r["results"]] == [("unbatched", 1), ("batched", 1), ("batched", 2),
                                                                  ("stream", 1)]
    assert all(x["samples_per_second"] > 0 and x["realtime_factor"] > 0 for x in r["results"])
    assert r["loop_macs"]["nonzero"] > 0 and r["samples"] == 80 * HOP
    p = run("bench", model, "--mel", mel, "--repeats", "1", "--threads", "1")
    assert p.returncode == 0, p.stderr
    assert "| unbatched | 1 |" in p.stdout and "| batched | 1 |" in p.stdout and "samples/s" in p.stdout
    assert "| stream, 1 frame per push | 1 |" in p.stdout
    assert "| batched | 2 |" not in p.stdout
    assert_failed(run("bench", mel), 1)  # a mel is not a model


def test_convert_with_trainer_config(work, tiny_npz):
    hp = {"input_type": "bits", "bits": 8, "sample_rate": 12000, "num_mels": N_MELS, "hop_size": HOP, "fmin": 30,
          "symmetric_mels": True, "max_abs_value": 4.0}
    (work / "hparams.json").write_text(json.dumps(hp))
    out = work / "hp.sw"
    p = run("convert", tiny_npz, "-o", out, "--config", work / "hparams.json")
    assert p.returncode == 0, p.stderr
    assert "geneing config" in p.stdout and "12000 Hz" in p.stdout
    p = run("convert", tiny_npz, "-o", out, "--config", work / "hparams.json", "--sample-rate", "8000", "-q")
    assert p.returncode == 0 and json.loads(run("info", out, "--json").stdout)["sample_rate"] == 8000
    (work / "other.json").write_text(json.dumps(dict(hp, hop_size=200)))
    p = run("convert", tiny_npz, "-o", out, "--config", work / "other.json")
    assert_failed(p, 1)
    assert "hop_length = 200" in p.stderr


@pytest.mark.skipif(not GENEING_BIN.is_file() or os.name != "posix", reason="needs the shared geneing model, POSIX")
def test_ctrl_c_stops_synthesis_at_once(work):
    """SIGINT during a long synthesis: exit 130 within a moment, no output file, no temporary."""
    import signal
    import time

    from sparsewave.converters import convert

    convert(GENEING_BIN, work / "g_int.sw")
    mel = np.load(GENEING_BIN.parent / "example_mel-northandsouth_52_f000076.npy")
    np.save(work / "long_mel.npy", np.tile(mel, (30, 1)))  # 3.8 M samples: tens of seconds
    out = work / "interrupted.wav"
    env = {k: v for k, v in os.environ.items() if k != "SPARSEWAVE_DEBUG"}
    p = subprocess.Popen([sys.executable, "-m", "sparsewave", "synthesize", str(work / "long_mel.npy"), "-o", str(out),
                          "--model", str(work / "g_int.sw")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.5)
    assert p.poll() is None, p.communicate()
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert time.perf_counter() - t0 < 5
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() and no_temp_files(work)


def test_info_and_synthesize_other_family(work):
    """info / synthesize / bench are not tied to the fatchord family."""
    ds = pytest.importorskip("sparsewave.dual_softmax")
    if not hasattr(ds, "write_random_dual_softmax"):
        pytest.skip("no dual-softmax writer in this build")
    path = work / "dual.sw"
    ds.write_random_dual_softmax(path, 32, 0.5)
    p = run("info", path)
    assert p.returncode == 0, p.stderr
    assert "dual_softmax" in p.stdout and "loop MACs:" in p.stdout
    info = json.loads(run("info", path, "--json").stdout)
    assert info["family"] == "dual_softmax"
    np.save(work / "mel80.npy", np.zeros((5, info["n_mels"]), np.float32))
    p = run("synthesize", work / "mel80.npy", "-o", work / "dual.wav", "--model", path, "-q")
    assert p.returncode == 0, p.stderr
    assert read_wav(work / "dual.wav")[1].size == 5 * info["hop_length"]


# --------------------------------------------------------------------------- resynth / bench --random


def test_resynth_writes_audio_of_the_input_length(work, model):
    sf = pytest.importorskip("soundfile", reason="writing the stereo test input needs soundfile")

    rate = 16000  # the tiny model's rate comes from geneing's defaults; resynth resamples to it
    t = np.arange(int(0.3 * 22050)) / 22050
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    src = work / "stereo.wav"
    sf.write(src, stereo, 22050)
    out = work / "resynth.wav"
    p = main_run("resynth", src, "-o", out, "--model", model, "--seed", "3")
    assert p.returncode == 0, p.stderr
    assert "stereo" in p.stderr.lower() or "mono" in p.stderr.lower()  # the downmix is mentioned
    got, got_rate = sf.read(out)
    info = json.loads(main_run("info", model, "--json").stdout)
    assert got_rate == info.get("sample_rate", rate)
    assert abs(len(got) - 0.3 * got_rate) <= info.get("hop_length", HOP)
    assert np.all(np.isfinite(got))


def test_resynth_errors(work, model):
    assert_failed(main_run("resynth", work / "missing.wav", "-o", work / "x.wav", "--model", model))
    assert_failed(main_run("resynth", work, "-o", work / "x.wav", "--model", model))
    assert not (work / "x.wav").exists()


def test_bench_random_model_json():
    p = main_run("bench", "--random", "dual-softmax", "--hidden", "64", "--density", "0.1", "--block", "16x1",
                 "--seconds", "0.1", "--repeats", "1", "--threads", "1", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for key in ("samples_per_s", "real_time_factor", "sample_rate", "isa", "macs_per_sample", "time_to_first_audio_s"):
        assert key in d
    assert d["samples_per_s"] > 0 and d["sample_rate"] == 24000 and d["macs_per_sample"] > 0


def test_bench_takes_a_model_or_random_not_both(model):
    assert_failed(main_run("bench", model, "--random", "dual-softmax"), code=2)


def test_bench_random_subscale_shape_is_checked_before_loading():
    p = main_run("bench", "--random", "subscale", "--hidden", "64", "--sub-tensors", "65")
    assert_failed(p, code=2)
    assert "sub_tensors must be in 1..64" in p.stderr


def test_bench_random_subscale_json():
    p = main_run("bench", "--random", "subscale", "--hidden", "64", "--density", "0.1", "--block", "4x4",
                 "--sub-tensors", "4", "--horizon", "2", "--seconds", "0.1", "--repeats", "1", "--threads", "2",
                 "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["family"] == "subscale" and d["samples_per_s"] > 0
    # threads split the sub-tensors of one utterance; no stream row: it cannot stream
    assert [(r["mode"], r["threads"]) for r in d["results"]] == [("unbatched", 1), ("unbatched", 2), ("batched", 1),
                                                                 ("batched", 2)]
    assert d["steps_to_first_audio"] == 3 * 2 + 1 and 0 < d["first_samples_after_s"] <= d["time_to_first_audio_s"]
