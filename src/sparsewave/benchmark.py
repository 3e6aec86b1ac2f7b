"""Speed measurements of a loaded model, as plain dicts (``sparsewave bench`` formats them).

Usage::

    from sparsewave import Vocoder, benchmark

    voc = Vocoder.load("model.sw")
    mel = benchmark.smooth_random_mel(voc, seconds=2.0)
    report = benchmark.measure(voc, mel, threads=2, repeats=3)
    report["results"]  # one row per mode: unbatched, batched on 1 thread, batched on N threads,
                       # and a streamer fed one frame per push

Every time is wall-clock (``time.perf_counter``); a row reports the median of ``repeats`` runs,
so one slow run (another process, a page fault) does not decide it.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from .audio.mel_files import expected_mel_range

__all__ = ["smooth_random_mel", "stream_frame_by_frame", "time_synthesis", "time_stream", "time_to_first_audio",
           "measure", "rss_bytes"]

# Mel range assumed for a model whose config does not say how its mels are normalised.
_DEFAULT_RANGE = (-4.0, 4.0)


def smooth_random_mel(vocoder, seconds: float, seed: int = 0) -> np.ndarray:
    """A smooth random (frames, n_mels) float32 mel of about ``seconds`` of audio, inside the
    model's normalised range. Synthesis speed does not depend on the values, only on the length."""
    frames = max(1, int(round(seconds * vocoder.sample_rate / vocoder.hop_length)))
    lo, hi = expected_mel_range(vocoder.config) or _DEFAULT_RANGE
    rng = np.random.default_rng(seed)
    env = np.cumsum(rng.standard_normal((frames, vocoder.n_mels)), axis=0)
    env = np.cumsum(env, axis=1)
    env = (env - env.min()) / max(float(np.ptp(env)), 1e-9)
    return (lo + (hi - lo) * (0.2 + 0.6 * env)).astype(np.float32)


def stream_frame_by_frame(vocoder, mel, seed: int = 0) -> np.ndarray:
    """``mel`` pushed into a streamer one frame at a time, then flushed: the whole waveform (equal,
    bit for bit, to ``vocoder.synthesize(mel, seed=seed)``)."""
    s = vocoder.streamer(seed=seed)
    parts = [s.push(mel[k:k + 1]) for k in range(mel.shape[0])]
    parts.append(s.flush())
    return np.concatenate(parts)


def _row(mode: str, threads: int, spans, times, n_out: int, sample_rate: int) -> dict:
    med = statistics.median(times)
    return {"mode": mode, "threads": threads, "folds": len(spans), "fold_length": spans[0][1],
            "seconds_median": med, "seconds_all": times,
            "samples_per_second": n_out / med, "realtime_factor": n_out / sample_rate / med}


def time_stream(vocoder, mel, *, repeats: int = 3) -> dict:
    """:func:`stream_frame_by_frame` timed like a :func:`time_synthesis` row (mode "stream",
    with "frames_per_push": 1): what a caller feeding a TTS model's frames as they come pays."""
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        stream_frame_by_frame(vocoder, mel, seed=r)
        times.append(time.perf_counter() - t0)
    n_out = mel.shape[0] * vocoder.hop_length
    return {**_row("stream", 1, [(0, n_out)], times, n_out, vocoder.sample_rate), "frames_per_push": 1}


