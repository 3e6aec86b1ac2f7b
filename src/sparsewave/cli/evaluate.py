"""``sparsewave evaluate``: score a model on held-out speech (sparsewave.quality)."""
from __future__ import annotations

import json

from .argtypes import positive_int
from .audio_input import audio_files, read_audio_with_notes
from .errors import EXIT_OK, CliError, one_line
from .interrupt import run_interruptibly
from .loading import MODEL_HELP, load_vocoder
from .vocode import add_generation_options, wants_batched


def register(sub, common) -> None:
    e = sub.add_parser("evaluate", aliases=["eval"], parents=[common],
                       help="score a model on held-out speech (NLL, resynthesis mel correlation, voicing)",
                       description="For each clip: the teacher-forced NLL in bits per sample, and the Pearson "
                                   "correlation between the clip's mel and the mel of the model's resynthesis of it "
                                   "and the F1 of the resynthesis's voiced frames against the clip's (sparsewave.voicing: mel "
                                   "correlation cannot tell voiced speech from whisper). See docs/quality.md. Use clips "
                                   "the model was not trained on.",
                       epilog="example: sparsewave evaluate held_out/ --json")
    e.add_argument("audio", metavar="AUDIO", nargs="+", help="WAV / FLAC files or folders of them")
    e.add_argument("-m", "--model", default=None, metavar="MODEL", help=MODEL_HELP)
    add_generation_options(e, seed_default=0, seed_help="random seed of the (first) resynthesis (default 0)",
                           folds=False)
    e.add_argument("--seeds", type=positive_int, default=1, metavar="K",
                   help="resynthesize each clip K times (seeds SEED..SEED+K-1) and average the correlation")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    e.set_defaults(func=run)


def run(args) -> int:
    """Teacher-forced NLL, resynthesis mel correlation and voicing of held-out clips."""
    from ..quality import evaluate_clip

    voc = load_vocoder(args.model)
    if not voc.config.get("mel"):
        raise CliError(f"model {voc.path} records no mel front end (config 'mel'), so it cannot be scored on audio")
    rows = []
    for path in audio_files(args.audio):
        audio = read_audio_with_notes(path, voc.sample_rate, args.quiet or args.json)
        try:
            score = run_interruptibly(evaluate_clip, voc, audio, seed=args.seed, n_seeds=args.seeds,
                                      batched=wants_batched(args), threads=args.threads or 1)
        except ValueError as e:
            raise CliError(f"{path}: {one_line(e)}") from e
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
