"""Float64 NumPy reference of the fatchord-family WaveRNN vocoder (clarity over speed).

Covers fatchord/WaveRNN's ``models/fatchord_version.py`` model (2 GRUs, fc1/fc2/fc3, aux in 4
chunks, MOL or RAW softmax head) and geneing/WaveRNN-Pytorch's pruned variant (1 GRU, fc1 + fc3,
aux in 2 chunks of which ``I`` takes only the first 31 channels, 10-bit linear softmax).
Written from the model equations; parameters are given as a dict of arrays named like the
PyTorch ``state_dict`` (any float dtype, converted to float64 here).

Config dict keys
----------------
``family``            ``"fatchord"`` (the only family; both variants belong to it).
``variant``           ``"geneing"`` or ``"fatchord"``; informational only, all behaviour is
                      driven by the keys below.
``sample_rate``       output sample rate in Hz (informational: 16000 geneing, 22050 fatchord).
``n_mels``            mel channels of the conditioning input.
``hop_length``        samples per mel frame; must equal ``prod(upsample_factors)``.
``pad``               mel frames of zero padding added at *both* ends before conditioning; the
                      MelResNet's first conv has kernel ``2 * pad + 1`` (valid conv, so the aux
                      has exactly T frames), and ``pad * hop_length`` upsampled columns are
                      dropped at each end of the upsampled mel.
``upsample_factors``  time stretch per upsample stage, e.g. ``[4, 5, 10]``. Stage i is
                      ``Stretch2d(s, 1)`` (repeat each column s times) followed by
                      ``Conv2d(1, 1, (1, k), padding=(0, (k - 1) // 2), bias=False)`` whose
                      weight is ``upsample.up_layers.{2 i + 1}.weight`` (1, 1, 1, k).
``upsample_kernel_sizes``  the k of each stage; always ``2 * s + 1`` in both repos.
``res_blocks``        MelResNet residual blocks (``upsample.resnet.layers.{i}``).
``compute_dims``      MelResNet width.
``res_out_dims``      MelResNet output channels = width of the aux vector.
``bn_eps``            BatchNorm1d eps (eval mode: running statistics are used).
``rnn_dims``          GRU hidden size (= ``I`` output size).
``fc_dims``           hidden width of the fc layers before the output layer.
``n_rnn``             1 (geneing: ``rnn1``) or 2 (fatchord: ``rnn1``, ``rnn2``).
``fc_names``          state_dict prefixes of the linear layers after the GRUs, in order; the
                      last one produces the logits: ``["fc1", "fc3"]`` (geneing) or
                      ``["fc1", "fc2", "fc3"]`` (fatchord). All but the last are followed by ReLU.
``n_fc``              ``len(fc_names)`` (2 or 3).
``aux_slices``        dict consumer -> ``[start, stop)`` channel range of the aux vector that is
                      concatenated (after the main input) into that consumer's input. Consumers:
                      ``"I"``, ``"rnn2"``, and any of ``fc_names``. A consumer that is absent
                      gets no aux. geneing: ``{"I": [0, 31], "fc1": [32, 64]}`` (its aux is two
                      chunks of 32, ``I`` uses only 31 channels of the first chunk: channel 31
                      is computed but never used); fatchord: ``{"I": [0, 32], "rnn2": [32, 64],
                      "fc1": [64, 96], "fc2": [96, 128]}``.
``head``              ``"softmax"`` (categorical over ``2 ** bits`` classes; fatchord ``RAW``)
                      or ``"mol"`` (mixture of logistics; fatchord ``MOL``).
``bits``              sample bits of the softmax head (10 geneing, 9 fatchord RAW). For MOL it
                      only records the training quantisation.
``n_classes``         output size of the last fc layer: ``2 ** bits`` for softmax,
                      ``3 * mol_n_mix`` for MOL.
``mu_law``            softmax head only: class k is fed back as the *label float*
                      ``2 k / (2 ** bits - 1) - 1`` in every case; if ``mu_law`` the emitted
                      waveform is ``decode_mu_law`` of that value (fatchord decodes after
                      ``xfade_and_unfold``). Ignored for MOL (fatchord forces it off).
``mol_n_mix``         number of logistics (10); logits layout ``[pi (n), mean (n), log_scale (n)]``.
``mol_log_scale_min`` lower clamp for the log scales (``log(1e-14)``).

Step equations (x = previous sample, h_i = GRU states, a = aux row, m = upsampled mel row)::

    y  = I([x, m, a[I]])
    h1 = GRUCell_rnn1(y, h1);            y = y + h1
    h2 = GRUCell_rnn2([y, a[rnn2]], h2); y = y + h2            (n_rnn == 2 only)
    y  = relu(fc([y, a[fc]]))            for every fc in fc_names[:-1]
    logits = fc_names[-1]([y, a[fc_names[-1]]])

GRUCell follows PyTorch: gate order (r, z, n) in ``weight_ih_l0`` / ``weight_hh_l0``,
``n = tanh(W_in y + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

Sampling conventions (deterministic, given uniforms in [0, 1)):

* softmax: ``cdf = cumsum(softmax(logits))``; ``k`` = first index with ``cdf[k] >= u``,
  clamped to ``n_classes - 1`` (one uniform per sample).
* MOL: two uniforms per sample, ``u[..., 0]`` and ``u[..., 1]``. The component is chosen by the
  same inverse-CDF rule applied to ``softmax(pi)`` with ``u[..., 0]``; the value is the logistic
  quantile ``mean + exp(log_scale) * (log(v) - log(1 - v))`` with
  ``v = 1e-5 + (1 - 2e-5) * u[..., 1]`` (fatchord draws from U(1e-5, 1 - 1e-5)), ``log_scale``
  clamped below at ``mol_log_scale_min``, the result clamped to [-1, 1]. (fatchord picks the
  component with Gumbel-max over ``n_mix`` uniforms; the inverse CDF has the same distribution.)
* MOL, one uniform per sample (the sparsewave engine's convention, :func:`sample_mol_one_uniform`,
  ``generate_deterministic(..., mol_one_uniform=True)``): the component k is chosen by the same
  inverse-CDF rule over ``softmax(pi)`` with ``u``; then ``v = (u - cdf[k-1]) / p_k`` (where ``u``
  lies inside component k's interval of the CDF, itself uniform on [0, 1) given k), clamped to
  ``[1e-5, 1 - 1e-5]``, and the value is the same logistic quantile as above.
"""

