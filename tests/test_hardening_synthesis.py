"""Issue 14, defects 3, 8 and 11: batched synthesis under limits and at the edges of its range.

* 3: when the system will not start a thread, batched synthesis must not abort the process
  (``std::terminate`` with threads still joinable): the calling thread takes the work instead.
  The limit is forced in a subprocess with ``RLIMIT_STACK`` (every new thread asks for that much
  stack) and ``RLIMIT_AS``; the test asserts an exit code, never a signal.
* 8: extreme (finite) inputs overflow a MOL head into NaN; the output clamps map NaN to 0, so
  ``synthesize`` keeps its promise of values in [-1, 1].
* 11: a fold never runs past the utterance (1 frame costs one frame of steps, not half a
  second), and a huge ``target`` / ``overlap`` is clamped instead of overflowing.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave.weights import save_model

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from reference_models import wavernn_numpy as W  # noqa: E402

# Under qemu-user (the emulated-arm64 CI job sets QEMU_CPU) memory limits and peak RSS are the
# emulator's, not the engine's: the resource checks run on native hosts only.
under_qemu = pytest.mark.skipif("QEMU_CPU" in os.environ, reason="qemu-user: RSS and address-space limits measure the emulator")



@pytest.fixture(scope="module")
def voice(dual_softmax_voice):
    return dual_softmax_voice  # these checks are about the engine, not one voice


# --------------------------------------------------------------------------- defect 3: threads that cannot start


def run_limited(*code: str, stack_bytes: int | None = None) -> subprocess.CompletedProcess:
    """Run the ``code`` parts (each dedented) in a fresh interpreter, optionally with a thread
    stack size of ``stack_bytes`` (glibc sizes new threads' stacks from RLIMIT_STACK at start-up)."""
    def limits():
        if stack_bytes is not None:
            resource.setrlimit(resource.RLIMIT_STACK, (stack_bytes, resource.RLIM_INFINITY))
    source = "".join(textwrap.dedent(part) for part in code)
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=600,
                          preexec_fn=limits)


LIMIT_ADDRESS_SPACE = """
    import resource, threading
    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    # Room for ordinary allocations, none for a thread's 1 GiB stack.
    room = vm_bytes() + 512 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (room, room))
    try:
        threading.Thread(target=print).start()
        raise SystemExit("the limit does not stop threads")
    except RuntimeError:
        pass  # can't start new thread: the limit works
"""


@under_qemu
@pytest.mark.skipif(os.cpu_count() is None or os.cpu_count() < 2, reason="batched synthesis runs one thread here")
def test_threads_that_cannot_start_fall_back_to_the_caller():
    """Before: std::system_error escaped (OSError) or, with a thread already started,
    std::terminate killed the process (SIGABRT). Now the output is the same as with threads."""
    p = run_limited("""
        import numpy as np, sparsewave
        v = sparsewave.Vocoder.default()
        mels = np.random.default_rng(0).uniform(-4, 4, (30, v.n_mels)).astype(np.float32)
        want = v.synthesize(mels, seed=3, batched=True, target=1024, overlap=64, threads=1)
    """, LIMIT_ADDRESS_SPACE, """
        got = v.synthesize(mels, seed=3, batched=True, target=1024, overlap=64, threads=8)
        assert np.array_equal(got, want)
        print("same output")
    """, stack_bytes=2**30)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert "same output" in p.stdout


@under_qemu
def test_many_threads_under_a_memory_limit_do_not_abort():
    """The issue's reproducer: ``ulimit -v 2000000``, 400 threads, 256-sample folds. Threads are
    capped at the CPU count now; whatever happens, the process must not die of a signal."""
    p = run_limited("""
        import resource, numpy as np, sparsewave
        resource.setrlimit(resource.RLIMIT_AS, (2_000_000 * 1024, 2_000_000 * 1024))
        v = sparsewave.Vocoder.default()
        mels = np.zeros((200, v.n_mels), np.float32)
        try:
            y = v.synthesize(mels, seed=1, batched=True, target=256, overlap=0, threads=400)
            print("ok", y.shape)
        except (MemoryError, RuntimeError, ValueError) as e:
            print("raised", type(e).__name__, e)
    """)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert p.stdout.startswith(("ok", "raised"))


