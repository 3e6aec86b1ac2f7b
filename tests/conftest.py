"""Shared fixtures: every kernel test runs once per ISA this CPU can run."""
import os

# One BLAS thread: the float64 NumPy references are small products that a
# multi-threaded BLAS only slows down on a busy machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sparsewave  # noqa: E402


@pytest.fixture(params=sparsewave.available_isas())
def isa(request):
    previous = sparsewave.isa()
    sparsewave.set_isa(request.param)
    yield request.param
    sparsewave.set_isa(previous)


@pytest.fixture
def rng(request):
    # Fresh inputs every run, but the seed is printed on failure for replay.
    seed = np.random.SeedSequence().entropy % (2**32)
    request.node.user_properties.append(("seed", seed))
    print(f"rng seed: {seed}")
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def dual_softmax_voice(tmp_path_factory):
    """A random dual-softmax model of the shape the first default voice had (N = 256, 22,050 Hz,
    hop 256, 80 mels, GRU 90 % sparse in 4x4 blocks), for engine tests that need that family."""
    from sparsewave.dual_softmax import random_dual_softmax
    from sparsewave.weights import save_model

    tensors, cfg = random_dual_softmax(256, density=0.1, seed=3, sample_rate=22050, hop_length=256)
    return sparsewave.Vocoder.load(save_model(tmp_path_factory.mktemp("dual") / "dual.sw", tensors, cfg))
