"""The engine against the float64 NumPy reference on random models of the fatchord family.

fatchord/WaveRNN's own weights are not available offline (see ../shared/data/README.md), so its
full architecture (2 GRUs, fc1/fc2/fc3, aux in 4 chunks, MOL or RAW 9-bit mu-law head) is built
with random weights, written with ``sparsewave.weights.save_model`` and compared with
``tests/reference_models/wavernn_numpy.py``. One case uses the exact state_dict layout of
``../shared/data/fatchord_layout`` (names, shapes, including ``step`` and
``num_batches_tracked`` as a trainer's full state_dict has them); the others are smaller,
with odd sizes (block padding) and several sparsity patterns (dense, 4x4 blocks, 16x1 blocks,
unstructured), plus geneing-shaped models (1 GRU, fc1 + fc3, aux in 2 chunks). Every check runs
on every kernel path (``sparsewave.available_isas()``).

Weights are drawn like PyTorch's default init (std ~ 1/sqrt(fan_in)), so activations stay in the
range where the comparison means something (random N(0, 0.2) weights at fatchord's 512 widths
saturate every gate).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave.weights import save_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import wavernn_numpy as W  # noqa: E402
from small_models import torch_like_params as random_params  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LAYOUT = DATA / "fatchord_layout" / "fatchord_state_dict_layout.json"
HPARAMS = DATA / "fatchord_layout" / "fatchord_hparams.json"
ROBUST = 1e-4  # inverse-CDF margin above which the engine must make the float64 model's choice

# Measured (x86, generic/avx2/avx512): conditioning <= 5.3e-7 relative to the largest value;
# teacher-forced logits <= 8e-6 relative to max(1, |logit|) on the small models and <= 1.5e-5 at
# the full fatchord dims (logits up to |13|); asserted at the 1e-4 (~7x headroom).
# MOL samples: within 0.15 of the per-step bound of _mol_agreement (largest error 4.5e-4, on a
# step with a wide logistic); softmax: not a single differing index on a non-near-tie step.
COND_REL = 1e-5
LOGIT_REL = 1e-4


# --------------------------------------------------------------------------- models


def _small_fatchord(mode: str, rnn, fc, compute, res_out, res_blocks, factors, n_mels, pad) -> dict:
    return W.config_fatchord(mode, {
        "voc_rnn_dims": rnn, "voc_fc_dims": fc, "voc_compute_dims": compute, "voc_res_out_dims": res_out,
        "voc_res_blocks": res_blocks, "voc_upsample_factors": factors, "hop_length": int(np.prod(factors)),
        "num_mels": n_mels, "voc_pad": pad})


def _geneing_like(rnn, fc, compute, res_out, res_blocks, factors, n_mels, pad, bits=10, mu_law=False) -> dict:
    """geneing's variant: 1 GRU, fc1 + fc3, aux in 2 chunks of which I takes all but the last channel."""
    c = res_out // 2
    return {
        "family": "fatchord", "variant": "geneing", "sample_rate": 16000, "n_mels": n_mels,
        "hop_length": int(np.prod(factors)), "pad": pad, "upsample_factors": list(factors),
        "upsample_kernel_sizes": [2 * s + 1 for s in factors], "res_blocks": res_blocks,
        "compute_dims": compute, "res_out_dims": res_out, "bn_eps": 1e-5, "rnn_dims": rnn, "fc_dims": fc,
        "n_rnn": 1, "fc_names": ["fc1", "fc3"], "n_fc": 2, "aux_slices": {"I": [0, c - 1], "fc1": [c, 2 * c]},
        "head": "softmax", "bits": bits, "n_classes": 2 ** bits, "mu_law": mu_law,
    }


def _full_layout_case(mode: str):
    if not LAYOUT.is_file() or not HPARAMS.is_file():
        pytest.skip(f"fatchord layout not found at {LAYOUT.parent}")
    layout = json.loads(LAYOUT.read_text())[mode]
    cfg = W.config_fatchord(mode, json.loads(HPARAMS.read_text()))
    want = {k: tuple(v) for k, v in layout.items() if k != "step" and not k.endswith("num_batches_tracked")}
    assert W.expected_shapes(cfg) == want
    params = random_params(cfg, seed=11)  # dense, like fatchord's (unpruned) model
    tensors = {}
    for name, shape in layout.items():  # the trainer's full state_dict, in its order
        if name in params:
            tensors[name] = params[name]
        else:  # step / num_batches_tracked: scalars the engine must ignore
            tensors[name] = np.full(shape, 1000, dtype=np.int64)
    return cfg, params, tensors


