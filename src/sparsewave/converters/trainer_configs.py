"""Trainers' own config files -> sparsewave config values.

What a checkpoint's weights cannot tell (sample rate, mu-law, the mel front end)
lives in the trainer's config: Coqui TTS stores it inside the checkpoint (and as
``config.json`` beside it), fatchord/WaveRNN in ``hparams.py`` (e.g. as JSON),
geneing in its ``hparams.py``. :func:`trainer_config_hints` recognises each
and returns

* ``hints``: config values to use (lower priority than explicit overrides),
* ``expect``: values the weights must agree with (hop length, mel channels,
  classes, upsample factors, pad) -- a mismatch means the config belongs to
  another model and is reported as an error,
* ``notes``: things the user should know.
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["coqui_hints", "fatchord_hints", "geneing_hints", "trainer_config_hints"]


def _get(d: Mapping | None, *keys, default=None):
    for k in keys:
        if isinstance(d, Mapping) and d.get(k) is not None:
            return d[k]
    return default


def _int(v):
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() else None


def _int_list(v) -> list[int] | None:
    """``v`` as a list of nonzero integers (upsample factors), else None."""
    return [int(f) for f in v] if isinstance(v, (list, tuple)) and all(_int(f) for f in v) else None


def _renamed(hp: Mapping, pairs) -> dict:
    """{ours: hp[theirs]} for each (ours, theirs) pair whose value ``hp`` holds (not None)."""
    return {ours: hp[theirs] for ours, theirs in pairs if hp.get(theirs) is not None}


def _rate_and_sizes(hp: Mapping, hints: dict, expect: dict, sizes, factors_key: str) -> int | None:
    """What fatchord's and geneing's hparams share: ``sample_rate`` into ``hints``; the integer
    sizes named by ``sizes`` ((ours, theirs) pairs) and the upsample factors under ``factors_key``
    into ``expect``. Returns the sample rate (None when absent)."""
    sr = _int(hp.get("sample_rate"))
    if sr:
        hints["sample_rate"] = sr
    for ours, theirs in sizes:
        if _int(hp.get(theirs)) is not None:
            expect[ours] = _int(hp[theirs])
    factors = _int_list(hp.get(factors_key))
    if factors is not None:
        expect["upsample_factors"] = factors
    return sr


def coqui_hints(cfg: Mapping) -> tuple[dict, dict, list[str]]:
    """(config overrides, values to cross-check against the weights, notes) from a Coqui config.

    Reads ``model_args`` (``wavernn_model_params`` / ``model_params`` in older
    configs) and ``audio``: mode (``"mold"``, ``"gauss"`` or bits), mulaw,
    pad, use_aux_net / use_upsample_net, upsample_factors, sample_rate,
    hop_length, num_mels and the mel front end.
    """
    args = _get(cfg, "model_args", "wavernn_model_params", "model_params", default={}) or {}
    audio = _get(cfg, "audio", default={}) or {}
    hints: dict = {}
    expect: dict = {}
    notes: list[str] = []
    mode = _get(args, "mode", default=_get(cfg, "mode"))
    if isinstance(mode, str) and mode.strip().isdigit():
        mode = int(mode.strip())
    if mode == "gauss":
        raise ValueError("unsupported WaveRNN output head: the Coqui config says mode 'gauss' (a single "
                         "Gaussian); sparsewave supports the softmax (bits) and 'mold' heads")
    if mode == "mold":
        expect["n_classes"] = 30
        hints["head"] = "mol"
    elif isinstance(mode, int) and not isinstance(mode, bool):
        expect["n_classes"] = 2 ** mode
        mulaw = _get(args, "mulaw", default=_get(cfg, "mulaw"))
        if isinstance(mulaw, bool):
            hints["mu_law"] = mulaw
    elif mode is not None:
        notes.append(f"unknown Coqui mode {mode!r} ignored")
    if _get(args, "use_upsample_net") is False:
        raise ValueError(
            "unsupported WaveRNN variant: the Coqui config says use_upsample_net=False (linear-interpolation "
            "upsampling, mels scaled by 0.045); sparsewave runs the Stretch2d + Conv2d UpsampleNetwork only")
    factors = _int_list(_get(args, "upsample_factors"))
    if factors is not None:
        expect["upsample_factors"] = factors
    if _int(_get(args, "pad")) is not None:
        expect["pad"] = _int(_get(args, "pad"))
    sr = _get(audio, "sample_rate", default=_get(cfg, "sample_rate"))
    if isinstance(sr, (int, float)) and not isinstance(sr, bool) and sr > 0:
        hints["sample_rate"] = int(sr)
    hop = _int(_get(audio, "hop_length", default=_get(cfg, "hop_length")))
    if hop:
        expect["hop_length"] = hop
    n_mels = _int(_get(audio, "num_mels", default=_get(args, "feat_dims")))
    if n_mels:
        expect["n_mels"] = n_mels
    mel: dict = {}
    for ours, theirs in (("n_fft", "fft_size"), ("win_length", "win_length"), ("fmin", "mel_fmin"),
                         ("fmax", "mel_fmax"), ("ref_level_db", "ref_level_db"), ("min_level_db", "min_level_db"),
                         ("preemphasis", "preemphasis"), ("pad_mode", "stft_pad_mode"), ("spec_gain", "spec_gain"),
                         ("log_func", "log_func"), ("stats_path", "stats_path")):
        if theirs in audio:
            mel[ours] = audio[theirs]
    if audio:
        mel["power"] = 1.0  # Coqui's "power" is the Griffin-Lim exponent; its mels are magnitude mels
        mel["center"] = True
        if audio.get("signal_norm") is False:
            mel["normalize"] = "none"
        elif "symmetric_norm" in audio:
            mel["normalize"] = "symmetric" if audio["symmetric_norm"] else "unit"
        if "max_norm" in audio:
            mel["max_abs_value"] = audio["max_norm"]
        if mel.get("fmax") is None and "sample_rate" in hints:
            mel["fmax"] = hints["sample_rate"] / 2
        mel = {k: v for k, v in mel.items() if v is not None}
        if mel.get("stats_path"):
            notes.append("the Coqui config normalises mels with mean/std statistics (stats_path); "
                         "feed mels normalised the same way")
        hints["mel"] = mel
    return hints, expect, notes


def fatchord_hints(hp: Mapping) -> tuple[dict, dict, list[str]]:
    """From fatchord/WaveRNN's hparams (``voc_mode``, ``voc_upsample_factors``, ``bits``, ...)."""
    hints: dict = {}
    expect: dict = {}
    notes: list[str] = []
    mode = str(hp.get("voc_mode", "")).upper()
    bits = _int(hp.get("bits"))
    if mode == "MOL":
        expect["n_classes"] = 30
        hints["head"] = "mol"
    elif mode == "RAW":
        if bits:
            expect["n_classes"] = 2 ** bits
        if isinstance(hp.get("mu_law"), bool):
            hints["mu_law"] = hp["mu_law"]
    sr = _rate_and_sizes(hp, hints, expect, (("hop_length", "hop_length"), ("n_mels", "num_mels"), ("pad", "voc_pad")),
                         "voc_upsample_factors")
    mel = _renamed(hp, (("n_fft", "n_fft"), ("win_length", "win_length"), ("fmin", "fmin"), ("fmax", "fmax"),
                        ("ref_level_db", "ref_level_db"), ("min_level_db", "min_level_db")))
    if "fmax" not in mel and sr:
        mel["fmax"] = sr // 2  # librosa's default, which fatchord uses
    if mel:
        hints["mel"] = mel
    if hp.get("peak_norm"):
        notes.append("fatchord hparams have peak_norm=True: the training audio was peak-normalised")
    return hints, expect, notes


