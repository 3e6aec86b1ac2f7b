"""``sparsewave resynth``: copy synthesis, audio -> the model's own mel -> audio."""
from __future__ import annotations

from .._paths import check_output_file
from .audio_input import read_audio_with_notes
from .errors import EXIT_OK, CliError
from .loading import load_vocoder
from .vocode import add_vocode_options, vocode_to_wav


def register(sub, common) -> None:
    r = sub.add_parser("resynth", parents=[common], help="copy synthesis: audio -> the model's mel -> audio",
                       description="Compute the model's own mel spectrogram of an audio file (resampled to the "
                                   "model's rate, stereo downmixed) and vocode it: the quickest way to hear a model.",
                       epilog="example: sparsewave resynth speech.wav -o out.wav --model geneing.sw")
    r.add_argument("audio", metavar="AUDIO", help="WAV / FLAC file")
    add_vocode_options(r)
    r.set_defaults(func=run)


def run(args) -> int:
    from ..audio import mel_spectrogram

    out = check_output_file(args.output)
    voc = load_vocoder(args.model, weights=args.weights, float_matrices=args.float_matrices, tail_cut=args.tail_cut)
    mel_cfg = voc.config.get("mel")
    if not mel_cfg:
        raise CliError(f"model {voc.path} records no mel front end (config 'mel'); vocode a mel file with "
                       "'sparsewave synthesize' instead")
    audio = read_audio_with_notes(args.audio, voc.sample_rate, args.quiet)
    mel = voc.check_mels(mel_spectrogram(audio, dict(mel_cfg, sample_rate=voc.sample_rate)))
    vocode_to_wav(args, voc, mel, out, max_samples=len(audio), source=f" from {args.audio}")
    return EXIT_OK
