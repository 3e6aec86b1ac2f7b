"""The Subscale WaveRNN reference (tests/subscale_reference.py) against docs/subscale.md:
fold/unfold, the schedule, the skewed context stack and its reads (explicit dependency graph,
NaN poisoning, perturbation), teacher forcing, B = 1 being the plain dual-softmax WaveRNN,
and sparsewave.subscale's config and random models."""
from collections import deque
from functools import lru_cache

import numpy as np
import pytest

import subscale_reference as sub
from reference_models import dual_softmax_numpy as ds_ref
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.subscale import SUBSCALE_LIMITS, random_subscale, subscale_config, write_random_subscale
from sparsewave.weights import load_model_tensors, save_model

GRAPH_CASES = [  # B, F, D, T
    (1, 1, 2, 9),
    (2, 1, 0, 10),   # D = 0: the stack sees one column, s - 1
    (4, 2, 3, 12),
    (4, 3, 1, 7),    # F > 2^D: row b - 1 at position j is out of sight
    (3, 4, 2, 10),   # F = 2^D: just in sight
    (8, 2, 2, 9),    # T < (B - 1) F: sub-tensors that never run side by side
    (16, 8, 6, 40),  # the defaults' B, F, D
]

SMALL = dict(context_channels=6, context_features=3, n_mels=5, hop_length=4)


def _model(B, F, D, seed=0, hidden=16):
    tensors, cfg = random_subscale(hidden, seed=seed, sub_tensors=B, horizon=F, context_layers=D, **SMALL)
    return {k: v.astype(np.float64) for k, v in tensors.items()}, cfg


