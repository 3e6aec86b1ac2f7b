"""Float64 NumPy reference of Subscale WaveRNN as specified in docs/subscale.md.

Kalchbrenner et al. 2018, section 5, in our own scheme:

* fold: L samples, zero-padded to T * B, sub-tensor b = x[b::B] (row b of a B x T grid);
* schedule: sample (b, j) is generated at step j + b * F; T + (B - 1) * F steps in all;
* reads: (b, j) may read (b', j') iff that sample is generated at a strictly earlier step
  and -K <= j' - j <= F - 1 (the window), which gives: own past, earlier sub-tensors up to
  j + F - 1 (the horizon), later sub-tensors up to j - (b' - b) * F - 1;
* the context network (masked 1x1 conv over the window's columns, dilated convs, linear
  projection) adds one more term into the gate pre-activations of the dual-softmax GRU
  (tests/reference_models/dual_softmax_numpy.py), which runs batched over the active
  sub-tensors, each with its own state and its own previous sample;
* fold-back: y[j * B + b] = grid[b, j], cut to L.

Straight loops over the definitions, no cleverness: this is what the engine is checked
against, step for step, given uniforms.
"""
from __future__ import annotations

import numpy as np

from reference_models.dual_softmax_numpy import _sigmoid, _softmax, split_bytes, upsample

# ---------------------------------------------------------------- fold / schedule / mask


