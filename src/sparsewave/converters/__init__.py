"""Converters from trainers' checkpoints to the sparsewave weight file.

Sources (detected from the file's content, or chosen with ``source=``):

* ``geneing-bin``: geneing/WaveRNN-Pytorch's compressed ``model.bin`` (pure NumPy).
* ``torch``: a PyTorch checkpoint or state_dict (``.pt``/``.pth``/``.ckpt``) of
  fatchord/WaveRNN (``model.save()``: a state_dict with a ``step`` tensor),
  Coqui TTS's WaveRNN (``{"model": state_dict, "config": {...}, ...}``; mode,
  mu-law, sample rate, hop and mel settings are read from its config) or
  geneing's model. Needs torch (the optional ``[convert]`` extra) and loads
  with ``weights_only=True`` only: no arbitrary unpickling (see
  :mod:`.torch_checkpoint`).
* ``npz``: a NumPy ``.npz`` of state_dict-named arrays (``allow_pickle=False``).
* ``safetensors``: a safetensors file of state_dict-named tensors.

What the weights cannot tell (sample rate, mu-law, mel front end) comes from,
in increasing priority: the variant's published defaults, the checkpoint's own
config (Coqui), the caller's ``overrides``.
"""
from __future__ import annotations

import json
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .._format import format_bytes
from .._paths import check_input_file
from .fatchord_family import (add_null_aux_net, check_supported_layout, expected_shapes, infer_config,
                              normalize_state_dict, validate_state_dict)
from .geneing_bin import GeneingModelInfo, parse_geneing_model_bin, read_geneing_model_bin
from .trainer_configs import trainer_config_hints

__all__ = ["ConversionReport", "SOURCES", "convert", "detect_source", "read_checkpoint",
           "GeneingModelInfo", "parse_geneing_model_bin", "read_geneing_model_bin", "infer_config",
           "expected_shapes"]

SOURCES = ("geneing-bin", "torch", "npz", "safetensors")


