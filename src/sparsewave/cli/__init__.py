"""The ``sparsewave`` command line: convert checkpoints, inspect models, vocode mels, benchmark.

Exit status: 0 success, 1 failure (one line on stderr; the traceback too with
``--debug`` or ``SPARSEWAVE_DEBUG=1``), 2 usage error, 130 interrupted.

Without ``--model``, commands use the default voice shipped in the package.

Examples::

    sparsewave resynth speech.wav -o out.wav
    sparsewave evaluate held_out/ --json
    sparsewave convert model.bin -o geneing.sw
    sparsewave convert checkpoint.pth -o coqui.sw --from torch --config overrides.json
    sparsewave info geneing.sw --json
    sparsewave synthesize mel.npy -o out.wav --model geneing.sw --batched --threads 2
    sparsewave bench geneing.sw --seconds 2 --threads 2

Layout: ``entry`` builds the parser and maps errors to exit codes; each command lives in its
own module (``convert``, ``info``, ``synthesize``, ``resynth``, ``evaluate``, ``bench``) with a
``register(subparsers, common)`` and a ``run(args)``; ``sparsewave train`` is handed to
:mod:`sparsewave.train.cli`. Shared pieces: ``errors`` (exit codes, one-line messages),
``argtypes``, ``loading`` (the model argument), ``vocode`` (mel -> WAV and the batching rule),
``audio_input``, ``progress``, ``interrupt`` (Ctrl-C during engine calls).
"""
from .entry import build_parser, main
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, CliError, UsageError
from .progress import ProgressBar

__all__ = ["main", "build_parser", "ProgressBar", "CliError", "UsageError", "PROG", "EXIT_OK", "EXIT_FAILURE",
           "EXIT_USAGE", "EXIT_INTERRUPTED"]
