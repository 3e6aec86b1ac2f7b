"""Vocoder: load a weight file, then mel spectrogram in, waveform out."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import _core
from ._json_text import parse_json
from ._paths import check_input_file

# Conditioning memory grows with utterance length (upsampled mels); refuse
# inputs that would need more than this many frames unless raised.
DEFAULT_MAX_FRAMES = 200_000
# Storage of the sample loop's matrices (Vocoder.load(weights=...)).
WEIGHT_TYPES = ("float32", "float16", "int8", "int8a16")  # widest to narrowest (int8a16: int8 weights)
# Batched synthesis: more threads than CPUs only share them (the engine runs at most one per CPU);
# fold lengths are clamped to the utterance, so this bound only keeps them inside int64.
MAX_THREADS = 1024
MAX_FOLD_SAMPLES = 2**62


# Mel features of every front end are within a few hundred of zero; values near the float32
# limit only overflow the network's arithmetic (NaN logits), so they are refused.
MAX_MEL_MAGNITUDE = 1e6

def _tail_cut_number(value) -> float:
    """The type check only: the engine checks the range (model/sampling_config.cpp), for files too."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"tail_cut must be a number in [0, 1), got {type(value).__name__}")
    return float(value)


def _matrix_names(value) -> list[str]:
    """float_matrices as a list of names: a string is one name, not its characters."""
    names = [value] if isinstance(value, str) else value
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"float_matrices must be a sequence of matrix names, got {type(value).__name__}") from None
    for n in names:
        if not isinstance(n, str) or not n:
            raise TypeError(f"float_matrices must hold non-empty matrix names (str), got {n!r}")
    return names


