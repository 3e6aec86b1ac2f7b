"""The ``sparsewave`` command line: convert checkpoints, inspect models, vocode mels, benchmark.

Exit status: 0 success, 1 failure (one line on stderr; the traceback too with
``--debug`` or ``SPARSEWAVE_DEBUG=1``), 2 usage error, 130 interrupted.

Without ``--model``, commands use the default voice shipped in the package.

Examples::

    sparsewave resynth speech.wav -o out.wav
    sparsewave evaluate held_out/ --json
    sparsewave convert model.bin -o geneing.sw
    sparsewave convert checkpoint.pth -o coqui.sw --from torch --config overrides.json
    sparsewave info geneing.sw --json
    sparsewave synthesize mel.npy -o out.wav --model geneing.sw --batched --threads 2
    sparsewave bench geneing.sw --seconds 2 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

PROG = "sparsewave"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_MODEL_HELP = ".sw weight file (default: the default voice shipped in the package, 22,050 Hz LJ Speech)"


class UsageError(Exception):
    """Bad combination of arguments (exit status 2)."""


class CliError(Exception):
    """A failure with a message meant for the user (exit status 1)."""


# --------------------------------------------------------------------------- helpers


def _debug_enabled(args) -> bool:
    env = os.environ.get("SPARSEWAVE_DEBUG", "").strip().lower()
    return bool(getattr(args, "debug", False)) or env not in ("", "0", "false", "no", "off")


def _one_line(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "out of memory"
    msg = str(e)
    if isinstance(e, OSError) and e.strerror:
        msg = f"{e.strerror}: '{e.filename}'" if e.filename else e.strerror
        # our own messages (FileNotFoundError("no such model file ...")) carry no strerror
    if isinstance(e, KeyError) and len(e.args) == 1:
        msg = f"missing key {e.args[0]!r}"
    if not msg:
        msg = type(e).__name__
    elif not isinstance(e, (OSError, ValueError, TypeError, ImportError, CliError, RuntimeError, KeyError)):
        msg = f"{type(e).__name__}: {msg}"
    return re.sub(r"\s*\n\s*", " ", msg).strip()


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {v}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return v


def _check_input_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise CliError(f"no such {what}: '{path}'")
    if path.is_dir():
        raise CliError(f"'{path}' is a directory, not a {what}")
    if not os.access(path, os.R_OK):
        raise CliError(f"cannot read {what} '{path}' (permission denied)")
    return path


def _check_output_file(path: Path) -> Path:
    if path.is_dir():
        raise CliError(f"output '{path}' is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CliError(f"output directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"cannot write to output directory '{parent}' (permission denied)")
    return path


def _temp_beside(path: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    return tmp


def _publish(tmp: str, path: Path) -> None:
    """Give the temporary file normal permissions, then rename it over ``path`` (atomic)."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
    except OSError:
        pass
    os.replace(tmp, path)