def test_threads_beyond_the_cpus_give_the_same_output(voice):
    mels = np.random.default_rng(1).uniform(-4, 4, (12, voice.n_mels)).astype(np.float32)
    one = voice.synthesize(mels, seed=2, batched=True, target=256, overlap=32, threads=1)
    many = voice.synthesize(mels, seed=2, batched=True, target=256, overlap=32, threads=64)
    assert np.array_equal(one, many)


# --------------------------------------------------------------------------- defect 8: NaN never leaves synthesize


@pytest.fixture(scope="module")
def mol_model(tmp_path_factory):
    cfg = W.config_fatchord("MOL", {
        "voc_rnn_dims": 16, "voc_fc_dims": 8, "voc_compute_dims": 4, "voc_res_out_dims": 4,
        "voc_res_blocks": 1, "voc_upsample_factors": [2], "hop_length": 2, "num_mels": 4, "voc_pad": 1})
    p = W.random_params(cfg, seed=5)
    # Matrices 1000x larger (up to a few hundred: inside the load's 1e6 bound).
    p = {k: (np.abs(v) + 0.5 if k.endswith("running_var") else v * 1000 if v.ndim == 2 else v) for k, v in p.items()}
    path = save_model(tmp_path_factory.mktemp("mol") / "mol.sw", p, cfg)
    return sparsewave.Vocoder.load(path)


@pytest.mark.parametrize("batched", [False, True])
def test_overflowing_mol_head_still_returns_samples_in_range(mol_model, batched):
    """Finite mels near the float32 limit overflow this model's logits to +-inf, and the MOL
    sample to inf - inf = NaN (before: 2 of 16 samples unbatched, 9 batched)."""
    mels = np.full((8, 4), 3e38, np.float32)
    with pytest.raises(ValueError, match="not mel features"):  # the Python front door refuses them now,
        mol_model.synthesize(mels, seed=1)
    # and the engine keeps its promise when driven directly (mels, seed, batched, target, overlap, threads)
    y = mol_model._v.synthesize(mels, 1, batched, 4, 2, 1)
    assert y.shape == (16,)
    assert np.all(np.isfinite(y)) and np.all(np.abs(y) <= 1), y


# --------------------------------------------------------------------------- defect 11: folds bounded by the utterance


def test_one_frame_runs_one_frame_of_steps(voice):
    """The fold layout is the step counter of batched synthesis (each fold runs its length in
    steps): 1 frame used to cost 12,127 steps (0.5 s + 2 x 25 ms) for 256 samples."""
    hop = voice.hop_length
    assert voice.fold_layout(1) == [(0, hop)]
    assert voice.fold_layout(3, target=10**6, overlap=10**6) == [(0, 3 * hop)]
    # Several folds keep their length (each shorter than the utterance).
    assert voice.fold_layout(100, target=4000, overlap=100) == [(i * 4100, 4200) for i in range(7)]
    mels = np.zeros((1, voice.n_mels), np.float32)
    assert voice.family == "dual_softmax"  # two draws per sample: coarse and fine byte
    u = np.random.default_rng(0).uniform(0, 1, (1, hop, 2)).astype(np.float32)
    assert voice.synthesize(mels, batched=True, uniforms=u).shape == (hop,)


@pytest.mark.parametrize("target,overlap", [(10**6, None), (2**62, None), (None, 2**62), (2**62, 2**62)])
def test_huge_target_and_overlap_are_clamped_to_the_utterance(voice, target, overlap):
    mels = np.random.default_rng(2).uniform(-4, 4, (4, voice.n_mels)).astype(np.float32)
    n = 4 * voice.hop_length
    whole = voice.synthesize(mels, seed=7, batched=True, target=n, overlap=0)
    assert np.array_equal(voice.synthesize(mels, seed=7, batched=True, target=target, overlap=overlap), whole)