class Vocoder:
    """A loaded model. ``Vocoder.load(path)`` then ``synthesize(mels)``.

    Thread safety: a Vocoder is read-only once loaded; threads may call ``synthesize``,
    ``stream``, ``logits``, ``nll`` and create streamers on one Vocoder at the same time
    (the engine releases the GIL while it generates). Do not change ``max_frames`` while
    other threads use it.
    """

    def __init__(self, core: "_core.Vocoder", path: Path):
        self._v = core
        self.path = path
        # Python's parser may refuse what the engine's accepted: the error names the file either way.
        self.config = parse_json(core.config_json, f"the config of '{path}'")
        self.max_frames = DEFAULT_MAX_FRAMES

    @classmethod
    def load(cls, path, *, weights: str | None = None, tail_cut: float | None = None,
             float_matrices=()) -> "Vocoder":
        """Load a sparsewave weight file (``.sw``). Validates every tensor before use.

        ``weights``: how the sample loop's matrices are stored for its products.
        None (default): as the file stores them: int8 for a file written with
        ``save_model(..., weights="int8")`` / ``sparsewave convert --weights int8``,
        float32 otherwise.
        ``weights="float32"`` on such an int8 file runs the float kernels on the
        dequantized weights (``values * row scale``; no activation quantization).
        ``weights="float16"`` keeps the sample loop's matrices as half floats:
        about half the bytes streamed per sample, so faster where the loop is
        bound by cache bandwidth, at a small cost in accuracy (weights rounded
        to 11 significant bits). Arithmetic stays float32.
        ``weights="int8"`` quantizes them to 8 bits with one scale per row
        (matrices packed in 8x4 or 4x4 blocks; 16x1 and unstructured ones stay
        float32) and runs the int8 dot-product kernels: a quarter of the
        bytes, and each product quantizes its input vector to 8 bits. The int8
        weights are the model's weights everywhere (the once-per-frame terms of
        the same matrices use their dequantized values), so an int8 file and a
        float32 file loaded with ``weights="int8"`` give identical results.
        ``weights="int8a16"``: the same int8 weights (and the same file), but
        each product quantizes its input to int16 codes (up to +-16383)
        instead of 8 bits. Most of int8's accuracy cost is the 8-bit input
        (the GRU state), so this keeps int8's bytes at a fraction of its
        error; on x86 AVX2 it runs about as fast as ``"int8"``, on ARM with
        dotprod its products take two ``sdot`` each (docs/format.md, "int8
        matrices").

        ``float_matrices``: names of per-sample matrices (as the file names them, e.g.
        ``("fc3.weight",)``, or a dotted prefix, ``"fc3"``; ``sparsewave info`` lists them)
        that stay float32 whatever ``weights`` says: mixed precision. In int8 most of the accuracy cost is in the
        output layer, whose rows are the logits (the default voice with ``"int8a16"``:
        about +1.1 bits/sample of teacher-forced NLL in all, +1.0 of it from ``fc3``), so
        ``weights="int8a16", float_matrices=("fc3.weight",)`` cuts that to +0.07 bits.
        Free-running audio is another matter: on the default voice every int8 mix measured
        loses STOI and voicing beyond seed noise (README, "Mixed precision"). A name that
        is not one of the model's per-sample matrices raises ValueError naming them.

        ``tail_cut``: a softmax head never draws a class less likely than
        ``tail_cut`` times its most likely class (the draw is from the rest,
        renormalised). Cutting the long tail removes rare far-off samples that
        are heard as background noise. None (default): the file's own
        ``config["sampling"]["tail_cut"]``, else 0 (no cut). Must be in [0, 1);
        a mixture-of-logistics model takes none. A large cut can lock the loop
        onto one class (the default voice at 0.1 fell silent on synthetic
        tones): measure it on your own material.

        Raises FileNotFoundError / IsADirectoryError / PermissionError for path
        problems and ValueError for a corrupt, truncated, hostile or too-new file.
        """
        p = check_input_file(path, "model file")
        if weights is not None and weights not in WEIGHT_TYPES:
            raise ValueError(f"weights must be one of {', '.join(map(repr, WEIGHT_TYPES))}, got {weights!r}")
        if tail_cut is not None:
            tail_cut = _tail_cut_number(tail_cut)
        float_matrices = _matrix_names(float_matrices)
        try:
            core = _core.Vocoder.load(str(p), weights, tail_cut, float_matrices)
        except OSError as e:
            raise OSError(f"cannot read model file '{p}': {e}") from None
        return cls(core, p)

    @classmethod
    def default(cls, *, weights: str | None = None, tail_cut: float | None = None,
                float_matrices=()) -> "Vocoder":
        """The default voice shipped in the package: geneing's pretrained WaveRNN (MIT) fine-tuned
        on LJ Speech, 16 kHz on its own 80-mel front end (GRU 256, softmax over 1,024 classes,
        sampled at temperature 0.5). Its mel front end is in
        ``config["mel"]``, so ``sparsewave.audio.mel_spectrogram(audio, v.config["mel"])`` makes
        its input. See ``sparsewave/models/README.md`` for its training and measured quality."""
        from .models import default_model_path

        return cls.load(default_model_path(), weights=weights, tail_cut=tail_cut, float_matrices=float_matrices)

    # -- metadata ---------------------------------------------------------
    @property
    def tail_cut(self) -> float:
        """The tail cut in force (``load``'s argument, else the file's ``config["sampling"]``, else 0),
        as the engine applies it."""
        return self._v.tail_cut

    @property
    def sample_rate(self) -> int:
        return self._v.sample_rate

    @property
    def hop_length(self) -> int:
        return self._v.hop_length

    @property
    def n_mels(self) -> int:
        return self._v.n_mels

    @property
    def n_classes(self) -> int:
        return self._v.n_classes

    @property
    def family(self) -> str:
        return self._v.family

    @property
    def utterance_threads(self) -> int:
        """Threads that can share one unbatched :meth:`synthesize` (the subscale family's B
        sub-tensors); 1 for the plain loop."""
        return self._v.utterance_threads

    @property
    def streams(self) -> bool:
        """Whether :meth:`stream` / :meth:`streamer` work: False for the subscale family, which
        generates whole utterances (docs/subscale.md)."""
        return self._v.streams

    @property
    def preemphasis(self) -> float:
        """a when the model samples pre-emphasised audio y[n] = x[n] - a x[n-1] (config
        "preemphasis"; the engine de-emphasises its output), else 0."""
        return float(self._v.preemphasis)

    def describe(self) -> dict:
        """Sizes, block shapes and densities of the matrices the engine runs."""
        return json.loads(self._v.describe())

    @property
    def loop_macs(self) -> tuple[int, int]:
        """(nonzero, executed) multiply-accumulates per sample in the sample loop."""
        return self._v.loop_nonzero_macs, self._v.loop_stored_macs

    def __repr__(self) -> str:
        return (f"Vocoder('{self.path}', family={self.family}, sample_rate={self.sample_rate}, "
                f"hop_length={self.hop_length}, n_mels={self.n_mels})")

    # -- input checks -----------------------------------------------------
    def check_mels(self, mels) -> np.ndarray:
        """``mels`` as this model takes them: a C-contiguous float32 (frames, n_mels) array.

        The one owner of the mel input rules (every method here and the command line use it):
        (n_mels, frames) is transposed when that reading is the only one that fits; the input
        must be 2-D, floating point (float16/32/64; integers are refused, as they are no mel
        values any front end makes), finite, non-empty and at most :attr:`max_frames` long.
        Raises TypeError / ValueError saying what is wrong.
        """
        arr = np.asarray(mels)
        if arr.dtype.kind != "f":
            raise TypeError(f"mels must be a floating-point array (float32), got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"mels must be 2-D (frames, {self.n_mels}), got shape {arr.shape}")
        n = self.n_mels
        if arr.shape[1] != n:
            if arr.shape[0] != n:
                raise ValueError(f"mels must have shape (frames, {n}) (or ({n}, frames)), got {arr.shape}: "
                                 f"the model takes {n} mel channels")
            arr = arr.T  # (n_mels, frames) is unambiguous here
        if arr.shape[0] == 0:
            raise ValueError("mels has no frames")
        if arr.shape[0] > self.max_frames:
            raise ValueError(f"mels has {arr.shape[0]} frames, more than the limit of {self.max_frames} "
                             f"({self.max_frames * self.hop_length / self.sample_rate:.0f} s); raise "
                             "Vocoder.max_frames or split the input")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise ValueError(f"mels holds NaN or Inf (first at frame {bad[0]}, mel bin {bad[1]})")
        if float(np.max(np.abs(arr))) > MAX_MEL_MAGNITUDE:
            bad = np.argwhere(np.abs(arr) > MAX_MEL_MAGNITUDE)[0]
            raise ValueError(f"mels holds {arr[bad[0], bad[1]]:.3g} at frame {bad[0]}, mel bin {bad[1]}: values "
                             f"beyond +-{MAX_MEL_MAGNITUDE:.0e} are not mel features (they overflow the network)")
        return arr

    def _check_audio(self, audio, frames: int) -> np.ndarray:
        a = np.asarray(audio)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"audio must be a float array, got dtype {a.dtype}")
        if a.ndim != 1:
            raise ValueError(f"audio must be 1-D (mono samples), got shape {a.shape}")
        if a.dtype.kind in "iu":
            raise TypeError("audio must be float in [-1, 1]; convert int16 with audio / 32768")
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError("audio holds NaN or Inf")
        limit = frames * self.hop_length
        if a.shape[0] == 0 or a.shape[0] > limit:
            raise ValueError(f"audio must have 1..{limit} samples for {frames} frames, got {a.shape[0]}")
        return a

    # -- synthesis --------------------------------------------------------
    def synthesize(self, mels, *, seed: int | None = None, batched: bool = False, target: int | None = None,
                   overlap: int | None = None, threads: int = 1, uniforms=None, progress=None) -> np.ndarray:
        """Vocode ``mels`` (frames, n_mels) float32 into a float32 waveform in [-1, 1].

        seed: RNG seed in [0, 2**64) (random when None); seed, target, overlap and
        threads must be integers (1.7 raises ValueError). batched: generate overlapping folds
        together (faster; ``target``/``overlap`` in samples, defaults 0.5 s /
        25 ms; a fold never runs past the utterance), over ``threads`` threads
        (at most one per CPU runs; where the system refuses to start one, the
        calling thread does its share: same output). Unbatched generation is one
        sequential stream, so ``threads`` > 1 needs ``batched=True`` (a
        ValueError otherwise: switching to batched silently would change the
        output for a given seed), except for the subscale family: its
        sub-tensors split over up to ``threads`` threads, with the same
        output. uniforms: the random number of each step (shape (samples,), or (folds, fold_length) when batched) for
        reproducible comparisons (models drawing several numbers per sample,
        like the dual-softmax family's coarse and fine bytes, take a trailing
        axis of that size). progress: callable(samples_done).
        Returns frames * hop_length samples.
        """
        m = self.check_mels(mels)
        seed = _resolve_seed(seed)
        threads = _integer("threads", threads, 1, MAX_THREADS)
        if threads > 1 and not batched and self._v.utterance_threads == 1:
            raise ValueError(f"threads={threads} needs batched=True: unbatched synthesis is one sequential "
                             "stream on one thread")
        target, overlap = _fold_options(target, overlap)
        u = None
        if uniforms is not None:
            u = np.ascontiguousarray(uniforms, dtype=np.float32)
            total = m.shape[0] * self.hop_length
            per = self._v.uniforms_per_sample
            if batched:
                spans = self._v.fold_spans(m.shape[0], target, overlap)
                want = (len(spans), spans[0][1]) + ((per,) if per > 1 else ())
            else:
                want = (total,) + ((per,) if per > 1 else ())
            if u.shape != want and u.size != int(np.prod(want)):
                raise ValueError(f"uniforms must have shape {want}, got {u.shape}")
            if not np.all((u >= 0) & (u < 1)):
                raise ValueError("uniforms must lie in [0, 1)")
            u = u.reshape(-1)
        return self._v.synthesize(m, seed, bool(batched), target, overlap, threads, u, progress)

    def stream(self, mels, *, chunk_samples: int = 4096, seed: int | None = None):
        """Yield the waveform of ``mels`` in float32 chunks as it is generated.

        The concatenated chunks equal ``synthesize(mels, seed=seed)`` exactly
        (unbatched). ``chunk_samples`` bounds each chunk's length.
        """
        m = self.check_mels(mels)
        if int(chunk_samples) < 1:
            raise ValueError("chunk_samples must be at least 1")
        s = self.streamer(seed=seed)
        s._core.push(m)
        s._core.finish()
        while True:
            chunk = s._core.pull(int(chunk_samples))
            if chunk.size == 0:
                return
            yield chunk

    def streamer(self, *, seed: int | None = None) -> "Streamer":
        """An incremental synthesizer for mel frames that arrive over time.

        ``s.push(frames)`` returns the audio that is final so far (the model
        needs a few frames of look-ahead); ``s.flush()`` ends the utterance
        and returns the rest. The result equals ``synthesize`` on all frames.
        """
        return Streamer(self, _resolve_seed(seed))

    def fold_layout(self, frames: int, target: int | None = None, overlap: int | None = None) -> list[tuple[int, int]]:
        """(start, length) of each fold batched synthesis would generate for ``frames`` mel frames."""
        frames = _integer("frames", frames, 1, self.max_frames)
        return self._v.fold_spans(frames, *_fold_options(target, overlap))

    def logits(self, mels, audio) -> np.ndarray:
        """Teacher-forced output logits (samples, n_classes): step t is fed audio[t-1]."""
        m = self.check_mels(mels)
        return self._v.teacher_forced(m, self._check_audio(audio, m.shape[0]), True)[1]

    def nll(self, mels, audio) -> float:
        """Teacher-forced negative log-likelihood of ``audio`` in bits per sample."""
        m = self.check_mels(mels)
        a = self._check_audio(audio, m.shape[0])
        return float(self._v.teacher_forced(m, a, False)[0]) / a.shape[0]

    def conditioning(self, mels) -> tuple[np.ndarray, np.ndarray]:
        """(upsampled mels, aux features), each (samples, channels): for verification."""
        return self._v.conditioning(self.check_mels(mels))


