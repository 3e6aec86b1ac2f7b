"""NumPy-only mel front end of the geneing WaveRNN model, and a tiny WAV reader (test helper).

Reproduces what ``../shared/data/README.md`` documents for the geneing model (librosa is not
needed and not used)::

    librosa.stft(y, n_fft=2048, hop_length=200, win_length=800, window="hann", center=True,
                 pad_mode="constant")  ->  |.|  (power 1, no pre-emphasis)
    librosa.filters.mel(sr=16000, n_fft=2048, n_mels=80, fmin=95, fmax=7600)   (Slaney scale
                 and Slaney area normalisation, i.e. librosa's defaults htk=False, norm="slaney")
    S = 20 log10(max(1e-5, mel)) - 20;   S = 8 (S + 100) / 100 - 4;   clip to [-4, 4]

T frames = 1 + n_samples // hop. Validation (see tests/test_vocoder_geneing.py): the mel of the
committed geneing C++ output wav correlates 0.974 with its conditioning mel, as the README says,
and the mel of the original LJ clip reproduces the reference clip's mel (``lj001_0001_mel.npy``)
on interior frames.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

GENEING_MEL = {
    "sample_rate": 16000, "n_fft": 2048, "hop_length": 200, "win_length": 800, "n_mels": 80,
    "fmin": 95.0, "fmax": 7600.0, "ref_level_db": 20.0, "min_level_db": -100.0, "max_abs_value": 4.0,
}


# --------------------------------------------------------------------------- Slaney mel scale


def hz_to_mel(f):
    """Slaney's auditory toolbox mel scale (librosa ``htk=False``): linear below 1 kHz, log above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    lin = f / f_sp
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, lin)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def slaney_mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters with Slaney area normalisation (2 / bandwidth)."""
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return weights * enorm[:, None]


# --------------------------------------------------------------------------- STFT and mel


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int, win_length: int) -> np.ndarray:
    """|STFT| (1 + n_fft // 2, frames): periodic Hann of ``win_length`` centred in ``n_fft``,
    signal zero-padded by n_fft // 2 on both sides (librosa center=True, pad_mode='constant')."""
    y = np.asarray(y, dtype=np.float64)
    n = np.arange(win_length)
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)  # scipy get_window('hann', fftbins=True)
    left = (n_fft - win_length) // 2
    window = np.zeros(n_fft)
    window[left:left + win_length] = win
    yp = np.pad(y, (n_fft // 2, n_fft // 2))
    n_frames = 1 + (yp.size - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        yp, shape=(n_frames, n_fft), strides=(yp.strides[0] * hop, yp.strides[0]), writeable=False)
    spec = np.empty((1 + n_fft // 2, n_frames))
    for a in range(0, n_frames, 256):  # chunks keep memory small for long clips
        spec[:, a:a + 256] = np.abs(np.fft.rfft(frames[a:a + 256] * window, axis=1)).T
    return spec


_BASIS_CACHE: dict = {}


def geneing_mel(y: np.ndarray, **overrides) -> np.ndarray:
    """Normalised mel spectrogram (n_mels, 1 + len(y) // hop) in [-4, 4] of 16 kHz audio."""
    p = dict(GENEING_MEL, **overrides)
    key = (p["sample_rate"], p["n_fft"], p["n_mels"], p["fmin"], p["fmax"])
    if key not in _BASIS_CACHE:
        _BASIS_CACHE[key] = slaney_mel_filterbank(*key)
    mag = stft_magnitude(y, p["n_fft"], p["hop_length"], p["win_length"])
    mel = _BASIS_CACHE[key] @ mag
    s = 20.0 * np.log10(np.maximum(1e-5, mel)) - p["ref_level_db"]
    m = p["max_abs_value"]
    s = 2.0 * m * (s - p["min_level_db"]) / (-p["min_level_db"]) - m
    return np.clip(s, -m, m)


def mel_agreement(mel_generated: np.ndarray, mel_conditioning: np.ndarray, edge: int = 2) -> tuple[float, float]:
    """(Pearson correlation, mean abs difference) of two (n_mels, T) mels over their common frames,
    ``edge`` frames dropped at each end (those see the zero padding of the STFT)."""
    t = min(mel_generated.shape[1], mel_conditioning.shape[1])
    a = np.asarray(mel_generated[:, edge:t - edge], dtype=np.float64).ravel()
    b = np.asarray(mel_conditioning[:, edge:t - edge], dtype=np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1]), float(np.mean(np.abs(a - b)))


# --------------------------------------------------------------------------- WAV


def read_wav(path) -> tuple[np.ndarray, int]:
    """(mono float64 samples, sample rate) of a PCM16 or IEEE-float32 RIFF/WAVE file (first channel)."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", body, 0)
        elif cid == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise ValueError(f"{path}: missing fmt or data chunk")
    tag, channels, rate, _, _, bits = fmt
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format tag starts the GUID
        tag = struct.unpack_from("<H", data, data.index(b"fmt ") + 8 + 24)[0]
    if tag == 3 and bits == 32:
        x = np.frombuffer(payload[: len(payload) // 4 * 4], dtype="<f4").astype(np.float64)
    elif tag == 1 and bits == 16:
        x = np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    else:
        raise ValueError(f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits)")
    return x.reshape(-1, channels)[:, 0].copy(), int(rate)
