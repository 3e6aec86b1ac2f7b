"""The model a command runs: the file given with MODEL / --model, else the packaged default voice."""
from __future__ import annotations

from pathlib import Path

from .._paths import check_input_file
from .errors import CliError, one_line

MODEL_HELP = ".sw weight file (default: the default voice shipped in the package, 16 kHz LJ Speech)"


def add_weights_option(p, help_text: str = "storage of the sample loop's weights: int8a16 = int8 weights with "
                                          "16-bit inputs, most of float's accuracy (default: as the file stores "
                                          "them, int8 or float32)") -> None:
    """--weights, the choices of ``Vocoder.load(weights=...)``."""
    from ..vocoder import WEIGHT_TYPES

    p.add_argument("--weights", choices=WEIGHT_TYPES, default=None, help=help_text)
    p.add_argument("--float-matrices", type=matrix_name_list, default=(), metavar="NAMES",
                   help="comma-separated per-sample matrices that stay float32 whatever --weights says, "
                        "e.g. fc3.weight: mixed precision (`sparsewave info` lists the names)")


def matrix_name_list(text: str) -> tuple[str, ...]:
    """--float-matrices: a comma-separated list of matrix names, none empty."""
    import argparse

    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated matrix names, got {text!r}")
    return names


def model_path(path_text) -> Path:
    """The model file a command uses: the one given, else the packaged default voice."""
    if path_text:
        return check_input_file(path_text, "model file")
    from ..models import default_model_path

    try:
        return default_model_path()
    except FileNotFoundError as e:
        raise CliError(f"{e}") from None


def load_vocoder(path_text, *, weights: str | None = None, tail_cut: float | None = None, float_matrices=()):
    """The Vocoder of :func:`model_path`; a file the engine refuses becomes a CliError naming it.

    ``weights`` None: the sample loop's matrices as the file stores them (int8 or float32).
    ``tail_cut`` None: the file's own (``Vocoder.load``). ``float_matrices``: kept float32."""
    from ..vocoder import Vocoder

    path = model_path(path_text)
    try:
        return Vocoder.load(path, weights=weights, tail_cut=tail_cut, float_matrices=float_matrices)
    except (ValueError, RuntimeError) as e:
        msg = one_line(e)
        raise CliError(f"cannot load model: {msg}" if str(path) in msg else f"cannot load model '{path}': {msg}") from e


def loop_weights(voc) -> str:
    """How the per-sample matrices store their weights, e.g. "int8" or "int8 + float32" (describe()'s dtypes)."""
    from ..vocoder import WEIGHT_TYPES

    kinds = [m.get("dtype", "float32") for m in voc.describe().get("matrices", []) if m.get("per_sample")]
    narrowest_first = sorted(set(kinds), key=lambda k: -WEIGHT_TYPES.index(k) if k in WEIGHT_TYPES else 0)
    return " + ".join(narrowest_first) or "float32"