def _unlink_quietly(tmp: str | None) -> None:
    if tmp and os.path.exists(tmp):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _rss_bytes() -> int | None:
    """Resident set size of this process (Linux), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _run_interruptibly(fn, *args, **kwargs):
    """Run ``fn`` in a worker thread so that Ctrl-C reaches the main thread at once.

    The engine runs with the GIL released and swallows exceptions raised in
    progress callbacks, so a KeyboardInterrupt would otherwise only arrive
    after the whole synthesis. On Ctrl-C the process ends (exit 130) without
    waiting for the engine.
    """
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed to the main thread
            box["error"] = e

    t = threading.Thread(target=target, name="sparsewave-synthesis", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.1)
    except KeyboardInterrupt:
        sys.stderr.write("\n" if sys.stderr.isatty() else "")
        sys.stderr.write(f"{PROG}: interrupted\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _model_path(path_text) -> Path:
    """The model file a command uses: the one given, else the packaged default voice."""
    if path_text:
        return _check_input_file(Path(path_text), "model file")
    from .models import default_model_path

    try:
        return default_model_path()
    except FileNotFoundError as e:
        raise CliError(f"{e}") from None


def _load_vocoder(path_text):
    from .vocoder import Vocoder

    path = _model_path(path_text)
    try:
        return Vocoder.load(path)
    except (ValueError, RuntimeError) as e:
        msg = _one_line(e)
        raise CliError(f"cannot load model: {msg}" if str(path) in msg else f"cannot load model '{path}': {msg}") from e


# --------------------------------------------------------------------------- mel input


def _torch_load_tensor(path: Path):
    try:
        import torch
    except ImportError:
        raise CliError(f"reading '{path}' (a PyTorch file) needs torch; save the mel with numpy.save instead") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CliError(f"cannot load '{path}' safely as a PyTorch tensor (weights_only=True): "
                       f"{_one_line(e)[:200]}") from None
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if hasattr(v, "detach")}
        for key in ("mel", "mels", "spec", "mel_spectrogram"):
            if key in tensors:
                obj = tensors[key]
                break
        else:
            if len(tensors) != 1:
                raise CliError(f"'{path}' holds a dict with {len(tensors)} tensors; expected one mel tensor "
                               "(or a key 'mel')")
            obj = next(iter(tensors.values()))
    if not hasattr(obj, "detach"):
        raise CliError(f"'{path}' holds a {type(obj).__name__}, not a tensor")
    return obj.detach().cpu().float().numpy()


def load_mel(path_text: str):
    """A mel spectrogram from .npy, .npz (one array, or one named 'mel'/'mels') or .pt (with torch)."""
    import zipfile

    import numpy as np

    path = _check_input_file(Path(path_text), "mel file")
    with open(path, "rb") as f:
        head = f.read(8)
    try:
        if head.startswith(b"\x93NUMPY"):
            arr = np.load(path, allow_pickle=False)
        elif head.startswith(b"PK"):
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
            if any(n.endswith("data.pkl") for n in names):
                arr = _torch_load_tensor(path)
            else:
                with np.load(path, allow_pickle=False) as z:
                    files = list(z.files)
                    key = next((k for k in ("mel", "mels") if k in files), None)
                    if key is None:
                        if len(files) != 1:
                            raise CliError(f"'{path}' holds {len(files)} arrays ({', '.join(files[:6])}); expected "
                                           "one, or one named 'mel'")
                        key = files[0]
                    arr = z[key]
        elif head[:1] == b"\x80" or path.suffix.lower() in (".pt", ".pth"):
            arr = _torch_load_tensor(path)
        else:
            raise CliError(f"'{path}' is not a .npy, .npz or .pt mel file")
    except CliError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CliError(f"cannot read mel file '{path}': {_one_line(e)}") from None
    arr = np.asarray(arr)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise CliError(f"mel in '{path}' has shape {arr.shape}; expected 2-D (frames, n_mels) or (n_mels, frames)")
    if arr.dtype.kind not in "fiu":
        raise CliError(f"mel in '{path}' has dtype {arr.dtype}; expected floating point")
    return arr


def _orient(mel, n_mels: int):
    """(frames, n_mels) view of a mel given either way round."""
    if mel.shape[1] == n_mels:
        return mel
    if mel.shape[0] == n_mels:
        return mel.T
    raise CliError(f"mel has shape {tuple(mel.shape)}, but the model takes {n_mels} mel channels")


def _mel_range_warning(mel, config: dict) -> str | None:
    import numpy as np

    m = config.get("mel") or {}
    norm = m.get("normalize")
    if norm == "symmetric":
        lo = -float(m.get("max_abs_value", 4.0))
        hi = -lo
    elif norm == "unit":
        lo, hi = 0.0, float(m.get("max_abs_value", 1.0))
    else:
        return None
    finite = np.isfinite(mel)
    if not finite.any():
        return None
    a, b = float(np.min(mel[finite])), float(np.max(mel[finite]))
    slack = 0.05 * (hi - lo)
    if a < lo - slack or b > hi + slack:
        return (f"warning: mel values span [{a:.2f}, {b:.2f}] but this model was trained on mels "
                f"normalised to [{lo:g}, {hi:g}]; the output will probably be noise")
    return None


# --------------------------------------------------------------------------- WAV output


def write_wav(path: Path, audio, sample_rate: int) -> str:
    """Write mono 16-bit PCM WAV atomically (temporary file beside it, then rename).

    Uses soundfile when it is installed, else the standard library's ``wave``.
    Returns the writer used.
    """
    import numpy as np

    pcm = np.round(np.clip(np.nan_to_num(np.asarray(audio, dtype=np.float64)), -1.0, 1.0) * 32767.0).astype("<i2")
    tmp = _temp_beside(path)
    try:
        try:
            import soundfile as sf
        except Exception:  # ImportError, or OSError when libsndfile is missing
            sf = None
        if sf is not None:
            sf.write(tmp, pcm, int(sample_rate), subtype="PCM_16", format="WAV")
            writer = "soundfile"
        else:
            import wave

            with wave.open(tmp, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(int(sample_rate))
                w.writeframes(pcm.tobytes())
            writer = "wave"
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _publish(tmp, path)
        tmp = None
        return writer
    finally:
        _unlink_quietly(tmp)


# --------------------------------------------------------------------------- progress


class ProgressBar:
    """One-line progress on stderr: bar, samples done, real-time factor, ETA."""

    def __init__(self, total: int, scale: float, sample_rate: int, stream=None, width: int = 28):
        self.total = max(1, int(total))  # units the engine counts (fold samples when batched)
        self.scale = scale  # output samples per counted unit
        self.sample_rate = sample_rate
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.last_len = 0

    def __call__(self, done: int) -> None:
        done = min(int(done), self.total)
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        frac = done / self.total
        out_done = done * self.scale
        rtf = out_done / self.sample_rate / elapsed
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"\r[{bar}] {frac * 100:5.1f}%  {int(out_done):,}/{int(self.total * self.scale):,} samples  "
                f"{rtf:5.2f}x real time  ETA {_fmt_time(eta) if eta == eta else '--:--'}")
        pad = max(0, self.last_len - len(line))
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self.last_len = len(line)

    def finish(self) -> None:
        self(self.total)
        self.stream.write("\n")
        self.stream.flush()


# --------------------------------------------------------------------------- convert


def cmd_convert(args) -> int:
    from .converters import convert

    src = _check_input_file(Path(args.src), "checkpoint")
    out = _check_output_file(Path(args.output))
    if out.exists() and out.resolve() == src.resolve():
        raise UsageError("the output would overwrite the checkpoint itself; choose another -o path")
    overrides: dict = {}
    if args.config:
        cfg_path = _check_input_file(Path(args.config), "config file")
        try:
            loaded = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CliError(f"config file '{cfg_path}' is not valid JSON: {_one_line(e)}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"config file '{cfg_path}' must hold a JSON object of config overrides, "
                           f"not a {type(loaded).__name__}")
        from .converters.trainer_configs import trainer_config_hints

        if trainer_config_hints(loaded) is not None:
            overrides["trainer_config"] = loaded  # Coqui config.json / fatchord or geneing hparams
        else:
            overrides.update(loaded)
    if args.sample_rate is not None:
        overrides["sample_rate"] = args.sample_rate
    if args.mu_law is not None:
        overrides["mu_law"] = args.mu_law

    tmp = _temp_beside(out)
    try:
        report = convert(src, tmp, source=args.source, overrides=overrides or None)
        # Check that the engine accepts the file before it replaces anything.
        from .vocoder import Vocoder

        try:
            voc = Vocoder.load(tmp)
        except (ValueError, RuntimeError, OSError) as e:
            msg = _one_line(e).replace(f"'{tmp}': ", "").replace(tmp, str(out))
            raise CliError(f"the engine refused the converted model: {msg}") from e
        _publish(tmp, out)
        tmp = None
    finally:
        _unlink_quietly(tmp)
    report.output = out
    if not args.quiet:
        from . import isa

        nz, ex = voc.loop_macs
        print(report.summary())
        print(f"  engine: loads OK; sample loop {nz:,} nonzero MACs/sample ({ex:,} executed), ISA {isa()}")
    return EXIT_OK


# --------------------------------------------------------------------------- info


def _read_file_header(path: Path) -> dict:
    """Tensor count / values / format version from the safetensors header (no data read)."""
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
    return {"tensors": len(tensors), "values": values, "format_version": meta.get("format_version")}


def model_info(voc, path: Path, rss_delta: int | None = None) -> dict:
    from . import _isa

    cfg = dict(voc.config)
    desc = voc.describe()
    nz, ex = voc.loop_macs
    file_hdr = _read_file_header(path)
    stored = sum(int(m.get("stored_values", 0)) for m in desc.get("matrices", []))
    arch_keys = ("variant", "rnn_dims", "n_rnn", "fc_dims", "fc_names", "res_blocks", "compute_dims", "res_out_dims",
                 "upsample_factors", "upsample_kernel_sizes", "pad", "aux_slices", "bn_eps")
    info = {
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
        "architecture": {k: cfg[k] for k in arch_keys if k in cfg},
        "mel": cfg.get("mel"),
        "matrices": desc.get("matrices", []),
        "loop_macs": {"nonzero": nz, "executed": ex, "executed_per_nonzero": (ex / nz) if nz else None,
                      "nonzero_per_second_of_audio": nz * voc.sample_rate},
        "memory": {"file_tensors": file_hdr.get("tensors"), "file_values": file_hdr.get("values"),
                   "matrix_stored_values": stored, "matrix_bytes": 4 * stored,
                   "model_resident_bytes": rss_delta},
        "isa": _isa.isa(),
        "available_isas": _isa.available_isas(),
        "converted_from": cfg.get("converted_from"),
        "config": cfg,
    }
    return info


def _print_info(info: dict) -> None:
    a = info["architecture"]
    w = print
    w(f"model:        {info['path']}  ({_fmt_bytes(info['file_bytes'])}, format version {info['format_version']})")
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
    if info["head"] == "softmax":
        head = f"softmax over {info['n_classes']} classes ({info['bits']} bits" + (", mu-law)" if info["mu_law"] else ")")
    elif info["head"] == "mol":
        head = f"mixture of logistics ({info['n_classes']} outputs)"
    elif info["family"] == "dual_softmax":
        head = f"dual softmax: coarse and fine halves ({info['n_classes']} logits)"
    else:
        head = f"{info['head'] or 'unknown'} ({info['n_classes']} outputs)"
    w(f"output head:  {head}")
    w(f"audio:        {info['sample_rate']} Hz, hop {info['hop_length']} samples ({info['frame_ms']:.2f} ms/frame), "
      f"{info['n_mels']} mels")
    mel = info.get("mel") or {}
    if mel:
        keys = ("n_fft", "win_length", "fmin", "fmax", "normalize", "max_abs_value", "preemphasis")
        w("mel input:    " + ", ".join(f"{k} {mel[k]}" for k in keys if k in mel))
    w("matrices (as the engine stores them):")
    w(f"  {'name':32s} {'shape':>12s} {'block':>7s} {'density':>8s} {'stored':>10s}  per sample")
    for m in info["matrices"]:
        shape = "x".join(str(d) for d in m.get("shape", []))
        block = "x".join(str(d) for d in m.get("block", []))
        w(f"  {m.get('name', '?'):32s} {shape:>12s} {block:>7s} {m.get('density', 0):8.3f} "
          f"{m.get('stored_values', 0):>10,}  {'yes' if m.get('per_sample') else 'no (per frame/batch)'}")
    lm = info["loop_macs"]
    ratio = f" = {lm['executed_per_nonzero']:.2f}x the nonzeros" if lm["executed_per_nonzero"] else ""
    w(f"loop MACs:    {lm['nonzero']:,} nonzero / {lm['executed']:,} executed per sample{ratio}; "
      f"{lm['nonzero_per_second_of_audio'] / 1e9:.2f} GMAC per second of audio")
    mem = info["memory"]
    resident = _fmt_bytes(mem["model_resident_bytes"]) if mem["model_resident_bytes"] else "n/a"
    w(f"memory:       {_fmt_bytes(mem['matrix_bytes'])} of matrix values ({mem['matrix_stored_values']:,} stored); "
      f"{mem['file_tensors']} tensors / {mem['file_values']:,} values in the file; resident after load ~{resident}")
    w(f"ISA:          {info['isa']} (available: {', '.join(info['available_isas'])})")


def cmd_info(args) -> int:
    path = _model_path(args.model)
    before = _rss_bytes()
    voc = _load_vocoder(str(path))
    after = _rss_bytes()
    delta = (after - before) if (before is not None and after is not None and after > before) else None
    info = model_info(voc, path, delta)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=False, default=str))
    else:
        _print_info(info)
    return EXIT_OK


# --------------------------------------------------------------------------- synthesize


def _batched_args(args) -> bool:
    return bool(args.batched or args.target is not None or args.overlap is not None or (args.threads or 1) > 1)


def cmd_synthesize(args) -> int:
    out = _check_output_file(Path(args.output))
    voc = _load_vocoder(args.model)
    mel = _orient(load_mel(args.mel), voc.n_mels)
    warning = _mel_range_warning(mel, voc.config)
    if warning and not args.quiet:
        print(f"{PROG}: {warning}", file=sys.stderr)
    frames = mel.shape[0]
    if frames > voc.max_frames:
        raise CliError(f"mel has {frames} frames, more than the limit of {voc.max_frames}; split the input")
    _vocode_to_wav(args, voc, mel, out)
    return EXIT_OK


def _vocode_to_wav(args, voc, mel, out: Path, *, max_samples: int | None = None, source: str = "") -> None:
    """Synthesize ``mel`` with the command's options (progress bar on a TTY) and write ``out``."""
    frames = mel.shape[0]
    batched = _batched_args(args)
    threads = args.threads or 1
    n_out = frames * voc.hop_length
    bar = None
    if not args.quiet and sys.stderr.isatty():
        bar = ProgressBar(n_out, 1.0, voc.sample_rate)  # the engine reports output samples in every mode
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    t0 = time.perf_counter()
    audio = _run_interruptibly(voc.synthesize, mel, seed=seed, batched=batched, target=args.target,
                               overlap=args.overlap, threads=threads, progress=bar)
    elapsed = time.perf_counter() - t0
    if bar is not None:
        bar.finish()
    if max_samples is not None:
        audio = audio[:max_samples]
    writer = write_wav(out, audio, voc.sample_rate)
    if not args.quiet:
        dur = len(audio) / voc.sample_rate
        mode = f"batched, {threads} thread{'s' if threads > 1 else ''}" if batched else "unbatched"
        print(f"wrote {out}: {dur:.2f} s, {voc.sample_rate} Hz, 16-bit PCM ({writer}){source}; {frames} frames in "
              f"{elapsed:.2f} s ({dur / max(elapsed, 1e-9):.2f}x real time, {mode}, seed {seed})", file=sys.stderr)


