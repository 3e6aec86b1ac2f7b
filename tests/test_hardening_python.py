"""Issue 14's Python-side defects, one test each (they failed before the fixes):

* 4: ``-o`` onto a FIFO or device node wrote a regular file in its place (rename over it); a
  symlink was replaced by a regular file instead of the file it points to being updated;
* 9: a JSON error from Python's parser did not name the file;
* 12: integer mels accepted; a 0-d ``push`` raised IndexError; a ``preemphasis`` that rounds
  to 1.0 in float32 accepted; any declared WAV sample rate accepted (100 Hz -> minutes of
  output); written files' modes (the CLI reset them, ``save_model`` wrote 0600).
"""
from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave.audio import normalize_mel_config, read_audio, write_audio
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import load_model_tensors, save_model

N_MELS, HOP = 8, 10


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A tiny dual-softmax model and a mel file for it."""
    d = tmp_path_factory.mktemp("hardening")
    tensors, cfg = random_dual_softmax(16, n_mels=N_MELS, hop_length=HOP, sample_rate=16000, seed=3)
    cfg["mel"] = {"sample_rate": 16000, "n_fft": 64, "hop_length": HOP, "n_mels": N_MELS, "normalize": "none"}
    model = save_model(d / "tiny.sw", tensors, cfg)
    mel = d / "mel.npy"
    np.save(mel, np.random.default_rng(0).uniform(-1, 1, (4, N_MELS)).astype(np.float32))
    return sparsewave.Vocoder.load(model), model, mel


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sparsewave", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def _audio():
    return (0.1 * np.sin(np.arange(200) / 5)).astype(np.float32)


def _wav_bytes(path) -> bytes:
    return Path(path).read_bytes()


# --------------------------------------------------------------------------- 4: where -o points


def _nonblocking_reader(fifo: Path) -> int:
    """A reader end of ``fifo`` opened first, so a writer's open() does not block."""
    return os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)