from __future__ import annotations

import math
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

__all__ = [
    "config_from_geneing",
    "config_fatchord",
    "expected_shapes",
    "random_params",
    "conditioning",
    "init_state",
    "step",
    "teacher_forced_logits",
    "softmax",
    "sample_softmax_inverse_cdf",
    "sample_mol",
    "sample_mol_one_uniform",
    "generate_deterministic",
    "label_to_float",
    "float_to_label",
    "encode_mu_law",
    "decode_mu_law",
    "fold_with_overlap",
    "xfade_and_unfold",
    "fatchord_trim_and_fade",
]

MOL_LOG_SCALE_MIN = float(np.log(1e-14))


# --------------------------------------------------------------------------- configs


def config_from_geneing(info, sample_rate: int = 16000) -> dict:
    """Config for a geneing ``model.bin`` given the ``GeneingModelInfo`` from the parser.

    geneing's aux is split into two chunks of ``res_out_dims // 2``; ``I`` and ``fc1`` take the
    first ``info.aux_to_I`` / ``info.aux_to_fc1`` channels of their chunk (31 and 32 for the
    released model). ``sample_rate`` is not stored in the file (16 kHz for the released model).
    """
    chunk = info.res_out_dims // 2
    bits = int(round(math.log2(info.n_classes)))
    if 2 ** bits != info.n_classes:
        raise ValueError(f"n_classes {info.n_classes} is not a power of two")
    eps = set(info.bn_eps)
    if len(eps) != 1:
        raise ValueError(f"BatchNorm eps differ between layers: {sorted(eps)}")
    return {
        "family": "fatchord",
        "variant": "geneing",
        "sample_rate": int(sample_rate),
        "n_mels": info.n_mels,
        "hop_length": info.total_scale,
        "pad": info.pad,
        "upsample_factors": list(info.upsample_scales),
        "upsample_kernel_sizes": list(info.upsample_kernel_sizes),
        "res_blocks": info.res_blocks,
        "compute_dims": info.compute_dims,
        "res_out_dims": info.res_out_dims,
        "bn_eps": float(eps.pop()),
        "rnn_dims": info.rnn_dims,
        "fc_dims": info.fc_dims,
        "n_rnn": 1,
        "fc_names": ["fc1", "fc3"],
        "n_fc": 2,
        "aux_slices": {"I": [0, info.aux_to_I], "fc1": [chunk, chunk + info.aux_to_fc1]},
        "head": "softmax",
        "bits": bits,
        "n_classes": info.n_classes,
        "mu_law": False,
    }


