"""Issue 14, defects 7 and 12 (the engine and binding side): bad arguments raise ValueError (or
pybind11's TypeError for a wrong type), never OSError, which is kept for real I/O failures; and
out-of-range integers get a ValueError naming the argument instead of pybind11's raw TypeError
or a silent truncation."""

from __future__ import annotations

import numpy as np
import pytest

import sparsewave
from sparsewave import _core


@pytest.fixture(scope="module")
def voice(dual_softmax_voice):
    return dual_softmax_voice  # these checks are about the engine, not one voice


@pytest.fixture(scope="module")
def mels(voice):
    return np.zeros((2, voice.n_mels), np.float32)


# --------------------------------------------------------------------------- defect 7: errors keep their kind


def test_wrong_out_shape_is_a_value_error():
    m = sparsewave.BlockSparseMatrix.from_dense(np.eye(8, dtype=np.float32))
    with pytest.raises(ValueError, match="out"):
        m.matvec(np.ones(8, np.float32), out=np.zeros(7, np.float32))
    with pytest.raises(ValueError, match=r"out must have shape \(8,\)"):
        m._m.matvec(np.ones(8, np.float32), np.zeros(7, np.float32), False)


def test_conditioning_of_a_dual_softmax_model_is_a_value_error(voice, mels):
    assert voice.family == "dual_softmax"
    with pytest.raises(ValueError, match="only exposed for the fatchord family"):
        voice.conditioning(mels)


def test_binding_shape_checks_are_value_errors(voice):
    with pytest.raises(ValueError, match="mels must have shape"):
        voice._v.synthesize(np.zeros((2, 3), np.float32), 1, False, 0, -1, 1)


def test_io_failures_stay_os_errors(tmp_path):
    with pytest.raises(OSError, match="cannot open"):
        _core.Vocoder.load(str(tmp_path / "missing.sw"))
    with pytest.raises(OSError, match="not a regular file"):
        _core.Vocoder.load(str(tmp_path))


def test_wrong_types_stay_type_errors():
    with pytest.raises(TypeError):
        _core.Vocoder.load(123)


# --------------------------------------------------------------------------- defect 12: integers in range


@pytest.mark.parametrize("frames", [-5, 0, 10**30, 1.5, "3"])
def test_fold_layout_rejects_bad_frames(voice, frames):
    with pytest.raises(ValueError, match="frames"):
        voice.fold_layout(frames)


def test_fold_layout_engine_rejects_bad_frames(voice):
    with pytest.raises(ValueError, match="frames must be a positive number"):
        voice._v.fold_spans(-5, 0, -1)


@pytest.mark.parametrize("seed", [2**64, 10**30, -1, 1.5])
def test_seed_out_of_range_is_a_value_error(voice, mels, seed):
    with pytest.raises(ValueError, match="seed must be"):
        voice.synthesize(mels, seed=seed)
    with pytest.raises(ValueError, match="seed must be"):
        voice.streamer(seed=seed)


def test_largest_seed_is_accepted(voice, mels):
    assert voice.synthesize(mels, seed=2**64 - 1).shape == (2 * voice.hop_length,)
    assert voice.synthesize(mels, seed=np.uint64(2**64 - 1)).shape == (2 * voice.hop_length,)


@pytest.mark.parametrize("threads", [2**31, 2**40, 10**30, 0, 2.0, True])
def test_threads_out_of_range_is_a_value_error(voice, mels, threads):
    with pytest.raises(ValueError, match="threads must be"):
        voice.synthesize(mels, batched=True, threads=threads)


@pytest.mark.parametrize("name,value", [("target", 1.7), ("target", 0), ("target", 2**70), ("overlap", 2.5),
                                        ("overlap", -1), ("overlap", 2**70), ("target", "512")])
def test_fold_options_must_be_integers_in_range(voice, mels, name, value):
    with pytest.raises(ValueError, match=f"{name} must be"):
        voice.synthesize(mels, batched=True, **{name: value})
    with pytest.raises(ValueError, match=f"{name} must be"):
        voice.fold_layout(2, **{name: value})


def test_numpy_integers_are_accepted(voice, mels):
    a = voice.synthesize(mels, seed=np.int64(3), batched=True, target=np.int32(200), overlap=np.uint8(10),
                         threads=np.int16(2))
    b = voice.synthesize(mels, seed=3, batched=True, target=200, overlap=10, threads=2)
    assert np.array_equal(a, b)