def _read_audio_with_notes(path, rate: int, quiet: bool):
    """Audio of ``path`` at ``rate``; the reader's warnings (downmix, resampling) become notes."""
    import warnings

    from .audio import read_audio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio, _ = read_audio(path, target_rate=rate)
    if not quiet:
        for w in caught:
            print(f"{PROG}: note: {w.message}", file=sys.stderr)
    return audio


def cmd_resynth(args) -> int:
    """Copy synthesis: the model's own mel of real audio, vocoded back."""
    from .audio import mel_spectrogram

    out = _check_output_file(Path(args.output))
    voc = _load_vocoder(args.model)
    mel_cfg = voc.config.get("mel")
    if not mel_cfg:
        raise CliError(f"model {voc.path} records no mel front end (config 'mel'); vocode a mel file with "
                       "'sparsewave synthesize' instead")
    src = Path(args.audio)
    if not src.exists():
        raise CliError(f"no such audio file: {src}")
    if src.is_dir():
        raise CliError(f"{src} is a directory, not an audio file")
    audio = _read_audio_with_notes(src, voc.sample_rate, args.quiet)
    mel = mel_spectrogram(audio, dict(mel_cfg, sample_rate=voc.sample_rate))
    frames = mel.shape[0]
    if frames > voc.max_frames:
        raise CliError(f"{src} gives {frames} frames, more than the limit of {voc.max_frames}")
    _vocode_to_wav(args, voc, mel, out, max_samples=len(audio), source=f" from {src}")
    return EXIT_OK