@dataclass
class ConversionReport:
    source: str
    output: Path
    config: dict
    parameters: int = 0
    nonzero: int = 0
    matrices: list = field(default_factory=list)  # (name, shape, density)
    input_path: Path | None = None
    input_bytes: int = 0
    output_bytes: int = 0
    trainer: str = ""
    step: int | None = None
    notes: list = field(default_factory=list)  # what was assumed / changed, for the user

    def summary(self) -> str:
        c = self.config
        if c["head"] == "softmax":
            head = f"softmax, {c['n_classes']} classes ({c.get('bits')} bits)" + (", mu-law" if c.get("mu_law") else "")
        else:
            head = f"mixture of {c.get('mol_n_mix')} logistics ({c['n_classes']} outputs)"
        src = f"{self.source}" + (f" ({self.trainer}" + (f", step {self.step:,}" if self.step else "") + ")"
                                  if self.trainer else "")
        sizes = f"  size: {format_bytes(self.input_bytes)} -> {format_bytes(self.output_bytes)}" if self.output_bytes else None
        lines = [
            f"converted {src} -> {self.output}",
            f"  model: {c['family']}/{c.get('variant', '?')}, rnn {c['rnn_dims']} x {c['n_rnn']}, fc {c['fc_dims']}, "
            f"{c['sample_rate']} Hz, hop {c['hop_length']}, {c['n_mels']} mels",
            f"  head: {head}",
            f"  parameters: {self.parameters:,} ({self.nonzero:,} nonzero, density {self.nonzero / max(self.parameters, 1):.3f})",
        ]
        if sizes:
            lines.insert(1, sizes)
        for name, shape, density in self.matrices:
            lines.append(f"    {name:24s} {str(tuple(shape)):14s} density {density:.3f}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- detection


def _safetensors_metadata(head: bytes, f) -> dict | None:
    """The header of a safetensors file, or None when it is not one."""
    if len(head) < 9:
        return None
    (n,) = struct.unpack("<Q", head[:8])
    if not 2 <= n <= 100_000_000 or head[8:9] != b"{":
        return None
    f.seek(8)
    raw = f.read(n)
    try:
        return json.loads(raw)
    except ValueError:
        return None


def detect_source(path) -> str:
    """What kind of checkpoint ``path`` is, from its content (not its name)."""
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(64)
        if not head:
            raise ValueError(f"'{path}' is empty")
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            try:
                with zipfile.ZipFile(p) as z:
                    names = z.namelist()
            except (zipfile.BadZipFile, OSError) as e:
                raise ValueError(f"'{path}' is a damaged zip file: {e}") from None
            if any(n.endswith("data.pkl") for n in names):
                return "torch"
            if names and all(n.endswith(".npy") for n in names):
                return "npz"
            raise ValueError(f"'{path}' is a zip file but neither a PyTorch checkpoint nor an .npz")
        if head[0] == 0x80 and 2 <= head[1] <= 5:
            return "torch"  # legacy (non-zip) torch.save / a raw pickle: loaded with weights_only=True
        meta = _safetensors_metadata(head, f)
        if meta is not None:
            if (meta.get("__metadata__") or {}).get("format") == "sparsewave":
                raise ValueError(f"'{path}' is already a sparsewave weight file; nothing to convert")
            return "safetensors"
    if head.startswith(b"\x93NUMPY"):
        raise ValueError(f"'{path}' is a single NumPy array (.npy), not a checkpoint; save the state_dict "
                         "with np.savez(path, **state_dict)")
    if head.startswith((b"RIFF", b"fLaC", b"OggS", b"ID3")):
        raise ValueError(f"'{path}' is an audio file, not a checkpoint")
    if len(head) >= 24:
        res_blocks, n_up, total_scale, pad, rtype = struct.unpack_from("<5i", head)
        if 0 <= res_blocks <= 256 and 1 <= n_up <= 16 and 1 <= total_scale <= 65536 and 0 <= pad <= 64 and rtype == 1:
            return "geneing-bin"
    raise ValueError(f"cannot tell what kind of checkpoint '{path}' is (not a PyTorch checkpoint, .npz, "
                     f"safetensors file or geneing model.bin); pass source= one of {SOURCES}")


# --------------------------------------------------------------------------- reading


def _read_npz(path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {}
            for k in z.files:
                a = z[k]
                if a.dtype.kind not in "fiub":
                    raise ValueError(f"array '{k}' has dtype {a.dtype}, not a number type")
                out[k] = a
            return out
    except ValueError as e:
        raise ValueError(f"cannot read '{path}' as an .npz of arrays: {e}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"cannot read '{path}' as an .npz: {e}") from None


def _read_safetensors(path) -> dict[str, np.ndarray]:
    try:
        import safetensors.numpy as stn
        return dict(stn.load_file(str(path)))
    except ImportError:
        raise ImportError("reading a safetensors checkpoint needs the 'safetensors' package") from None
    except Exception as e:
        raise ValueError(f"cannot read '{path}' as a safetensors file: {e}") from None


def read_checkpoint(path, source: str = "auto") -> tuple[dict[str, np.ndarray], dict]:
    """(state_dict-named arrays, meta) from a checkpoint.

    meta holds ``source``, ``trainer``, ``step``, ``hints`` (config values the
    checkpoint states), ``expect`` (values to cross-check against the weights)
    and ``notes``.
    """
    source = detect_source(path) if source == "auto" else source
    meta = {"source": source, "trainer": "", "step": None, "hints": {}, "expect": {}, "notes": []}
    if source == "geneing-bin":
        tensors, info = read_geneing_model_bin(path)
        meta["trainer"] = "geneing"
        meta["hints"] = {"bn_eps": float(info.bn_eps[0])}
        meta["expect"] = {"hop_length": info.total_scale, "pad": info.pad}
        return tensors, meta
    if source == "torch":
        from .torch_checkpoint import read_torch_checkpoint
        from .trainer_configs import coqui_hints

        sd, tmeta = read_torch_checkpoint(path)
        meta["trainer"] = tmeta["trainer"]
        meta["step"] = tmeta["step"]
        if tmeta["config"] is not None:
            hints, expect, notes = coqui_hints(tmeta["config"])
            meta["hints"], meta["expect"] = hints, expect
            meta["notes"] += notes
        return sd, meta
    if source == "npz":
        return _read_npz(path), meta
    if source == "safetensors":
        return _read_safetensors(path), meta
    raise ValueError(f"unknown source '{source}'; choose one of {SOURCES}")


# --------------------------------------------------------------------------- conversion


def _check_expectations(config: dict, expect: Mapping, what: str) -> None:
    for key in ("hop_length", "n_mels", "n_classes", "pad"):
        if key in expect and int(expect[key]) != int(config[key]):
            if key == "pad" and config.get("res_blocks") == 0 and config.get("compute_dims") == 1:
                continue  # no MelResNet: pad does not matter
            raise ValueError(f"inconsistent checkpoint: {what} says {key} = {expect[key]}, "
                             f"but the weights imply {config[key]}")
    if "upsample_factors" in expect and list(expect["upsample_factors"]) != list(config["upsample_factors"]):
        raise ValueError(f"inconsistent checkpoint: {what} says upsample_factors = {list(expect['upsample_factors'])}, "
                         f"but the weights imply {config['upsample_factors']}")


def prepare_model(sd: Mapping[str, np.ndarray], meta: Mapping | None = None,
                  overrides: Mapping | None = None) -> tuple[dict[str, np.ndarray], dict, list[str]]:
    """(validated float32 tensors, config, notes) for a raw state_dict.

    Normalises names, recognises the variant, infers and cross-checks the config,
    and checks every tensor's presence and shape. Raises ValueError otherwise.
    """
    meta = dict(meta or {})
    sd, notes = normalize_state_dict(sd)
    notes = list(meta.get("notes", [])) + notes
    expect = dict(meta.get("expect", {}))
    merged = dict(meta.get("hints", {}))
    overrides = dict(overrides or {})
    # A trainer's own config file (Coqui config.json, fatchord / geneing hparams) may be given as
    # overrides["trainer_config"] (then the other keys still override), or as the overrides themselves.
    trainer_cfg = overrides.pop("trainer_config", None)
    if trainer_cfg is None and trainer_config_hints(overrides) is not None:
        trainer_cfg, overrides = overrides, {}
    if trainer_cfg is not None:
        recognised = trainer_config_hints(trainer_cfg)
        if recognised is None:
            raise ValueError("trainer_config is not a Coqui, fatchord or geneing config")
        kind, hints, more_expect, more_notes = recognised
        merged.update(hints)
        expect.update(more_expect)
        notes += more_notes
        notes.append(f"read settings from the {kind} config given")
    merged.update(overrides)
    check_supported_layout(sd)
    if "n_classes" in expect and "fc3.weight" in sd and np.shape(sd["fc3.weight"])[0] != expect["n_classes"]:
        raise ValueError(f"inconsistent checkpoint: the trainer's config says n_classes = {expect['n_classes']}, "
                         f"but the weights' output layer fc3 has {np.shape(sd['fc3.weight'])[0]} outputs")
    no_aux = "upsample.resnet.conv_in.weight" not in sd and any(k.startswith("upsample.up_layers.") for k in sd)
    if no_aux:
        if "I.weight" not in sd:
            raise ValueError("checkpoint has no tensor 'I.weight': not a fatchord-family WaveRNN")
        n_mels = int(expect.get("n_mels", np.shape(sd["I.weight"])[1] - 1))
        if np.shape(sd["I.weight"])[1] != n_mels + 1:
            raise ValueError(f"inconsistent shapes: the model has no MelResNet, so I.weight should take 1 + n_mels = "
                             f"{n_mels + 1} inputs; it takes {np.shape(sd['I.weight'])[1]}")
        add_null_aux_net(sd, n_mels, int(expect.get("pad", 2)))
        notes.append("model trained without the aux MelResNet (use_aux_net=False): an inert one was added")
    if merged.get("head") == "mol" and "n_classes" in expect and expect["n_classes"] != 30:
        merged.pop("head")
    config = infer_config(sd, merged)
    _check_expectations(config, expect, "the trainer's config")
    unknown = [k for k in ("sample_rate", "mu_law") if k not in merged and (k != "mu_law" or config["head"] == "softmax")]
    if unknown:
        src = "geneing's" if config["variant"] == "geneing" else "fatchord's"
        values = {"sample_rate": f"{config['sample_rate']:,} Hz",
                  "mu_law": "mu-law" if config["mu_law"] else "linear (no mu-law)"}
        notes.append(f"the checkpoint does not store {' or '.join(k.replace('_', '-') for k in unknown)}; assumed "
                     f"{src} hparams: {', '.join(values[k] for k in unknown)} (override with --sample-rate / "
                     "--mu-law / --no-mu-law / --config)")
    tensors, extra = validate_state_dict(sd, config)
    if extra:
        shown = ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
        notes.append(f"ignored {len(extra)} tensor(s) the model does not use: {shown}")
    return tensors, config, notes


def convert(src, out, *, source: str = "auto", overrides: Mapping | None = None,
            weights: str = "float32") -> ConversionReport:
    """Convert a checkpoint to a sparsewave weight file (written atomically).

    ``weights="int8"`` stores the sample loop's matrices as int8 with per-row scales
    (``save_model(..., weights="int8")``)."""
    from ..weights import save_model

    src = check_input_file(src, "checkpoint")
    if source != "auto" and source not in SOURCES:
        raise ValueError(f"unknown source '{source}'; choose one of {SOURCES}")
    out = Path(out)
    if out.exists() and out.resolve() == src.resolve():
        raise ValueError("the output would overwrite the checkpoint itself; choose another output path")
    if out.is_dir():
        raise IsADirectoryError(f"output '{out}' is a directory; give a file name")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError("overrides must be a mapping of config keys")
    sd, meta = read_checkpoint(src, source)
    tensors, config, notes = prepare_model(sd, meta, overrides)
    if meta["trainer"] in ("", "state_dict"):
        meta["trainer"] = "geneing layout" if config["variant"] == "geneing" else "fatchord/Coqui layout"
    config["converted_from"] = {"source": meta["source"], "trainer": meta["trainer"] or "unknown",
                                "file": src.name, **({"step": meta["step"]} if meta["step"] else {})}
    report = ConversionReport(source=meta["source"], output=out, config=config, input_path=src,
                              input_bytes=os.path.getsize(src), trainer=meta["trainer"], step=meta["step"],
                              notes=notes)
    for name, arr in tensors.items():
        report.parameters += arr.size
        report.nonzero += int(np.count_nonzero(arr))
        if arr.ndim == 2 and arr.size >= 1024:
            report.matrices.append((name, arr.shape, np.count_nonzero(arr) / arr.size))
    save_model(out, tensors, config, weights=weights)
    report.output_bytes = os.path.getsize(out)
    return report
