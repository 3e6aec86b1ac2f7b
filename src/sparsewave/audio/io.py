"""Read and write audio files: WAV and FLAC via soundfile (a dependency), WAV alone without it.

``read_audio`` gives float32 mono samples (multi-channel files are averaged, with a warning)
and can resample to the rate a model needs. ``write_audio`` writes atomically: the data go to
a temporary file in the destination's directory, which replaces the destination only once
complete (``os.replace``), so a failure never leaves a partial file or damages an existing one.

soundfile is installed with sparsewave, but its import can still fail (libsndfile missing from
the system). Then, and only then, this module is the one place that falls back to the standard
library: PCM WAV is read with the ``wave`` module, IEEE-float WAV with a small RIFF parser here,
and WAV files (PCM_16 or FLOAT) are written by a RIFF writer here; FLAC needs soundfile.
"""
from __future__ import annotations

import os
import struct
import warnings
import wave
from pathlib import Path

import numpy as np

from .._atomic import atomic_write, output_target
from .._paths import check_input_file, check_output_file
from .resample import resample

try:  # a dependency, but libsndfile itself may be missing from the system
    import soundfile as _sf
except Exception:  # ImportError, or OSError when libsndfile itself is missing
    _sf = None

__all__ = ["read_audio", "write_audio", "float_to_pcm16", "find_audio_files", "SUBTYPES", "FORMATS",
           "MIN_SAMPLE_RATE", "MAX_SAMPLE_RATE"]

FORMATS = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC"}
SUBTYPES = ("PCM_16", "FLOAT")
# Sample rates read_audio accepts: telephone to high-resolution audio. The header's rate is
# trusted for the duration, so a file claiming 100 Hz would resample 84 KB into minutes.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 192_000


def _format_for(path: Path, *, writing: bool = False) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None and writing and path.suffix == "" and output_target(path).direct:
        return "WAV"  # a pipe or device named without a suffix (/dev/stdout, a FIFO): WAV
    if fmt is None:
        raise ValueError(f"'{path}': unsupported audio file extension '{path.suffix}' "
                         f"(supported: {', '.join(sorted(FORMATS))})")
    return fmt


# --------------------------------------------------------------------------- reading


def _check_readable(p: Path) -> None:
    check_input_file(p, "audio file")
    if p.stat().st_size == 0:
        raise ValueError(f"audio file '{p}' is empty (0 bytes)")


def _read_soundfile(p: Path) -> tuple[np.ndarray, int]:
    try:
        data, rate = _sf.read(str(p), dtype="float32", always_2d=True)
    except RuntimeError as e:  # soundfile.LibsndfileError (a RuntimeError): unknown format, corrupt header...
        raise ValueError(f"cannot read audio file '{p}': not a supported or intact audio file ({e})") from None
    return data, int(rate)