# --------------------------------------------------------------------------- evaluate

def _audio_files(items) -> list:
    """Files named on the command line, folders expanded to their WAV / FLAC files."""
    from .audio import find_audio_files

    files = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = find_audio_files([p])
            if not found:
                raise CliError(f"no .wav or .flac files under {p}")
            files += found
        else:
            files.append(_check_input_file(p, "audio file"))
    return files


def cmd_evaluate(args) -> int:
    """Teacher-forced NLL, resynthesis mel correlation and voicing of held-out clips (sparsewave.quality)."""
    from .quality import evaluate_clip

    voc = _load_vocoder(args.model)
    if not voc.config.get("mel"):
        raise CliError(f"model {voc.path} records no mel front end (config 'mel'), so it cannot be scored on audio")
    rows = []
    for path in _audio_files(args.audio):
        audio = _read_audio_with_notes(path, voc.sample_rate, args.quiet or args.json)
        try:
            score = _run_interruptibly(evaluate_clip, voc, audio, seed=args.seed, n_seeds=args.seeds,
                                       batched=args.batched or (args.threads or 1) > 1, threads=args.threads or 1)
        except ValueError as e:
            raise CliError(f"{path}: {_one_line(e)}") from e
        rows.append(dict(clip=str(path), **score.as_dict()))
        if not args.json and not args.quiet:
            print(f"{path.name:<28} {score.seconds:7.2f} s   NLL {score.nll_bits:6.3f} bits/sample   "
                  f"mel correlation {score.mel_correlation:.3f}   voiced F1 {score.voiced_f1:.2f}", flush=True)
    seconds = sum(r["seconds"] for r in rows)
    summary = {
        "model": str(voc.path), "clips": len(rows), "seconds": seconds, "seeds": list(range(args.seed, args.seed + args.seeds)),
        # duration-weighted NLL (bits over all samples); plain mean of the per-clip correlations
        "nll_bits": sum(r["nll_bits"] * r["seconds"] for r in rows) / seconds,
        "mel_correlation": sum(r["mel_correlation"] for r in rows) / len(rows),
        "voiced_f1": sum(r["voiced_f1"] for r in rows) / len(rows),
    }
    if args.json:
        print(json.dumps({"summary": summary, "clips": rows}, indent=2))
    else:
        print(f"{'all (' + str(len(rows)) + ' clips)':<28} {seconds:7.2f} s   NLL {summary['nll_bits']:6.3f} "
              f"bits/sample   mel correlation {summary['mel_correlation']:.3f}   voiced F1 {summary['voiced_f1']:.2f}")
    return EXIT_OK