# name -> (config builder or full-layout head, sparsity (block_rows, block_cols, density) or None,
#          mel frames, steps checked, batched-mode target)
CASES = {
    "fatchord_mol_tiny_dense": (lambda: _small_fatchord("MOL", 16, 12, 8, 8, 1, [2, 3], 5, 2), None, 16, 96, 24),
    "fatchord_raw_tiny_dense": (lambda: _small_fatchord("RAW", 16, 12, 8, 8, 1, [2, 3], 5, 2), None, 16, 96, 24),
    "fatchord_mol_odd_16x1": (lambda: _small_fatchord("MOL", 50, 37, 24, 20, 2, [2, 3, 4], 13, 2), (16, 1, 0.3), 8, 192, 50),
    "fatchord_raw_odd_unstructured": (lambda: _small_fatchord("RAW", 50, 37, 24, 20, 2, [2, 3, 4], 13, 2), (1, 1, 0.2), 8, 192, 50),
    "fatchord_mol_medium_4x4": (lambda: _small_fatchord("MOL", 128, 96, 32, 32, 3, [3, 5], 20, 2), (4, 4, 0.15), 12, 180, 45),
    "fatchord_raw_medium_4x4": (lambda: _small_fatchord("RAW", 128, 96, 32, 32, 3, [3, 5], 20, 2), (4, 4, 0.15), 12, 180, 45),
    "geneing_like_small": (lambda: _geneing_like(40, 24, 16, 16, 2, [2, 5], 10, 2), (4, 4, 0.3), 10, 100, 25),
    "geneing_like_mulaw_odd": (lambda: _geneing_like(36, 20, 12, 18, 1, [3, 3], 7, 2, bits=9, mu_law=True), None, 10, 90, 30),
    "fatchord_mol_full_layout": ("MOL", None, 2, 120, 110),
    "fatchord_raw_full_layout": ("RAW", None, 2, 120, 110),
}