def _resolve_seed(seed) -> int:
    """``seed`` checked (an integer in [0, 2**64)), or a fresh random one for None."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return _integer("seed", seed, 0, 2**64 - 1)


def _integer(name: str, value, lo: int, hi: int) -> int:
    """``value`` as an int in [lo, hi], else a ValueError naming ``name``. Only integers pass:
    ``int(1.7)`` would silently truncate."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


def _fold_options(target, overlap) -> tuple[int, int]:
    """Batched synthesis's fold ``target`` / ``overlap`` (samples) for the engine: 0 / -1 pick its
    defaults (0.5 s / 25 ms); values past the utterance are clamped to it there."""
    target = 0 if target is None else _integer("target", target, 1, MAX_FOLD_SAMPLES)
    overlap = -1 if overlap is None else _integer("overlap", overlap, 0, MAX_FOLD_SAMPLES)
    return target, overlap


class Streamer:
    """Mel frames in as they arrive, audio out as soon as it is final.

    Each frame is conditioned once, so pushing one frame at a time costs about what
    ``synthesize`` costs, however long the stream runs. Thread safety: the engine locks every
    call (push, flush and the properties), so threads may share a Streamer without crashing or
    losing samples; the frames then join the utterance in the order the pushes take the lock,
    and each push returns whatever audio was final at that moment. One thread per Streamer is
    the usual way to keep the order meaningful.
    """

    def __init__(self, vocoder: Vocoder, seed: int):
        self._vocoder = vocoder
        self._core = _core.Stream(vocoder._v, seed)
        self.seed = seed

    def push(self, frames) -> np.ndarray:
        """Add frames (k, n_mels) and return the newly available samples (may be empty)."""
        v = self._vocoder
        arr = np.asarray(frames)
        if arr.ndim == 0:
            raise ValueError(f"frames must have shape (k, {v.n_mels}) or ({v.n_mels},), got a 0-d array (a scalar)")
        if arr.ndim == 2 and arr.shape[0] == 0:
            return np.zeros(0, np.float32)
        if arr.ndim == 1 and arr.shape[0] == v.n_mels:
            arr = arr[None, :]  # a single frame
        if self._core.finished:
            raise ValueError("push() after flush(): start a new streamer")
        m = v.check_mels(arr) if arr.shape[-1] == v.n_mels or arr.ndim != 2 else None
        if m is None or m.shape[1] != v.n_mels:
            raise ValueError(f"frames must have shape (k, {v.n_mels}), got {arr.shape}")
        if self._core.frames + m.shape[0] > v.max_frames:
            raise ValueError(f"the stream would exceed {v.max_frames} frames; raise Vocoder.max_frames")
        self._core.push(m)
        return self._core.pull()  # all that is available, in one locked call

    def flush(self) -> np.ndarray:
        """End the utterance and return the remaining samples."""
        self._core.finish()
        return self._core.pull()

    @property
    def samples_done(self) -> int:
        return self._core.samples_done

    @property
    def frames(self) -> int:
        return self._core.frames

    @property
    def frames_conditioned(self) -> int:
        """Frames run through the model's conditioning network so far (a diagnostic: each frame is
        conditioned once, so this never exceeds ``frames``)."""
        return self._core.frames_conditioned