# --------------------------------------------------------------------------- bench


def _bench_mel(voc, seconds: float, seed: int = 0):
    """A smooth random mel in the model's normalised range (speed does not depend on values)."""
    import numpy as np

    frames = max(1, int(round(seconds * voc.sample_rate / voc.hop_length)))
    m = (voc.config.get("mel") or {})
    if m.get("normalize") == "unit":
        lo, hi = 0.0, float(m.get("max_abs_value", 1.0))
    else:
        hi = float(m.get("max_abs_value", 4.0))
        lo = -hi
    rng = np.random.default_rng(seed)
    env = np.cumsum(rng.standard_normal((frames, voc.n_mels)), axis=0)
    env = np.cumsum(env, axis=1)
    env = (env - env.min()) / max(float(np.ptp(env)), 1e-9)
    return (lo + (hi - lo) * (0.2 + 0.6 * env)).astype(np.float32)


def run_bench(voc, mel, *, threads: int, repeats: int, target=None, overlap=None) -> dict:
    frames = mel.shape[0]
    n_out = frames * voc.hop_length
    runs = [("unbatched", False, 1), ("batched", True, 1)]
    if threads > 1:
        runs.append(("batched", True, threads))
    voc.synthesize(mel[: min(frames, 4)], seed=0)  # warm up allocations / page faults
    results = []
    for name, batched, th in runs:
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            voc.synthesize(mel, seed=r, batched=batched, target=target, overlap=overlap, threads=th)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        spans = voc.fold_layout(frames, target, overlap) if batched else [(0, n_out)]
        results.append({
            "mode": name, "threads": th, "folds": len(spans), "fold_length": spans[0][1],
            "seconds_median": med, "seconds_all": times,
            "samples_per_second": n_out / med, "realtime_factor": n_out / voc.sample_rate / med,
        })
    return {"samples": n_out, "audio_seconds": n_out / voc.sample_rate, "frames": frames, "results": results}


