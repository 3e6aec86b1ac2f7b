"""Incremental streaming (issue 14, defect 1): each mel frame is conditioned once, whatever the
push pattern, and the audio stays bit-identical to ``Vocoder.synthesize``.

Models: small random ones of every family and variant, the packaged default voice
(dual-softmax) and the real geneing WaveRNN (fatchord family, MelResNet with batch norm and a
3-stage upsampler) converted from ``../shared/data`` (skipped when that data is absent).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sparsewave
from reference_models.wavernn_numpy import config_fatchord, random_params
from sparsewave.benchmark import smooth_random_mel
from sparsewave.converters import convert
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GENEING_BIN = DATA / "wavernn_geneing_mailabs" / "model.bin"
GENEING_MEL = DATA / "wavernn_geneing_mailabs" / "example_mel-northandsouth_52_f000076.npy"

MODELS = ["fatchord-mol", "fatchord-raw", "fatchord-pad3", "dual-softmax", "default-voice", "geneing"]


def _random_model(kind: str, path: Path) -> None:
    if kind == "dual-softmax":
        tensors, cfg = random_dual_softmax(32, 0.3, (4, 4), n_mels=8, hop_length=16, upsample="conv",
                                           upsample_kernel=9)
    else:
        hp = {"num_mels": 8, "hop_length": 24, "voc_upsample_factors": [2, 3, 4], "voc_rnn_dims": 32,
              "voc_fc_dims": 32, "voc_compute_dims": 16, "voc_res_out_dims": 16, "voc_res_blocks": 2}
        if kind == "fatchord-pad3":  # a wider MelResNet window: more look-ahead than the upsampler's
            hp["voc_pad"] = 3
        cfg = config_fatchord("MOL" if kind.endswith("mol") else "RAW", hp)
        tensors = random_params(cfg, seed=3)
    save_model(path, tensors, cfg)


@pytest.fixture(scope="module", params=MODELS)
def case(request, tmp_path_factory):
    """(vocoder, mel) for one model."""
    kind = request.param
    if kind == "default-voice":
        v = sparsewave.Vocoder.default()
        return v, smooth_random_mel(v, 1.0, seed=7)
    if kind == "geneing":
        if not GENEING_BIN.is_file() or not GENEING_MEL.is_file():
            pytest.skip(f"shared test data not found at {DATA} (needs wavernn_geneing_mailabs/model.bin)")
        path = tmp_path_factory.mktemp("geneing") / "geneing.sw"
        convert(GENEING_BIN, path)
        return sparsewave.Vocoder.load(path), np.load(GENEING_MEL)[100:160].astype(np.float32)
    path = tmp_path_factory.mktemp("stream") / f"{kind}.sw"
    _random_model(kind, path)
    v = sparsewave.Vocoder.load(path)
    return v, np.random.default_rng(2).standard_normal((41, v.n_mels)).astype(np.float32)


def _push_all(streamer, mel, sizes):
    """Pushes mel in pieces of `sizes` (cycled), then flushes; returns every returned chunk."""
    parts, start, i = [], 0, 0
    while start < mel.shape[0]:
        n = sizes[i % len(sizes)]
        parts.append(streamer.push(mel[start:start + n]))
        start += n
        i += 1
    parts.append(streamer.flush())
    return parts


def test_frame_by_frame_equals_synthesize(case):
    v, mel = case
    whole = v.synthesize(mel, seed=21)
    s = v.streamer(seed=21)
    parts = _push_all(s, mel, [1])
    assert np.array_equal(np.concatenate(parts), whole)
    # Only the family's look-ahead is held back: audio flows before the flush.
    assert sum(p.size for p in parts[:-1]) > 0


@pytest.mark.parametrize("trial", range(3))
def test_random_chunks_and_partial_pulls_equal_synthesize(case, trial):
    """Random push sizes (including empty pushes) with pulls of random length in between, so
    generation stops anywhere inside a frame and inside a push's conditioning."""
    v, mel = case
    rng = np.random.default_rng(100 + trial)
    whole = v.synthesize(mel, seed=trial)
    core = v.streamer(seed=trial)._core
    out, start = [], 0
    while start < mel.shape[0]:
        n = int(rng.integers(0, 9))
        core.push(np.ascontiguousarray(mel[start:start + n]))
        start += n
        out.append(core.pull(int(rng.integers(0, 3 * v.hop_length))))
    core.finish()
    while core.available:
        out.append(core.pull(int(rng.integers(1, 3 * v.hop_length))))
    assert np.array_equal(np.concatenate(out), whole)
    assert core.samples_done == whole.size


def test_each_frame_is_conditioned_once(case):
    """A counter, not a timer: the frames the model conditions never exceed the frames pushed,
    however long the stream (the old code re-conditioned every frame on every push)."""
    v, mel = case
    s = v.streamer(seed=3)
    for k in range(mel.shape[0]):
        s.push(mel[k:k + 1])
        assert s.frames_conditioned <= s.frames == k + 1
    s.flush()
    assert s.frames_conditioned == mel.shape[0]


def test_streams_of_one_vocoder_are_independent(case):
    """Two interleaved streams (different seeds) on one Vocoder: the conditioning state is the
    stream's, not the model's."""
    v, mel = case
    a, b = v.streamer(seed=1), v.streamer(seed=2)
    pa, pb = [], []
    for k in range(mel.shape[0]):
        pa.append(a.push(mel[k:k + 1]))
        pb.append(b.push(mel[mel.shape[0] - 1 - k:mel.shape[0] - k]))
    pa.append(a.flush())
    pb.append(b.flush())
    assert np.array_equal(np.concatenate(pa), v.synthesize(mel, seed=1))
    assert np.array_equal(np.concatenate(pb), v.synthesize(mel[::-1].copy(), seed=2))
