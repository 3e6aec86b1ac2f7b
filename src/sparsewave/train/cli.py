"""``python -m sparsewave.train DATA_DIR [DATA_DIR ...] -o run/ [options]`` (see docs/training.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._blocks import PRUNING_BLOCKS, format_block, parse_block
from .._json_text import parse_json
from ..cli.argtypes import fraction, nonneg_int, positive_int

__all__ = ["main", "build_parser", "config_from_args"]

_sparsity = fraction(upper_inclusive=False)
_preemphasis = fraction(upper_inclusive=False)
_noise_std = fraction(upper_inclusive=True)


def _block(s: str) -> str:
    try:
        return format_block(parse_block(s, PRUNING_BLOCKS))
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _name_list(s: str) -> tuple:
    names = tuple(n.strip() for n in s.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one matrix name, e.g. rnn1.hh,fc1")
    return names


def build_parser(prog: str = "python -m sparsewave.train") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Train the paper's dual-softmax WaveRNN, or its Subscale form (--arch subscale), with "
                    "teacher forcing and gradual block pruning on a folder of WAV files and export a sparsewave "
                    "model. Resumes from OUT/checkpoint.pt.")
    p.add_argument("data", nargs="+", metavar="DATA_DIR", help="folders (searched recursively) or .wav files")
    p.add_argument("-o", "--out", required=True, help="run folder: checkpoint.pt, log.jsonl, model.sw")
    a = p.add_argument_group("model")
    a.add_argument("--arch", choices=("dual_softmax", "subscale"), default="dual_softmax",
                   help="dual_softmax (default) or subscale: Subscale WaveRNN, B samples per step "
                        "(docs/subscale.md; family 'subscale')")
    a.add_argument("--hidden", type=positive_int, default=384, help="GRU state size N (even; default 384)")
    a.add_argument("--output-hidden", type=positive_int, default=None, help="width of O1/O3 (default N/2)")
    a.add_argument("--upsample", choices=("repeat", "conv"), default="repeat",
                   help="mel upsampling: repeat each frame, or repeat + smoothing conv (default repeat)")
    a.add_argument("--upsample-kernel", type=positive_int, default=0, help="odd conv length for --upsample conv")
    a.add_argument("--learn-upsample", action="store_true", help="learn the conv kernel (else fixed Hann)")
    a.add_argument("--preemphasis", type=_preemphasis, default=0.0, metavar="A",
                   help="model pre-emphasised audio y[n] = x[n] - A x[n-1] (the engine de-emphasises its "
                        "output), which shapes sampling noise under the speech spectrum; 0 = off (default)")
    a.add_argument("--mel-config", default=None,
                   help="JSON file of mel front-end settings overriding the defaults (docs/training.md)")
    a.add_argument("--init", default=None, metavar="MODEL.sw",
                   help="fine-tune this model file (fatchord family or dual softmax) instead of training a new "
                        "model: it trains on its own mel front end and sample rate, and exports the same "
                        "architecture (the model options above are ignored)")
    a.add_argument("--freeze", choices=("none", "conditioning", "all-but-recurrent"), default="none",
                   help="with --init on a fatchord-family model: hold the conditioning network (MelResNet + "
                        "upsampler), or everything but the GRU and fc layers, fixed (default none)")
    a.add_argument("--quantize", choices=("int8",), default=None,
                   help="quantization-aware training for Vocoder.load(weights='int8'): the recurrent product "
                        "and the heads see int8-rounded weights (per row) and inputs (per vector), exactly as "
                        "the engine computes them; the export stays float (needs --block 4x4 or 8x4)")
    s = p.add_argument_group("subscale (--arch subscale, docs/subscale.md)")
    s.add_argument("--sub-tensors", type=positive_int, default=16, help="B, samples per step (default 16)")
    s.add_argument("--horizon", type=positive_int, default=8, help="F, future horizon in positions (default 8)")
    s.add_argument("--context-channels", type=positive_int, default=64, help="C, context stack width (default 64)")
    s.add_argument("--context-layers", type=nonneg_int, default=6,
                   help="D, dilated layers; the stack sees 2^D steps (default 6)")
    s.add_argument("--context-features", type=positive_int, default=8,
                   help="E, context features per sub-tensor (per pair with --fused; default 8)")
    s.add_argument("--fused", action="store_true",
                   help="Fused Subscale: sub-tensors 2k, 2k+1 share one state of four parts (two samples per "
                        "state per step; needs an even --sub-tensors and --hidden a multiple of 4)")
    a = p.add_argument_group("pruning")
    a.add_argument("--keep-masks", action="store_true",
                   help="with --init: keep the model's own zero weights at zero (its sparsity pattern) instead "
                        "of re-pruning into blocks (the --sparsity/--block schedule is then unused)")
    a.add_argument("--sparsity", type=_sparsity, default=0.9, help="target fraction of zero blocks Z (default 0.9)")
    a.add_argument("--block", type=_block, default="4x4", help="4x4 or 16x1 (default 4x4)")
    a.add_argument("--prune-start", type=nonneg_int, default=None, help="t0 (default steps/10)")
    a.add_argument("--prune-steps", type=nonneg_int, default=None, help="S, steps to reach Z (default steps/2)")
    a.add_argument("--prune-every", type=positive_int, default=100, help="K, mask update interval (default 100)")
    a.add_argument("--prune-heads", action="store_true", help="also prune O1..O4")
    a.add_argument("--prune-only", type=_name_list, default=(), metavar="NAMES",
                   help="prune only these matrices, comma-separated names or prefixes (rnn1.hh = its r, z and n "
                        "rows); the log's first lines list the names. With --init the others keep their zero "
                        "weights (default: all)")
    a.add_argument("--prune-norm", choices=("l2", "abs"), default="l2", help="block magnitude (default l2)")
    a = p.add_argument_group("optimisation")
    a.add_argument("--steps", type=nonneg_int, default=10000, help="total training steps (default 10000)")
    a.add_argument("--batch", type=positive_int, default=16, help="crops per batch (default 16)")
    a.add_argument("--seq-frames", type=positive_int, default=8, help="crop length in mel frames (default 8)")
    a.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    a.add_argument("--lr-final", type=float, default=None, help="cosine-decay the rate to this by the last step")
    a.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip, 0 = off (default 1.0)")
    a.add_argument("--feedback-noise", type=_noise_std, default=0.0, metavar="STD",
                   help="add noise (std drawn per crop from [0, STD], full scale = 1) to the fed-back past "
                        "samples, so free-running synthesis recovers from its own bad draws (default 0)")
    a.add_argument("--coarse-noise-only", action="store_true",
                   help="feedback noise in whole coarse steps only, fine bytes kept (docs/training.md)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    a.add_argument("--device", default="cpu",
                   help="cpu (default), cuda, cuda:N, or auto (a GPU when one is available)")
    a = p.add_argument_group("bookkeeping")
    a.add_argument("--val-clips", type=nonneg_int, default=4, help="clips held out for validation (default 4)")
    a.add_argument("--val-crops", type=nonneg_int, default=32, help="fixed validation crops (default 32)")
    a.add_argument("--val-every", type=positive_int, default=500,
                   help="validate every N steps (one due on a pruning mask update runs half a --prune-every later)")
    a.add_argument("--log-every", type=positive_int, default=50)
    a.add_argument("--export-every", type=nonneg_int, default=1000, help="write OUT/model.sw every N steps (delayed like --val-every off mask updates)")
    a.add_argument("--checkpoint-every", type=nonneg_int, default=500)
    a.add_argument("--keep-exports", action="store_true",
                   help="also keep every export as OUT/exports/step_NNNNNN.sw, to choose one by listening tests "
                        "and vocoder metrics (sparsewave evaluate)")
    a.add_argument("--max-minutes", type=float, default=None, help="stop (checkpoint + export) after this long")
    a.add_argument("--fresh", action="store_true", help="start over even if OUT/checkpoint.pt exists")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress on stdout (log.jsonl still written)")
    return p


def config_from_args(args: argparse.Namespace):
    from .data import DEFAULT_MEL
    from .trainer import TrainConfig

    mel = dict(DEFAULT_MEL)
    if args.mel_config:
        path = Path(args.mel_config)
        loaded = parse_json(path.read_bytes(), f"mel config file '{path}'")
        if not isinstance(loaded, dict):
            raise ValueError(f"mel config file '{path}' must hold a JSON object, not a {type(loaded).__name__}")
        mel.update(loaded)
    return TrainConfig(
        data=list(args.data), out=args.out, hidden=args.hidden, output_hidden=args.output_hidden,
        upsample=args.upsample, upsample_kernel=args.upsample_kernel, learn_upsample=args.learn_upsample,
        sparsity=args.sparsity, block=args.block, prune_heads=args.prune_heads, prune_norm=args.prune_norm,
        prune_only=args.prune_only,
        prune_start=args.prune_start, prune_steps=args.prune_steps, prune_every=args.prune_every,
        steps=args.steps, batch=args.batch, seq_frames=args.seq_frames, lr=args.lr, lr_final=args.lr_final,
        clip=args.clip, feedback_noise=args.feedback_noise,
        coarse_noise_only=args.coarse_noise_only, preemphasis=args.preemphasis,
        val_clips=args.val_clips, val_crops=args.val_crops, val_every=args.val_every,
        log_every=args.log_every, export_every=args.export_every, checkpoint_every=args.checkpoint_every,
        max_minutes=args.max_minutes, threads=args.threads, device=args.device, seed=args.seed, fresh=args.fresh, mel=mel,
        quiet=args.quiet, init=args.init, freeze=args.freeze, keep_masks=args.keep_masks, keep_exports=args.keep_exports,
        quantize=args.quantize, arch=args.arch, sub_tensors=args.sub_tensors, horizon=args.horizon,
        context_channels=args.context_channels, context_layers=args.context_layers,
        context_features=args.context_features, fused=args.fused)


def main(argv=None, prog: str | None = None) -> int:
    """Entry point; returns the exit status (0 done, 1 failure, 2 usage, 130 interrupted).

    ``prog`` names the command in usage messages (e.g. "sparsewave train" when wired into the
    ``sparsewave`` CLI)."""
    parser = build_parser(prog) if prog else build_parser()
    args = parser.parse_args(argv)
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("error: training needs PyTorch: pip install 'sparsewave[train]'", file=sys.stderr)
        return 1
    if args.hidden % 2:
        parser.error(f"--hidden must be even, got {args.hidden}")
    if args.upsample == "conv" and args.upsample_kernel % 2 == 0:
        parser.error("--upsample conv needs an odd --upsample-kernel")
    from .trainer import train

    try:
        train(config_from_args(args))
    except KeyboardInterrupt:
        print("interrupted; checkpoint saved", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FloatingPointError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
