"""Models shipped inside the package, so a fresh install can vocode without bringing weights.

The default voice is geneing's pretrained 16 kHz WaveRNN (fatchord family, MIT licence, notice in
``LICENSE-geneing-WaveRNN.txt``) fine-tuned by ``sparsewave train --init`` on public-domain LJ
Speech; ``README.md`` beside this file (the model card) says how it was trained and how good it
is. Load it with :meth:`sparsewave.Vocoder.default`.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_VOICE", "LICENSE_NOTICE", "default_model_path"]

# File name of the default voice inside this folder.
DEFAULT_VOICE = "ljspeech_geneing_16k.sw"
# The licence of the pretrained weights it was fine-tuned from, shipped beside it.
LICENSE_NOTICE = "LICENSE-geneing-WaveRNN.txt"


def default_model_path() -> Path:
    """Path of the packaged default voice. FileNotFoundError (with the fix) if the install lacks it."""
    path = Path(__file__).resolve().with_name(DEFAULT_VOICE)
    if not path.is_file():
        raise FileNotFoundError(
            f"the default voice '{path}' is missing from this sparsewave install (was the package copied without "
            "its data files?); reinstall with 'pip install --force-reinstall sparsewave', or pass a model file")
    return path