def geneing_hints(hp: Mapping) -> tuple[dict, dict, list[str]]:
    """From geneing/WaveRNN-Pytorch's hparams (``input_type``, ``hop_size``, ``symmetric_mels``, ...)."""
    hints: dict = {}
    expect: dict = {}
    notes: list[str] = []
    input_type = hp.get("input_type")
    bits = _int(hp.get("bits"))
    if input_type in ("bits", "raw") and bits:
        expect["n_classes"] = 2 ** bits
        hints["mu_law"] = False
    elif input_type == "mulaw":
        hints["mu_law"] = True
    elif input_type == "mixture":
        expect["n_classes"] = 30
        hints["head"] = "mol"
    _rate_and_sizes(hp, hints, expect, (("hop_length", "hop_size"), ("n_mels", "num_mels"), ("pad", "pad")),
                    "upsample_factors")
    mel = _renamed(hp, (("n_fft", "n_fft"), ("win_length", "win_size"), ("fmin", "fmin"), ("fmax", "fmax"),
                        ("ref_level_db", "ref_level_db"), ("min_level_db", "min_level_db"),
                        ("max_abs_value", "max_abs_value"), ("pad_mode", "stft_pad_mode"),
                        ("power", "magnitude_power")))
    if isinstance(hp.get("symmetric_mels"), bool):
        mel["normalize"] = "symmetric" if hp["symmetric_mels"] else "unit"
    if mel:
        hints["mel"] = mel
    return hints, expect, notes


def trainer_config_hints(cfg: Mapping) -> tuple[str, dict, dict, list[str]] | None:
    """(trainer, hints, expect, notes) when ``cfg`` is a trainer's config file, else None."""
    if not isinstance(cfg, Mapping):
        return None
    if any(k in cfg for k in ("model_args", "wavernn_model_params", "model_params")) or (
            isinstance(cfg.get("audio"), Mapping) and ("mode" in cfg or cfg.get("model") == "wavernn")):
        return ("coqui", *coqui_hints(cfg))
    if any(k.startswith("voc_") for k in cfg):
        return ("fatchord", *fatchord_hints(cfg))
    if "input_type" in cfg or "hop_size" in cfg:
        return ("geneing", *geneing_hints(cfg))
    return None
