"""``sparsewave evaluate``: score a model on held-out speech (sparsewave.quality, sparsewave.metrics)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .argtypes import positive_int
from .audio_input import audio_files, read_audio_with_notes
from .errors import EXIT_OK, PROG, CliError, one_line
from .interrupt import run_interruptibly
from .loading import MODEL_HELP, load_vocoder, loop_weights
from .vocode import add_generation_options, wants_batched

# The standard metrics' keys as the text report names them.
_DNSMOS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")


def register(sub, common) -> None:
    e = sub.add_parser("evaluate", aliases=["eval"], parents=[common],
                       help="score a model on held-out speech (NLL, mel correlation, PESQ, STOI, V/UV F1, DNSMOS)",
                       description="For each clip: the teacher-forced NLL in bits per sample and the Pearson "
                                   "correlation between the clip's mel and the mel of the model's resynthesis of it; "
                                   "with pip install 'sparsewave[eval]' also, at 16 kHz: PESQ wideband, STOI, the F1 "
                                   "of the resynthesis's voiced frames and its median pitch error from Praat's "
                                   "tracker (mel correlation cannot tell voiced speech from whisper), and DNSMOS "
                                   "P.835 SIG/BAK/OVRL of the resynthesis and of the recording. See docs/quality.md. "
                                   "Use clips the model was not trained on.",
                       epilog="example: sparsewave evaluate held_out/ --json --plot spectrograms.png")
    e.add_argument("audio", metavar="AUDIO", nargs="+", help="WAV / FLAC files or folders of them")
    e.add_argument("-m", "--model", default=None, metavar="MODEL", help=MODEL_HELP)
    add_generation_options(e, seed_default=0, seed_help="random seed of the (first) resynthesis (default 0)",
                           folds=False)
    e.add_argument("--seeds", type=positive_int, default=1, metavar="K",
                   help="resynthesize each clip K times (seeds SEED..SEED+K-1) and average the scores")
    e.add_argument("--metrics", choices=("auto", "all", "basic"), default="auto",
                   help="all: also PESQ, STOI, V/UV F1, pitch error, DNSMOS (needs the [eval] extra); basic: NLL "
                        "and mel correlation only; auto (default): all when the [eval] extra is installed")
    e.add_argument("--plot", metavar="PNG", default=None,
                   help="write the recording's and the resynthesis's spectrograms, one above the other (seed SEED; "
                        "with several clips, one file each: PNG's name with the clip's appended); needs matplotlib "
                        "([eval] extra)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    e.set_defaults(func=run)


def _standard_metrics(choice: str, quiet: bool) -> bool:
    """Whether to compute the [eval] metrics; a clear error (all) or note (auto) when packages are missing."""
    from ..metrics.extra import INSTALL_HINT, missing_eval_packages
    from ..quality import SCORING_PACKAGES

    if choice == "basic":
        return False
    missing = missing_eval_packages(SCORING_PACKAGES)
    if missing and choice == "all":
        raise CliError(f"--metrics all needs the optional package{'s' * (len(missing) > 1)} {', '.join(missing)}: "
                       f"{INSTALL_HINT}")
    if missing and not quiet:
        print(f"{PROG} evaluate: note: PESQ, STOI, V/UV F1 and DNSMOS skipped ({', '.join(missing)} not installed: "
              f"{INSTALL_HINT})", file=sys.stderr)
    return not missing


def _plot_paths(plot, clips: list[Path]) -> list:
    """One PNG per clip: ``plot`` itself for one clip, ``plot``'s stem + '-' + the clip's stem for several
    (numbered when two clips share a name)."""
    from .._paths import check_output_file
    from ..metrics.extra import INSTALL_HINT, missing_eval_packages

    if plot is None:
        return [None] * len(clips)
    if missing_eval_packages(["matplotlib"]):
        raise CliError(f"--plot needs the optional package matplotlib: {INSTALL_HINT}")
    base = Path(plot)
    stems = [c.stem for c in clips]
    if len(set(stems)) < len(stems):  # same names in different folders: number them so none overwrites another
        stems = [f"{i + 1}-{stem}" for i, stem in enumerate(stems)]
    paths = [base] if len(clips) == 1 else [base.with_name(f"{base.stem}-{stem}{base.suffix or '.png'}") for stem in stems]
    return [check_output_file(p) for p in paths]


def _metrics_text(row: dict) -> str:
    def num(key, fmt):
        v = row.get(key)
        return "n/a" if v is None else format(v, fmt)

    recording = "/".join(num("reference_" + k, ".2f") for k in _DNSMOS)
    return (f"{'':<28} PESQ {num('pesq_wb', '.2f')}   STOI {num('stoi', '.3f')}   V/UV F1 {num('vuv_f1', '.2f')}   "
            f"pitch error {num('pitch_error_cents', '.0f')} cents   DNSMOS SIG/BAK/OVRL "
            f"{'/'.join(num(k, '.2f') for k in _DNSMOS)} (recording {recording})")


def _summary_metrics(rows: list[dict]) -> dict:
    """Plain means over the clips of each standard metric (clips without a value left out), and the
    worst clip's pitch error."""
    keys = [k for k in rows[0] if k not in ("clip", "seconds", "nll_bits", "mel_correlation", "mel_correlations",
                                             "synth_seconds", "plot", "compared_seconds")]
    out = {}
    for key in keys:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = sum(values) / len(values) if values else None
    if "pitch_error_cents" in out:
        errors = [r["pitch_error_cents"] for r in rows if r.get("pitch_error_cents") is not None]
        out["pitch_error_cents_max"] = max(errors) if errors else None
    return out