def _random_model(args):
    """A model of the requested size with random block-pruned weights, written to a temp file."""
    from .dual_softmax import random_dual_softmax
    from .weights import save_model

    if args.random != "dual-softmax":
        raise UsageError(f"--random supports 'dual-softmax', got {args.random!r}")
    block = tuple(int(b) for b in args.block.lower().split("x"))
    tensors, cfg = random_dual_softmax(args.hidden, args.density, block, seed=0, sample_rate=args.sample_rate,
                                       hop_length=args.hop)
    tmp = tempfile.NamedTemporaryFile(suffix=".sw", delete=False)
    tmp.close()
    save_model(tmp.name, tensors, cfg)
    return tmp.name, f"random dual-softmax N={args.hidden} density {args.density} block {args.block}"


def _time_to_first_audio(voc, mel, repeats: int = 3) -> float:
    """Seconds from the first mel frames to the first samples out of a streamer (median)."""
    import numpy as np

    times = []
    for r in range(repeats):
        s = voc.streamer(seed=r)
        t = time.perf_counter()
        got = np.zeros(0, np.float32)
        start = 0
        while got.size == 0 and start < mel.shape[0]:
            got = s.push(mel[start:start + 1])
            start += 1
        if got.size == 0:
            got = s.flush()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cmd_bench(args) -> int:
    from . import _isa

    if args.random:
        if args.model:
            raise UsageError("give either MODEL or --random, not both")
        path, desc = _random_model(args)
    else:
        path = _model_path(args.model)
        desc = str(args.model) if args.model else f"default voice ({path.name})"
    try:
        return _bench(args, path, desc, _isa)
    finally:
        if args.random:
            os.unlink(path)


