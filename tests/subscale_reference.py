"""Float64 NumPy reference of Subscale WaveRNN as specified in docs/subscale.md.

Kalchbrenner et al. 2018, section 5, in our own scheme:

* fold: L samples, zero-padded to T * B, sub-tensor b = x[b::B] (row b of a B x T grid);
* schedule: sample (b, j) is generated at step s = j + b * F; T + (B - 1) * F steps in all;
* skewed columns: z[s'][b'] = grid[b', s' - b' F] (0 outside the grid), what step s' generated;
* context: one causal dilated stack (kernel 2, dilations 1 .. 2^(D-1), residual, each layer's
  input zero-padded on the left) over the columns; step s reads its top at column s - 1, so
  only columns of strictly earlier steps; sub-tensor b gets features g[b E:(b + 1) E],
  projected by ctx.proj into its gate pre-activations;
* the recurrent core is the dual-softmax GRU (tests/reference_models/dual_softmax_numpy.py),
  batched over the active sub-tensors, each with its own state and its own previous sample;
* fold-back: y[j * B + b] = grid[b, j], cut to L.

Fused Subscale (``fused: true``, ``members`` M = 2 below; M = 1 otherwise): sub-tensors 2k and
2k + 1 form group k, generated at step j + k F with one state of four parts (coarse and fine of
each member, in that order; part q's byte of this step reaches the parts after q through I's
masked columns); the skew of row b is floor(b / M) F, ctx.out has (B / M) E rows, and a group's
gates read its first member's conditioning row.

Straight loops over the definitions, no cleverness: at every step the whole stack is computed
again over all columns before it (the engine keeps incremental queues; this checks them).
"""
from __future__ import annotations

import numpy as np

from reference_models.dual_softmax_numpy import _sigmoid, _softmax, split_bytes, upsample

# ---------------------------------------------------------------- fold / schedule / reads


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


