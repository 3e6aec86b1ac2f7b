"""``sparsewave info``: what a .sw model is, what it costs per sample, and which kernels run it."""
from __future__ import annotations

import json
from pathlib import Path

from .._format import format_bytes
from .errors import EXIT_OK
from .loading import MODEL_HELP, add_weights_option, load_vocoder, model_path

# Config keys that describe a fatchord-family network's shape.
_ARCH_KEYS = ("variant", "rnn_dims", "n_rnn", "fc_dims", "fc_names", "res_blocks", "compute_dims", "res_out_dims",
              "upsample_factors", "upsample_kernel_sizes", "pad", "aux_slices", "bn_eps")


def register(sub, common) -> None:
    i = sub.add_parser("info", parents=[common], help="describe a .sw model",
                       description="Architecture, matrix shapes / block shapes / densities, loop MACs per sample, "
                                   "memory and the kernel path (ISA) that will run.",
                       epilog="example: sparsewave info geneing.sw --json")
    i.add_argument("model", metavar="MODEL", nargs="?", default=None, help=MODEL_HELP)
    i.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_weights_option(i, "describe the model as loaded with this storage of the sample loop's weights "
                          "(default: as the file stores them, int8 or float32)")
    i.set_defaults(func=run)


def run(args) -> int:
    from ..benchmark import rss_bytes

    path = model_path(args.model)
    before = rss_bytes()
    voc = load_vocoder(str(path), weights=args.weights, float_matrices=args.float_matrices)
    after = rss_bytes()
    delta = (after - before) if (before is not None and after is not None and after > before) else None
    info = model_info(voc, path, delta)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=False, default=str))
    else:
        print_info(info)
    return EXIT_OK