def _bench(args, path, desc, _isa) -> int:
    from .vocoder import Vocoder

    voc = Vocoder.load(path, weights=args.weights) if args.random else _load_vocoder(path)
    if args.weights != "float32" and not args.random:
        voc = Vocoder.load(path, weights=args.weights)
    if args.mel:
        mel = _orient(load_mel(args.mel), voc.n_mels)
        if args.seconds is not None:
            want = max(1, int(round(args.seconds * voc.sample_rate / voc.hop_length)))
            if want < mel.shape[0]:
                mel = mel[:want]
        mel_desc = f"{args.mel}"
    else:
        mel = _bench_mel(voc, args.seconds if args.seconds is not None else 2.0)
        mel_desc = "random (smooth) mel"
    import numpy as np

    mel = np.ascontiguousarray(mel, dtype=np.float32)
    threads = args.threads if args.threads is not None else min(os.cpu_count() or 1, 4)
    res = _run_interruptibly(run_bench, voc, mel, threads=threads, repeats=args.repeats,
                             target=args.target, overlap=args.overlap)
    nz, ex = voc.loop_macs
    unb = res["results"][0]
    ttfa = _time_to_first_audio(voc, mel)
    report = {
        "model": desc, "family": voc.family, "variant": voc.config.get("variant"),
        "sample_rate": voc.sample_rate, "weights": args.weights,
        "isa": _isa.isa(), "mel": mel_desc, "repeats": args.repeats,
        "samples_per_s": unb["samples_per_second"], "real_time_factor": unb["realtime_factor"],
        "macs_per_sample": nz, "executed_macs_per_sample": ex,
        "time_to_first_audio_s": ttfa,
        **res,
        "loop_macs": {"nonzero": nz, "executed": ex},
        "unbatched_gmacs_nonzero": nz * unb["samples_per_second"] / 1e9,
        "unbatched_gmacs_executed": ex * unb["samples_per_second"] / 1e9,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"model {desc} ({voc.config.get('variant') or voc.family}, {voc.sample_rate} Hz), ISA {report['isa']}, "
          f"{res['audio_seconds']:.2f} s of audio ({res['frames']} frames, {mel_desc}), median of {args.repeats}")
    print()
    print("| mode | threads | folds x length | samples/s | x real time | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in res["results"]:
        folds = f"{r['folds']} x {r['fold_length']:,}" if r["mode"] == "batched" else "1"
        print(f"| {r['mode']} | {r['threads']} | {folds} | {r['samples_per_second']:,.0f} | "
              f"{r['realtime_factor']:.2f} | {r['seconds_median']:.3f} |")
    print()
    print(f"sample loop: {nz:,} nonzero MACs/sample ({ex:,} executed); unbatched = "
          f"{report['unbatched_gmacs_nonzero']:.2f} GMAC/s nonzero ({report['unbatched_gmacs_executed']:.2f} executed)")
    print(f"time to first audio (streaming, one frame at a time): {ttfa * 1000:.1f} ms")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on failure (or set SPARSEWAVE_DEBUG=1)")
    p = argparse.ArgumentParser(
        prog=PROG, description="sparsewave: on-device WaveRNN vocoder engine.",
        epilog="Exit status: 0 ok, 1 failure, 2 usage error. Run 'sparsewave COMMAND --help' for details.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("--debug", action="store_true", default=False,
                   help="show the full traceback on failure (or set SPARSEWAVE_DEBUG=1)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # Listed for --help only: main() hands `train` to sparsewave.train's own parser.
    sub.add_parser("train", help="train a sparse dual-softmax WaveRNN on a folder of WAVs (needs torch)",
                   add_help=False)

    from .converters import SOURCES

    c = sub.add_parser("convert", parents=[common], help="convert a trainer checkpoint to a .sw weight file",
                       description="Convert a WaveRNN checkpoint (geneing model.bin, PyTorch .pt of fatchord / Coqui "
                                   "TTS / geneing, .npz or safetensors state_dict) to a sparsewave .sw file. The "
                                   "file is checked by loading it in the engine before it is written (atomically).",
                       epilog="example: sparsewave convert model.bin -o geneing.sw")
    c.add_argument("src", metavar="SRC", help="checkpoint file")
    c.add_argument("-o", "--output", required=True, metavar="OUT.sw", help="weight file to write")
    c.add_argument("--from", dest="source", default="auto", choices=("auto",) + tuple(SOURCES),
                   help="checkpoint kind (default: detect from the content)")
    c.add_argument("--sample-rate", type=_positive_int, metavar="N",
                   help="output sample rate in Hz (default: from the checkpoint's config or the variant's hparams)")
    mu = c.add_mutually_exclusive_group()
    mu.add_argument("--mu-law", dest="mu_law", action="store_true", default=None,
                    help="softmax head: decode the output with mu-law")
    mu.add_argument("--no-mu-law", dest="mu_law", action="store_false", help="softmax head: linear output")
    c.add_argument("--config", metavar="JSON_FILE",
                   help="JSON object of config overrides, e.g. {\"sample_rate\": 22050, \"mel\": {\"fmin\": 40}}, "
                        "or the trainer's own config (Coqui config.json, fatchord / geneing hparams as JSON)")
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("info", parents=[common], help="describe a .sw model",
                       description="Architecture, matrix shapes / block shapes / densities, loop MACs per sample, "
                                   "memory and the kernel path (ISA) that will run.",
                       epilog="example: sparsewave info geneing.sw --json")
    i.add_argument("model", metavar="MODEL", nargs="?", default=None, help=DEFAULT_MODEL_HELP)
    i.add_argument("--json", action="store_true", help="print JSON instead of text")
    i.set_defaults(func=cmd_info)

    s = sub.add_parser("synthesize", aliases=["synth"], parents=[common], help="vocode a mel spectrogram to WAV",
                       description="Vocode a mel spectrogram (.npy, single-array .npz, or .pt with torch; "
                                   "(frames, n_mels) or (n_mels, frames)) into a 16-bit PCM WAV, written atomically.",
                       epilog="example: sparsewave synthesize mel.npy -o out.wav --model geneing.sw --batched")
    s.add_argument("mel", metavar="MEL", help="mel file (.npy / .npz / .pt)")
    s.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="WAV file to write")
    s.add_argument("-m", "--model", default=None, metavar="MODEL", help=DEFAULT_MODEL_HELP)
    s.add_argument("--seed", type=_nonneg_int, default=None, help="random seed (default: random)")
    s.add_argument("--batched", action="store_true",
                   help="generate overlapping folds together (faster; implied by --target/--overlap/--threads > 1)")
    s.add_argument("--threads", type=_positive_int, default=None, metavar="N", help="threads for batched mode")
    s.add_argument("--target", type=_positive_int, default=None, metavar="T",
                   help="fold length in samples (default: 0.5 s)")
    s.add_argument("--overlap", type=_nonneg_int, default=None, metavar="O",
                   help="fold overlap in samples (default: 25 ms)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    s.set_defaults(func=cmd_synthesize)

    b = sub.add_parser("bench", parents=[common], help="measure synthesis speed",
                       description="Samples/s and real-time factor (audio seconds per compute second) unbatched, "
                                   "batched on 1 thread and batched on N threads.",
                       epilog="example: sparsewave bench geneing.sw --seconds 2 --threads 2")
    b.add_argument("model", metavar="MODEL", nargs="?", help=".sw weight file (default: the packaged default "
                   "voice; or use --random)")
    b.add_argument("--random", metavar="FAMILY", choices=("dual-softmax",),
                   help="measure a model of this shape with random weights, before training it")
    b.add_argument("--hidden", type=_positive_int, default=896, metavar="N", help="--random: state size (default 896)")
    b.add_argument("--density", type=_positive_float, default=0.05, metavar="D",
                   help="--random: fraction of blocks kept (default 0.05)")
    b.add_argument("--block", default="4x4", choices=("4x4", "16x1"), help="--random: block shape")
    b.add_argument("--sample-rate", type=_positive_int, default=24000, metavar="HZ",
                   help="--random: sample rate (default 24000)")
    b.add_argument("--hop", type=_positive_int, default=300, metavar="H", help="--random: hop length (default 300)")
    b.add_argument("--weights", choices=("float32", "float16"), default="float32",
                   help="storage of the sample loop's weights")
    b.add_argument("--seconds", type=_positive_float, default=None, metavar="S",
                   help="audio length to generate (default 2; with --mel: the whole mel)")
    b.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="threads for the multi-threaded batched run (default: CPU count, at most 4)")
    b.add_argument("--repeats", type=_positive_int, default=3, metavar="R", help="runs per mode; the median is shown")
    b.add_argument("--mel", metavar="MEL", help="use this mel instead of a random one")
    b.add_argument("--target", type=_positive_int, default=None, metavar="T", help="fold length (batched)")
    b.add_argument("--overlap", type=_nonneg_int, default=None, metavar="O", help="fold overlap (batched)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench)

    r = sub.add_parser("resynth", parents=[common], help="copy synthesis: audio -> the model's mel -> audio",
                       description="Compute the model's own mel spectrogram of an audio file (resampled to the "
                                   "model's rate, stereo downmixed) and vocode it: the quickest way to hear a model.",
                       epilog="example: sparsewave resynth speech.wav -o out.wav --model geneing.sw")
    r.add_argument("audio", metavar="AUDIO", help="WAV / FLAC file")
    r.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="WAV file to write")
    r.add_argument("-m", "--model", default=None, metavar="MODEL", help=DEFAULT_MODEL_HELP)
    r.add_argument("--seed", type=_nonneg_int, default=None, help="random seed (default: random)")
    r.add_argument("--batched", action="store_true", help="generate overlapping folds together (faster)")
    r.add_argument("--threads", type=_positive_int, default=None, metavar="N", help="threads for batched mode")
    r.add_argument("--target", type=_positive_int, default=None, metavar="T", help="fold length in samples")
    r.add_argument("--overlap", type=_nonneg_int, default=None, metavar="O", help="fold overlap in samples")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    r.set_defaults(func=cmd_resynth)

    e = sub.add_parser("evaluate", aliases=["eval"], parents=[common],
                       help="score a model on held-out speech (NLL, resynthesis mel correlation, voicing)",
                       description="For each clip: the teacher-forced NLL in bits per sample, and the Pearson "
                                   "correlation between the clip's mel and the mel of the model's resynthesis of it "
                                   "and the F1 of the resynthesis's voiced frames against the clip's (sparsewave.voicing: mel "
                                   "correlation cannot tell voiced speech from whisper). See docs/quality.md. Use clips "
                                   "the model was not trained on.",
                       epilog="example: sparsewave evaluate held_out/ --json")
    e.add_argument("audio", metavar="AUDIO", nargs="+", help="WAV / FLAC files or folders of them")
    e.add_argument("-m", "--model", default=None, metavar="MODEL", help=DEFAULT_MODEL_HELP)
    e.add_argument("--seed", type=_nonneg_int, default=0, help="random seed of the (first) resynthesis (default 0)")
    e.add_argument("--seeds", type=_positive_int, default=1, metavar="K",
                   help="resynthesize each clip K times (seeds SEED..SEED+K-1) and average the correlation")
    e.add_argument("--batched", action="store_true", help="resynthesize in overlapping folds (faster)")
    e.add_argument("--threads", type=_positive_int, default=None, metavar="N", help="threads for batched mode")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    e.set_defaults(func=cmd_evaluate)
    return p


def main(argv=None) -> int:
    """Entry point of the ``sparsewave`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["train"]:
        # The training recipe has its own parser (and needs the [train] extra: torch).
        from .train.cli import main as train_main

        return train_main(args_list[1:], prog=f"{PROG} train")
    try:
        parser = build_parser()
    except Exception as e:  # e.g. SPARSEWAVE_ISA names a path this CPU cannot run
        print(f"{PROG}: error: {_one_line(e)}", file=sys.stderr)
        if _debug_enabled(None):
            import traceback

            traceback.print_exc()
        return EXIT_FAILURE
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (convert, info, synthesize, resynth, evaluate, bench, train)",
              file=sys.stderr)
        return EXIT_USAGE
    name = f"{PROG} {args.command}"
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # e.g. `sparsewave info m.sw | head`: quietly stop writing.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except Exception as e:
        if _debug_enabled(args):
            import traceback

            traceback.print_exc()
        print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
