"""Float64 NumPy reference of the paper's dual-softmax WaveRNN, straight from
the equations of "Efficient Neural Audio Synthesis" (Kalchbrenner et al. 2018):

    x_t = [c_{t-1}, f_{t-1}, c_t] scaled to [-1, 1]   (c_t reaches only the fine half)
    u = sigma(R_u h + I_u x + b_u)      r = sigma(R_r h + I_r x + b_r)
    e = tanh(r * (R_e h) + I_e x + b_e) h' = u * h + (1 - u) * e
    P(c_t) = softmax(O2 relu(O1 y_c))   P(f_t) = softmax(O4 relu(O3 y_f))

with y_c, y_f the coarse and fine halves of h', conditioning (mels upsampled by
repeat, optionally followed by a zero-padded smoothing conv) projected by
``cond`` into all gate pre-activations. Tensor names are those of the weight
file (docs/format.md): R.weight (3N, N) gates (u, r, e) each with the coarse
half first, I.weight (3N, 3), I.bias, cond.weight (3N, n_mels), cond.bias,
O1..O4 .weight/.bias, upsample.weight (k,) when config upsample == "conv", and an optional
R.bias (3N): a recurrent-side bias, so e = tanh(r * (R_e h + b_Re) + ...) as in PyTorch's GRU.
"""
from __future__ import annotations

import numpy as np


def upsample(params, cfg, mels):
    """mels (frames, n_mels) -> (frames * hop, n_mels)."""
    rep = np.repeat(np.asarray(mels, np.float64), cfg["hop_length"], axis=0)
    if cfg.get("upsample", "repeat") == "repeat":
        return rep
    k = np.asarray(params["upsample.weight"], np.float64)
    half = len(k) // 2
    padded = np.pad(rep, ((half, half), (0, 0)))
    out = np.zeros_like(rep)
    for j in range(len(k)):
        out += k[j] * padded[j:j + len(rep)]
    return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(z):
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def split_bytes(audio):
    u16 = np.clip(np.floor((np.clip(audio, -1, 1) + 1.0) * 32767.5 + 0.5), 0, 65535).astype(np.int64)
    return u16 >> 8, u16 & 255


def run(params, cfg, mels, *, audio=None, uniforms=None):
    """Teacher-forced (audio given) or sampled (uniforms (n, 2) given) run.

    Returns (logits (n, 512) = [coarse | fine], coarse bytes, fine bytes,
    margins (n, 2): distance of each uniform to the nearest CDF edge).
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    N = cfg["hidden"]
    half = N // 2
    cond = upsample(p, cfg, mels) @ p["cond.weight"].T + p["cond.bias"]
    n = cond.shape[0] if audio is None else len(audio)
    if audio is not None:
        true_c, true_f = split_bytes(np.asarray(audio, np.float64))
    I = p["I.weight"].copy()
    mask = np.ones_like(I)
    for g in range(3):  # c_t only reaches the fine half of every gate
        mask[g * N:g * N + half, 2] = 0
    I *= mask
    h = np.zeros(N)
    c_prev, f_prev = 128, 0
    logits = np.zeros((n, 512))
    cs = np.zeros(n, np.int64)
    fs = np.zeros(n, np.int64)
    margins = np.full((n, 2), np.inf)

    def gates(rh, pre, rows):
        u = _sigmoid(rh[0 * N + rows] + pre[0 * N + rows])
        r = _sigmoid(rh[1 * N + rows] + pre[1 * N + rows])
        e = np.tanh(r * rh[2 * N + rows] + pre[2 * N + rows])
        return u, e

    def draw(probs, u):
        cdf = np.cumsum(probs)
        k = min(int(np.searchsorted(cdf, u, side="left")), len(probs) - 1)
        lo = cdf[k - 1] if k > 0 else 0.0
        return k, min(u - lo, cdf[k] - u)

    coarse_rows = np.arange(half)
    fine_rows = np.arange(half, N)
    for t in range(n):
        rh = p["R.weight"] @ h + p.get("R.bias", 0.0)
        x = np.array([c_prev / 127.5 - 1, f_prev / 127.5 - 1, 0.0])
        pre = I @ x + p["I.bias"] + cond[t]
        u_c, e_c = gates(rh, pre, coarse_rows)
        h_c = u_c * h[coarse_rows] + (1 - u_c) * e_c
        lc = p["O2.weight"] @ np.maximum(p["O1.weight"] @ h_c + p["O1.bias"], 0) + p["O2.bias"]
        if audio is not None:
            c = int(true_c[t])
        else:
            c, margins[t, 0] = draw(_softmax(lc), uniforms[t, 0])
        pre = pre + I[:, 2] * (c / 127.5 - 1)
        u_f, e_f = gates(rh, pre, fine_rows)
        h_f = u_f * h[fine_rows] + (1 - u_f) * e_f
        lf = p["O4.weight"] @ np.maximum(p["O3.weight"] @ h_f + p["O3.bias"], 0) + p["O4.bias"]
        if audio is not None:
            f = int(true_f[t])
        else:
            f, margins[t, 1] = draw(_softmax(lf), uniforms[t, 1])
        h = np.concatenate([h_c, h_f])
        logits[t, :256], logits[t, 256:] = lc, lf
        cs[t], fs[t] = c, f
        c_prev, f_prev = c, f
    return logits, cs, fs, margins
