"""Shared fixtures: every kernel test runs once per ISA this CPU can run."""
import numpy as np
import pytest

import sparsewave


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