def _drain(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def test_write_audio_to_a_fifo_writes_into_it(tmp_path):
    fifo = tmp_path / "out.wav"
    os.mkfifo(fifo)
    fd = _nonblocking_reader(fifo)
    try:
        write_audio(fifo, _audio(), 16000)
        got = _drain(fd)
    finally:
        os.close(fd)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    write_audio(tmp_path / "ref.wav", _audio(), 16000)
    assert got == _wav_bytes(tmp_path / "ref.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "ref.wav"]  # no temporary left


def test_cli_synthesize_to_a_fifo(small, tmp_path):
    _, model, mel = small
    fifo = tmp_path / "pipe"  # no suffix: a pipe or device gets WAV
    os.mkfifo(fifo)
    fd = _nonblocking_reader(fifo)
    try:
        p = _cli("synthesize", mel, "-o", fifo, "-m", model, "--seed", 1, "-q")
        got = _drain(fd)
    finally:
        os.close(fd)
    assert p.returncode == 0, p.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got[:4] == b"RIFF" and got[8:12] == b"WAVE" and len(got) == 44 + 2 * 4 * HOP


def test_save_model_onto_a_character_device_keeps_the_node(tmp_path):
    node = tmp_path / "null.sw"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # /dev/null's numbers, in a scratch folder
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot make a device node here: {e}")
    tensors, cfg = random_dual_softmax(4, n_mels=2, hop_length=2)
    save_model(node, tensors, cfg)
    assert stat.S_ISCHR(os.lstat(node).st_mode), "the device node was replaced by a regular file"
    assert [p.name for p in tmp_path.iterdir()] == ["null.sw"]


def test_dev_null_and_dev_stdout_are_written_straight(tmp_path):
    """The real /dev/null (a character device) is opened and written, never renamed over; the
    node is checked unchanged afterwards."""
    before = os.lstat("/dev/null")
    assert stat.S_ISCHR(before.st_mode)
    # The real node: only with the fix in place (before it, root would have replaced /dev/null).
    from sparsewave._atomic import output_target

    assert output_target("/dev/null").direct
    write_audio("/dev/null", _audio(), 16000)
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    if not os.path.exists("/dev/stdout"):
        pytest.skip("no /dev/stdout here (a minimal chroot)")
    code = ("import numpy as np; from sparsewave.audio import write_audio; "
            "write_audio('/dev/stdout', np.zeros(8, np.float32), 8000)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout[:4] == b"RIFF" and len(p.stdout) == 44 + 16


def test_a_symlink_is_written_through_and_kept(tmp_path):
    real = tmp_path / "real.wav"
    write_audio(real, np.zeros(10, np.float32), 16000)
    link = tmp_path / "link.wav"
    link.symlink_to(real.name)
    write_audio(link, _audio(), 16000)
    assert link.is_symlink() and os.readlink(link) == "real.wav"
    np.testing.assert_allclose(read_audio(real)[0], _audio(), atol=1 / 32768)
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to("created.wav")
    write_audio(dangling, _audio(), 16000)
    assert dangling.is_symlink() and (tmp_path / "created.wav").is_file()


def test_a_block_device_or_socket_is_refused(tmp_path):
    import socket

    sock_path = tmp_path / "s.wav"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(sock_path))
        with pytest.raises(ValueError, match="socket"):
            write_audio(sock_path, _audio(), 16000)
    finally:
        s.close()


# --------------------------------------------------------------------------- 12: file modes


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_cli_overwrite_keeps_the_mode(small, tmp_path):
    _, model, mel = small
    out = tmp_path / "out.wav"
    write_audio(out, _audio(), 16000)
    os.chmod(out, 0o640)
    p = _cli("synthesize", mel, "-o", out, "-m", model, "--seed", 1, "-q")
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_save_model_follows_the_umask_and_keeps_a_mode(tmp_path):
    tensors, cfg = random_dual_softmax(4, n_mels=2, hop_length=2)
    old = os.umask(0o027)
    try:
        new = save_model(tmp_path / "new.sw", tensors, cfg)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o640
    os.chmod(new, 0o604)
    save_model(new, tensors, cfg)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o604
    fresh = save_model(tmp_path / "fresh.sw", tensors, cfg)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~_umask()


# --------------------------------------------------------------------------- 12: input checks


@pytest.mark.parametrize("dtype", [np.int16, np.int64, np.uint8, np.bool_])
def test_integer_mels_are_refused_naming_the_dtype(small, dtype):
    v = small[0]
    mels = np.zeros((3, N_MELS), dtype)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        v.synthesize(mels, seed=0)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        v.streamer(seed=0).push(mels)


def test_float16_and_float64_mels_are_taken(small):
    v = small[0]
    m = np.random.default_rng(1).uniform(-1, 1, (3, N_MELS))
    want = v.synthesize(m.astype(np.float32), seed=2)
    np.testing.assert_array_equal(v.synthesize(m, seed=2), want)
    assert v.synthesize(m.astype(np.float16), seed=2).shape == want.shape


@pytest.mark.parametrize("frames", [np.float32(0.5), np.array(1.0, np.float32), 3.0])
def test_push_of_a_scalar_is_a_value_error(small, frames):
    s = small[0].streamer(seed=0)
    with pytest.raises(ValueError, match="0-d|scalar"):
        s.push(frames)


def test_preemphasis_is_checked_as_the_engine_stores_it(tmp_path):
    assert np.float32(0.99999999) == 1.0  # what the engine would have used
    tensors, cfg = random_dual_softmax(4, n_mels=2, hop_length=2)
    path = save_model(tmp_path / "pre.sw", tensors, dict(cfg, preemphasis=0.99999999))
    with pytest.raises(ValueError, match="preemphasis"):
        sparsewave.Vocoder.load(path)
    ok = save_model(tmp_path / "ok.sw", tensors, dict(cfg, preemphasis=0.9999))
    assert sparsewave.Vocoder.load(ok).preemphasis == pytest.approx(0.9999)
    with pytest.raises(ValueError, match="preemphasis"):
        normalize_mel_config({"sample_rate": 16000, "n_fft": 64, "hop_length": 16, "n_mels": 4,
                              "preemphasis": 0.99999999})


def _wav_with_rate(path: Path, rate: int, n: int = 200) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(n, "<i2").tobytes())
    return path


@pytest.mark.parametrize("rate", [100, 7999, 192001, 10**6])
def test_absurd_wav_sample_rates_are_refused(tmp_path, rate):
    path = _wav_with_rate(tmp_path / "x.wav", rate)
    with pytest.raises(ValueError, match=f"{rate} Hz.*8000.*192000"):
        read_audio(path, target_rate=22050)


@pytest.mark.parametrize("rate", [8000, 192000])
def test_wav_sample_rates_at_the_bounds_are_read(tmp_path, rate):
    y, r = read_audio(_wav_with_rate(tmp_path / "x.wav", rate))
    assert r == rate and y.shape == (200,)


def test_resynth_of_a_100_hz_wav_fails_cleanly(small, tmp_path):
    _, model, _ = small
    src = _wav_with_rate(tmp_path / "in.wav", 100, n=400)
    p = _cli("resynth", src, "-o", tmp_path / "out.wav", "-m", model, "-q")
    assert p.returncode == 1 and "100 Hz" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "out.wav").exists()


