"""``sparsewave synthesize``: a mel spectrogram file -> a 16-bit PCM WAV."""
from __future__ import annotations

import sys

from .._paths import check_output_file
from .errors import EXIT_OK, PROG
from .loading import load_vocoder
from .vocode import add_vocode_options, vocode_to_wav


def register(sub, common) -> None:
    s = sub.add_parser("synthesize", aliases=["synth"], parents=[common], help="vocode a mel spectrogram to WAV",
                       description="Vocode a mel spectrogram (.npy, single-array .npz, or .pt with torch; "
                                   "(frames, n_mels) or (n_mels, frames)) into a 16-bit PCM WAV, written atomically.",
                       epilog="example: sparsewave synthesize mel.npy -o out.wav --model geneing.sw --batched")
    s.add_argument("mel", metavar="MEL", help="mel file (.npy / .npz / .pt)")
    add_vocode_options(s)
    s.set_defaults(func=run)


def run(args) -> int:
    from ..audio.mel_files import mel_range_warning, read_mel_file

    out = check_output_file(args.output)
    voc = load_vocoder(args.model, weights=args.weights, float_matrices=args.float_matrices, tail_cut=args.tail_cut)
    mel = voc.check_mels(read_mel_file(args.mel))
    warning = mel_range_warning(mel, voc.config)
    if warning and not args.quiet:
        print(f"{PROG}: {warning}", file=sys.stderr)
    vocode_to_wav(args, voc, mel, out)
    return EXIT_OK
