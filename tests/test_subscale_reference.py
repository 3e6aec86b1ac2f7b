"""The Subscale WaveRNN reference (tests/subscale_reference.py) against docs/subscale.md:
fold/unfold, the schedule's dependency graph, the reference generator's reads, determinism,
and B = 1 being the plain dual-softmax WaveRNN."""
from collections import deque

import numpy as np
import pytest

import subscale_reference as sub
from reference_models import dual_softmax_numpy as ds_ref

GRAPH_CASES = [  # B, F, K, T
    (1, 1, 4, 9),
    (2, 1, 3, 10),
    (4, 2, 5, 12),
    (4, 3, 0, 7),    # no look-back: only the horizon and the row above
    (8, 2, 16, 9),   # T < (B - 1) F: sub-tensors that never run side by side
    (16, 8, 32, 40),  # the defaults' B and F
]


# ---------------------------------------------------------------- (a) fold / unfold

@pytest.mark.parametrize("B", [1, 2, 3, 16])
@pytest.mark.parametrize("L", [1, 15, 16, 17, 100, 257])
def test_fold_unfold_round_trip(B, L, rng):
    x = rng.standard_normal(L)
    g = sub.fold(x, B)
    T = -(-L // B)
    assert g.shape == (B, T)
    assert np.array_equal(sub.unfold(g, L), x)
    for t in range(L):  # the definition, sample by sample
        assert g[t % B, t // B] == x[t]
    assert np.all(g.T.reshape(-1)[L:] == 0)  # padding is zeros, at the end only


# ---------------------------------------------------------------- (b) dependency graph

def _reads_by_availability(B, F, K, T, b, j):
    """The spec's rule written out a second, independent way (by case, not by step)."""
    out = []
    for bb in range(B):
        for jj in range(max(0, j - K), min(T, j + F)):
            if bb == b:
                ok = jj < j
            elif bb < b:
                ok = True  # up to j + F - 1, the window's right edge
            else:
                ok = jj < j - (bb - b) * F
            if ok:
                out.append((bb, jj))
    return sorted(out)


def _topological_order_exists(nodes, edges):
    """Kahn's algorithm; edges: node -> nodes it reads (its predecessors)."""
    indeg = {v: len(edges[v]) for v in nodes}
    users = {v: [] for v in nodes}
    for v in nodes:
        for w in edges[v]:
            users[w].append(v)
    q = deque(v for v in nodes if indeg[v] == 0)
    seen = 0
    while q:
        v = q.popleft()
        seen += 1
        for u in users[v]:
            indeg[u] -= 1
            if indeg[u] == 0:
                q.append(u)
    return seen == len(nodes)


@pytest.mark.parametrize("B,F,K,T", GRAPH_CASES)
def test_schedule_covers_every_sample_once(B, F, K, T):
    sched = sub.schedule(B, F, T)
    assert len(sched) == T + (B - 1) * F == sub.n_steps(B, F, T)
    flat = [bj for step in sched for bj in step]
    assert sorted(flat) == [(b, j) for b in range(B) for j in range(T)]
    for s, step in enumerate(sched):
        assert len(step) <= B
        for b, j in step:
            assert sub.step_of(b, j, F) == s
    if T > (B - 1) * F:  # after the ramp, all B advance together
        assert all(len(sched[s]) == B for s in range((B - 1) * F, T))
    # column 0 of the grid (waveform samples 0..B-1) is complete after the ramp
    assert max(sub.step_of(b, 0, F) for b in range(B)) == sub.first_audio_step(B, F) == (B - 1) * F


@pytest.mark.parametrize("B,F,K,T", GRAPH_CASES)
def test_dependency_graph(B, F, K, T):
    nodes = [(b, j) for b in range(B) for j in range(T)]
    edges = {v: sub.read_targets(B, F, K, T, *v) for v in nodes}
    assert _topological_order_exists(nodes, edges)
    for (b, j), targets in edges.items():
        assert sorted(targets) == _reads_by_availability(B, F, K, T, b, j)
        s = sub.step_of(b, j, F)
        for bb, jj in targets:
            assert sub.step_of(bb, jj, F) < s  # strictly earlier step
            assert -K <= jj - j <= F - 1  # inside the window
        # the horizon is reached exactly: earlier sub-tensors up to j + F - 1
        for bb in range(b):
            got = max((jj for b2, jj in targets if b2 == bb), default=None)
            assert got == min(j + F - 1, T - 1)
        # and nothing at or past the horizon's edge is ever one step early
        assert all(jj <= j + F - 1 for bb, jj in targets if bb < b)
        own = [jj for bb, jj in targets if bb == b]
        assert own == list(range(max(0, j - K), j))  # own past, the K most recent
        for bb in range(b + 1, B):
            later = [jj for b2, jj in targets if b2 == bb]
            assert later == list(range(max(0, j - K), max(0, j - (bb - b) * F)))
    # With the window removed (K, F unbounded) the rule alone is still a strict order:
    # reads point to strictly earlier steps, so every cycle would need s < s.


@pytest.mark.parametrize("B,F,K,T", [(4, 2, 5, 12), (8, 3, 9, 11)])
def test_mask_is_relative_and_static(B, F, K, T):
    # The window mask depends on (b, b', d) only: the engine can hold one B x B x (K + F) table.
    for b in range(B):
        m = sub.window_mask(B, F, K, b)
        for j in range(K, T - F):  # away from the grid's edges
            got = {(bb, jj - j) for bb, jj in sub.read_targets(B, F, K, T, b, j)}
            assert got == {(bb, d) for bb in range(B) for i, d in enumerate(range(-K, F)) if m[bb, i]}


SMALL = dict(hidden=16, context_channels=6, context_layers=4, n_mels=5, hop_length=4)


def _model(B, F, K, seed=0):
    return sub.random_subscale(seed=seed, sub_tensors=B, horizon=F, lookback=K, **SMALL)


@pytest.mark.parametrize("B,F,K,L", [(4, 2, 5, 43), (8, 1, 3, 50), (3, 4, 6, 31)])
def test_generator_reads_only_generated_samples(B, F, K, L, rng, monkeypatch):
    params, cfg = _model(B, F, K)
    T = sub.n_positions(L, B)
    mels = rng.standard_normal((-(-L // cfg["hop_length"]), cfg["n_mels"]))
    u = rng.random((T * B, 2))
    out = sub.run(params, cfg, mels, L, uniforms=u, record_reads=True)  # ungenerated slots are NaN
    assert np.all(np.isfinite(out["logits"])) and np.all(np.isfinite(out["audio"]))
    for (b, j), targets in out["reads"].items():
        for bb, jj in targets:
            assert out["step"][jj * B + bb] < out["step"][j * B + b]
    assert sorted(out["reads"]) == [(b, j) for b in range(B) for j in range(T)]
    # The poison can fail: a mask one step late (each row may read the sample of the same step,
    # written after the reads, e.g. its own (b, j)) reads NaN.
    def one_step_late(B_, F_, K_, b):
        return np.arange(-K_, F_)[None, :] < (b - np.arange(B_))[:, None] * F_ + 1
    monkeypatch.setattr(sub, "window_mask", one_step_late)
    bad = sub.run(params, cfg, mels, L, uniforms=u)
    assert not np.all(np.isfinite(bad["logits"]))


@pytest.mark.parametrize("B,F,K", [(4, 2, 5), (2, 3, 4)])
def test_teacher_forcing_sees_what_generation_saw(B, F, K, rng):
    # Teacher forcing fills the whole grid at once; only the mask keeps the future out. The
    # logits equal those of the free run that produced the audio: no read of the future, and
    # no generated sample missing from a window.
    params, cfg = _model(B, F, K, seed=3)
    L = 12 * B
    mels = rng.standard_normal((L // cfg["hop_length"], cfg["n_mels"]))
    free = sub.run(params, cfg, mels, L, uniforms=rng.random((L, 2)))
    forced = sub.run(params, cfg, mels, L, audio=free["audio"])
    np.testing.assert_allclose(forced["logits"], free["logits"], rtol=1e-12, atol=1e-12)
    assert np.array_equal(forced["coarse"], free["coarse"]) and np.array_equal(forced["fine"], free["fine"])


# ---------------------------------------------------------------- (c) determinism, length

@pytest.mark.parametrize("L", [37, 48])
def test_generator_is_deterministic_and_has_length_L(L, rng):
    B, F, K = 4, 2, 6
    params, cfg = _model(B, F, K, seed=1)
    T = sub.n_positions(L, B)
    mels = rng.standard_normal((-(-L // cfg["hop_length"]), cfg["n_mels"]))
    u = rng.random((T * B, 2))
    a, b = sub.run(params, cfg, mels, L, uniforms=u), sub.run(params, cfg, mels, L, uniforms=u)
    assert a["audio"].shape == (L,)
    for k in ("audio", "logits", "coarse", "fine", "margins", "step"):
        assert np.array_equal(a[k], b[k]), k
    assert np.all(np.abs(a["audio"]) <= 1)
    # fold-back: waveform sample t is grid[t % B, t // B], i.e. the bytes drawn for row t of u
    assert np.array_equal(a["audio"], ((a["coarse"] * 256 + a["fine"]) / 32767.5 - 1)[:L])
    # other uniforms, other audio (the uniforms are really used)
    c = sub.run(params, cfg, mels, L, uniforms=rng.random((T * B, 2)))
    assert not np.array_equal(a["audio"], c["audio"])
    with pytest.raises(ValueError, match="uniforms"):
        sub.run(params, cfg, mels, L, uniforms=u[:L - 1])


def test_context_changes_the_output(rng):
    # The context term really enters (so the tests above would notice a wrong window).
    params, cfg = _model(4, 2, 5, seed=2)
    L = 40
    mels = rng.standard_normal((10, cfg["n_mels"]))
    audio = np.clip(rng.standard_normal(L) * 0.3, -1, 1)
    zero = dict(params, **{"ctx.proj.weight": np.zeros_like(params["ctx.proj.weight"])})
    a = sub.run(params, cfg, mels, L, audio=audio)["logits"]
    z = sub.run(zero, cfg, mels, L, audio=audio)["logits"]
    assert np.max(np.abs(a - z)) > 1e-3


# ---------------------------------------------------------------- (d) B = 1

def test_b1_is_plain_autoregressive_order():
    T, K = 20, 5
    sched = sub.schedule(1, 7, T)
    assert sched == [[(0, t)] for t in range(T)]
    for t in range(T):
        assert sub.read_targets(1, 7, K, T, 0, t) == [(0, tt) for tt in range(max(0, t - K), t)]


def test_b1_without_context_is_the_dual_softmax_reference(rng):
    params, cfg = _model(1, 1, 4, seed=4)
    params = dict(params, **{"ctx.proj.weight": np.zeros_like(params["ctx.proj.weight"]),
                             "ctx.proj.bias": np.zeros_like(params["ctx.proj.bias"])})
    n_frames = 9
    L = n_frames * cfg["hop_length"]
    mels = rng.standard_normal((n_frames, cfg["n_mels"]))
    u = rng.random((L, 2))
    got = sub.run(params, cfg, mels, L, uniforms=u)
    logits, c, f, margins = ds_ref.run(params, cfg, mels, uniforms=u)
    np.testing.assert_allclose(got["logits"], logits, rtol=1e-12, atol=1e-12)
    assert np.array_equal(got["coarse"], c) and np.array_equal(got["fine"], f)
    np.testing.assert_allclose(got["audio"], (c * 256 + f) / 32767.5 - 1, rtol=0, atol=0)


def test_config_is_checked():
    with pytest.raises(ValueError, match="receptive field"):
        sub.subscale_config(16, horizon=8, lookback=25, context_layers=5)  # 33 > 32 columns
    with pytest.raises(ValueError, match="hidden"):
        sub.subscale_config(15)
    cfg = sub.subscale_config(896)
    assert (cfg["sub_tensors"], cfg["horizon"], cfg["lookback"]) == (16, 8, 24)