# --------------------------------------------------------------------------- 9: JSON errors name the file


def _with_config_text(src: Path, dst: Path, config_text: str) -> Path:
    """A copy of weight file ``src`` whose metadata config is ``config_text`` (raw, maybe invalid JSON)."""
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["config"] = config_text
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    return dst


def test_load_model_tensors_names_the_file_on_bad_config_json(small, tmp_path):
    _, model, _ = small
    bad = _with_config_text(model, tmp_path / "bad.sw", '{"family": "dual_softmax", "hidden": 016}')
    with pytest.raises(ValueError, match="bad.sw") as e:
        load_model_tensors(bad)
    assert "config" in str(e.value)


def test_vocoder_names_the_file_when_python_cannot_parse_the_engine_config(small, tmp_path):
    """The C++ and Python parsers may disagree; then the Python error must still name the file."""
    v = small[0]

    class Core:
        config_json = '{"family": 01}'

    with pytest.raises(ValueError, match="tiny.sw"):
        sparsewave.Vocoder(Core(), v.path)


def test_train_mel_config_json_error_names_the_file(tmp_path, capsys):
    pytest.importorskip("torch")
    from sparsewave.train import cli as train_cli

    bad = tmp_path / "mel.json"
    bad.write_text('{"n_mels": 080}')
    assert train_cli.main([str(tmp_path / "data"), "-o", str(tmp_path / "run"), "--mel-config", str(bad)]) == 1
    assert "mel.json" in capsys.readouterr().err


def test_writer_refuses_weights_the_engine_refuses(tmp_path):
    from sparsewave.weights import save_model

    cfg = {"family": "fatchord"}
    with pytest.raises(ValueError, match="magnitudes above"):
        save_model(tmp_path / "big.sw", {"w": np.full((4, 4), 2e6, np.float32)}, cfg)
    assert not (tmp_path / "big.sw").exists()


def test_mels_near_the_float_limit_are_refused():
    import sparsewave

    v = sparsewave.Vocoder.default()
    mels = np.zeros((3, v.n_mels), np.float32)
    mels[1, 5] = 3e38
    with pytest.raises(ValueError, match="frame 1, mel bin 5"):
        v.nll(mels, np.zeros(3 * v.hop_length, np.float32))
    mels[1, 5] = -1e5  # large but plausible-ish values still run
    assert np.isfinite(v.synthesize(mels[:2], seed=0)).all()
