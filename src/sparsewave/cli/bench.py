"""``sparsewave bench``: synthesis speed of a model (the measuring is :mod:`sparsewave.benchmark`)."""
from __future__ import annotations

import json
import os
import tempfile

from .._blocks import PRUNING_BLOCKS, format_block
from .argtypes import nonneg_int, positive_float, positive_int
from .errors import EXIT_OK, UsageError
from .interrupt import run_interruptibly
from .loading import add_weights_option, load_vocoder, loop_weights, model_path

RANDOM_FAMILIES = ("dual-softmax", "subscale")


def register(sub, common) -> None:
    b = sub.add_parser("bench", parents=[common], help="measure synthesis speed",
                       description="Samples/s and real-time factor (audio seconds per compute second) unbatched, "
                                   "batched on 1 thread, batched on N threads, and streamed one mel frame per "
                                   "push.",
                       epilog="example: sparsewave bench geneing.sw --seconds 2 --threads 2")
    b.add_argument("model", metavar="MODEL", nargs="?", help=".sw weight file (default: the packaged default "
                   "voice; or use --random)")
    b.add_argument("--random", metavar="FAMILY", choices=RANDOM_FAMILIES,
                   help="measure a model of this shape with random weights, before training it "
                        f"({', '.join(RANDOM_FAMILIES)})")
    b.add_argument("--hidden", type=positive_int, default=896, metavar="N", help="--random: state size (default 896)")
    b.add_argument("--density", type=positive_float, default=0.05, metavar="D",
                   help="--random: fraction of blocks kept (default 0.05)")
    b.add_argument("--block", default="4x4", choices=[format_block(shape) for shape in PRUNING_BLOCKS],
                   help="--random: block shape")
    b.add_argument("--sample-rate", type=positive_int, default=24000, metavar="HZ",
                   help="--random: sample rate (default 24000)")
    b.add_argument("--hop", type=positive_int, default=300, metavar="H", help="--random: hop length (default 300)")
    b.add_argument("--sub-tensors", type=positive_int, default=16, metavar="B",
                   help="--random subscale: sub-tensors, samples per step (default 16)")
    b.add_argument("--horizon", type=positive_int, default=8, metavar="F",
                   help="--random subscale: future horizon in positions (default 8)")
    b.add_argument("--fused", action="store_true",
                   help="--random subscale: Fused Subscale, pairs of sub-tensors sharing one state (two samples "
                        "per state per step)")
    add_weights_option(b)
    b.add_argument("--seconds", type=positive_float, default=None, metavar="S",
                   help="audio length to generate (default 2; with --mel: the whole mel)")
    b.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="threads for the multi-threaded batched run (default: CPU count, at most 4)")
    b.add_argument("--repeats", type=positive_int, default=3, metavar="R", help="runs per mode; the median is shown")
    b.add_argument("--mel", metavar="MEL", help="use this mel instead of a random one")
    b.add_argument("--target", type=positive_int, default=None, metavar="T", help="fold length (batched)")
    b.add_argument("--overlap", type=nonneg_int, default=None, metavar="O", help="fold overlap (batched)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=run)


def run(args) -> int:
    if args.random:
        if args.model:
            raise UsageError("give either MODEL or --random, not both")
        path, desc = _random_model(args)
    else:
        path = model_path(args.model)
        desc = str(args.model) if args.model else f"default voice ({path.name})"
    try:
        return _bench(args, path, desc)
    finally:
        if args.random:
            os.unlink(path)


def _random_model(args):
    """A model of the requested size with random block-pruned weights, written to a temp file."""
    from .._blocks import parse_block
    from ..dual_softmax import write_random_dual_softmax
    from ..subscale import write_random_subscale

    if args.random not in RANDOM_FAMILIES:
        raise UsageError(f"--random supports {', '.join(map(repr, RANDOM_FAMILIES))}, got {args.random!r}")
    if args.fused and args.random != "subscale":
        raise UsageError("--fused needs --random subscale")
    common = dict(seed=0, sample_rate=args.sample_rate, hop_length=args.hop)
    desc = f"random {args.random} N={args.hidden} density {args.density} block {args.block}"
    tmp = tempfile.NamedTemporaryFile(suffix=".sw", delete=False)
    tmp.close()
    try:
        if args.random == "subscale":
            write_random_subscale(tmp.name, args.hidden, args.density, parse_block(args.block),
                                  sub_tensors=args.sub_tensors, horizon=args.horizon, fused=args.fused, **common)
            desc += f" B={args.sub_tensors} F={args.horizon}" + (" fused" if args.fused else "")
        else:
            write_random_dual_softmax(tmp.name, args.hidden, args.density, parse_block(args.block), **common)
    except ValueError as e:  # a shape out of the family's limits
        os.unlink(tmp.name)
        raise UsageError(str(e)) from None
    except BaseException:
        os.unlink(tmp.name)
        raise
    return tmp.name, desc


def _mel(args, voc):
    """(mel, description): the --mel file (cut to --seconds), else a smooth random one."""
    from ..audio.mel_files import read_mel_file
    from ..benchmark import smooth_random_mel

    if not args.mel:
        return smooth_random_mel(voc, args.seconds if args.seconds is not None else 2.0), "random (smooth) mel"
    mel = voc.check_mels(read_mel_file(args.mel))
    if args.seconds is not None:
        mel = mel[:max(1, int(round(args.seconds * voc.sample_rate / voc.hop_length)))]
    return mel, str(args.mel)


def _bench(args, path, desc) -> int:
    from ..benchmark import measure

    voc = load_vocoder(str(path), weights=args.weights, float_matrices=args.float_matrices)
    mel, mel_desc = _mel(args, voc)
    threads = args.threads if args.threads is not None else min(os.cpu_count() or 1, 4)
    res = run_interruptibly(measure, voc, mel, threads=threads, repeats=args.repeats,
                            target=args.target, overlap=args.overlap)
    report = {"model": desc, "weights": loop_weights(voc), "mel": mel_desc, "repeats": args.repeats, **res}
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    _print_table(report)
    return EXIT_OK


def _print_table(report: dict) -> None:
    nz, ex = report["loop_macs"]["nonzero"], report["loop_macs"]["executed"]
    print(f"model {report['model']} ({report['variant'] or report['family']}, {report['sample_rate']} Hz), "
          f"{report['weights']} weights, ISA {report['isa']}, {report['audio_seconds']:.2f} s of audio "
          f"({report['frames']} frames, {report['mel']}), median of {report['repeats']}")
    print()
    print("| mode | threads | folds x length | samples/s | x real time | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in report["results"]:
        folds = f"{r['folds']} x {r['fold_length']:,}" if r["mode"] == "batched" else "1"
        mode = "stream, 1 frame per push" if r["mode"] == "stream" else r["mode"]
        print(f"| {mode} | {r['threads']} | {folds} | {r['samples_per_second']:,.0f} | "
              f"{r['realtime_factor']:.2f} | {r['seconds_median']:.3f} |")
    print()
    print(f"sample loop: {nz:,} nonzero MACs/sample ({ex:,} executed); unbatched = "
          f"{report['unbatched_gmacs_nonzero']:.2f} GMAC/s nonzero ({report['unbatched_gmacs_executed']:.2f} executed)")
    if "first_samples_after_s" in report:  # subscale: whole utterances, no streaming
        print(f"time to first audio: {report['time_to_first_audio_s'] * 1000:.1f} ms (synthesize returns the whole "
              f"utterance; the engine has its first samples after {report['steps_to_first_audio']:,} of "
              f"{report['steps']:,} steps, {report['first_samples_after_s'] * 1000:.1f} ms)")
    else:
        print(f"time to first audio (streaming, one frame at a time): {report['time_to_first_audio_s'] * 1000:.1f} ms")
