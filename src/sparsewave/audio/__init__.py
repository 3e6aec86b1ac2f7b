"""Audio front end: mel spectrograms as each model family expects, resampling, file I/O.

NumPy plus soundfile (installed with sparsewave; WAV still works through the standard library
if libsndfile is missing); scipy, when present, speeds up resampling. Typical use::

    from sparsewave import Vocoder
    from sparsewave.audio import read_audio, mel_spectrogram, write_audio

    voc = Vocoder.load("model.sw")
    audio, sr = read_audio("speech.wav", target_rate=voc.config["mel"]["sample_rate"])
    mels = mel_spectrogram(audio, voc.config["mel"])        # (frames, n_mels) float32
    write_audio("out.wav", voc.synthesize(mels), voc.sample_rate)
"""
from __future__ import annotations

import numpy as np

from .io import find_audio_files, read_audio, write_audio
from .mel import MelFrontEnd, hz_to_mel, mel_filterbank, mel_spectrogram, mel_to_hz, normalize_mel_config
from .mel_files import read_mel_file
from .resample import design_filter, rational_ratio, resample


def load_mel(path, config) -> np.ndarray:
    """Mel spectrogram (frames, n_mels) float32 of an audio file, resampled to the model's rate
    first if needed. ``config`` is the model's ``config["mel"]`` (or the whole model config)."""
    fe = MelFrontEnd(config)
    audio, rate = read_audio(path, target_rate=fe.sample_rate)
    return fe(audio, rate)


__all__ = ["MelFrontEnd", "mel_spectrogram", "mel_filterbank", "hz_to_mel", "mel_to_hz", "normalize_mel_config",
           "resample", "design_filter", "rational_ratio", "read_audio", "write_audio", "find_audio_files", "load_mel",
           "read_mel_file"]
