"""Architecture configs of the fatchord WaveRNN family, inferred from a
state_dict's tensor shapes (fatchord/WaveRNN, Coqui TTS, geneing).

Shapes fix almost everything; what they cannot tell (sample rate, mu-law,
the mel front end) comes from the checkpoint's own config when it has one
(Coqui), else from the family's published defaults, overridable by the caller.

Besides :func:`infer_config` this module holds the checks that turn a
"some tensors" dict into a trustworthy model: :func:`normalize_state_dict`
(prefixes, GRUCell names, bookkeeping tensors), :func:`expected_shapes` and
:func:`validate_state_dict` (every tensor present with the shape the config
implies), and :func:`add_null_aux_net` for checkpoints trained without the
MelResNet (Coqui ``use_aux_net=False``).
"""
from __future__ import annotations

import math
import re
from typing import Mapping

import numpy as np

MOL_LOG_SCALE_MIN = float(np.log(1e-14))

# Defaults of each variant's published hparams (not stored in checkpoints).
VARIANT_DEFAULTS = {
    "geneing": {"sample_rate": 16000, "mu_law": False,
                "mel": {"n_fft": 2048, "win_length": 800, "fmin": 95, "fmax": 7600, "power": 1.0,
                        "ref_level_db": 20, "min_level_db": -100, "normalize": "symmetric", "max_abs_value": 4.0,
                        "center": True, "pad_mode": "constant", "preemphasis": 0.0}},
    "fatchord": {"sample_rate": 22050, "mu_law": True,
                 "mel": {"n_fft": 2048, "win_length": 1100, "fmin": 40, "fmax": 11025, "power": 1.0,
                         # fatchord's melspectrogram() applies no ref_level_db (only its linear one does)
                         "ref_level_db": 0, "min_level_db": -100, "normalize": "unit", "max_abs_value": 1.0,
                         "center": True, "pad_mode": "reflect", "preemphasis": 0.0}},
}

# The tensor every fatchord-family checkpoint has; used to find a wrapper prefix.
ANCHOR = "I.weight"
RESNET = "upsample.resnet"
# Prefixes wrappers put in front of the model's own names (DataParallel, Lightning, ...).
_WRAPPER_PREFIXES = ("module.", "model.", "generator.", "net.", "vocoder.", "_orig_mod.")
_BOOKKEEPING = re.compile(r"(^|\.)(num_batches_tracked|step)$")
# GRUCell-style names (no _l0) used by some forks; the engine reads nn.GRU names.
_GRU_CELL = re.compile(r"^(rnn[12])\.(weight_ih|weight_hh|bias_ih|bias_hh)$")


def _shape(sd: Mapping[str, np.ndarray], name: str) -> tuple[int, ...]:
    if name not in sd:
        raise ValueError(f"checkpoint has no tensor '{name}': not a fatchord-family WaveRNN")
    return tuple(int(d) for d in np.shape(sd[name]))


# --------------------------------------------------------------------------- normalisation