def config_fatchord(mode: str = "MOL", hparams: Optional[Mapping] = None) -> dict:
    """Config for fatchord/WaveRNN's ``WaveRNN`` built from its hparams (defaults: hparams.py).

    ``hparams`` may use fatchord's names (``voc_rnn_dims``, ``voc_upsample_factors``, ...) as in
    ``fatchord_hparams.json``. ``mode`` is ``"MOL"`` or ``"RAW"``.
    """
    hp = {
        "sample_rate": 22050, "num_mels": 80, "hop_length": 275, "bits": 9, "mu_law": True,
        "voc_upsample_factors": [5, 5, 11], "voc_rnn_dims": 512, "voc_fc_dims": 512,
        "voc_compute_dims": 128, "voc_res_out_dims": 128, "voc_res_blocks": 10, "voc_pad": 2,
    }
    if hparams:
        hp.update({k: v for k, v in hparams.items() if not k.startswith("_")})
    mode = mode.upper()
    if mode not in ("MOL", "RAW"):
        raise ValueError(f"mode must be 'MOL' or 'RAW', got {mode!r}")
    factors = [int(f) for f in hp["voc_upsample_factors"]]
    hop = int(np.prod(factors))
    if hop != int(hp["hop_length"]):
        raise ValueError(f"prod(upsample_factors) = {hop} != hop_length {hp['hop_length']}")
    res_out = int(hp["voc_res_out_dims"])
    if res_out % 4:
        raise ValueError("fatchord splits aux into 4 equal chunks: res_out_dims must be divisible by 4")
    c = res_out // 4
    bits = int(hp["bits"])
    return {
        "family": "fatchord",
        "variant": "fatchord",
        "sample_rate": int(hp["sample_rate"]),
        "n_mels": int(hp["num_mels"]),
        "hop_length": hop,
        "pad": int(hp["voc_pad"]),
        "upsample_factors": factors,
        "upsample_kernel_sizes": [2 * s + 1 for s in factors],
        "res_blocks": int(hp["voc_res_blocks"]),
        "compute_dims": int(hp["voc_compute_dims"]),
        "res_out_dims": res_out,
        "bn_eps": 1e-5,
        "rnn_dims": int(hp["voc_rnn_dims"]),
        "fc_dims": int(hp["voc_fc_dims"]),
        "n_rnn": 2,
        "fc_names": ["fc1", "fc2", "fc3"],
        "n_fc": 3,
        "aux_slices": {"I": [0, c], "rnn2": [c, 2 * c], "fc1": [2 * c, 3 * c], "fc2": [3 * c, 4 * c]},
        "head": "mol" if mode == "MOL" else "softmax",
        "bits": bits,
        "n_classes": 30 if mode == "MOL" else 2 ** bits,
        "mu_law": bool(hp["mu_law"]) if mode == "RAW" else False,
        "mol_n_mix": 10,
        "mol_log_scale_min": MOL_LOG_SCALE_MIN,
    }


def _aux_width(cfg: Mapping, consumer: str) -> int:
    sl = cfg.get("aux_slices", {}).get(consumer)
    if sl is None:
        return 0
    start, stop = int(sl[0]), int(sl[1])
    if not 0 <= start <= stop <= cfg["res_out_dims"]:
        raise ValueError(f"aux_slices[{consumer!r}] = {sl} outside [0, {cfg['res_out_dims']}]")
    return stop - start


def expected_shapes(cfg: Mapping) -> Dict[str, Tuple[int, ...]]:
    """state_dict names and shapes implied by ``cfg`` (no ``num_batches_tracked`` / ``step``)."""
    s: Dict[str, Tuple[int, ...]] = {}
    cd, ro, nm = cfg["compute_dims"], cfg["res_out_dims"], cfg["n_mels"]
    rn = "upsample.resnet"

    def bn(prefix: str) -> None:
        for f in ("weight", "bias", "running_mean", "running_var"):
            s[f"{prefix}.{f}"] = (cd,)

    s[f"{rn}.conv_in.weight"] = (cd, nm, 2 * cfg["pad"] + 1)
    bn(f"{rn}.batch_norm")
    for i in range(cfg["res_blocks"]):
        for j in (1, 2):
            s[f"{rn}.layers.{i}.conv{j}.weight"] = (cd, cd, 1)
            bn(f"{rn}.layers.{i}.batch_norm{j}")
    s[f"{rn}.conv_out.weight"] = (ro, cd, 1)
    s[f"{rn}.conv_out.bias"] = (ro,)
    for i, k in enumerate(cfg["upsample_kernel_sizes"]):
        s[f"upsample.up_layers.{2 * i + 1}.weight"] = (1, 1, 1, k)
    r = cfg["rnn_dims"]
    s["I.weight"] = (r, 1 + nm + _aux_width(cfg, "I"))
    s["I.bias"] = (r,)
    for n in range(1, cfg["n_rnn"] + 1):
        n_in = r + (_aux_width(cfg, "rnn2") if n == 2 else 0)
        s[f"rnn{n}.weight_ih_l0"] = (3 * r, n_in)
        s[f"rnn{n}.weight_hh_l0"] = (3 * r, r)
        s[f"rnn{n}.bias_ih_l0"] = (3 * r,)
        s[f"rnn{n}.bias_hh_l0"] = (3 * r,)
    width = r
    names = cfg["fc_names"]
    for i, name in enumerate(names):
        out = cfg["n_classes"] if i == len(names) - 1 else cfg["fc_dims"]
        s[f"{name}.weight"] = (out, width + _aux_width(cfg, name))
        s[f"{name}.bias"] = (out,)
        width = out
    return s


