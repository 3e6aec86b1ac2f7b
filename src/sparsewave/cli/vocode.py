"""Mel -> WAV for ``synthesize`` and ``resynth``: their shared generation options, the
command line's batching rule, and the synthesis run with progress bar and summary."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .argtypes import fraction, nonneg_int, positive_int
from .interrupt import run_interruptibly
from .loading import MODEL_HELP, add_weights_option
from .progress import ProgressBar


def add_generation_options(p, *, seed_default=None, seed_help="random seed (default: random)",
                           folds: bool = True) -> None:
    """--seed, --weights, --tail-cut, --batched, --threads (and --target / --overlap with ``folds``) on parser ``p``."""
    p.add_argument("--seed", type=nonneg_int, default=seed_default, help=seed_help)
    add_weights_option(p)
    p.add_argument("--tail-cut", type=fraction(upper_inclusive=False), default=None, metavar="R",
                   help="never draw a class less likely than R times the most likely one (softmax heads; "
                        "default: the model's own config, else 0 = no cut)")
    implied = "--target/--overlap/--threads > 1" if folds else "--threads > 1"
    p.add_argument("--batched", action="store_true",
                   help=f"generate overlapping folds together (faster; implied by {implied})")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="threads for batched mode (N > 1 implies --batched)")
    if folds:
        p.add_argument("--target", type=positive_int, default=None, metavar="T",
                       help="fold length in samples (default: 0.5 s)")
        p.add_argument("--overlap", type=nonneg_int, default=None, metavar="O",
                       help="fold overlap in samples (default: 25 ms)")


def add_vocode_options(p) -> None:
    """The options ``synthesize`` and ``resynth`` share: -o, -m, the generation options, -q."""
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="WAV file to write")
    p.add_argument("-m", "--model", default=None, metavar="MODEL", help=MODEL_HELP)
    add_generation_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def wants_batched(args) -> bool:
    """The command line's convenience rule, in this one place: options that only mean something
    for batched generation (--threads N > 1, --target, --overlap) imply --batched. The library
    does not guess: ``Vocoder.synthesize(threads=2)`` without ``batched=True`` is an error."""
    return bool(args.batched or getattr(args, "target", None) is not None
                or getattr(args, "overlap", None) is not None or (args.threads or 1) > 1)


def vocode_to_wav(args, voc, mel, out: Path, *, max_samples: int | None = None, source: str = "") -> None:
    """Synthesize ``mel`` with the command's options (progress bar on a TTY) and write ``out``."""
    from ..audio.io import write_audio

    frames = mel.shape[0]
    batched = wants_batched(args)
    threads = args.threads or 1
    bar = None
    if not args.quiet and sys.stderr.isatty():
        bar = ProgressBar(frames * voc.hop_length, 1.0, voc.sample_rate)  # the engine counts output samples
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    t0 = time.perf_counter()
    audio = run_interruptibly(voc.synthesize, mel, seed=seed, batched=batched, target=args.target,
                              overlap=args.overlap, threads=threads, progress=bar)
    elapsed = time.perf_counter() - t0
    if bar is not None:
        bar.finish()
    if max_samples is not None:
        audio = audio[:max_samples]
    write_audio(out, audio, voc.sample_rate)
    if not args.quiet:
        dur = len(audio) / voc.sample_rate
        mode = f"batched, {threads} thread{'s' if threads > 1 else ''}" if batched else "unbatched"
        print(f"wrote {out}: {dur:.2f} s, {voc.sample_rate} Hz, 16-bit PCM{source}; {frames} frames in "
              f"{elapsed:.2f} s ({dur / max(elapsed, 1e-9):.2f}x real time, {mode}, seed {seed})", file=sys.stderr)
