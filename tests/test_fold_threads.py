"""Batched synthesis gives the same samples for any number of threads.

Threads split the folds into contiguous groups, so 3 folds on 2 threads run as
groups of 1 and 2. A group of one used to take the single-vector kernel, which
sums in another order than the multi-vector one: a MOL model's continuous
output then differed by an ulp, and a dual-softmax model's draws could flip.
Both cases below failed before every folded product took the multi-vector kernel."""
import numpy as np
import pytest

import sparsewave
from reference_models import wavernn_numpy as W
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.weights import save_model


def _three_folds_two_ways(v, mels, target, seed):
    one = v.synthesize(mels, seed=seed, batched=True, target=target, overlap=0, threads=1)
    two = v.synthesize(mels, seed=seed, batched=True, target=target, overlap=0, threads=2)
    return one, two


@pytest.mark.parametrize("rnn_dims, seed", [(32, 0), (40, 4)])
def test_fatchord_mol_folds_do_not_depend_on_threads(tmp_path, rnn_dims, seed):
    hp = {"num_mels": 8, "hop_length": 24, "voc_upsample_factors": [2, 3, 4], "voc_rnn_dims": rnn_dims,
          "voc_fc_dims": 32, "voc_compute_dims": 16, "voc_res_out_dims": 16, "voc_res_blocks": 2}
    cfg = W.config_fatchord("MOL", hp)
    v = sparsewave.Vocoder.load(save_model(tmp_path / "mol.sw", W.random_params(cfg, seed=seed), cfg))
    mels = np.random.default_rng(seed).standard_normal((30, 8)).astype(np.float32)
    one, two = _three_folds_two_ways(v, mels, target=240, seed=0)  # 720 samples: 3 folds
    assert one.shape == (720,)
    assert np.array_equal(one, two)


# Replayed from a search over random models: these drew differently on 1 and 2 threads.
@pytest.mark.parametrize("hidden, density, block, model_seed, seed",
                         [(64, 0.1, (4, 4), 26, 2), (64, 0.3, (16, 1), 82, 0), (34, 1.0, (16, 1), 141, 0)])
def test_dual_softmax_folds_do_not_depend_on_threads(tmp_path, hidden, density, block, model_seed, seed):
    tensors, cfg = random_dual_softmax(hidden, density, block, seed=model_seed, n_mels=8, hop_length=10)
    v = sparsewave.Vocoder.load(save_model(tmp_path / "ds.sw", tensors, cfg))
    mels = np.random.default_rng(model_seed).standard_normal((60, 8)).astype(np.float32)
    one, two = _three_folds_two_ways(v, mels, target=200, seed=seed)  # 600 samples: 3 folds
    assert one.shape == (600,)
    assert np.array_equal(one, two)
