"""The optional packages of ``pip install 'sparsewave[eval]'``, and the error that names a missing one.

Each metric imports its package only when it runs, so ``import sparsewave`` and everything
that does not score against these metrics work without the extra.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

__all__ = ["EVAL_PACKAGES", "MissingExtraError", "missing_eval_packages", "require", "require_all"]

# import name -> distribution name (what pip installs); pyproject.toml's [eval] extra lists the same.
EVAL_PACKAGES = {
    "pesq": "pesq",
    "pystoi": "pystoi",
    "parselmouth": "praat-parselmouth",
    "onnxruntime": "onnxruntime",
    "speechmos": "speechmos",
    "matplotlib": "matplotlib",
}

INSTALL_HINT = "pip install 'sparsewave[eval]'"


class MissingExtraError(ImportError):
    """An optional package of the [eval] extra is not installed; the message names it."""


def missing_eval_packages(modules=None) -> list[str]:
    """Distribution names of the [eval] packages (or of ``modules``, import names) that are not installed."""
    wanted = EVAL_PACKAGES if modules is None else {m: EVAL_PACKAGES[m] for m in modules}
    return [dist for module, dist in wanted.items() if not _installed(module)]


def _installed(module: str) -> bool:
    """Importable, without importing it (some of these take a second to import)."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: imports of it are blocked
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, purpose: str):
    """Import and return ``module`` (an [eval] package), or raise MissingExtraError saying that
    ``purpose`` needs it and how to install it."""
    if module not in EVAL_PACKAGES:
        raise ValueError(f"{module!r} is not a package of the [eval] extra ({', '.join(EVAL_PACKAGES)})")
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(f"{purpose} needs the optional package '{EVAL_PACKAGES[module]}' "
                                f"({INSTALL_HINT}): {e}") from e


def require_all(modules, purpose: str) -> None:
    """Raise MissingExtraError naming every one of ``modules`` (import names) that is not installed,
    so that one error lists all a call needs."""
    missing = missing_eval_packages(modules)
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise MissingExtraError(f"{purpose} needs the optional package{'s' * (len(missing) > 1)} {names} ({INSTALL_HINT})")
