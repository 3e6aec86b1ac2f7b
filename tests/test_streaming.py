"""Streaming: chunks and incremental pushes equal whole-utterance synthesis."""
import numpy as np
import pytest

import sparsewave
from small_models import write_small_model


@pytest.fixture(scope="module", params=["fatchord-mol", "fatchord-raw", "dual-softmax"])
def vocoder(request, tmp_path_factory):
    return sparsewave.Vocoder.load(write_small_model(tmp_path_factory.mktemp("stream") / "m.sw", request.param))


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