def step_of(b: int, j: int, F: int, M: int = 1) -> int:
    return j + (b // M) * F


def n_steps(B: int, F: int, T: int, M: int = 1) -> int:
    return T + (B // M - 1) * F


def schedule(B: int, F: int, T: int, M: int = 1):
    """List over steps s of the samples (b, j) generated at s, b ascending."""
    return [[(b, s - (b // M) * F) for b in range(B) if 0 <= s - (b // M) * F < T]
            for s in range(n_steps(B, F, T, M))]


def active_range(B: int, F: int, T: int, s: int, M: int = 1) -> range:
    """The sub-tensors active at step s, by the closed form of docs/subscale.md (over groups)."""
    lo = max(0, -(-(s - T + 1) // F))
    return range(lo * M, (min(B // M - 1, s // F) + 1) * M)


def steps_to_first_audio(B: int, F: int, M: int = 1) -> int:
    """Steps until waveform samples 0..B-1 (grid column 0) are all generated."""
    return (B // M - 1) * F + 1


def receptive_field(D: int) -> int:
    """Columns the stack's top sees: 1 + (1 + 2 + ... + 2^(D-1)) = 2^D."""
    return 2 ** D


def read_targets(B: int, F: int, D: int, T: int, b: int, j: int, M: int = 1) -> list:
    """Every (b', j') the context of sample (b, j) can depend on, sorted.

    Its step s reads the stack's top at column s - 1, which sees columns s - 2^D .. s - 1;
    column s' holds (b', s' - floor(b' / M) F) for each row b' inside the grid.
    """
    s = step_of(b, j, F, M)
    cols = range(max(0, s - receptive_field(D)), s)
    return sorted((bb, c - (bb // M) * F) for c in cols for bb in range(B) if 0 <= c - (bb // M) * F < T)


# ---------------------------------------------------------------- the context stack


def read_columns(grid, F: int, s: int, M: int = 1) -> np.ndarray:
    """(B, s): the skewed columns 0 .. s - 1, z[s'][b'] = grid[b', s' - floor(b' / M) F], 0 outside
    the grid.

    Selects (np.where), never multiplies: a NaN (ungenerated) slot that is read shows up.
    """
    B, T = grid.shape
    j = np.arange(s)[None, :] - ((np.arange(B) // M) * F)[:, None]
    inside = (j >= 0) & (j < T)
    return np.where(inside, grid[np.arange(B)[:, None], np.clip(j, 0, T - 1)], 0.0)


def stack_top(p, cfg, Z) -> np.ndarray:
    """(C,): e_D at the last of the columns Z (B, s), the whole causal stack computed over all s;
    zeros when s = 0 (step 0 has no past)."""
    C = cfg["context_channels"]
    if Z.shape[1] == 0:
        return np.zeros(C)
    e = np.maximum(p["ctx.in.weight"] @ Z + p["ctx.in.bias"][:, None], 0)  # (C, s)
    for layer in range(cfg["context_layers"]):
        d = 2 ** layer
        w = p[f"ctx.conv{layer}.weight"]  # (C_out, C_in, 2): tap 0 the older column, tap 1 the newer
        older = np.pad(e, ((0, 0), (d, 0)))[:, :e.shape[1]]  # e_l[s' - d], zero left of column 0
        e = e + np.maximum(w[:, :, 0] @ older + w[:, :, 1] @ e + p[f"ctx.conv{layer}.bias"][:, None], 0)
    return e[:, -1]


def context_terms(p, cfg, top, bs) -> np.ndarray:
    """(len(bs), 3N): ctx_b = ctx.proj . g[b E:(b + 1) E] for each active group b (a sub-tensor,
    or a fused pair)."""
    E = cfg["context_features"]
    g = np.maximum(p["ctx.out.weight"] @ top + p["ctx.out.bias"], 0)  # (B E,)
    return np.stack([p["ctx.proj.weight"] @ g[b * E:(b + 1) * E] for b in bs])


# ---------------------------------------------------------------- the generator


def conditioning_rows(p, cfg, mels, n: int) -> np.ndarray:
    """(n, 3N): cond projection of upsampled mel row t; rows at or past frames * hop are a zero mel."""
    up = upsample(p, cfg, mels)
    rows = np.zeros((n, up.shape[1]))
    k = min(n, len(up))
    rows[:k] = up[:k]
    return rows @ p["cond.weight"].T + p["cond.bias"]


def _draw(probs, u):
    cdf = np.cumsum(probs)
    k = min(int(np.searchsorted(cdf, u, side="left")), len(probs) - 1)
    lo = cdf[k - 1] if k > 0 else 0.0
    return k, min(u - lo, cdf[k] - u)


def run(params, cfg, mels, L: int | None = None, *, uniforms=None, audio=None, record_reads=False,
        poison=True):
    """Generate (uniforms (T * B, 2), row t for waveform sample t) or teacher-force (audio (L,)).

    L defaults to frames * hop_length. Returns dict: audio (L,), coarse/fine bytes (T * B,),
    logits (T * B, 512) = [coarse | fine], margins (T * B, 2), step (T * B,) the step that
    produced each sample, ctx (T * B, 3N) the context term added to its gates, and with
    record_reads a dict (b, j) -> sorted list of the (b', j') its context can depend on (a
    fused pair's second member also reads its first member's sample of the same step, through
    I, which is not listed). When generating, ungenerated grid slots hold NaN (poison): a read of
    one makes everything after it NaN.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    B, F, D, N = cfg["sub_tensors"], cfg["horizon"], cfg["context_layers"], cfg["hidden"]
    M = 2 if cfg.get("fused") else 1  # sub-tensors per state
    P = 2 * M  # parts of the state: coarse, fine of each member
    part = N // P
    if L is None:
        L = len(mels) * cfg["hop_length"]
    T = n_positions(L, B)
    cond = conditioning_rows(p, cfg, mels, T * B)
    if audio is not None:
        audio = np.asarray(audio, np.float64)
        if audio.shape != (L,):
            raise ValueError(f"audio must have shape ({L},)")
        cs_all, fs_all = split_bytes(np.pad(audio, (0, T * B - L)))
        teacher = (cs_all, fs_all)
        grid = fold((cs_all * 256 + fs_all) / 32767.5 - 1, B)  # the values the model would feed back
    else:
        uniforms = np.asarray(uniforms, np.float64)
        if uniforms.shape != (T * B, 2):
            raise ValueError(f"uniforms must have shape ({T * B}, 2)")
        grid = np.full((B, T), np.nan if poison else 0.0)
    I = p["I.weight"].copy()  # columns: the P previous bytes, then this step's bytes of parts 0 .. P - 2
    for q in range(P - 1):  # part q's byte only reaches the parts after q, in every gate
        for g in range(3):
            I[g * N:g * N + (q + 1) * part, P + q] = 0
    G = B // M
    h = np.zeros((G, N))
    prev = np.tile([128, 0] * M, (G, 1))  # each group's own previous bytes, part by part
    n = T * B
    out = {"coarse": np.zeros(n, np.int64), "fine": np.zeros(n, np.int64), "logits": np.zeros((n, 512)),
           "margins": np.full((n, 2), np.inf), "step": np.full(n, -1), "ctx": np.zeros((n, 3 * N))}
    reads = {} if record_reads else None

    def gates(rh, pre, rows):
        u = _sigmoid(rh[:, 0 * N + rows] + pre[:, 0 * N + rows])
        r = _sigmoid(rh[:, 1 * N + rows] + pre[:, 1 * N + rows])
        return u, np.tanh(r * rh[:, 2 * N + rows] + pre[:, 2 * N + rows])

    for s, active in enumerate(schedule(B, F, T, M)):
        if not active:  # T < F: a step between two groups' turns generates nothing
            continue
        gs = np.array(sorted({b // M for b, _ in active}))
        js = s - gs * F
        ts = [js * B + gs * M + m for m in range(M)]  # member m's waveform times
        # Everything this step reads is taken before anything is written: the groups of a
        # step are independent of each other.
        ctx = context_terms(p, cfg, stack_top(p, cfg, read_columns(grid, F, s, M)), gs)
        if reads is not None:
            for b, j in active:
                reads[(b, j)] = read_targets(B, F, D, T, b, j, M)
        x = np.column_stack([prev[gs] / 127.5 - 1, np.zeros((len(gs), P - 1))])
        pre = x @ I.T + p["I.bias"] + cond[ts[0]] + ctx
        rh = h[gs] @ p["R.weight"].T + p.get("R.bias", 0.0)  # one weight pass, len(gs) vectors
        parts, picked = [], np.zeros((len(gs), P), np.int64)
        for q in range(P):
            rows = np.arange(q * part, (q + 1) * part)
            u, e = gates(rh, pre, rows)
            hq = u * h[gs][:, rows] + (1 - u) * e
            logits = np.maximum(hq @ p[f"O{2 * q + 1}.weight"].T + p[f"O{2 * q + 1}.bias"], 0) \
                @ p[f"O{2 * q + 2}.weight"].T + p[f"O{2 * q + 2}.bias"]
            m, half = divmod(q, 2)
            for i, t in enumerate(ts[m]):
                if audio is not None:
                    picked[i, q] = teacher[half][t]
                else:
                    picked[i, q], out["margins"][t, half] = _draw(_softmax(logits[i]), uniforms[t, half])
                out["logits"][ts[m][i], half * 256:(half + 1) * 256] = logits[i]
            if q < P - 1:
                pre = pre + np.outer(picked[:, q] / 127.5 - 1, I[:, P + q])
            parts.append(hq)
        h[gs] = np.concatenate(parts, axis=1)
        prev[gs] = picked
        for m in range(M):
            c, f = picked[:, 2 * m], picked[:, 2 * m + 1]
            grid[gs * M + m, js] = (c * 256 + f) / 32767.5 - 1
            t = ts[m]
            out["coarse"][t], out["fine"][t], out["step"][t], out["ctx"][t] = c, f, s, ctx
    out["audio"] = unfold(grid, L)
    if reads is not None:
        out["reads"] = reads
    return out
