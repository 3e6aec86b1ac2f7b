"""How much resynthesis mel correlation a vocoder's sampling noise costs, with and without
pre-emphasis (the noise shaping LPCNet uses), simulated on real clips without any model.

A sampled vocoder's error behaves roughly like noise whose level follows the signal's. This
script adds such noise (white, scaled to each 256-sample stretch's RMS at a given SNR) to a
clip and scores the result with ``sparsewave.quality.mel_correlation``, either directly or in
a pre-emphasised domain (y[n] = x[n] - a x[n-1], noise added to y, then de-emphasised), which
is what a model trained and sampled on pre-emphasised audio would produce. It answers "would
pre-emphasis help this metric, at the same model accuracy?" before anyone retrains for it.

    python experiments/noise_shaping.py CLIP.wav [CLIP.wav ...] [--snr 10 15 20] [--alpha 0 0.7 0.86]
"""
from __future__ import annotations

import argparse

import numpy as np

from sparsewave import Vocoder
from sparsewave.audio import mel_spectrogram, read_audio
from sparsewave.audio.emphasis import deemphasize, preemphasize
from sparsewave.quality import mel_correlation


def level_following_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator, window: int = 256) -> np.ndarray:
    rms = np.sqrt(np.convolve(y * y, np.ones(window) / window, mode="same") + 1e-12)
    return rng.standard_normal(len(y)) * rms * 10.0 ** (-snr_db / 20.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--snr", type=float, nargs="+", default=[10.0, 15.0, 20.0])
    p.add_argument("--alpha", type=float, nargs="+", default=[0.0, 0.7, 0.86])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    cfg = dict(Vocoder.default().config["mel"])
    rng = np.random.default_rng(args.seed)
    scores = np.zeros((len(args.snr), len(args.alpha)))
    for clip in args.clips:
        x = read_audio(clip, target_rate=cfg["sample_rate"])[0].astype(np.float64)
        ref = mel_spectrogram(x.astype(np.float32), cfg)
        for i, snr in enumerate(args.snr):
            for j, a in enumerate(args.alpha):
                y = preemphasize(x, a).astype(np.float64)
                z = deemphasize(y + level_following_noise(y, snr, rng), a)
                scores[i, j] += mel_correlation(ref, mel_spectrogram(z.astype(np.float32), cfg))
    scores /= len(args.clips)
    print(f"mean mel correlation over {len(args.clips)} clips (noise following the signal's level)\n")
    print("| SNR (dB) | " + " | ".join(f"pre-emphasis {a:g}" for a in args.alpha) + " |")
    print("| --- |" + " --- |" * len(args.alpha))
    for i, snr in enumerate(args.snr):
        print(f"| {snr:g} | " + " | ".join(f"{s:.3f}" for s in scores[i]) + " |")


if __name__ == "__main__":
    main()