def random_params(cfg: Mapping, seed: int = 0, scale: float = 0.2) -> Dict[str, np.ndarray]:
    """Random float32 parameters of the right shapes (for shape/smoke tests)."""
    rng = np.random.default_rng(seed)
    p = {}
    for name, shape in expected_shapes(cfg).items():
        if name.endswith("running_var"):
            p[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            p[name] = (scale * rng.standard_normal(shape)).astype(np.float32)
    return p


def _params64(params: Mapping, cfg: Mapping, dtype=np.float64) -> Dict[str, np.ndarray]:
    shapes = expected_shapes(cfg)
    out = {}
    for name, shape in shapes.items():
        if name not in params:
            raise KeyError(f"missing parameter {name!r}")
        a = np.asarray(params[name], dtype=dtype)
        if a.shape != shape:
            raise ValueError(f"parameter {name!r} has shape {a.shape}, config implies {shape}")
        out[name] = a
    return out


# --------------------------------------------------------------------------- conditioning


def _batch_norm(x: np.ndarray, p: Mapping, prefix: str, eps: float) -> np.ndarray:
    """Eval-mode BatchNorm1d on (C, T)."""
    mean = p[prefix + ".running_mean"][:, None]
    var = p[prefix + ".running_var"][:, None]
    return (x - mean) / np.sqrt(var + eps) * p[prefix + ".weight"][:, None] + p[prefix + ".bias"][:, None]


def _conv1d_valid(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray:
    """Cross-correlation of (C_in, T) with (C_out, C_in, k), no padding -> (C_out, T - k + 1)."""
    k = w.shape[2]
    windows = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)  # (C_in, T-k+1, k)
    y = np.einsum("oik,itk->ot", w, windows)
    if b is not None:
        y = y + b[:, None]
    return y


def mel_resnet(p: Mapping, cfg: Mapping, mel_padded: np.ndarray) -> np.ndarray:
    """MelResNet on the padded mel (n_mels, T + 2 pad) -> (res_out_dims, T)."""
    eps = cfg["bn_eps"]
    rn = "upsample.resnet"
    x = _conv1d_valid(mel_padded, p[f"{rn}.conv_in.weight"])
    x = np.maximum(_batch_norm(x, p, f"{rn}.batch_norm", eps), 0.0)
    for i in range(cfg["res_blocks"]):
        res = x
        x = _conv1d_valid(x, p[f"{rn}.layers.{i}.conv1.weight"])
        x = np.maximum(_batch_norm(x, p, f"{rn}.layers.{i}.batch_norm1", eps), 0.0)
        x = _conv1d_valid(x, p[f"{rn}.layers.{i}.conv2.weight"])
        x = _batch_norm(x, p, f"{rn}.layers.{i}.batch_norm2", eps)
        x = x + res
    return _conv1d_valid(x, p[f"{rn}.conv_out.weight"], p[f"{rn}.conv_out.bias"])


def upsample_mel(p: Mapping, cfg: Mapping, mel_padded: np.ndarray) -> np.ndarray:
    """Stretch + smoothing conv per factor, then crop pad*hop columns each end -> (T*hop, n_mels)."""
    m = mel_padded
    for i, s in enumerate(cfg["upsample_factors"]):
        w = p[f"upsample.up_layers.{2 * i + 1}.weight"].reshape(-1)
        k = w.size
        half = (k - 1) // 2
        m = np.repeat(m, s, axis=1)  # Stretch2d(s, 1): every column s times
        length = m.shape[1]
        mp = np.pad(m, ((0, 0), (half, half)))
        out = np.zeros_like(m)
        for j in range(k):  # cross-correlation, zero padding `half` on both sides
            out += w[j] * mp[:, j:j + length]
        m = out
    cut = cfg["pad"] * cfg["hop_length"]
    m = m[:, cut:m.shape[1] - cut]
    return np.ascontiguousarray(m.T)


def conditioning(params: Mapping, cfg: Mapping, mel: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(n_mels, T) mel -> (mels_up (T*hop, n_mels), aux (T*hop, res_out_dims)), float64.

    The mel is zero-padded by ``pad`` frames at both ends; the upsampled mel is cropped by
    ``pad * hop`` samples at each end; the MelResNet output (T frames) is repeated ``hop`` times.
    """
    p = _params64(params, cfg)
    mel = np.asarray(mel, dtype=np.float64)
    if mel.ndim != 2 or mel.shape[0] != cfg["n_mels"]:
        raise ValueError(f"mel must be (n_mels={cfg['n_mels']}, T), got {mel.shape}")
    if int(np.prod(cfg["upsample_factors"])) != cfg["hop_length"]:
        raise ValueError("prod(upsample_factors) != hop_length")
    pad = cfg["pad"]
    mp = np.pad(mel, ((0, 0), (pad, pad)))
    mels_up = upsample_mel(p, cfg, mp)
    aux = np.repeat(mel_resnet(p, cfg, mp), cfg["hop_length"], axis=1).T
    return mels_up, np.ascontiguousarray(aux)


# --------------------------------------------------------------------------- recurrent step


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _gru_cell(p: Mapping, prefix: str, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """PyTorch GRUCell on batches: x (B, in), h (B, H) -> (B, H)."""
    gi = x @ p[prefix + ".weight_ih_l0"].T + p[prefix + ".bias_ih_l0"]
    gh = h @ p[prefix + ".weight_hh_l0"].T + p[prefix + ".bias_hh_l0"]
    H = h.shape[1]
    r = _sigmoid(gi[:, :H] + gh[:, :H])
    z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1.0 - z) * n + z * h


def _aux_part(cfg: Mapping, consumer: str, aux_t: np.ndarray) -> np.ndarray:
    sl = cfg.get("aux_slices", {}).get(consumer)
    if sl is None:
        return aux_t[:, :0]
    return aux_t[:, int(sl[0]):int(sl[1])]


def init_state(cfg: Mapping, batch: int = 1, dtype=np.float64) -> List[np.ndarray]:
    """Zero GRU states, one (batch, rnn_dims) array per GRU."""
    return [np.zeros((batch, cfg["rnn_dims"]), dtype=dtype) for _ in range(cfg["n_rnn"])]


def step(p: Mapping, cfg: Mapping, x_prev: np.ndarray, mel_t: np.ndarray, aux_t: np.ndarray,
         state: List[np.ndarray]) -> Tuple[np.ndarray, List[np.ndarray]]:
    """One sample step for a batch.

    ``p`` must hold float64 arrays (see :func:`prepare`); ``x_prev`` (B,), ``mel_t`` (B, n_mels),
    ``aux_t`` (B, res_out_dims), ``state`` from :func:`init_state`. Returns (logits (B, C), state).
    """
    x_prev = np.asarray(x_prev, dtype=mel_t.dtype).reshape(-1, 1)
    y = np.concatenate([x_prev, mel_t, _aux_part(cfg, "I", aux_t)], axis=1)
    y = y @ p["I.weight"].T + p["I.bias"]
    new_state = []
    h1 = _gru_cell(p, "rnn1", y, state[0])
    new_state.append(h1)
    y = y + h1
    if cfg["n_rnn"] == 2:
        h2 = _gru_cell(p, "rnn2", np.concatenate([y, _aux_part(cfg, "rnn2", aux_t)], axis=1), state[1])
        new_state.append(h2)
        y = y + h2
    names = cfg["fc_names"]
    for i, name in enumerate(names):
        y = np.concatenate([y, _aux_part(cfg, name, aux_t)], axis=1)
        y = y @ p[name + ".weight"].T + p[name + ".bias"]
        if i < len(names) - 1:
            y = np.maximum(y, 0.0)
    return y, new_state


def prepare(params: Mapping, cfg: Mapping) -> Dict[str, np.ndarray]:
    """Validate shapes against ``cfg`` and convert the parameters to float64."""
    return _params64(params, cfg)


def _as_batched(mels_up: np.ndarray, aux: np.ndarray, dtype=np.float64) -> Tuple[np.ndarray, np.ndarray, bool]:
    mels_up = np.asarray(mels_up, dtype=dtype)
    aux = np.asarray(aux, dtype=dtype)
    single = mels_up.ndim == 2
    if single:
        mels_up, aux = mels_up[None], aux[None]
    if mels_up.ndim != 3 or aux.ndim != 3 or mels_up.shape[:2] != aux.shape[:2]:
        raise ValueError(f"mels_up {mels_up.shape} and aux {aux.shape} must be (N, F) or (B, N, F) with equal B, N")
    return mels_up, aux, single


def teacher_forced_logits(params: Mapping, cfg: Mapping, mels_up: np.ndarray, aux: np.ndarray,
                          prev_samples: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Logits of every step when the input sample is forced.

    ``prev_samples[t]`` is the sample value fed in at step t (so normally
    ``[0, x_0, x_1, ..., x_{N-2}]``, in the fed-back domain, i.e. the label float for softmax
    heads). Shapes: (N, ...) -> (N, C) or batched (B, N, ...) -> (B, N, C); states start at 0.
    ``dtype`` (float64 by default) is the compute precision; float32 is there to study how far a
    single-precision engine drifts from the float64 reference.
    """
    p = _params64(params, cfg, dtype)
    mu, ax, single = _as_batched(mels_up, aux, dtype)
    prev = np.asarray(prev_samples, dtype=dtype).reshape(mu.shape[0], -1)
    B, N = mu.shape[:2]
    if prev.shape[1] < N:
        raise ValueError(f"need {N} previous samples per sequence, got {prev.shape[1]}")
    state = init_state(cfg, B, dtype)
    out = np.empty((B, N, cfg["n_classes"]), dtype=dtype)
    for t in range(N):
        out[:, t], state = step(p, cfg, prev[:, t], mu[:, t], ax[:, t], state)
    return out[0] if single else out


# --------------------------------------------------------------------------- sampling


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def sample_softmax_inverse_cdf(logits: np.ndarray, u: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse-CDF categorical sampling: first k with cumsum(softmax)[k] >= u, clamped.

    ``logits`` (..., C), ``u`` (...). Returns (k (...), margin (...)) where margin is
    ``min(u - cdf[k-1], cdf[k] - u)`` (``cdf[-1] = 0``), as in the reference's ``det_margin``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    cdf = np.cumsum(softmax(logits), axis=-1)
    C = logits.shape[-1]
    k = np.minimum(np.sum(cdf < u[..., None], axis=-1), C - 1)
    hi = np.take_along_axis(cdf, k[..., None], axis=-1)[..., 0]
    lo = np.where(k > 0, np.take_along_axis(cdf, np.maximum(k - 1, 0)[..., None], axis=-1)[..., 0], 0.0)
    margin = np.minimum(u - lo, hi - u)
    return k.astype(np.int64), margin


def sample_mol(logits: np.ndarray, u: np.ndarray, n_mix: int = 10,
               log_scale_min: float = MOL_LOG_SCALE_MIN) -> Tuple[np.ndarray, np.ndarray]:
    """Deterministic mixture-of-logistics sample (see the module docstring for the convention).

    ``logits`` (..., 3 n_mix) laid out [pi, mean, log_scale]; ``u`` (..., 2).
    Returns (x in [-1, 1] (...), chosen component (...)).
    """
    logits = np.asarray(logits, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if logits.shape[-1] != 3 * n_mix or u.shape[-1] != 2:
        raise ValueError(f"MOL needs logits (..., {3 * n_mix}) and uniforms (..., 2), got {logits.shape}, {u.shape}")
    comp, _ = sample_softmax_inverse_cdf(logits[..., :n_mix], u[..., 0])
    means = np.take_along_axis(logits[..., n_mix:2 * n_mix], comp[..., None], axis=-1)[..., 0]
    log_s = np.take_along_axis(logits[..., 2 * n_mix:], comp[..., None], axis=-1)[..., 0]
    log_s = np.maximum(log_s, log_scale_min)
    v = 1e-5 + (1.0 - 2e-5) * u[..., 1]
    x = means + np.exp(log_s) * (np.log(v) - np.log(1.0 - v))
    return np.clip(x, -1.0, 1.0), comp


def sample_mol_one_uniform(logits: np.ndarray, u: np.ndarray, n_mix: int = 10,
                           log_scale_min: float = MOL_LOG_SCALE_MIN) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixture-of-logistics sample from ONE uniform per sample (the sparsewave engine's rule).

    ``logits`` (..., 3 n_mix) laid out [pi, mean, log_scale]; ``u`` (...). The component k is the
    inverse-CDF choice over ``softmax(pi)``; ``v = (u - cdf[k-1]) / p_k`` clamped to
    [1e-5, 1 - 1e-5]; ``x = mean_k + exp(max(log_scale_k, log_scale_min)) (log v - log(1 - v))``
    clamped to [-1, 1]. Returns (x (...), component (...), margin (...)) where margin is the
    distance of ``u`` to the nearest edge of component k's CDF interval (as for softmax).
    """
    logits = np.asarray(logits, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if logits.shape[-1] != 3 * n_mix or logits.shape[:-1] != u.shape:
        raise ValueError(f"MOL needs logits (..., {3 * n_mix}) and uniforms (...), got {logits.shape}, {u.shape}")
    pi = softmax(logits[..., :n_mix])
    cdf = np.cumsum(pi, axis=-1)
    comp, margin = sample_softmax_inverse_cdf(logits[..., :n_mix], u)
    below = np.where(comp > 0, np.take_along_axis(cdf, np.maximum(comp - 1, 0)[..., None], axis=-1)[..., 0], 0.0)
    width = np.take_along_axis(pi, comp[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(width > 0, (u - below) / np.where(width > 0, width, 1.0), 0.5)
    v = np.clip(v, 1e-5, 1.0 - 1e-5)
    means = np.take_along_axis(logits[..., n_mix:2 * n_mix], comp[..., None], axis=-1)[..., 0]
    log_s = np.maximum(np.take_along_axis(logits[..., 2 * n_mix:], comp[..., None], axis=-1)[..., 0], log_scale_min)
    x = means + np.exp(log_s) * (np.log(v) - np.log(1.0 - v))
    return np.clip(x, -1.0, 1.0), comp, margin


def label_to_float(k: np.ndarray, bits: int) -> np.ndarray:
    """Class index -> value in [-1, 1]: 2 k / (2 ** bits - 1) - 1."""
    return 2.0 * np.asarray(k, dtype=np.float64) / (2 ** bits - 1) - 1.0


def float_to_label(x: np.ndarray, bits: int) -> np.ndarray:
    """Value in [-1, 1] -> nearest class index: floor((x + 1) / 2 * (2 ** bits - 1) + 0.5)."""
    x = np.asarray(x, dtype=np.float64)
    return np.floor((x + 1.0) / 2.0 * (2 ** bits - 1) + 0.5).astype(np.int64)


def encode_mu_law(x: np.ndarray, mu: int) -> np.ndarray:
    """fatchord ``encode_mu_law``: x in [-1, 1] -> integer label in [0, mu - 1]."""
    mu = mu - 1
    fx = np.sign(x) * np.log(1 + mu * np.abs(x)) / np.log(1 + mu)
    return np.floor((fx + 1) / 2 * mu + 0.5)


def decode_mu_law(y: np.ndarray, mu: int, from_labels: bool = False) -> np.ndarray:
    """fatchord ``decode_mu_law``; ``y`` in [-1, 1] (or labels if ``from_labels``), mu = 2 ** bits."""
    y = np.asarray(y, dtype=np.float64)
    if from_labels:
        y = label_to_float(y, int(round(math.log2(mu))))
    mu = mu - 1
    return np.sign(y) / mu * ((1 + mu) ** np.abs(y) - 1)


def generate_deterministic(params: Mapping, cfg: Mapping, mels_up: np.ndarray, aux: np.ndarray,
                           uniforms: np.ndarray, mol_one_uniform: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Free-running generation with given uniforms (x and the GRU states start at 0).

    Unbatched: ``mels_up`` (N, n_mels), ``aux`` (N, res_out_dims); batched (folds): (B, N, ...).
    ``uniforms``: softmax head (N,) / (1, N) / (B, N); MOL head (N, 2) / (B, N, 2), or (N,) / (B, N)
    with ``mol_one_uniform`` (the engine's one-uniform rule, :func:`sample_mol_one_uniform`).

    Returns ``(samples, idx)`` of shape (N,) or (B, N):

    * softmax: ``idx`` = chosen class; the fed-back value is ``label_to_float(idx, bits)``;
      ``samples`` is that value, mu-law decoded when ``cfg["mu_law"]``. (For batched fatchord
      output decode *after* :func:`xfade_and_unfold` instead: take ``label_to_float(idx)``.)
    * MOL: ``samples`` = the sampled value (also what is fed back); ``idx`` = chosen component.
    """
    p = _params64(params, cfg)
    mu, ax, single = _as_batched(mels_up, aux)
    B, N = mu.shape[:2]
    u = np.asarray(uniforms, dtype=np.float64)
    mol = cfg["head"] == "mol"
    u = u.reshape(B, -1, 2) if (mol and not mol_one_uniform) else u.reshape(B, -1)
    if u.shape[1] < N:
        raise ValueError(f"need {N} uniforms per sequence, got {u.shape[1]}")
    state = init_state(cfg, B)
    x = np.zeros(B)
    fed = np.empty((B, N))
    idx = np.empty((B, N), dtype=np.int64)
    for t in range(N):
        logits, state = step(p, cfg, x, mu[:, t], ax[:, t], state)
        if mol and mol_one_uniform:
            x, idx[:, t], _ = sample_mol_one_uniform(logits, u[:, t], cfg.get("mol_n_mix", 10),
                                                     cfg.get("mol_log_scale_min", MOL_LOG_SCALE_MIN))
        elif mol:
            x, idx[:, t] = sample_mol(logits, u[:, t], cfg.get("mol_n_mix", 10),
                                      cfg.get("mol_log_scale_min", MOL_LOG_SCALE_MIN))
        else:
            k, _ = sample_softmax_inverse_cdf(logits, u[:, t])
            idx[:, t] = k
            x = label_to_float(k, cfg["bits"])
        fed[:, t] = x
    samples = decode_mu_law(fed, 2 ** cfg["bits"]) if (not mol and cfg.get("mu_law")) else fed
    return (samples[0], idx[0]) if single else (samples, idx)


# --------------------------------------------------------------------------- batched mode


def fold_with_overlap(x: np.ndarray, target: int, overlap: int) -> np.ndarray:
    """fatchord ``fold_with_overlap`` on a (N,) or (N, F) sequence -> (folds, target + 2 overlap[, F]).

    Fold i covers ``[i (target + overlap), i (target + overlap) + target + 2 overlap)``; when the
    folds do not tile the sequence exactly, one more fold is added and the sequence is
    zero-padded at the end.
    """
    x = np.asarray(x)
    n = x.shape[0]
    num_folds = (n - overlap) // (target + overlap)
    extended = num_folds * (target + overlap) + overlap
    remaining = n - extended
    if remaining != 0:
        num_folds += 1
        padding = target + 2 * overlap - remaining
        x = np.concatenate([x, np.zeros((padding,) + x.shape[1:], dtype=x.dtype)], axis=0)
    length = target + 2 * overlap
    folded = np.zeros((num_folds, length) + x.shape[1:], dtype=x.dtype)
    for i in range(num_folds):
        start = i * (target + overlap)
        folded[i] = x[start:start + length]
    return folded


def xfade_and_unfold(y: np.ndarray, overlap: int) -> np.ndarray:
    """fatchord ``xfade_and_unfold``: (folds, target + 2 overlap) -> (folds (target + overlap) + overlap,).

    Every fold's first ``overlap`` samples are multiplied by [zeros(overlap // 2), fade_in] and its
    last ``overlap`` samples by [fade_out, zeros(overlap // 2)], with the equal-power fades
    ``sqrt(0.5 (1 ± t))``, ``t = linspace(-1, 1, overlap - overlap // 2)``; the folds are then
    overlap-added (no trimming; geneing keeps the first T * hop samples).
    """
    y = np.array(y, dtype=np.float64)
    num_folds, length = y.shape
    target = length - 2 * overlap
    total = num_folds * (target + overlap) + overlap
    silence_len = overlap // 2
    fade_len = overlap - silence_len
    t = np.linspace(-1.0, 1.0, fade_len)
    fade_in = np.concatenate([np.zeros(silence_len), np.sqrt(0.5 * (1.0 + t))])
    fade_out = np.concatenate([np.sqrt(0.5 * (1.0 - t)), np.zeros(silence_len)])
    y[:, :overlap] *= fade_in
    y[:, length - overlap:] *= fade_out
    out = np.zeros(total)
    for i in range(num_folds):
        start = i * (target + overlap)
        out[start:start + length] += y[i]
    return out


def fatchord_trim_and_fade(wave: np.ndarray, n_frames: int, hop_length: int) -> np.ndarray:
    """fatchord generate()'s ending: keep ``(n_frames - 1) * hop`` samples, then multiply the last
    ``20 * hop`` by a linear ramp 1 -> 0 (``np.linspace(1, 0, 20 * hop)``). geneing does neither."""
    out = np.array(wave[: (n_frames - 1) * hop_length], dtype=np.float64)
    n = min(20 * hop_length, out.size)
    out[out.size - n:] *= np.linspace(1.0, 0.0, 20 * hop_length)[20 * hop_length - n:]
    return out
