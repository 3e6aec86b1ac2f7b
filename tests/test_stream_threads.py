"""A Streamer shared by several threads (issue 14, defect 2): its calls are serialised by a lock,
so concurrent push / flush / pull neither crash nor lose or duplicate samples."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import sparsewave
from small_models import write_small_model


@pytest.fixture(scope="module", params=["fatchord", "dual-softmax"])
def vocoder(request, tmp_path_factory):
    return sparsewave.Vocoder.load(write_small_model(tmp_path_factory.mktemp("threads") / "m.sw", request.param))


@pytest.fixture(autouse=True)
def frequent_thread_switches():
    """Switch threads every 10 us so that Python-level steps of the calls interleave too."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def _run(workers):
    """Starts the workers together; re-raises the first exception one of them raised."""
    errors = []
    start = threading.Barrier(len(workers))

    def wrap(fn):
        def run():
            start.wait()
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported to the test below
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_several_threads_pushing_one_streamer(vocoder):
    s = vocoder.streamer(seed=4)
    mel = np.random.default_rng(0).standard_normal((40, vocoder.n_mels)).astype(np.float32)
    got = [[] for _ in range(4)]

    def pusher(i):
        def run():
            for k in range(mel.shape[0]):
                got[i].append(s.push(mel[k:k + 1]))
        return run

    _run([pusher(i) for i in range(4)])
    tail = s.flush()
    total = sum(c.size for chunks in got for c in chunks) + tail.size
    assert s.frames == 4 * mel.shape[0]
    assert total == s.samples_done == 4 * mel.shape[0] * vocoder.hop_length


@pytest.mark.parametrize("trial", range(5))
def test_push_while_another_thread_flushes(vocoder, trial):
    """Pushes after the flush fail with a clear error; every frame accepted before it is vocoded
    exactly once, bit-identical to synthesize on those frames (one pusher keeps the order)."""
    s = vocoder.streamer(seed=trial)
    mel = np.random.default_rng(trial).standard_normal((60, vocoder.n_mels)).astype(np.float32)
    pushed, out, flushed = [], [], []
    flush_now = threading.Event()

    def pusher():
        for k in range(mel.shape[0]):
            if k == 10 + 7 * trial:
                flush_now.set()
            try:
                out.append(s.push(mel[k:k + 1]))
            except ValueError as e:
                assert "flush" in str(e)
                return
            pushed.append(k)

    def flusher():
        flush_now.wait()
        flushed.append(s.flush())

    _run([pusher, flusher])
    n = len(pushed)
    audio = np.concatenate(out + flushed)
    assert audio.size == s.samples_done == n * vocoder.hop_length
    assert np.array_equal(audio, vocoder.synthesize(mel[:n], seed=trial))


def test_readers_while_pushing_and_pulling(vocoder):
    """Properties read from other threads while pushes and pulls run (they read the state the
    calls change) and several threads pulling the same stream."""
    s = vocoder.streamer(seed=9)
    core = s._core
    mel = np.random.default_rng(5).standard_normal((60, vocoder.n_mels)).astype(np.float32)
    pulled, done = [], threading.Event()

    def pusher():
        for k in range(mel.shape[0]):
            core.push(np.ascontiguousarray(mel[k:k + 1]))
        core.finish()
        done.set()

    def puller():
        while not done.is_set() or core.available:
            pulled.append(core.pull(37).size)

    def reader():
        while not done.is_set():
            assert 0 <= core.samples_done <= core.frames * vocoder.hop_length
            assert core.frames_conditioned <= core.frames

    _run([pusher, puller, puller, reader])
    assert sum(pulled) == core.samples_done == mel.shape[0] * vocoder.hop_length
