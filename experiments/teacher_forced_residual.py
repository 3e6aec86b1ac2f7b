"""What a dual-softmax model predicts of the next sample, and what it leaves to chance.

With the true past fed in (teacher forcing), the model's predictive mean E[x_t | past, mel] is
subtracted from the clip; the rest is what sampling must supply at synthesis time. The script
prints how much energy that residual keeps and how periodic it is in voiced frames, next to the
same for an order-16 LPC residual whose coefficients are fitted to each 1,024-sample block of
the clip itself (an oracle short-term predictor). A model that has learned only short-term
prediction leaves the pitch pulses in its residual, as LPC does; sampling then replaces them
with noise, and the voice whispers.

    python experiments/teacher_forced_residual.py CLIP.wav [--model M.sw] [--seconds 3]

Voicing and periodicity come from Praat's pitch tracker (``sparsewave.voicing``, the [eval] extra).
"""
from __future__ import annotations

import argparse

import numpy as np

from sparsewave import Vocoder
from sparsewave.audio import mel_spectrogram, read_audio
from sparsewave.voicing import frame_pitch


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predictive_mean(vocoder: Vocoder, mel: np.ndarray, audio: np.ndarray) -> np.ndarray:
    """E[x_t] from the teacher-forced output distribution: dual softmax, coarse and fine (fine
    given the true c_t); a fatchord softmax head, its classes' values (mu-law decoded)."""
    logits = vocoder.logits(mel, audio)
    if vocoder.family == "dual_softmax":
        u16 = softmax(logits[:, :256]) @ (256.0 * np.arange(256)) + softmax(logits[:, 256:]) @ np.arange(256.0)
        return (u16 - 32768.0) / 32768.0
    if vocoder.config.get("head") != "softmax":
        raise SystemExit("the predictive mean is implemented for softmax heads (not mixture of logistics)")
    n = logits.shape[1]
    values = 2.0 * np.arange(n) / (n - 1) - 1.0
    if vocoder.config.get("mu_law"):
        values = np.sign(values) * ((1.0 + (n - 1)) ** np.abs(values) - 1.0) / (n - 1)
    return softmax(logits.astype(np.float64)) @ values


def lpc_residual(x: np.ndarray, order: int = 16, block: int = 1024) -> np.ndarray:
    out = np.zeros(len(x))
    for a in range(0, len(x), block):
        seg = x[max(0, a - order):a + block]
        w = seg * np.hanning(len(seg))
        r = np.array([w[:len(w) - k] @ w[k:] for k in range(order + 1)])
        r[0] = r[0] * 1.0001 + 1e-12  # white-noise floor keeps the normal equations solvable
        toeplitz = r[np.abs(np.subtract.outer(np.arange(order), np.arange(order)))]
        coef = np.linalg.solve(toeplitz, r[1:])
        predicted = np.convolve(seg, np.concatenate([[0.0], coef]))[:len(seg)]
        out[a:a + block] = (seg - predicted)[len(seg) - len(x[a:a + block]):]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip")
    p.add_argument("--model", default=None, help="weight file (default: the default voice)")
    p.add_argument("--seconds", type=float, default=3.0, help="analyse the first S seconds (default 3)")
    args = p.parse_args()
    voc = Vocoder.load(args.model) if args.model else Vocoder.default()
    cfg = dict(voc.config["mel"], sample_rate=voc.sample_rate)
    x = read_audio(args.clip, target_rate=voc.sample_rate)[0][:int(args.seconds * voc.sample_rate)]
    mel = mel_spectrogram(x.astype(np.float32), cfg)
    x = x[:min(len(x), len(mel) * voc.hop_length)].astype(np.float64)
    voiced = frame_pitch(x, voc.sample_rate).voiced
    print(f"{args.clip}, first {len(x) / voc.sample_rate:.2f} s, {voiced.mean():.0%} of frames voiced\n")
    print("| signal | energy / speech | prediction gain (dB) | periodicity in voiced frames (median) |")
    print("| --- | --- | --- | --- |")
    for name, sig in (("speech", x), ("model residual (teacher forced)", x - predictive_mean(voc, mel, x.astype(np.float32))),
                      ("LPC-16 residual (oracle, per block)", lpc_residual(x))):
        ratio = float(np.sum(sig ** 2) / np.sum(x ** 2))
        periodicity = np.median(frame_pitch(sig, voc.sample_rate).periodicity[voiced])
        print(f"| {name} | {ratio:.4f} | {-10 * np.log10(ratio) + 0.0:.1f} | {periodicity:.2f} |")


if __name__ == "__main__":
    main()