def run(args) -> int:
    """NLL and mel correlation of held-out clips, and the standard metrics where the extra is installed."""
    from ..metrics.alignment import align
    from ..quality import evaluate_clip

    voc = load_vocoder(args.model, weights=args.weights, float_matrices=args.float_matrices, tail_cut=args.tail_cut)
    if not voc.config.get("mel"):
        raise CliError(f"model {voc.path} records no mel front end (config 'mel'), so it cannot be scored on audio")
    standard = _standard_metrics(args.metrics, args.quiet)
    clips = audio_files(args.audio)
    plots = _plot_paths(args.plot, clips)
    rows = []
    for path, plot in zip(clips, plots):
        audio = read_audio_with_notes(path, voc.sample_rate, args.quiet or args.json)
        try:
            score = run_interruptibly(evaluate_clip, voc, audio, seed=args.seed, n_seeds=args.seeds,
                                      batched=wants_batched(args), threads=args.threads or 1, standard_metrics=standard)
            if plot is not None:
                from ..metrics.spectrogram_plot import plot_spectrograms

                ref, syn, _ = align(audio, score.resynthesis, voc.sample_rate)
                plot_spectrograms(plot, ref, syn, titles=(f"recording: {path.name}",
                                                          f"resynthesis: {voc.path.name}, seed {args.seed}"))
        except ValueError as e:
            raise CliError(f"{path}: {one_line(e)}") from e
        rows.append(dict(clip=str(path), **score.as_dict(), **({"plot": str(plot)} if plot is not None else {})))
        if not args.json and not args.quiet:
            print(f"{path.name:<28} {score.seconds:7.2f} s   NLL {score.nll_bits:6.3f} bits/sample   "
                  f"mel correlation {score.mel_correlation:.3f}", flush=True)
            if standard:
                print(_metrics_text(rows[-1]), flush=True)
            if plot is not None:
                print(f"{'':<28} spectrograms: {plot}", flush=True)
    seconds = sum(r["seconds"] for r in rows)
    summary = {
        "model": str(voc.path), "clips": len(rows), "seconds": seconds, "seeds": list(range(args.seed, args.seed + args.seeds)),
        "tail_cut": voc.tail_cut,
        "weights": loop_weights(voc),
        "standard_metrics": standard,
        # duration-weighted NLL (bits over all samples); plain means of the per-clip scores
        "nll_bits": sum(r["nll_bits"] * r["seconds"] for r in rows) / seconds,
        "mel_correlation": sum(r["mel_correlation"] for r in rows) / len(rows),
        **(_summary_metrics(rows) if standard else {}),
    }
    if args.json:
        print(json.dumps({"summary": summary, "clips": rows}, indent=2))
    else:
        print(f"{'all (' + str(len(rows)) + ' clips)':<28} {seconds:7.2f} s   NLL {summary['nll_bits']:6.3f} "
              f"bits/sample   mel correlation {summary['mel_correlation']:.3f}")
        if standard:
            worst = summary["pitch_error_cents_max"]
            print(_metrics_text(summary) + f"   worst clip's pitch error {'n/a' if worst is None else f'{worst:.0f}'} cents")
    return EXIT_OK
