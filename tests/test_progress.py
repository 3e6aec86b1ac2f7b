"""Progress callbacks, cancellation and Ctrl-C during synthesis."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sparsewave
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "m.sw"
    tensors, cfg = random_dual_softmax(128, 0.2, (16, 1), n_mels=8, hop_length=100)
    save_model(path, tensors, cfg)
    return path


@pytest.mark.parametrize("batched,threads", [(False, 1), (True, 1), (True, 2)])
def test_progress_reaches_the_total(model, batched, threads):
    v = sparsewave.Vocoder.load(model)
    mels = np.zeros((300, 8), np.float32)  # 30,000 samples: long enough for several reports
    seen = []
    y = v.synthesize(mels, seed=1, batched=batched, target=2000, overlap=100, threads=threads, progress=seen.append)
    assert seen and seen[-1] == len(y)
    assert all(0 <= s <= len(y) for s in seen)
    assert seen == sorted(seen) or threads > 1


def test_threads_need_batched(model):
    """Unbatched synthesis is one sequential stream: threads > 1 is refused, not silently ignored
    (and not silently switched to batched, which would change the output for a seed)."""
    v = sparsewave.Vocoder.load(model)
    mels = np.zeros((3, 8), np.float32)
    with pytest.raises(ValueError, match="batched=True"):
        v.synthesize(mels, seed=1, threads=2)
    assert v.synthesize(mels, seed=1, batched=True, threads=2).shape == (300,)


@pytest.mark.parametrize("batched,threads", [(False, 1), (True, 2)])
def test_exception_in_callback_cancels(model, batched, threads):
    v = sparsewave.Vocoder.load(model)
    mels = np.zeros((3000, 8), np.float32)  # long: must stop early, not finish

    class Stop(Exception):
        pass

    def stop(_):
        raise Stop("user asked to stop")

    with pytest.raises(Stop, match="user asked"):
        v.synthesize(mels, seed=1, batched=batched, threads=threads, progress=stop)


def test_ctrl_c_interrupts_synthesis(model):
    code = textwrap.dedent(f"""
        import os, signal, threading, time
        import numpy as np, sparsewave
        # A parent started in the background may hand down SIGINT ignored, and then Python
        # installs no KeyboardInterrupt handler: put it back, so the test sees the engine.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        v = sparsewave.Vocoder.load({str(model)!r})
        mels = np.zeros((20000, 8), np.float32)  # about a minute of work
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        t = time.time()
        try:
            v.synthesize(mels, seed=1)
        except KeyboardInterrupt:
            print("interrupted after %.1f s" % (time.time() - t))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "interrupted after" in r.stdout, r.stdout + r.stderr
    assert float(r.stdout.split()[2]) < 5
