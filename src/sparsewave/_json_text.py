"""Parse JSON read from a file, with an error that names the file (Python's own message says
only where in the text the problem is)."""
from __future__ import annotations

import json

__all__ = ["parse_json"]


def parse_json(text, where: str):
    """``json.loads(text)``; ValueError "<where> is not valid JSON: ..." when it is not.

    ``where`` names the source, e.g. "'model.sw': config"."""
    try:
        return json.loads(text)
    except ValueError as e:  # JSONDecodeError, and UnicodeDecodeError for bytes
        raise ValueError(f"{where} is not valid JSON: {e}") from None
