"""The command line and int8 weight files: ``convert --weights int8`` writes one, ``info`` shows
each matrix's dtype and block (and the file's int8 matrices), ``bench --weights int8`` runs."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import numpy as np
import pytest

import sparsewave
from reference_models import wavernn_numpy as W
from small_models import torch_like_params
from sparsewave import cli

# A small geneing-layout model, block-pruned so that its loop matrices pack in int8 shapes.
CONFIG = {
    "family": "fatchord", "variant": "geneing", "sample_rate": 16000, "n_mels": 20, "hop_length": 10, "pad": 2,
    "upsample_factors": [2, 5], "upsample_kernel_sizes": [5, 11], "res_blocks": 1, "compute_dims": 8,
    "res_out_dims": 8, "bn_eps": 1e-5, "rnn_dims": 64, "fc_dims": 32, "n_rnn": 1, "fc_names": ["fc1", "fc3"],
    "n_fc": 2, "aux_slices": {"I": [0, 3], "fc1": [4, 8]}, "head": "softmax", "bits": 8, "n_classes": 256,
    "mu_law": False,
}


def main_run(*args):
    """In-process ``sparsewave ARGS`` -> (returncode, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in args])
        except SystemExit as e:  # argparse usage errors
            rc = e.code if isinstance(e.code, int) else 1
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_int8")
    assert set(W.expected_shapes(CONFIG)) >= {"fc1.weight", "fc3.weight"}
    npz = d / "ckpt.npz"
    np.savez(npz, **torch_like_params(CONFIG, seed=4, sparsity=(4, 4, 0.3)))
    f32, i8 = d / "f32.sw", d / "i8.sw"
    overrides = d / "cfg.json"
    overrides.write_text(json.dumps({"sample_rate": 16000, "mu_law": False}))
    p = main_run("convert", npz, "-o", f32, "--config", overrides)
    assert p.returncode == 0, p.stderr
    q = main_run("convert", npz, "-o", i8, "--config", overrides, "--weights", "int8")
    assert q.returncode == 0, q.stderr
    return f32, i8, q.stdout


def test_convert_weights_int8(converted):
    f32, i8, stdout = converted
    assert "engine: loads OK" in stdout and "int8 weights" in stdout, stdout
    assert i8.stat().st_size < 0.8 * f32.stat().st_size
    rng = np.random.default_rng(0)
    mels = rng.uniform(-3, 0, (4, CONFIG["n_mels"])).astype(np.float32)
    audio = rng.uniform(-0.9, 0.9, 4 * CONFIG["hop_length"]).astype(np.float32)
    from_file = sparsewave.Vocoder.load(i8)
    np.testing.assert_array_equal(from_file.logits(mels, audio),
                                  sparsewave.Vocoder.load(f32, weights="int8").logits(mels, audio))


def test_convert_refuses_other_weight_types(converted, tmp_path):
    f32, _, _ = converted
    p = main_run("convert", f32, "-o", tmp_path / "x.sw", "--weights", "float16")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_info_shows_dtype_and_block(converted):
    f32, i8, _ = converted
    p = main_run("info", i8)
    assert p.returncode == 0, p.stderr
    assert "file:         int8 matrices fc1.weight, fc3.weight, rnn1.weight_hh_l0" in p.stdout, p.stdout
    header = next(line for line in p.stdout.splitlines() if "density" in line and "name" in line)
    assert "block" in header and "dtype" in header and "bytes" in header
    rows = [line.split() for line in p.stdout.splitlines() if line.startswith("  rnn1.weight_hh")]
    assert rows and rows[0][3] == "int8" and rows[0][2] in ("8x4", "4x4"), p.stdout

    info = json.loads(main_run("info", i8, "--json").stdout)
    assert info["file_int8_matrices"] == ["fc1.weight", "fc3.weight", "rnn1.weight_hh_l0"]
    assert {m["dtype"] for m in info["matrices"]} == {"int8"}
    assert info["memory"]["matrix_bytes"] == sum(m["bytes"] for m in info["matrices"])
    as_float = json.loads(main_run("info", i8, "--json", "--weights", "float32").stdout)
    assert {m["dtype"] for m in as_float["matrices"]} == {"float32"}
    assert as_float["memory"]["matrix_bytes"] > 2.5 * info["memory"]["matrix_bytes"]
    plain = json.loads(main_run("info", f32, "--json").stdout)
    assert plain["file_int8_matrices"] == [] and {m["dtype"] for m in plain["matrices"]} == {"float32"}


def test_bench_weights_int8(converted):
    f32, _, _ = converted
    p = main_run("bench", f32, "--weights", "int8", "--seconds", "0.02", "--repeats", "1", "--threads", "1", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["weights"] == "int8"
    p = main_run("bench", f32, "--weights", "int4")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_weights_int8a16_on_the_vocoding_commands(converted, tmp_path):
    # --weights reaches synthesize, resynth and evaluate (int8a16: the file's int8 weights,
    # 16-bit inputs); the same seed gives the same audio as the Python API with that storage.
    f32, i8, _ = converted
    rng = np.random.default_rng(1)
    mels = rng.uniform(-3, 0, (6, CONFIG["n_mels"])).astype(np.float32)
    mel_path, wav = tmp_path / "m.npy", tmp_path / "out.wav"
    np.save(mel_path, mels)
    p = main_run("synthesize", mel_path, "-o", wav, "-m", i8, "--weights", "int8a16", "--seed", "3", "-q")
    assert p.returncode == 0, p.stderr
    import soundfile as sf
    audio, _ = sf.read(wav, dtype="float32")
    want = sparsewave.Vocoder.load(i8, weights="int8a16").synthesize(mels, seed=3)
    assert np.allclose(audio, want, atol=1 / 32768)  # the WAV is 16-bit
    p = main_run("bench", f32, "--weights", "int8a16", "--seconds", "0.02", "--repeats", "1", "--threads", "1", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["weights"] == "int8a16"
    p = main_run("synthesize", mel_path, "-o", wav, "-m", i8, "--weights", "int16")
    assert p.returncode == 2 and "invalid choice" in p.stderr