def n_positions(L: int, B: int) -> int:
    """T: positions per sub-tensor for an utterance of L samples."""
    return -(-L // B)


def fold(x, B: int) -> np.ndarray:
    """(L,) -> (B, T) grid, zero-padded at the end; grid[b, j] = x[j * B + b]."""
    x = np.asarray(x, np.float64)
    T = n_positions(len(x), B)
    return np.pad(x, (0, T * B - len(x))).reshape(T, B).T.copy()


def unfold(grid, L: int) -> np.ndarray:
    """(B, T) grid -> (L,) waveform: interleave the sub-tensors, drop the padding."""
    return np.asarray(grid).T.reshape(-1)[:L].copy()


def step_of(b: int, j: int, F: int) -> int:
    return j + b * F


def n_steps(B: int, F: int, T: int) -> int:
    return T + (B - 1) * F


def schedule(B: int, F: int, T: int):
    """List over steps s of the samples (b, j) generated at s, b ascending."""
    return [[(b, s - b * F) for b in range(B) if 0 <= s - b * F < T] for s in range(n_steps(B, F, T))]


def first_audio_step(B: int, F: int) -> int:
    """Step after which waveform samples 0..B-1 (column 0) are all generated."""
    return (B - 1) * F


def window_mask(B: int, F: int, K: int, b: int) -> np.ndarray:
    """(B, K + F) bool: may sub-tensor b read row b' at column offset d = j' - j (d = -K..F-1)?

    Independent of j except at the grid's edges (see read_targets). Strictly earlier step:
    j' + b' F < j + b F  <=>  d < (b - b') F.
    """
    d = np.arange(-K, F)
    return d[None, :] < (b - np.arange(B))[:, None] * F


def read_targets(B: int, F: int, K: int, T: int, b: int, j: int) -> list:
    """Every (b', j') that sample (b, j) reads: the mask, minus columns outside 0..T-1."""
    m = window_mask(B, F, K, b)
    return [(bb, j + d) for bb in range(B) for i, d in enumerate(range(-K, F))
            if m[bb, i] and 0 <= j + d < T]


def extract_window(grid, B: int, F: int, K: int, b: int, j: int) -> np.ndarray:
    """(B, K + F) context of sample (b, j): grid values where readable, 0 elsewhere.

    Selects (np.where), never multiplies by the mask: a poisoned (NaN) slot that is
    not readable must not leak, and one that is readable must show up.
    """
    T = grid.shape[1]
    cols = j + np.arange(-K, F)
    inside = (cols >= 0) & (cols < T)
    vals = np.zeros((B, K + F))
    vals[:, inside] = grid[:, cols[inside]]
    ok = window_mask(B, F, K, b) & inside[None, :]
    return np.where(ok, vals, 0.0)


# ---------------------------------------------------------------- model


def subscale_config(hidden: int, *, sub_tensors: int = 16, horizon: int = 8, lookback: int = 24,
                    context_channels: int = 32, context_layers: int = 5, n_mels: int = 80,
                    sample_rate: int = 24000, hop_length: int = 300, fused: bool = False) -> dict:
    if hidden < 2 or hidden % 2:
        raise ValueError(f"hidden must be an even number >= 2, got {hidden}")
    if sub_tensors < 1 or horizon < 1 or lookback < 0:
        raise ValueError("need sub_tensors >= 1, horizon >= 1, lookback >= 0")
    if lookback + horizon > 2 ** context_layers:
        raise ValueError(f"the window (lookback + horizon = {lookback + horizon} columns) must fit the "
                         f"dilated stack's receptive field 2 ** context_layers = {2 ** context_layers}")
    return {"family": "subscale", "sample_rate": sample_rate, "hop_length": hop_length, "n_mels": n_mels,
            "hidden": hidden, "output_hidden": hidden // 2, "upsample": "repeat",
            "sub_tensors": sub_tensors, "horizon": horizon, "lookback": lookback,
            "context_channels": context_channels, "context_layers": context_layers, "fused": fused}


def random_subscale(hidden: int, *, seed: int = 0, **cfg_kwargs):
    """(tensors, config): a tiny randomly initialised subscale model (dense, float64)."""
    from sparsewave.dual_softmax import random_dual_softmax

    cfg = subscale_config(hidden, **cfg_kwargs)
    t, _ = random_dual_softmax(hidden, 1.0, seed=seed, n_mels=cfg["n_mels"], hop_length=cfg["hop_length"])
    t = {k: v.astype(np.float64) for k, v in t.items()}
    rng = np.random.default_rng(seed + 1)
    B, C, N = cfg["sub_tensors"], cfg["context_channels"], hidden
    t["ctx.in.weight"] = rng.standard_normal((C, B)) / np.sqrt(B)
    t["ctx.in.bias"] = rng.standard_normal(C) * 0.1
    t["ctx.embed"] = rng.standard_normal((B, C)) * 0.1
    for layer in range(cfg["context_layers"]):
        t[f"ctx.conv{layer}.weight"] = rng.standard_normal((C, C, 2)) / np.sqrt(2 * C)
        t[f"ctx.conv{layer}.bias"] = rng.standard_normal(C) * 0.1
    t["ctx.proj.weight"] = rng.standard_normal((3 * N, C)) / np.sqrt(C)
    t["ctx.proj.bias"] = rng.standard_normal(3 * N) * 0.1
    return t, cfg


def context_net(p, cfg, window, b: int) -> np.ndarray:
    """(B, K + F) masked window of sub-tensor b -> (3N,) gate pre-activation term.

    A causal dilated conv stack (kernel 2, dilations 1, 2, 4, ..., residual) evaluated at its
    one output position, the window's last column: layer l combines columns 2^l apart, so it
    is a binary tree over 2^layers columns. The window is left-padded with masked (zero)
    columns up to that width.
    """
    R = 2 ** cfg["context_layers"]
    x = np.pad(window, ((0, 0), (R - window.shape[1], 0)))
    e = np.maximum(p["ctx.in.weight"] @ x + (p["ctx.in.bias"] + p["ctx.embed"][b])[:, None], 0)  # (C, R)
    for layer in range(cfg["context_layers"]):
        w = p[f"ctx.conv{layer}.weight"]  # (C_out, C_in, 2): tap 0 the older column, tap 1 the newer
        older, newer = e[:, 0::2], e[:, 1::2]
        e = newer + np.maximum(w[:, :, 0] @ older + w[:, :, 1] @ newer + p[f"ctx.conv{layer}.bias"][:, None], 0)
    return p["ctx.proj.weight"] @ e[:, 0] + p["ctx.proj.bias"]


def conditioning_rows(p, cfg, mels, L: int) -> np.ndarray:
    """(T * B, 3N): cond projection for waveform time t = j * B + b; t >= L repeats row L - 1."""
    up = upsample(p, cfg, mels)
    if len(up) < L:
        raise ValueError(f"mels give {len(up)} samples, fewer than L = {L}")
    B = cfg["sub_tensors"]
    t = np.minimum(np.arange(n_positions(L, B) * B), L - 1)
    return up[t] @ p["cond.weight"].T + p["cond.bias"]


def _draw(probs, u):
    cdf = np.cumsum(probs)
    k = min(int(np.searchsorted(cdf, u, side="left")), len(probs) - 1)
    lo = cdf[k - 1] if k > 0 else 0.0
    return k, min(u - lo, cdf[k] - u)


def run(params, cfg, mels, L: int, *, uniforms=None, audio=None, record_reads=False, poison=True):
    """Generate (uniforms (T * B, 2), row t for waveform sample t) or teacher-force (audio (L,)).

    Returns dict: audio (L,), coarse/fine bytes (T * B,), logits (T * B, 512) = [coarse | fine],
    margins (T * B, 2), step (T * B,) the step that produced each sample, and with
    record_reads a dict (b, j) -> list of (b', j') read by the context window.
    When generating, ungenerated grid slots hold NaN (poison): a read of one makes
    everything after it NaN.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    B, F, K, N = cfg["sub_tensors"], cfg["horizon"], cfg["lookback"], cfg["hidden"]
    half = N // 2
    T = n_positions(L, B)
    cond = conditioning_rows(p, cfg, mels, L)
    if audio is not None:
        audio = np.asarray(audio, np.float64)
        if audio.shape != (L,):
            raise ValueError(f"audio must have shape ({L},)")
        cs_all, fs_all = split_bytes(np.pad(audio, (0, T * B - L)))
        grid = fold((cs_all * 256 + fs_all) / 32767.5 - 1, B)  # the values the model would feed back
    else:
        uniforms = np.asarray(uniforms, np.float64)
        if uniforms.shape != (T * B, 2):
            raise ValueError(f"uniforms must have shape ({T * B}, 2)")
        grid = np.full((B, T), np.nan if poison else 0.0)
    I = p["I.weight"].copy()
    for g in range(3):  # c_t only reaches the fine half of every gate
        I[g * N:g * N + half, 2] = 0
    h = np.zeros((B, N))
    prev = np.tile([128, 0], (B, 1))  # each sub-tensor's own previous (c, f)
    n = T * B
    out = {"coarse": np.zeros(n, np.int64), "fine": np.zeros(n, np.int64), "logits": np.zeros((n, 512)),
           "margins": np.full((n, 2), np.inf), "step": np.full(n, -1)}
    reads = {} if record_reads else None
    rows_c, rows_f = np.arange(half), np.arange(half, N)

    def gates(rh, pre, rows):
        u = _sigmoid(rh[:, 0 * N + rows] + pre[:, 0 * N + rows])
        r = _sigmoid(rh[:, 1 * N + rows] + pre[:, 1 * N + rows])
        return u, np.tanh(r * rh[:, 2 * N + rows] + pre[:, 2 * N + rows])

    for s, active in enumerate(schedule(B, F, T)):
        bs = np.array([b for b, _ in active])
        js = np.array([j for _, j in active])
        ts = js * B + bs
        # Everything this step reads is taken before anything is written: the B samples of a
        # step are independent of each other.
        ctx = np.stack([context_net(p, cfg, extract_window(grid, B, F, K, b, j), b) for b, j in active])
        if reads is not None:
            for b, j in active:
                reads[(b, j)] = read_targets(B, F, K, T, b, j)
        x = np.column_stack([prev[bs] / 127.5 - 1, np.zeros(len(bs))])
        pre = x @ I.T + p["I.bias"] + cond[ts] + ctx
        rh = h[bs] @ p["R.weight"].T + p.get("R.bias", 0.0)  # one weight pass, len(bs) vectors
        u_c, e_c = gates(rh, pre, rows_c)
        h_c = u_c * h[bs][:, rows_c] + (1 - u_c) * e_c
        lc = np.maximum(h_c @ p["O1.weight"].T + p["O1.bias"], 0) @ p["O2.weight"].T + p["O2.bias"]
        c = np.zeros(len(bs), np.int64)
        for i, t in enumerate(ts):
            if audio is not None:
                c[i] = cs_all[t]
            else:
                c[i], out["margins"][t, 0] = _draw(_softmax(lc[i]), uniforms[t, 0])
        pre = pre + np.outer(c / 127.5 - 1, I[:, 2])
        u_f, e_f = gates(rh, pre, rows_f)
        h_f = u_f * h[bs][:, rows_f] + (1 - u_f) * e_f
        lf = np.maximum(h_f @ p["O3.weight"].T + p["O3.bias"], 0) @ p["O4.weight"].T + p["O4.bias"]
        f = np.zeros(len(bs), np.int64)
        for i, t in enumerate(ts):
            if audio is not None:
                f[i] = fs_all[t]
            else:
                f[i], out["margins"][t, 1] = _draw(_softmax(lf[i]), uniforms[t, 1])
        h[bs] = np.concatenate([h_c, h_f], axis=1)
        prev[bs] = np.column_stack([c, f])
        grid[bs, js] = (c * 256 + f) / 32767.5 - 1
        out["logits"][ts, :256], out["logits"][ts, 256:] = lc, lf
        out["coarse"][ts], out["fine"][ts], out["step"][ts] = c, f, s
    out["audio"] = unfold(grid, L)
    if reads is not None:
        out["reads"] = reads
    return out
