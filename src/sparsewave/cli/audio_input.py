"""Audio files named on the command line (``resynth``, ``evaluate``)."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

from .._paths import check_input_file
from .errors import PROG, CliError


def read_audio_with_notes(path, rate: int, quiet: bool):
    """Audio of ``path`` at ``rate``; the reader's warnings (downmix, resampling) become notes on stderr."""
    from ..audio import read_audio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio, _ = read_audio(path, target_rate=rate)
    if not quiet:
        for w in caught:
            print(f"{PROG}: note: {w.message}", file=sys.stderr)
    return audio


def audio_files(items) -> list[Path]:
    """Files named on the command line, folders expanded to their WAV / FLAC files."""
    from ..audio import find_audio_files

    files = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = find_audio_files([p])
            if not found:
                raise CliError(f"no .wav or .flac files under {p}")
            files += found
        else:
            files.append(check_input_file(p, "audio file"))
    return files