def normalize_state_dict(sd: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Bring a state_dict to the plain fatchord names.

    Strips a wrapper prefix (``module.``, ``model.`` ...), renames GRUCell
    tensors (``rnn1.weight_ih``) to nn.GRU names (``rnn1.weight_ih_l0``), and
    drops bookkeeping tensors (``step``, ``num_batches_tracked``). Returns the
    new dict and notes about what was changed.
    """
    notes: list[str] = []
    out = dict(sd)
    if ANCHOR not in out:
        prefix = None
        for name in out:
            if name.endswith("." + ANCHOR):
                prefix = name[: -len(ANCHOR)]
                break
        if prefix is None:
            # Peel known wrapper prefixes even when the model is not recognisable yet:
            # the missing-tensor error then names the model's own tensors.
            for p in _WRAPPER_PREFIXES:
                if out and all(k.startswith(p) for k in out):
                    prefix = p
                    break
        if prefix:
            out = {k[len(prefix):]: v for k, v in out.items() if k.startswith(prefix)}
            notes.append(f"stripped the prefix '{prefix}' from tensor names")
    renamed = {}
    for k in list(out):
        m = _GRU_CELL.match(k)
        if m and f"{k}_l0" not in out:
            renamed[f"{k}_l0"] = out.pop(k)
    if renamed:
        out.update(renamed)
        notes.append("renamed GRUCell tensors to nn.GRU names (*_l0)")
    dropped = [k for k in out if _BOOKKEEPING.search(k)]
    for k in dropped:
        del out[k]
    return out, notes


def add_null_aux_net(sd: dict[str, np.ndarray], n_mels: int, pad: int = 2) -> None:
    """Give a model trained without the MelResNet (Coqui ``use_aux_net=False``) an inert one.

    The engine always runs a MelResNet; this one has 1 channel, no residual
    blocks and a zero output layer, and no consumer reads its output (the
    config's ``aux_slices`` come out empty because no layer has aux inputs),
    so the model computes exactly what it was trained to compute.
    """
    sd[f"{RESNET}.conv_in.weight"] = np.zeros((1, n_mels, 2 * pad + 1), np.float32)
    sd[f"{RESNET}.batch_norm.weight"] = np.ones(1, np.float32)
    sd[f"{RESNET}.batch_norm.bias"] = np.zeros(1, np.float32)
    sd[f"{RESNET}.batch_norm.running_mean"] = np.zeros(1, np.float32)
    sd[f"{RESNET}.batch_norm.running_var"] = np.ones(1, np.float32)
    sd[f"{RESNET}.conv_out.weight"] = np.zeros((4, 1, 1), np.float32)
    sd[f"{RESNET}.conv_out.bias"] = np.zeros(4, np.float32)


def check_supported_layout(sd: Mapping[str, np.ndarray]) -> None:
    """Clear errors for WaveRNN layouts the engine cannot run, and for non-WaveRNNs."""
    has_resnet = f"{RESNET}.conv_in.weight" in sd
    has_up = any(k.startswith("upsample.up_layers.") for k in sd)
    core = [n for n in (ANCHOR, "rnn1.weight_ih_l0", "fc1.weight") if n in sd]
    if not core and not has_resnet and not has_up:
        sample = ", ".join(sorted(sd)[:6]) or "none"
        raise ValueError("not a WaveRNN checkpoint: none of the tensors I.weight, rnn1.weight_ih_l0, fc1.weight, "
                         f"upsample.* is present (it has {len(sd)} tensors: {sample}{', ...' if len(sd) > 6 else ''})")
    if has_resnet and not has_up:
        raise ValueError(
            "unsupported WaveRNN variant: the checkpoint has a MelResNet but no upsample.up_layers "
            "(Coqui TTS WaveRNN trained with use_upsample_net=False, which upsamples by linear "
            "interpolation and scales the mels by 0.045); sparsewave runs the Stretch2d + Conv2d "
            "UpsampleNetwork only (use_upsample_net=True)")
    if "fc3.weight" in sd and _shape(sd, "fc3.weight")[0] == 2:
        raise ValueError("unsupported WaveRNN output head: fc3 has 2 outputs (Coqui mode 'gauss', a single "
                         "Gaussian); sparsewave supports the softmax ('bits') and mixture-of-logistics ('mold') heads")


def _upsample_kernels(sd: Mapping[str, np.ndarray]) -> list[int]:
    idx = {}
    for k in sd:
        m = re.match(r"^upsample\.up_layers\.(\d+)\.(\w+)$", k)
        if m:
            if m.group(2) != "weight":
                raise ValueError(f"upsample layer has an unexpected tensor '{k}' (the smoothing convs have no bias)")
            idx[int(m.group(1))] = k
    if not idx:
        raise ValueError("checkpoint has no upsample.up_layers.*: not a fatchord-family WaveRNN")
    order = sorted(idx)
    if order != list(range(1, 2 * len(order), 2)):
        raise ValueError(f"unsupported upsample layout: smoothing convs at up_layers {order}; expected "
                         f"Stretch2d/Conv2d pairs with the convs at {list(range(1, 2 * len(order), 2))}")
    kernels = []
    for i in order:
        shape = _shape(sd, idx[i])
        if len(shape) != 4 or shape[:3] != (1, 1, 1):
            raise ValueError(f"inconsistent shapes: {idx[i]} is {shape}, expected (1, 1, 1, kernel)")
        kernels.append(shape[-1])
    return kernels


# --------------------------------------------------------------------------- config


def infer_config(sd: Mapping[str, np.ndarray], overrides: Mapping | None = None) -> dict:
    """Config for a fatchord-family state_dict (names as in PyTorch)."""
    check_supported_layout(sd)
    conv_in = _shape(sd, f"{RESNET}.conv_in.weight")
    if len(conv_in) != 3:
        raise ValueError(f"inconsistent shapes: {RESNET}.conv_in.weight is {conv_in}, expected (out, n_mels, kernel)")
    compute, n_mels, k_in = conv_in
    if k_in % 2 == 0:
        raise ValueError(f"conv_in kernel {k_in} is even; expected 2 * pad + 1")
    res_blocks = 0
    while f"{RESNET}.layers.{res_blocks}.conv1.weight" in sd:
        res_blocks += 1
    res_out = _shape(sd, f"{RESNET}.conv_out.weight")[0]
    kernels = _upsample_kernels(sd)
    if any(k % 2 == 0 for k in kernels):
        raise ValueError(f"upsample kernels {kernels} must be odd (2 * factor + 1)")
    factors = [(k - 1) // 2 for k in kernels]
    if any(f < 1 for f in factors):
        raise ValueError(f"upsample kernels {kernels} imply a factor below 1")
    i_shape = _shape(sd, "I.weight")
    if len(i_shape) != 2:
        raise ValueError(f"inconsistent shapes: I.weight is {i_shape}, expected (rnn_dims, inputs)")
    rnn, in_i = i_shape
    n_rnn = 2 if "rnn2.weight_ih_l0" in sd else 1
    fc_names = [n for n in ("fc1", "fc2", "fc3") if f"{n}.weight" in sd]
    if len(fc_names) < 2 or fc_names[0] != "fc1" or fc_names[-1] != "fc3":
        raise ValueError(f"checkpoint has fc layers {fc_names}; expected fc1 and fc3 (and maybe fc2)")
    for n in fc_names:
        if len(_shape(sd, f"{n}.weight")) != 2:
            raise ValueError(f"inconsistent shapes: {n}.weight is {_shape(sd, f'{n}.weight')}, expected a matrix")
    fc_dims = _shape(sd, "fc1.weight")[0]
    n_out = _shape(sd, f"{fc_names[-1]}.weight")[0]
    aux_i = in_i - 1 - n_mels
    if aux_i < 0:
        raise ValueError(f"inconsistent shapes: I.weight takes {in_i} inputs, fewer than 1 + n_mels = {1 + n_mels} "
                         f"(n_mels from {RESNET}.conv_in.weight)")
    if n_rnn == 2:  # fatchord / Coqui: aux in four equal chunks
        variant = "fatchord"
        c = res_out // 4
        rnn2_in = _shape(sd, "rnn2.weight_ih_l0")
        if len(rnn2_in) != 2:
            raise ValueError(f"inconsistent shapes: rnn2.weight_ih_l0 is {rnn2_in}, expected a matrix")
        slices = {"I": [0, aux_i], "rnn2": [c, c + rnn2_in[1] - rnn]}
        for j, n in enumerate(fc_names[:-1]):
            width = _shape(sd, f"{n}.weight")[1] - (rnn if j == 0 else fc_dims)
            slices[n] = [(2 + j) * c, (2 + j) * c + width]
    else:  # geneing: two chunks; I and fc1 take the first channels of theirs
        variant = "geneing"
        c = res_out // 2
        slices = {"I": [0, aux_i], "fc1": [c, c + _shape(sd, "fc1.weight")[1] - rnn]}
    for k, (a, b) in slices.items():
        if b < a:
            raise ValueError(f"inconsistent shapes: the input width of {k} is smaller than its main input "
                             f"(rnn_dims {rnn} / fc_dims {fc_dims})")
    slices = {k: v for k, v in slices.items() if v[1] > v[0]}
    for k, (a, b) in slices.items():
        if a < 0 or b > res_out:
            raise ValueError(f"inconsistent shapes: aux slice of {k} [{a}, {b}) does not fit the {res_out} aux "
                             f"channels of {RESNET}.conv_out")
    overrides = dict(overrides or {})
    defaults = VARIANT_DEFAULTS[variant]
    if n_out == 30 or overrides.get("head") == "mol":
        if n_out % 3:
            raise ValueError(f"mixture-of-logistics head needs 3 * n_mix outputs, fc3 has {n_out}")
        head = {"head": "mol", "mol_n_mix": n_out // 3, "mol_log_scale_min": MOL_LOG_SCALE_MIN,
                "n_classes": n_out, "mu_law": False}
    else:
        bits = int(round(math.log2(n_out))) if n_out > 0 else 0
        if n_out < 2 or 2 ** bits != n_out:
            raise ValueError(f"output layer has {n_out} classes: neither 2**bits nor 30 (MOL)")
        head = {"head": "softmax", "bits": bits, "n_classes": n_out, "mu_law": defaults["mu_law"]}
    hop = int(np.prod(factors))
    config = {
        "family": "fatchord", "variant": variant, "sample_rate": defaults["sample_rate"],
        "n_mels": n_mels, "hop_length": hop, "pad": (k_in - 1) // 2,
        "upsample_factors": factors, "upsample_kernel_sizes": kernels,
        "res_blocks": res_blocks, "compute_dims": compute, "res_out_dims": res_out, "bn_eps": 1e-5,
        "rnn_dims": rnn, "fc_dims": fc_dims, "n_rnn": n_rnn, "fc_names": fc_names, "n_fc": len(fc_names),
        "aux_slices": slices, **head,
        "mel": dict(defaults["mel"], n_mels=n_mels, hop_length=hop, sample_rate=defaults["sample_rate"]),
    }
    if overrides:
        for k, v in overrides.items():
            if k == "mel" and isinstance(v, Mapping):
                config["mel"].update(v)
            else:
                config[k] = v
        config["mel"]["sample_rate"] = config["sample_rate"]
    if config["head"] == "mol":
        config["mu_law"] = False  # fatchord and Coqui ignore mu-law with MOL
    return config


# --------------------------------------------------------------------------- validation


def _aux_width(config: Mapping, consumer: str) -> int:
    sl = config.get("aux_slices", {}).get(consumer)
    return 0 if sl is None else int(sl[1]) - int(sl[0])


def expected_shapes(config: Mapping) -> dict[str, tuple[int, ...]]:
    """Every tensor a fatchord-family model with ``config`` has, name -> shape
    (without the ``num_batches_tracked`` / ``step`` bookkeeping)."""
    s: dict[str, tuple[int, ...]] = {}
    cd, ro, nm = int(config["compute_dims"]), int(config["res_out_dims"]), int(config["n_mels"])

    def bn(prefix: str) -> None:
        for f in ("weight", "bias", "running_mean", "running_var"):
            s[f"{prefix}.{f}"] = (cd,)

    s[f"{RESNET}.conv_in.weight"] = (cd, nm, 2 * int(config["pad"]) + 1)
    bn(f"{RESNET}.batch_norm")
    for i in range(int(config["res_blocks"])):
        for j in (1, 2):
            s[f"{RESNET}.layers.{i}.conv{j}.weight"] = (cd, cd, 1)
            bn(f"{RESNET}.layers.{i}.batch_norm{j}")
    s[f"{RESNET}.conv_out.weight"] = (ro, cd, 1)
    s[f"{RESNET}.conv_out.bias"] = (ro,)
    for i, k in enumerate(config["upsample_kernel_sizes"]):
        s[f"upsample.up_layers.{2 * i + 1}.weight"] = (1, 1, 1, int(k))
    r = int(config["rnn_dims"])
    s["I.weight"] = (r, 1 + nm + _aux_width(config, "I"))
    s["I.bias"] = (r,)
    for n in range(1, int(config["n_rnn"]) + 1):
        n_in = r + (_aux_width(config, "rnn2") if n == 2 else 0)
        s[f"rnn{n}.weight_ih_l0"] = (3 * r, n_in)
        s[f"rnn{n}.weight_hh_l0"] = (3 * r, r)
        s[f"rnn{n}.bias_ih_l0"] = (3 * r,)
        s[f"rnn{n}.bias_hh_l0"] = (3 * r,)
    width = r
    names = list(config["fc_names"])
    for i, name in enumerate(names):
        out = int(config["n_classes"]) if i == len(names) - 1 else int(config["fc_dims"])
        s[f"{name}.weight"] = (out, width + _aux_width(config, name))
        s[f"{name}.bias"] = (out,)
        width = out
    return s


def validate_state_dict(sd: Mapping[str, np.ndarray], config: Mapping) -> tuple[dict[str, np.ndarray], list[str]]:
    """Check ``sd`` against the shapes ``config`` implies.

    Returns (the model's tensors only, names of the extra tensors that were
    ignored). Raises ValueError naming every missing tensor or wrong shape.
    """
    want = expected_shapes(config)
    missing = [n for n in want if n not in sd]
    if missing:
        shown = ", ".join(missing[:8]) + (f", ... ({len(missing)} in all)" if len(missing) > 8 else "")
        raise ValueError(f"not a complete WaveRNN: missing tensors {shown}")
    bad = []
    for n, shape in want.items():
        got = tuple(int(d) for d in np.shape(sd[n]))
        if got != shape:
            bad.append(f"{n} is {got}, expected {shape}")
    if bad:
        shown = "; ".join(bad[:6]) + (f"; ... ({len(bad)} in all)" if len(bad) > 6 else "")
        raise ValueError(f"inconsistent shapes: {shown}")
    out = {}
    for n in want:
        a = np.asarray(sd[n])
        if a.dtype.kind not in "fiu":
            raise ValueError(f"tensor '{n}' has dtype {a.dtype}, expected floating point")
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"tensor '{n}' holds NaN or Inf")
        out[n] = a
    for prefix in [f"{RESNET}.batch_norm"] + [f"{RESNET}.layers.{i}.batch_norm{j}"
                                              for i in range(int(config["res_blocks"])) for j in (1, 2)]:
        if np.any(out[prefix + ".running_var"] < 0):
            raise ValueError(f"{prefix}.running_var has negative entries")
    extra = sorted(n for n in sd if n not in want)
    return out, extra