def _read_file_header(path: Path) -> dict:
    """Tensor count / values / format version / int8 matrices from the safetensors header (no data read)."""
    import struct

    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                return {}
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return {}
    tensors = {k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    values = 0
    for v in tensors.values():
        c = 1
        for d in v.get("shape", []):
            c *= int(d)
        values += c
    meta = header.get("__metadata__") or {}
    int8 = sorted(k[: -len(".i8_values")] for k in tensors if k.endswith(".i8_values"))
    return {"tensors": len(tensors), "values": values, "format_version": meta.get("format_version"),
            "int8_matrices": int8}


def model_info(voc, path: Path, rss_delta: int | None = None) -> dict:
    """Everything ``sparsewave info --json`` prints about the loaded model ``voc`` from ``path``."""
    from .. import _isa

    cfg = dict(voc.config)
    desc = voc.describe()
    nz, ex = voc.loop_macs
    file_hdr = _read_file_header(path)
    stored = sum(int(m.get("stored_values", 0)) for m in desc.get("matrices", []))
    matrix_bytes = sum(int(m.get("bytes", 0)) for m in desc.get("matrices", []))
    return {
        "path": str(path),
        "file_bytes": path.stat().st_size,
        "format_version": file_hdr.get("format_version"),
        "family": voc.family,
        "variant": cfg.get("variant"),
        "sample_rate": voc.sample_rate,
        "hop_length": voc.hop_length,
        "n_mels": voc.n_mels,
        "frame_ms": 1000.0 * voc.hop_length / voc.sample_rate,
        "head": cfg.get("head"),
        "n_classes": voc.n_classes,
        "bits": cfg.get("bits"),
        "mu_law": cfg.get("mu_law"),
        "architecture": {k: cfg[k] for k in _ARCH_KEYS if k in cfg},
        "mel": cfg.get("mel"),
        "matrices": desc.get("matrices", []),
        "loop_macs": {"nonzero": nz, "executed": ex, "executed_per_nonzero": (ex / nz) if nz else None,
                      "nonzero_per_second_of_audio": nz * voc.sample_rate},
        "file_int8_matrices": file_hdr.get("int8_matrices"),
        "memory": {"file_tensors": file_hdr.get("tensors"), "file_values": file_hdr.get("values"),
                   "matrix_stored_values": stored, "matrix_bytes": matrix_bytes,
                   "model_resident_bytes": rss_delta},
        "isa": _isa.isa(),
        "available_isas": _isa.available_isas(),
        "converted_from": cfg.get("converted_from"),
        "config": cfg,
    }


def _head_text(info: dict) -> str:
    if info["head"] == "softmax":
        return f"softmax over {info['n_classes']} classes ({info['bits']} bits" + (", mu-law)" if info["mu_law"] else ")")
    if info["head"] == "mol":
        return f"mixture of logistics ({info['n_classes']} outputs)"
    if info["family"] == "dual_softmax":
        return f"dual softmax: coarse and fine halves ({info['n_classes']} logits)"
    return f"{info['head'] or 'unknown'} ({info['n_classes']} outputs)"


def print_info(info: dict) -> None:
    """:func:`model_info` as text."""
    a = info["architecture"]
    w = print
    w(f"model:        {info['path']}  ({format_bytes(info['file_bytes'])}, format version {info['format_version']})")
    src = info.get("converted_from")
    if isinstance(src, dict):
        w(f"converted:    from {src.get('file')} ({src.get('source')}, {src.get('trainer')}"
          + (f", step {src['step']:,}" if src.get("step") else "") + ")")
    if info["family"] == "fatchord":
        w(f"architecture: {info['family']}/{info['variant']} WaveRNN: {a.get('n_rnn')} GRU x {a.get('rnn_dims')}, "
          f"fc {' -> '.join(a.get('fc_names', []))} ({a.get('fc_dims')} wide), MelResNet {a.get('res_blocks')} "
          f"blocks x {a.get('compute_dims')} -> {a.get('res_out_dims')} aux")
        w(f"upsampling:   factors {a.get('upsample_factors')} (kernels {a.get('upsample_kernel_sizes')}), "
          f"pad {a.get('pad')} frames; aux slices {a.get('aux_slices')}")
    else:
        skip = {"family", "mel", "converted_from", "sample_rate", "hop_length", "n_mels"}
        fields = ", ".join(f"{k} {v}" for k, v in info["config"].items()
                           if k not in skip and isinstance(v, (int, float, str, bool, list)))
        w(f"architecture: {info['family']}: {fields}")
    w(f"output head:  {_head_text(info)}")
    w(f"audio:        {info['sample_rate']} Hz, hop {info['hop_length']} samples ({info['frame_ms']:.2f} ms/frame), "
      f"{info['n_mels']} mels")
    mel = info.get("mel") or {}
    if mel:
        keys = ("n_fft", "win_length", "fmin", "fmax", "normalize", "max_abs_value", "preemphasis")
        w("mel input:    " + ", ".join(f"{k} {mel[k]}" for k in keys if k in mel))
    int8 = info.get("file_int8_matrices")
    if int8:
        w(f"file:         int8 matrices {', '.join(int8)} (one float32 scale per row); other tensors float")
    w("matrices (as the engine stores them):")
    w(f"  {'name':32s} {'shape':>12s} {'block':>7s} {'dtype':>8s} {'density':>8s} {'stored':>10s} {'bytes':>10s}"
      "  per sample")
    for m in info["matrices"]:
        shape = "x".join(str(d) for d in m.get("shape", []))
        block = "x".join(str(d) for d in m.get("block", []))
        w(f"  {m.get('name', '?'):32s} {shape:>12s} {block:>7s} {m.get('dtype', '?'):>8s} {m.get('density', 0):8.3f} "
          f"{m.get('stored_values', 0):>10,} {m.get('bytes', 0):>10,}  "
          f"{'yes' if m.get('per_sample') else 'no (per frame/batch)'}")
    lm = info["loop_macs"]
    ratio = f" = {lm['executed_per_nonzero']:.2f}x the nonzeros" if lm["executed_per_nonzero"] else ""
    w(f"loop MACs:    {lm['nonzero']:,} nonzero / {lm['executed']:,} executed per sample{ratio}; "
      f"{lm['nonzero_per_second_of_audio'] / 1e9:.2f} GMAC per second of audio")
    mem = info["memory"]
    resident = format_bytes(mem["model_resident_bytes"]) if mem["model_resident_bytes"] else "n/a"
    w(f"memory:       {format_bytes(mem['matrix_bytes'])} of matrix weights and indices "
      f"({mem['matrix_stored_values']:,} values stored); "
      f"{mem['file_tensors']} tensors / {mem['file_values']:,} values in the file; resident after load ~{resident}")
    w(f"ISA:          {info['isa']} (available: {', '.join(info['available_isas'])})")