class Case:
    """A random model written to a .sw file, its float64 reference data, and the loaded engine."""

    def __init__(self, name: str, directory: Path):
        builder, sparsity, frames, n_check, target = CASES[name]
        self.full = isinstance(builder, str)
        if self.full:
            self.cfg, self.params, tensors = _full_layout_case(builder)
        else:
            self.cfg = builder()
            seed = sum(map(ord, name))
            # geneing's I matrix is pruned too (its model.bin stores I compressed): do it in one case
            self.params = random_params(self.cfg, seed, sparsity, prune_input_layer=name == "geneing_like_small")
            tensors = self.params
        self.name = name
        self.path = save_model(directory / f"{name}.sw", tensors, self.cfg)
        self.vocoder = sparsewave.Vocoder.load(self.path)
        self.p64 = W.prepare(self.params, self.cfg)
        self.mol = self.cfg["head"] == "mol"
        self.n_check, self.target = n_check, target
        rng = np.random.default_rng(len(name))
        normalized = self.cfg["variant"] == "geneing"  # geneing mels are in [-4, 4], fatchord's in [0, 1]
        self.mel = (rng.uniform(-4, 4, (frames, self.cfg["n_mels"])) if normalized
                    else rng.uniform(0, 1, (frames, self.cfg["n_mels"]))).astype(np.float32)
        self.samples = frames * self.cfg["hop_length"]
        self.mels_up, self.aux = W.conditioning(self.params, self.cfg, self.mel.T)
        # audio to teacher-force with, and what the model is fed for it (exact grid values)
        n = self.n_check
        if self.mol:
            audio = rng.uniform(-0.95, 0.95, n)
            audio[rng.integers(0, n, 4)] = 1.0  # the edge bins of the MOL likelihood
            audio[rng.integers(0, n, 4)] = -1.0
            self.fed = audio
        else:
            k = rng.integers(0, self.cfg["n_classes"], n)
            self.fed = W.label_to_float(k, self.cfg["bits"])
            self.labels = k
            audio = W.decode_mu_law(self.fed, self.cfg["n_classes"]) if self.cfg["mu_law"] else self.fed
        self.audio = audio.astype(np.float32)
        self.tf_logits = self.teacher_forced(self.fed, 0, n)
        self.uniforms = rng.random(self.samples).astype(np.float32)

    def teacher_forced(self, fed: np.ndarray, start: int, n: int) -> np.ndarray:
        """float64 logits of n steps from the zero state at sample ``start``, fed ``fed[t-1]``."""
        mu = np.zeros((n, self.mels_up.shape[1]))
        ax = np.zeros((n, self.aux.shape[1]))
        avail = max(0, min(n, self.samples - start))
        mu[:avail], ax[:avail] = self.mels_up[start:start + avail], self.aux[start:start + avail]
        return W.teacher_forced_logits(self.p64, self.cfg, mu, ax, np.concatenate([[0.0], np.asarray(fed)[: n - 1]]))

    def fed_back(self, y: np.ndarray) -> np.ndarray:
        """What the engine fed back after emitting ``y``: x itself (MOL) or the class's label float."""
        y = np.asarray(y, dtype=np.float64)
        if self.mol:
            return y
        return W.label_to_float(self.classes(y), self.cfg["bits"])

    def classes(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        n = self.cfg["n_classes"]
        if self.cfg["mu_law"]:
            mu = n - 1
            y = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
        return np.rint((y + 1.0) * (n - 1) / 2.0).astype(np.int64)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fatchord_random")


@pytest.fixture(scope="module", params=list(CASES))
def case(request, workdir):
    return Case(request.param, workdir)


@pytest.fixture
def isas():
    previous = sparsewave.isa()
    yield sparsewave.available_isas()
    sparsewave.set_isa(previous)


def _isas_for(case, isas):
    """Every ISA for the small models; at the full fatchord dims the float64 re-derivation of a
    trajectory costs ~2.5 ms a step, so the trajectory checks use the fastest path only (the
    teacher-forced logits there still run on every path)."""
    return isas[-1:] if case.full else isas


# --------------------------------------------------------------------------- checks


def test_file_round_trip(case):
    v = case.vocoder
    assert v.n_classes == case.cfg["n_classes"] and v.hop_length == case.cfg["hop_length"]
    assert v.config["head"] == case.cfg["head"]
    nonzero, stored = v.loop_macs
    assert 0 < nonzero <= stored


def test_conditioning(case):
    mu, aux = case.vocoder.conditioning(case.mel)
    assert mu.shape == case.mels_up.shape and aux.shape == case.aux.shape
    assert np.abs(mu - case.mels_up).max() <= COND_REL * max(1.0, np.abs(case.mels_up).max())
    assert np.abs(aux - case.aux).max() <= COND_REL * max(1.0, np.abs(case.aux).max())


def test_teacher_forced_logits(case, isas):
    ref = case.tf_logits
    for isa in isas:
        sparsewave.set_isa(isa)
        lg = case.vocoder.logits(case.mel, case.audio).astype(np.float64)
        assert lg.shape == ref.shape
        rel = np.abs(lg - ref) / np.maximum(1.0, np.abs(ref))
        assert rel.max() <= LOGIT_REL, f"{isa}: {rel.max():.3g} at step {np.unravel_index(rel.argmax(), rel.shape)[0]}"
        if not case.mol:
            assert np.abs(W.softmax(lg) - W.softmax(ref)).max() <= 1e-5, isa


def _mol_agreement(case, logits, u, y):
    """Engine MOL samples vs the float64 one-uniform rule on the same logits: returns the
    steps compared (component margin comfortable) and the allowed error per step."""
    n_mix = case.cfg["mol_n_mix"]
    x, comp, margin = W.sample_mol_one_uniform(logits, u, n_mix, case.cfg["mol_log_scale_min"])
    ok = margin > ROBUST
    # float32 error of u * total - cdf_below is ~1e-6 of the total; it moves v by ~1e-6 / p_k and
    # x by scale * dv / (v (1 - v)); v >= margin / p_k on the compared steps.
    pi = W.softmax(logits[:, :n_mix])
    p_k = np.take_along_axis(pi, comp[:, None], axis=1)[:, 0]
    scale = np.exp(np.maximum(np.take_along_axis(logits[:, 2 * n_mix:], comp[:, None], axis=1)[:, 0],
                              case.cfg["mol_log_scale_min"]))
    v = np.clip((margin / np.maximum(p_k, 1e-300)), 1e-5, 0.5)
    tol = 1e-5 + scale * 2e-6 / (p_k * v)
    return x, ok, tol


def test_generation_with_given_uniforms(case, isas):
    """Free-running synthesis with the engine; every step is re-derived by the float64 model
    teacher-forced along the engine's own trajectory (no chaos), and must agree wherever the
    sampling decision is not a near-tie."""
    n = case.n_check
    u = case.uniforms
    for isa in _isas_for(case, isas):
        sparsewave.set_isa(isa)
        y = case.vocoder.synthesize(case.mel, uniforms=u)
        assert y.shape == (case.samples,) and y.dtype == np.float32
        assert np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0
        logits = case.teacher_forced(case.fed_back(y), 0, n)
        if case.mol:
            x, ok, tol = _mol_agreement(case, logits, u[:n].astype(np.float64), y[:n])
            assert ok.mean() > 0.75, isa
            err = np.abs(y[:n] - x)
            assert np.all(err[ok] <= tol[ok]), f"{isa}: step {np.argmax(err - tol)} err {err[ok].max():.3g}"
        else:
            k, m = W.sample_softmax_inverse_cdf(logits, u[:n])
            got = case.classes(y[:n])
            if case.cfg["mu_law"]:  # emitted = mu-law decode of the fed-back label float
                assert np.abs(W.decode_mu_law(W.label_to_float(got, case.cfg["bits"]), case.cfg["n_classes"]) - y[:n]).max() < 1e-5
            else:
                assert np.abs(W.label_to_float(got, case.cfg["bits"]) - y[:n]).max() < 1e-6
            robust = m > ROBUST
            assert robust.mean() > 0.75, isa
            assert np.array_equal(got[robust], k[robust]), f"{isa}: steps {np.nonzero(got != k)[0][:5]}"


def test_free_running_prefix_matches_float64_generation(case):
    """The float64 model generating on its own (softmax heads: exact indices) agrees with the
    engine up to the first near-tie; MOL values stay equal within rounding up to there."""
    n = min(case.n_check, 48 if case.full else 96)
    y = case.vocoder.synthesize(case.mel, uniforms=case.uniforms)[:n]
    if case.mol:
        x, comp = W.generate_deterministic(case.p64, case.cfg, case.mels_up[:n], case.aux[:n],
                                           case.uniforms[:n], mol_one_uniform=True)
        logits = case.teacher_forced(x, 0, n)
        _, _, margin = W.sample_mol_one_uniform(logits, case.uniforms[:n].astype(np.float64), case.cfg["mol_n_mix"])
        tie = np.nonzero(margin <= ROBUST)[0]
        stop = int(tie[0]) if tie.size else n
        assert np.abs(y[:stop] - x[:stop]).max(initial=0) < 1e-3
    else:
        s, k = W.generate_deterministic(case.p64, case.cfg, case.mels_up[:n], case.aux[:n], case.uniforms[:n])
        got = case.classes(y)
        logits = case.teacher_forced(W.label_to_float(k, case.cfg["bits"]), 0, n)
        _, margin = W.sample_softmax_inverse_cdf(logits, case.uniforms[:n])
        diff = np.nonzero(got != k)[0]
        if diff.size:
            assert margin[diff[0]] < ROBUST, f"first difference at {diff[0]}, margin {margin[diff[0]]}"
        assert np.allclose(y, s, atol=1e-5)


def test_batched_generation_per_fold(case, isas):
    """overlap=0: the output is the concatenation of the folds, each generated from the zero state
    at i * target; each fold is re-derived by the float64 model on its conditioning window."""
    target = case.target
    layout = case.vocoder.fold_layout(case.mel.shape[0], target, 0)
    n_folds = -(-case.samples // target)
    assert layout == [(i * target, target) for i in range(n_folds)]
    rng = np.random.default_rng(7)
    uni = rng.random((n_folds, target)).astype(np.float32)
    check = min(target, 40 if case.full else 60)  # steps re-derived per fold
    for isa in _isas_for(case, isas):
        sparsewave.set_isa(isa)
        y = case.vocoder.synthesize(case.mel, batched=True, target=target, overlap=0, threads=2, uniforms=uni)
        assert y.shape == (case.samples,)
        for i in range(n_folds):
            fold = y[i * target:(i + 1) * target][:check]
            n = fold.size
            logits = case.teacher_forced(case.fed_back(fold), i * target, n)
            if case.mol:
                x, ok, tol = _mol_agreement(case, logits, uni[i, :n].astype(np.float64), fold)
                assert np.all(np.abs(fold - x)[ok] <= tol[ok]), (isa, i)
            else:
                k, m = W.sample_softmax_inverse_cdf(logits, uni[i, :n])
                robust = m > ROBUST
                assert np.array_equal(case.classes(fold)[robust], k[robust]), (isa, i)


def _mol_nll_bits(logits: np.ndarray, x: np.ndarray, n_mix: int, log_scale_min: float) -> np.ndarray:
    """fatchord's discretized_mix_logistic_loss (65,536 bins over [-1, 1]) per sample, in bits."""
    half_bin = 1.0 / 65535.0
    pi, means = logits[:, :n_mix], logits[:, n_mix:2 * n_mix]
    log_s = np.maximum(logits[:, 2 * n_mix:], log_scale_min)
    c = x[:, None] - means
    inv = np.exp(-log_s)
    plus, minus, mid = inv * (c + half_bin), inv * (c - half_bin), inv * c
    softplus = lambda t: np.logaddexp(0.0, t)  # noqa: E731
    with np.errstate(divide="ignore"):
        delta = 1.0 / (1.0 + np.exp(-plus)) - 1.0 / (1.0 + np.exp(-minus))
        inner = np.where(delta > 1e-5, np.log(np.maximum(delta, 1e-12)),
                         mid - log_s - 2.0 * softplus(mid) - np.log(65535.0 / 2.0))
    lp = np.where(x[:, None] < -0.999, plus - softplus(plus), np.where(x[:, None] > 0.999, -softplus(minus), inner))
    lp = lp + pi - np.log(np.exp(pi - pi.max(1, keepdims=True)).sum(1, keepdims=True)) - pi.max(1, keepdims=True)
    m = lp.max(1, keepdims=True)
    return -(m[:, 0] + np.log(np.exp(lp - m).sum(1))) / np.log(2.0)


def test_nll(case):
    nll = case.vocoder.nll(case.mel, case.audio)
    assert np.isfinite(nll) and nll > 0
    if case.mol:
        ref = _mol_nll_bits(case.tf_logits, case.fed, case.cfg["mol_n_mix"], case.cfg["mol_log_scale_min"]).mean()
    else:
        lg = case.tf_logits
        logp = lg - lg.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        ref = -logp[np.arange(lg.shape[0]), case.labels].mean() / np.log(2.0)
    assert nll == pytest.approx(ref, rel=1e-3, abs=1e-3)


def test_dense_and_packed_storage_load_the_same_model(workdir):
    cfg = _small_fatchord("RAW", 64, 48, 16, 16, 1, [2, 4], 8, 2)
    params = random_params(cfg, 3, (4, 4, 0.2))
    packed = save_model(workdir / "packed.sw", params, cfg)
    dense = save_model(workdir / "dense.sw", params, cfg, pack_sparse=False)
    from safetensors import safe_open
    with safe_open(str(packed), framework="numpy") as f:
        assert "rnn1.weight_hh_l0.bsr_values" in f.keys() and "rnn1.weight_hh_l0" not in f.keys()
    with safe_open(str(dense), framework="numpy") as f:
        assert "rnn1.weight_hh_l0" in f.keys()
    mel = np.random.default_rng(0).uniform(0, 1, (6, 8)).astype(np.float32)
    audio = np.random.default_rng(1).uniform(-1, 1, 48).astype(np.float32)
    a, b = sparsewave.Vocoder.load(packed), sparsewave.Vocoder.load(dense)
    assert np.array_equal(a.logits(mel, audio), b.logits(mel, audio))
    assert np.array_equal(a.synthesize(mel, seed=5), b.synthesize(mel, seed=5))
