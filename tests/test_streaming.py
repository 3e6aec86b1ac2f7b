"""Streaming: chunks and incremental pushes equal whole-utterance synthesis."""
import numpy as np
import pytest

import sparsewave
from reference_models.wavernn_numpy import config_fatchord, random_params
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model


@pytest.fixture(scope="module", params=["fatchord-mol", "fatchord-raw", "dual-softmax"])
def vocoder(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "m.sw"
    if request.param == "dual-softmax":
        tensors, cfg = random_dual_softmax(32, 0.3, (4, 4), n_mels=8, hop_length=16, upsample="conv",
                                           upsample_kernel=9)
    else:
        hp = {"num_mels": 8, "hop_length": 24, "voc_upsample_factors": [2, 3, 4], "voc_rnn_dims": 32,
              "voc_fc_dims": 32, "voc_compute_dims": 16, "voc_res_out_dims": 16, "voc_res_blocks": 2}
        cfg = config_fatchord("MOL" if request.param.endswith("mol") else "RAW", hp)
        tensors = random_params(cfg, seed=3)
    save_model(path, tensors, cfg)
    return sparsewave.Vocoder.load(path)


@pytest.mark.parametrize("chunk", [1, 7, 100, 10_000])
def test_stream_chunks_equal_synthesize(isa, vocoder, chunk):
    mels = np.random.default_rng(1).standard_normal((19, vocoder.n_mels)).astype(np.float32)
    whole = vocoder.synthesize(mels, seed=11)
    chunks = list(vocoder.stream(mels, chunk_samples=chunk, seed=11))
    assert all(0 < len(c) <= chunk for c in chunks)
    assert np.array_equal(np.concatenate(chunks), whole)


@pytest.mark.parametrize("sizes", [[1] * 19, [5, 5, 5, 4], [19], [3, 0, 16]])
def test_incremental_push_equals_synthesize(isa, vocoder, sizes):
    mels = np.random.default_rng(2).standard_normal((19, vocoder.n_mels)).astype(np.float32)
    whole = vocoder.synthesize(mels, seed=5)
    s = vocoder.streamer(seed=5)
    parts, start = [], 0
    for n in sizes:
        parts.append(s.push(mels[start:start + n]))
        start += n
    parts.append(s.flush())
    assert np.array_equal(np.concatenate(parts), whole)
    assert s.samples_done == len(whole)
    # Audio is released before the end: only the look-ahead is held back.
    assert sum(len(p) for p in parts[:-1]) > 0 or len(sizes) == 1


def test_streamer_errors(vocoder):
    s = vocoder.streamer(seed=1)
    with pytest.raises(ValueError, match="shape"):
        s.push(np.zeros((3, vocoder.n_mels + 1), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        s.push(np.full((2, vocoder.n_mels), np.nan, np.float32))
    s.flush()
    with pytest.raises(ValueError, match="flush"):
        s.push(np.zeros((1, vocoder.n_mels), np.float32))
    with pytest.raises(ValueError, match="chunk_samples"):
        next(vocoder.stream(np.zeros((2, vocoder.n_mels), np.float32), chunk_samples=0))