def _riff_float_wav(p: Path) -> tuple[np.ndarray, int] | None:
    """(frames x channels float32, rate) for an IEEE-float WAV; None if the file is not one."""
    raw = p.read_bytes()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8:pos + 8 + size]
        if cid == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body, 0)
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: sub-format GUID starts with the tag
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None or fmt[0] != 3:
        return None
    tag, channels, rate, bits = fmt
    if bits not in (32, 64) or channels < 1:
        raise ValueError(f"cannot read audio file '{p}': {bits}-bit float WAV is not supported")
    dt = "<f4" if bits == 32 else "<f8"
    width = bits // 8 * channels
    x = np.frombuffer(payload[: len(payload) // width * width], dtype=dt).astype(np.float32)
    return x.reshape(-1, channels), int(rate)


def _read_stdlib(p: Path) -> tuple[np.ndarray, int]:
    if _format_for(p) != "WAV":
        raise ValueError(f"cannot read '{p}': reading {p.suffix} files needs the soundfile package "
                         "(pip install soundfile); without it only WAV is supported")
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except wave.Error as e:
        fl = _riff_float_wav(p)
        if fl is not None:
            return fl
        raise ValueError(f"cannot read audio file '{p}': not a supported or intact WAV file ({e})") from None
    except EOFError:
        raise ValueError(f"cannot read audio file '{p}': truncated WAV file") from None
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw[: len(raw) // 2 * 2], "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = (np.frombuffer(raw[: len(raw) // 4 * 4], "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        raise ValueError(f"cannot read audio file '{p}': {8 * width}-bit PCM WAV is not supported")
    frames = x.size // channels
    return x[: frames * channels].reshape(frames, channels), int(rate)


def find_audio_files(items, suffixes=(".wav", ".flac")) -> list[Path]:
    """Files named in ``items``, and every file under the named folders (recursively) whose
    suffix is in ``suffixes``: resolved, deduplicated, sorted by name. FileNotFoundError names a
    missing item."""
    out: dict[Path, None] = {}
    for item in items:
        p = Path(item)
        if p.is_file():
            out[p.resolve()] = None
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in suffixes:
                    out[f.resolve()] = None
        else:
            raise FileNotFoundError(f"no such file or folder: '{p}'")
    return sorted(out, key=lambda f: (f.name, str(f)))


def read_audio(path, target_rate: int | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate) of a WAV or FLAC file.

    The file's sample rate must lie in 8,000..192,000 Hz (``MIN_SAMPLE_RATE``..``MAX_SAMPLE_RATE``).
    Multi-channel audio is averaged to mono (with a warning). With ``target_rate`` the samples
    are resampled (:func:`sparsewave.audio.resample`, band-limited) when the file's rate
    differs, and the returned rate is ``target_rate``.

    Raises FileNotFoundError / IsADirectoryError / PermissionError for path problems and
    ValueError for empty, unreadable, corrupt or unsupported files.
    """
    p = Path(os.fspath(path))
    if target_rate is not None:
        if isinstance(target_rate, bool) or not isinstance(target_rate, (int, np.integer)) or target_rate <= 0:
            raise ValueError(f"target_rate must be a positive integer (Hz), got {target_rate!r}")
        target_rate = int(target_rate)
    _check_readable(p)
    if _sf is not None:
        data, rate = _read_soundfile(p)
    else:
        data, rate = _read_stdlib(p)
    if data.shape[0] == 0:
        raise ValueError(f"audio file '{p}' holds no samples")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"audio file '{p}' declares a sample rate of {rate} Hz, outside the "
                         f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz that sparsewave reads")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"audio file '{p}' holds NaN or Inf samples")
    if data.shape[1] > 1:
        warnings.warn(f"'{p}' has {data.shape[1]} channels; downmixed to mono by averaging them", stacklevel=2)
        mono = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    else:
        mono = np.ascontiguousarray(data[:, 0], dtype=np.float32)
    if target_rate is not None and target_rate != rate:
        mono = resample(mono, rate, target_rate).astype(np.float32, copy=False)
        rate = target_rate
    return mono, rate


# --------------------------------------------------------------------------- writing


def float_to_pcm16(x) -> np.ndarray:
    """The one float -> 16-bit PCM rule of the package: clip to [-1, 1], scale by 32768, round
    (half to even), saturate at 32767.

    Why 32768 rather than 32767: it is the exact inverse of reading (int16 / 32768, as
    :func:`read_audio`, soundfile and libsndfile do), so PCM_16 audio that is read and written
    back comes out bit-identical, and the float k / 32768 is written as k. The cost is that
    +1.0 saturates one step early (to 32767 / 32768), which no one can hear; scaling by 32767
    instead would move every sample above half scale by one step on each read -> write trip.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.clip(np.round(np.clip(x, -1.0, 1.0) * 32768.0), -32768, 32767).astype("<i2")


def _riff_bytes(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    """A complete mono RIFF/WAVE file: PCM 16-bit, or IEEE float 32-bit (with a fact chunk)."""
    n = samples.shape[0]
    if subtype == "PCM_16":
        tag, bits, payload, fact = 1, 16, float_to_pcm16(samples).tobytes(), b""
    else:
        tag, bits, payload = 3, 32, samples.astype("<f4").tobytes()
        fact = b"fact" + struct.pack("<II", 4, n)
    block = bits // 8
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * block, block, bits)
    if tag == 3:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM fmt chunks are 18 bytes
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + fact + b"data" + struct.pack("<I", len(payload))
    body += payload + (b"\0" if len(payload) & 1 else b"")
    if len(body) + 8 > 0xFFFFFFFF:
        raise ValueError("audio too long for a WAV file (4 GiB limit)")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _write_payload(fileobj, samples: np.ndarray, rate: int, subtype: str, fmt: str) -> None:
    """Encode ``samples`` into the open binary file ``fileobj`` (the temporary file)."""
    if _sf is not None:
        data = float_to_pcm16(samples) if subtype == "PCM_16" else samples.astype(np.float32)
        _sf.write(fileobj, data, rate, subtype=subtype, format=fmt)
    elif fmt == "WAV":
        fileobj.write(_riff_bytes(samples, rate, subtype))
    else:
        raise ValueError(f"writing {fmt} needs the soundfile package (pip install soundfile); "
                         "without it only WAV is supported")


def write_audio(path, samples, rate: int, subtype: str = "PCM_16") -> Path:
    """Write mono ``samples`` (float, nominally [-1, 1]) to ``path`` (.wav or .flac) atomically.

    ``subtype``: "PCM_16" (:func:`float_to_pcm16`: clipped to [-1, 1], scaled by 32768 and rounded,
    +1.0 saturating to 32767, so PCM_16 samples read by :func:`read_audio` come back bit-exact) or "FLOAT"
    (32-bit IEEE float, WAV only; values are stored as given). The file is first written to a
    temporary file next to ``path`` and then renamed over it, so readers never see a partial
    file and an existing file is left untouched if anything fails. A symlink is written through
    (the file it points to is replaced, the link kept); a FIFO or character device (``/dev/stdout``,
    ``/dev/null``) is written into, never replaced, as WAV when its name has no suffix.
    Returns the path written.
    """
    p = Path(os.fspath(path))
    fmt = _format_for(p, writing=True)
    if subtype not in SUBTYPES:
        raise ValueError(f"subtype must be one of {', '.join(SUBTYPES)}, got {subtype!r}")
    if fmt == "FLAC" and subtype == "FLOAT":
        raise ValueError("FLAC stores integer PCM only; use subtype='PCM_16' or a .wav file for 'FLOAT'")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 0 < int(rate) < 2**31:
        raise ValueError(f"rate must be a positive integer (Hz), got {rate!r}")
    rate = int(rate)
    a = np.asarray(samples)
    if a.dtype == object or not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"samples must be a float array in [-1, 1], got dtype {a.dtype}"
                        + ("; convert int16 PCM with samples / 32768" if np.issubdtype(a.dtype, np.integer) else ""))
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ValueError(f"samples must be 1-D (mono), got shape {a.shape}")
    if a.size == 0:
        raise ValueError("samples is empty: nothing to write")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"samples hold NaN or Inf (first at sample {int(np.argmin(np.isfinite(a)))})")
    check_output_file(p)
    with atomic_write(p) as tmp, open(tmp, "wb") as f:
        _write_payload(f, a, rate, subtype, fmt)
    return p