def time_synthesis(vocoder, mel, *, threads: int = 1, repeats: int = 3, target=None, overlap=None) -> dict:
    """Samples per second of ``vocoder.synthesize(mel)`` unbatched, batched on one thread and (when
    ``threads`` > 1) batched on ``threads`` threads, then of a streamer fed one frame per push
    (:func:`time_stream`).

    Returns {"samples", "audio_seconds", "frames", "results": [one dict per mode: "mode"
    ("unbatched", "batched" or "stream"), "threads", "folds", "fold_length", "seconds_median",
    "seconds_all", "samples_per_second", "realtime_factor" (audio seconds per compute second)]}.
    """
    frames = mel.shape[0]
    n_out = frames * vocoder.hop_length
    runs = [("unbatched", False, 1), ("batched", True, 1)]
    if threads > 1:
        runs.append(("batched", True, threads))
        if vocoder.utterance_threads > 1:  # subscale: one utterance's sub-tensors over the threads
            runs.insert(1, ("unbatched", False, threads))
    vocoder.synthesize(mel[: min(frames, 4)], seed=0)  # warm up allocations / page faults
    results = []
    for name, batched, th in runs:
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            vocoder.synthesize(mel, seed=r, batched=batched, target=target, overlap=overlap, threads=th)
            times.append(time.perf_counter() - t0)
        spans = vocoder.fold_layout(frames, target, overlap) if batched else [(0, n_out)]
        results.append(_row(name, th, spans, times, n_out, vocoder.sample_rate))
    if vocoder.streams:
        results.append(time_stream(vocoder, mel, repeats=repeats))
    return {"samples": n_out, "audio_seconds": n_out / vocoder.sample_rate, "frames": frames, "results": results}


def time_to_first_audio(vocoder, mel, repeats: int = 3) -> float:
    """Seconds from pushing the first mel frame into a streamer, one frame at a time, to the
    first samples out (median of ``repeats``): the latency a live caller sees."""
    times = []
    for r in range(repeats):
        s = vocoder.streamer(seed=r)
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


def measure(vocoder, mel, *, threads: int = 1, repeats: int = 3, target=None, overlap=None) -> dict:
    """Everything ``sparsewave bench`` reports about a model on ``mel``: :func:`time_synthesis`'s
    fields, the streaming :func:`time_to_first_audio`, the sample loop's multiply-accumulates per
    sample (nonzero, and executed with block padding) and the throughput they imply (GMAC/s,
    unbatched), the model's family / variant / sample rate and the ISA that ran."""
    from . import isa

    mel = np.ascontiguousarray(vocoder.check_mels(mel))
    timed = time_synthesis(vocoder, mel, threads=threads, repeats=repeats, target=target, overlap=overlap)
    unbatched = timed["results"][0]
    nz, ex = vocoder.loop_macs
    if vocoder.streams:
        first_audio = {"time_to_first_audio_s": time_to_first_audio(vocoder, mel)}
    else:  # whole utterances only: synthesize() returns all of it at once
        first_audio = {"time_to_first_audio_s": unbatched["seconds_median"],
                       **_subscale_first_samples(vocoder, mel.shape[0], unbatched["seconds_median"])}
    return {
        "family": vocoder.family, "variant": vocoder.config.get("variant"), "sample_rate": vocoder.sample_rate,
        "isa": isa(),
        "samples_per_s": unbatched["samples_per_second"], "real_time_factor": unbatched["realtime_factor"],
        "macs_per_sample": nz, "executed_macs_per_sample": ex,
        **first_audio,
        **timed,
        "loop_macs": {"nonzero": nz, "executed": ex},
        "unbatched_gmacs_nonzero": nz * unbatched["samples_per_second"] / 1e9,
        "unbatched_gmacs_executed": ex * unbatched["samples_per_second"] / 1e9,
    }


def _subscale_first_samples(vocoder, frames: int, seconds: float) -> dict:
    """When the engine has generated the first B samples of an utterance: after
    steps_to_first_audio of its T + (G - 1) F steps (docs/subscale.md; G = B groups, B / 2 fused
    pairs), at the measured time per step. Grows with B and F; the plain loop's first sample
    needs one step."""
    d = vocoder.describe()
    B, F = d["sub_tensors"], d["horizon"]
    G = B // 2 if d.get("fused") else B
    T = -(-frames * vocoder.hop_length // B)
    steps = T + (G - 1) * F
    return {"steps_to_first_audio": d["steps_to_first_audio"], "steps": steps,
            "first_samples_after_s": seconds * d["steps_to_first_audio"] / steps}


def rss_bytes() -> int | None:
    """Resident set size of this process in bytes (Linux /proc), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
