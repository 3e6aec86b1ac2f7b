"""Architecture configs of the fatchord WaveRNN family, inferred from a
state_dict's tensor shapes (fatchord/WaveRNN, Coqui TTS, geneing).

Shapes fix almost everything; what they cannot tell (sample rate, mu-law,
the mel front end) comes from the family's published defaults, overridable
by the caller.
"""
from __future__ import annotations

import math
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
                         "ref_level_db": 20, "min_level_db": -100, "normalize": "unit", "max_abs_value": 1.0,
                         "center": True, "pad_mode": "reflect", "preemphasis": 0.0}},
}


def _shape(sd: Mapping[str, np.ndarray], name: str) -> tuple[int, ...]:
    if name not in sd:
        raise ValueError(f"checkpoint has no tensor '{name}': not a fatchord-family WaveRNN")
    return tuple(int(d) for d in np.shape(sd[name]))


def infer_config(sd: Mapping[str, np.ndarray], overrides: Mapping | None = None) -> dict:
    """Config for a fatchord-family state_dict (names as in PyTorch)."""
    compute, n_mels, k_in = _shape(sd, "upsample.resnet.conv_in.weight")
    if k_in % 2 == 0:
        raise ValueError(f"conv_in kernel {k_in} is even; expected 2 * pad + 1")
    res_blocks = 0
    while f"upsample.resnet.layers.{res_blocks}.conv1.weight" in sd:
        res_blocks += 1
    res_out = _shape(sd, "upsample.resnet.conv_out.weight")[0]
    kernels = []
    i = 1
    while f"upsample.up_layers.{i}.weight" in sd:
        kernels.append(_shape(sd, f"upsample.up_layers.{i}.weight")[-1])
        i += 2
    if not kernels:
        raise ValueError("checkpoint has no upsample.up_layers.*: not a fatchord-family WaveRNN")
    if any(k % 2 == 0 for k in kernels):
        raise ValueError(f"upsample kernels {kernels} must be odd (2 * factor + 1)")
    factors = [(k - 1) // 2 for k in kernels]
    rnn, in_i = _shape(sd, "I.weight")
    n_rnn = 2 if "rnn2.weight_ih_l0" in sd else 1
    fc_names = [n for n in ("fc1", "fc2", "fc3") if f"{n}.weight" in sd]
    if len(fc_names) < 2:
        raise ValueError(f"checkpoint has fc layers {fc_names}; expected fc1 and fc3 (and maybe fc2)")
    fc_dims = _shape(sd, "fc1.weight")[0]
    n_out = _shape(sd, f"{fc_names[-1]}.weight")[0]
    aux_i = in_i - 1 - n_mels
    if n_rnn == 2:  # fatchord / Coqui: aux in four equal chunks
        variant = "fatchord"
        c = res_out // 4
        slices = {"I": [0, aux_i], "rnn2": [c, c + _shape(sd, "rnn2.weight_ih_l0")[1] - rnn]}
        for j, n in enumerate(fc_names[:-1]):
            width = _shape(sd, f"{n}.weight")[1] - (rnn if j == 0 else fc_dims)
            slices[n] = [(2 + j) * c, (2 + j) * c + width]
    else:  # geneing: two chunks; I and fc1 take the first channels of theirs
        variant = "geneing"
        c = res_out // 2
        slices = {"I": [0, aux_i], "fc1": [c, c + _shape(sd, "fc1.weight")[1] - rnn]}
    slices = {k: v for k, v in slices.items() if v[1] > v[0]}
    for k, (a, b) in slices.items():
        if a < 0 or b > res_out:
            raise ValueError(f"aux slice of {k} [{a}, {b}) does not fit the {res_out} aux channels")
    defaults = VARIANT_DEFAULTS[variant]
    if n_out == 30 or (overrides or {}).get("head") == "mol":
        head = {"head": "mol", "mol_n_mix": n_out // 3, "mol_log_scale_min": MOL_LOG_SCALE_MIN,
                "n_classes": n_out, "mu_law": False}
    else:
        bits = int(round(math.log2(n_out)))
        if 2 ** bits != n_out:
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
    return config