def _mels(rng, L, cfg):
    return rng.standard_normal((-(-L // cfg["hop_length"]), cfg["n_mels"]))


# ---------------------------------------------------------------- fold / unfold / schedule

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


@pytest.mark.parametrize("B,F,D,T", GRAPH_CASES)
def test_schedule_covers_every_sample_once(B, F, D, T):
    sched = sub.schedule(B, F, T)
    assert len(sched) == T + (B - 1) * F == sub.n_steps(B, F, T)
    flat = [bj for step in sched for bj in step]
    assert sorted(flat) == [(b, j) for b in range(B) for j in range(T)]
    for s, step in enumerate(sched):
        assert [b for b, _ in step] == list(sub.active_range(B, F, T, s))  # the doc's closed form
        for b, j in step:
            assert sub.step_of(b, j, F) == s
    if T > (B - 1) * F:  # after the ramp, all B advance together
        assert all(len(sched[s]) == B for s in range((B - 1) * F, T))
    # grid column 0 (waveform samples 0..B-1) is complete after (B - 1) F + 1 steps
    done = 1 + max(sub.step_of(b, 0, F) for b in range(B))
    assert done == sub.steps_to_first_audio(B, F) == (B - 1) * F + 1


# ---------------------------------------------------------------- reads: the dependency graph

def _reads_by_rows(B, F, D, T, b, j):
    """docs/subscale.md's rule, row by row: row b' at positions j + (b - b') F - 2^D .. j + (b - b') F - 1."""
    out = []
    for bb in range(B):
        top = j + (b - bb) * F - 1
        out += [(bb, jj) for jj in range(max(0, top + 1 - 2 ** D), min(T - 1, top) + 1)]
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


@pytest.mark.parametrize("B,F,D,T", GRAPH_CASES)
def test_dependency_graph(B, F, D, T):
    nodes = [(b, j) for b in range(B) for j in range(T)]
    edges = {v: sub.read_targets(B, F, D, T, *v) for v in nodes}
    assert _topological_order_exists(nodes, edges)
    for (b, j), targets in edges.items():
        assert targets == _reads_by_rows(B, F, D, T, b, j)
        s = sub.step_of(b, j, F)
        assert all(s - 2 ** D <= sub.step_of(bb, jj, F) < s for bb, jj in targets)  # strictly earlier
        assert [jj for bb, jj in targets if bb == b] == list(range(max(0, j - 2 ** D), j))  # own past
        for bb in range(b + 1, B):  # a later sub-tensor: only what it has already generated
            assert all(sub.step_of(bb, jj, F) < s for b2, jj in targets if b2 == bb)


def test_kahn_can_fail():
    # A read of the sample's own step (a self-loop, or two samples of one step) is a cycle.
    nodes = [(0, 0), (1, 0), (0, 1)]
    assert not _topological_order_exists(nodes, {(0, 0): [], (1, 0): [(0, 1)], (0, 1): [(1, 0)]})
    assert _topological_order_exists(nodes, {(0, 0): [], (1, 0): [(0, 0)], (0, 1): [(1, 0), (0, 0)]})


@pytest.mark.parametrize("D", [1, 2, 3])
@pytest.mark.parametrize("dF", [-1, 0, 1])
def test_previous_row_at_own_position_iff_horizon_within_field(D, dF):
    # (b - 1, j) is waveform time t - 1, generated F steps before (b, j); the top sees the last
    # 2^D columns, so it is in sight iff F <= 2^D (docs/subscale.md advises F < 2^D).
    F = 2 ** D + dF
    if F < 1:
        return
    B, T = 4, 3 * F + 2 ** D + 2
    for b in range(1, B):
        for j in range(T):
            assert ((b - 1, j) in sub.read_targets(B, F, D, T, b, j)) == (F <= 2 ** D)


def test_b1_is_plain_autoregressive_order():
    T, D = 20, 2
    assert sub.schedule(1, 7, T) == [[(0, t)] for t in range(T)]
    for t in range(T):
        assert sub.read_targets(1, 7, D, T, 0, t) == [(0, tt) for tt in range(max(0, t - 4), t)]


# ---------------------------------------------------------------- the stack itself

def _stack_by_recursion(p, cfg, Z, s):
    """docs/subscale.md's e_l[s'] written as a memoised recursion, column by column."""
    D = cfg["context_layers"]

    @lru_cache(maxsize=None)
    def e(layer, col):
        if col < 0:
            return np.zeros(cfg["context_channels"])
        if layer == 0:
            return np.maximum(p["ctx.in.weight"] @ Z[:, col] + p["ctx.in.bias"], 0)
        w, prev = p[f"ctx.conv{layer - 1}.weight"], e(layer - 1, col)
        older = e(layer - 1, col - 2 ** (layer - 1))
        return prev + np.maximum(w[:, :, 0] @ older + w[:, :, 1] @ prev + p[f"ctx.conv{layer - 1}.bias"], 0)

    return e(D, s - 1) if s > 0 else np.zeros(cfg["context_channels"])


@pytest.mark.parametrize("B,F,D", [(3, 2, 3), (1, 1, 0), (4, 5, 2)])
def test_stack_is_the_documented_recursion(B, F, D, rng):
    p, cfg = _model(B, F, D, seed=5)
    Z = np.clip(rng.standard_normal((B, 20)), -1, 1)
    for s in range(21):
        np.testing.assert_allclose(sub.stack_top(p, cfg, Z[:, :s]), _stack_by_recursion(p, cfg, Z, s),
                                   rtol=1e-13, atol=1e-13)


def test_read_columns_is_the_skewed_grid(rng):
    B, F, T = 3, 2, 5
    grid = rng.standard_normal((B, T))
    Z = sub.read_columns(grid, F, T + (B - 1) * F)
    for s in range(Z.shape[1]):
        for b in range(B):
            assert Z[b, s] == (grid[b, s - b * F] if 0 <= s - b * F < T else 0.0)


def _linear_context(p):
    """Context weights that keep every relu open (positive weights, biases above any negative
    input): the stack is then affine in the columns with all coefficients > 0, so the context
    of a sample changes with every slot it can depend on, and with no other."""
    p = dict(p)
    w_in = np.abs(p["ctx.in.weight"]) + 0.1
    p["ctx.in.weight"], p["ctx.in.bias"] = w_in, w_in.sum(1) + 0.5
    for k in [k for k in p if k.startswith("ctx.conv") or k.startswith("ctx.out")]:
        p[k] = np.abs(p[k]) + 0.05
    return p


@pytest.mark.parametrize("B,F,D,T", [(3, 2, 2, 7), (2, 3, 1, 8), (4, 1, 0, 5)])
def test_reads_are_what_the_context_depends_on(B, F, D, T, rng):
    # Teacher forcing: change one waveform sample, see which samples' context terms move.
    p, cfg = _model(B, F, D, seed=7)
    p = _linear_context(p)
    L = T * B
    mels = _mels(rng, L, cfg)
    audio = rng.uniform(-0.5, 0.5, L)
    base = sub.run(p, cfg, mels, L, audio=audio, record_reads=True)
    for bb in range(B):
        for jj in range(T):
            moved = audio.copy()
            moved[jj * B + bb] += 0.4 if moved[jj * B + bb] < 0 else -0.4
            ctx = sub.run(p, cfg, mels, L, audio=moved)["ctx"]
            changed = {(t % B, t // B) for t in np.nonzero(np.any(ctx != base["ctx"], axis=1))[0]}
            assert changed == {bj for bj, targets in base["reads"].items() if (bb, jj) in targets}


# ---------------------------------------------------------------- the generator

@pytest.mark.parametrize("B,F,D,L,fused", [(4, 2, 3, 43, False), (8, 1, 2, 50, False), (3, 4, 1, 31, False),
                                           (1, 1, 2, 9, False), (4, 2, 3, 43, True), (8, 1, 2, 50, True),
                                           (2, 3, 1, 31, True)])
def test_generator_reads_only_generated_samples(B, F, D, L, fused, rng, monkeypatch):
    p, cfg = (_fused if fused else _model)(B, F, D)
    T = sub.n_positions(L, B)
    mels = _mels(rng, L, cfg)
    u = rng.random((T * B, 2))
    out = sub.run(p, cfg, mels, L, uniforms=u, record_reads=True)  # ungenerated slots are NaN
    assert np.all(np.isfinite(out["logits"])) and np.all(np.isfinite(out["audio"]))
    assert sorted(out["reads"]) == [(b, j) for b in range(B) for j in range(T)]
    for (b, j), targets in out["reads"].items():
        assert all(out["step"][jj * B + bb] < out["step"][j * B + b] for bb, jj in targets)
    if fused:  # both members of each pair: one step
        pairs = out["step"].reshape(T, B // 2, 2)
        assert np.array_equal(pairs[..., 0], pairs[..., 1])
    # The poison can fail: a stack one column late (its top on the current step's column,
    # written after the reads) reads NaN.
    columns = sub.read_columns
    monkeypatch.setattr(sub, "read_columns", lambda grid, F_, s, *m: columns(grid, F_, s + 1, *m))
    bad = sub.run(p, cfg, mels, L, uniforms=u)
    assert not np.all(np.isfinite(bad["logits"]))


@pytest.mark.parametrize("B,F,D", [(4, 2, 3), (2, 3, 1), (3, 1, 2)])
def test_teacher_forcing_sees_what_generation_saw(B, F, D, rng):
    # Teacher forcing fills the whole grid at once; only the columns keep the future out. The
    # logits equal those of the free run that produced the audio.
    p, cfg = _model(B, F, D, seed=3)
    T = 12
    L = T * B - (B - 1)  # B - 1 padded slots at the end of the grid
    mels = _mels(rng, L, cfg)
    free = sub.run(p, cfg, mels, L, uniforms=rng.random((T * B, 2)))
    forced = sub.run(p, cfg, mels, L, audio=free["audio"])
    # The padded tail is not in the audio: teacher forcing feeds zeros there, generation its own
    # draws. Everything generated before the first padded slot's step agrees.
    pad_step = free["step"][L:].min()
    early = free["step"] < pad_step
    assert early.sum() > L // 2
    np.testing.assert_allclose(forced["logits"][early], free["logits"][early], rtol=1e-12, atol=1e-12)
    assert np.array_equal(forced["coarse"][:L], free["coarse"][:L])
    assert np.array_equal(forced["fine"][:L], free["fine"][:L])


@pytest.mark.parametrize("fused", [False, True])
def test_teacher_forcing_reproduces_generation_without_padding(fused, rng):
    B, F, D = 4, 2, 3
    p, cfg = (_fused if fused else _model)(B, F, D, seed=3)
    L = 10 * B
    mels = _mels(rng, L, cfg)
    free = sub.run(p, cfg, mels, L, uniforms=rng.random((L, 2)))
    forced = sub.run(p, cfg, mels, L, audio=free["audio"])
    np.testing.assert_allclose(forced["logits"], free["logits"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forced["ctx"], free["ctx"], rtol=1e-12, atol=1e-12)
    assert np.array_equal(forced["coarse"], free["coarse"]) and np.array_equal(forced["fine"], free["fine"])


@pytest.mark.parametrize("L", [37, 48])
def test_generator_is_deterministic_and_has_length_L(L, rng):
    p, cfg = _model(4, 2, 3, seed=1)
    T = sub.n_positions(L, 4)
    mels = _mels(rng, L, cfg)
    u = rng.random((T * 4, 2))
    a, b = sub.run(p, cfg, mels, L, uniforms=u), sub.run(p, cfg, mels, L, uniforms=u)
    assert a["audio"].shape == (L,)
    for k in ("audio", "logits", "coarse", "fine", "margins", "step", "ctx"):
        assert np.array_equal(a[k], b[k]), k
    assert np.all(np.abs(a["audio"]) <= 1)
    # fold-back: waveform sample t is grid[t % B, t // B], i.e. the bytes drawn for row t of u
    assert np.array_equal(a["audio"], ((a["coarse"] * 256 + a["fine"]) / 32767.5 - 1)[:L])
    c = sub.run(p, cfg, mels, L, uniforms=rng.random((T * 4, 2)))
    assert not np.array_equal(a["audio"], c["audio"])  # the uniforms are really used
    with pytest.raises(ValueError, match="uniforms"):
        sub.run(p, cfg, mels, L, uniforms=u[:L - 1])


def test_context_changes_the_output(rng):
    # The context term really enters (so the tests above would notice a wrong stack).
    p, cfg = _model(4, 2, 3, seed=2)
    L = 40
    audio = np.clip(rng.standard_normal(L) * 0.3, -1, 1)
    mels = _mels(rng, L, cfg)
    zero = dict(p, **{"ctx.proj.weight": np.zeros_like(p["ctx.proj.weight"])})
    a = sub.run(p, cfg, mels, L, audio=audio)
    z = sub.run(zero, cfg, mels, L, audio=audio)
    assert np.all(z["ctx"] == 0) and np.max(np.abs(a["logits"] - z["logits"])) > 1e-3


@pytest.mark.parametrize("b", [0, 2])
def test_each_sub_tensor_reads_its_own_features(b, rng):
    # Sub-tensor b's context term comes from features b E .. (b + 1) E - 1 of ctx.out, and only
    # sub-tensor b's: silence those and exactly the samples of row b lose their context.
    B, E = 4, SMALL["context_features"]
    p, cfg = _model(B, 1, 3, seed=6)
    L = 40
    audio = np.clip(rng.standard_normal(L) * 0.3, -1, 1)
    mels = _mels(rng, L, cfg)
    mute = dict(p)
    for k in ("ctx.out.weight", "ctx.out.bias"):
        mute[k] = p[k].copy()
        mute[k][b * E:(b + 1) * E] = 0
    a = sub.run(p, cfg, mels, L, audio=audio)["ctx"]
    m = sub.run(mute, cfg, mels, L, audio=audio)["ctx"]
    row = np.arange(L) % B == b
    assert np.all(m[row] == 0) and np.array_equal(m[~row], a[~row])
    assert np.count_nonzero(np.any(a[row] != 0, axis=1)) > L // B // 2


def test_conditioning_past_the_mel_is_a_zero_mel(rng):
    # L = frames * hop = 36 is not a multiple of B = 5: grid rows 36..39 have no mel row.
    B, F, D = 5, 1, 2
    p, cfg = _model(B, F, D, seed=4)
    mels = rng.standard_normal((9, cfg["n_mels"]))
    rows = sub.conditioning_rows(p, cfg, mels, 40)
    np.testing.assert_array_equal(rows[36:], np.broadcast_to(p["cond.bias"], (4, len(p["cond.bias"]))))
    u = rng.random((40, 2))
    a = sub.run(p, cfg, mels, uniforms=u)  # L defaults to frames * hop
    b = sub.run(p, cfg, np.vstack([mels, np.zeros((1, cfg["n_mels"]))]), 36, uniforms=u)
    assert a["audio"].shape == (36,)
    assert np.array_equal(a["logits"], b["logits"])
    c = sub.run(p, cfg, np.vstack([mels, mels[-1:]]), 36, uniforms=u)  # a repeated last row would differ
    assert not np.array_equal(a["logits"], c["logits"])


# ---------------------------------------------------------------- B = 1

@pytest.mark.parametrize("D", [0, 3])
def test_b1_without_context_is_the_dual_softmax_reference(D, rng):
    p, cfg = _model(1, 1, D, seed=4)
    p["ctx.proj.weight"] = np.zeros_like(p["ctx.proj.weight"])
    mels = rng.standard_normal((9, cfg["n_mels"]))
    L = 9 * cfg["hop_length"]
    u = rng.random((L, 2))
    got = sub.run(p, cfg, mels, L, uniforms=u)
    logits, c, f, margins = ds_ref.run(p, cfg, mels, uniforms=u)
    np.testing.assert_allclose(got["logits"], logits, rtol=1e-12, atol=1e-12)
    assert np.array_equal(got["coarse"], c) and np.array_equal(got["fine"], f)
    np.testing.assert_array_equal(got["margins"], margins)
    np.testing.assert_allclose(got["audio"], (c * 256 + f) / 32767.5 - 1, rtol=0, atol=0)


# ---------------------------------------------------------------- sparsewave.subscale

def test_config_defaults():
    cfg = subscale_config(896)
    assert cfg["family"] == "subscale"
    assert [cfg[k] for k in ("sub_tensors", "horizon", "context_channels", "context_layers",
                             "context_features")] == [16, 8, 64, 6, 8]
    assert (cfg["hidden"], cfg["output_hidden"], cfg["n_mels"], cfg["hop_length"]) == (896, 448, 80, 300)
    assert "lookback" not in cfg


@pytest.mark.parametrize("key", sorted(SUBSCALE_LIMITS))
def test_config_limits(key):
    lo, hi = SUBSCALE_LIMITS[key]
    for ok in (lo, hi):
        assert subscale_config(16, **{key: ok})[key] == ok
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match=f"{key} must be in {lo}..{hi}"):
            subscale_config(16, **{key: bad})
    for bad in (2.0, True, "4", None):
        with pytest.raises(ValueError, match=f"{key} must be an integer"):
            subscale_config(16, **{key: bad})


def test_config_keeps_the_dual_softmax_checks():
    with pytest.raises(ValueError, match="hidden"):
        subscale_config(15)
    with pytest.raises(ValueError, match="upsample_kernel"):
        subscale_config(16, upsample="conv", upsample_kernel=4)
    with pytest.raises(TypeError):
        subscale_config(16, lookback=24)  # the old window's key is gone


def test_random_subscale_shapes_and_file_round_trip(tmp_path):
    B, C, D, E, N = 4, 6, 3, 2, 16
    t, cfg = random_subscale(N, 0.5, (4, 4), seed=2, sub_tensors=B, context_channels=C, context_layers=D,
                             context_features=E, n_mels=5, hop_length=4)
    shapes = {"ctx.in.weight": (C, B), "ctx.in.bias": (C,), "ctx.out.weight": (B * E, C),
              "ctx.out.bias": (B * E,), "ctx.proj.weight": (3 * N, E)}
    shapes.update({f"ctx.conv{l}.weight": (C, C, 2) for l in range(D)})
    shapes.update({f"ctx.conv{l}.bias": (C,) for l in range(D)})
    ds, ds_cfg = random_dual_softmax(N, 0.5, (4, 4), seed=2, n_mels=5, hop_length=4)
    assert set(t) == set(shapes) | set(ds) and "ctx.proj.bias" not in t
    for k, shape in shapes.items():
        assert t[k].shape == shape and t[k].dtype == np.float32, k
    for k in ds:  # the recurrent core is random_dual_softmax's, unchanged
        assert np.array_equal(t[k], ds[k]), k
    assert {k: v for k, v in cfg.items() if k in ds_cfg and k != "family"} == \
        {k: v for k, v in ds_cfg.items() if k != "family"}
    path = write_random_subscale(tmp_path / "s.sw", N, 0.5, (4, 4), seed=2, sub_tensors=B, context_channels=C,
                                 context_layers=D, context_features=E, n_mels=5, hop_length=4)
    back, back_cfg = load_model_tensors(path)
    assert back_cfg == cfg
    assert set(back) == set(t) and all(np.array_equal(back[k], t[k]) for k in t)
    with pytest.raises(ValueError, match="int8"):
        save_model(tmp_path / "i8.sw", t, cfg, weights="int8")


# ---------------------------------------------------------------- Fused Subscale (pairs, four parts)

FUSED_CASES = [  # B, F, D, T
    (2, 1, 1, 9),
    (4, 2, 3, 12),
    (8, 3, 1, 10),   # F > 2^D
    (6, 2, 2, 5),    # T < (G - 1) F: pairs that never run side by side
    (16, 8, 6, 40),  # the defaults' B, F, D: 8 pairs
]


def _fused(B, F, D, seed=0, hidden=16):
    tensors, cfg = random_subscale(hidden, seed=seed, sub_tensors=B, horizon=F, context_layers=D, fused=True,
                                   **SMALL)
    return {k: v.astype(np.float64) for k, v in tensors.items()}, cfg


@pytest.mark.parametrize("B,F,D,T", FUSED_CASES)
def test_fused_schedule_pairs_share_a_step(B, F, D, T):
    G = B // 2
    sched = sub.schedule(B, F, T, 2)
    assert len(sched) == T + (G - 1) * F == sub.n_steps(B, F, T, 2)
    assert sorted(bj for step in sched for bj in step) == [(b, j) for b in range(B) for j in range(T)]
    for s, step in enumerate(sched):
        assert [b for b, _ in step] == list(sub.active_range(B, F, T, s, 2))
        for b, j in step:  # both members of a pair generate position j at the same step
            assert (b ^ 1, j) in step and sub.step_of(b, j, F, 2) == s
    if T > (G - 1) * F:
        assert all(len(sched[s]) == B for s in range((G - 1) * F, T))
    assert 1 + max(sub.step_of(b, 0, F, 2) for b in range(B)) == sub.steps_to_first_audio(B, F, 2) == (G - 1) * F + 1


@pytest.mark.parametrize("B,F,D,T", FUSED_CASES)
def test_fused_dependency_graph(B, F, D, T):
    # Context reads come from strictly earlier steps; a pair's second member also reads its first
    # member's sample of the same step (through I, after it was drawn): still acyclic.
    nodes = [(b, j) for b in range(B) for j in range(T)]
    edges = {v: sub.read_targets(B, F, D, T, *v, 2) for v in nodes}
    for (b, j), targets in edges.items():
        s = sub.step_of(b, j, F, 2)
        assert all(s - 2 ** D <= sub.step_of(bb, jj, F, 2) < s for bb, jj in targets)
        assert [jj for bb, jj in targets if bb == b] == list(range(max(0, j - 2 ** D), j))  # own past
    within_pair = {v: edges[v] + ([(v[0] - 1, v[1])] if v[0] % 2 else []) for v in nodes}
    assert _topological_order_exists(nodes, within_pair)
    # the other way round (a first member reading its partner's sample of the step) is a cycle
    both_ways = {v: within_pair[v] + ([] if v[0] % 2 else [(v[0] + 1, v[1])]) for v in nodes}
    assert not _topological_order_exists(nodes, both_ways)


@pytest.mark.parametrize("member", [0, 1])
def test_fused_parts_read_only_bytes_drawn_before_them(member, rng):
    # Teacher forcing, one sample changed: within its step, only the parts after the changed
    # bytes move (part order c0, f0, c1, f1); every sample of an earlier step stays.
    B, F, D = 4, 2, 2
    p, cfg = _fused(B, F, D, seed=4)
    T = 8
    L = T * B
    mels = _mels(rng, L, cfg)
    audio = rng.uniform(-0.5, 0.5, L)
    base = sub.run(p, cfg, mels, L, audio=audio)
    j, pair = 3, 1
    t = j * B + 2 * pair + member
    for half in (0, 1):  # change the coarse byte, or only the fine byte
        moved = audio.copy()
        moved[t] += (0.3 if moved[t] < 0 else -0.3) if half == 0 else 3 / 32767.5
        got = sub.run(p, cfg, mels, L, audio=moved)
        assert got["coarse"][t] != base["coarse"][t] if half == 0 else \
            (got["coarse"][t] == base["coarse"][t] and got["fine"][t] != base["fine"][t])
        changed = np.abs(got["logits"] - base["logits"]) > 0  # (L, 512): coarse | fine
        step = base["step"][t]
        assert not changed[base["step"] < step].any()
        order = [(2 * pair, 0), (2 * pair, 1), (2 * pair + 1, 0), (2 * pair + 1, 1)]  # (b, half) by part
        first_reader = order.index((2 * pair + member, half)) + 1
        for q, (b, h) in enumerate(order[:first_reader]):  # this part and those before it
            assert not changed[j * B + b, h * 256:(h + 1) * 256].any(), (q, member, half)
        if first_reader < 4:
            b, h = order[first_reader]
            assert changed[j * B + b, h * 256:(h + 1) * 256].any()  # the next part does read it


def test_fused_random_model_shapes(tmp_path):
    B, C, D, E, N, H = 4, 6, 3, 2, 16, 8
    t, cfg = random_subscale(N, 0.5, (4, 4), seed=2, sub_tensors=B, context_channels=C, context_layers=D,
                             context_features=E, n_mels=5, hop_length=4, fused=True)
    assert cfg["fused"] is True and cfg["output_hidden"] == H
    assert t["I.weight"].shape == (3 * N, 7) and t["ctx.out.weight"].shape == (B // 2 * E, C)
    for part in range(4):
        assert t[f"O{2 * part + 1}.weight"].shape == (H, N // 4)
        assert t[f"O{2 * part + 2}.weight"].shape == (256, H)
    assert "O9.weight" not in t
    back, back_cfg = load_model_tensors(save_model(tmp_path / "f.sw", t, cfg))
    assert back_cfg == cfg and all(np.array_equal(back[k], t[k]) for k in t)
    assert "fused" not in random_subscale(N, n_mels=5, hop_length=4)[1]  # plain files keep their config
    for bad in (dict(sub_tensors=3), dict(sub_tensors=4, hidden=18)):
        hidden = bad.pop("hidden", 16)
        with pytest.raises(ValueError, match="fused"):
            subscale_config(hidden, fused=True, **bad)
    with pytest.raises(ValueError, match="fused"):
        subscale_config(16, fused="yes")
