"""The ``sparsewave`` entry point: build the parser from the command modules, dispatch, and turn
errors into exit codes (0 ok, 1 failure, 2 usage, 130 interrupted)."""
from __future__ import annotations

import argparse
import os
import sys

from . import bench, convert, evaluate, info, resynth, synthesize
from .errors import (EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, UsageError, debug_enabled,
                     one_line)

# In the order ``sparsewave --help`` lists them (after ``train``).
COMMANDS = (convert, info, synthesize, bench, resynth, evaluate)
_DEBUG_HELP = "show the full traceback on failure (or set SPARSEWAVE_DEBUG=1)"


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)
    p = argparse.ArgumentParser(
        prog=PROG, description="sparsewave: on-device WaveRNN vocoder engine.",
        epilog="Exit status: 0 ok, 1 failure, 2 usage error. Run 'sparsewave COMMAND --help' for details.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("--debug", action="store_true", default=False, help=_DEBUG_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # Listed for --help only: main() hands `train` to sparsewave.train's own parser.
    sub.add_parser("train", add_help=False,
                   help="train a sparse dual-softmax (or Subscale) WaveRNN on a folder of WAVs (needs torch)")
    for command in COMMANDS:
        command.register(sub, common)
    return p


def main(argv=None) -> int:
    """Entry point of the ``sparsewave`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["train"]:
        # The training recipe has its own parser (and needs the [train] extra: torch).
        from ..train.cli import main as train_main

        return train_main(args_list[1:], prog=f"{PROG} train")
    try:
        parser = build_parser()
    except Exception as e:  # e.g. SPARSEWAVE_ISA names a path this CPU cannot run
        print(f"{PROG}: error: {one_line(e)}", file=sys.stderr)
        if debug_enabled(None):
            import traceback

            traceback.print_exc()
        return EXIT_FAILURE
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (convert, info, synthesize, resynth, evaluate, bench, train)",
              file=sys.stderr)
        return EXIT_USAGE
    name = f"{PROG} {args.command}"
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # e.g. `sparsewave info m.sw | head`: quietly stop writing.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except Exception as e:
        if debug_enabled(args):
            import traceback

            traceback.print_exc()
        print(f"{name}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_FAILURE
