"""Exit codes, the two error kinds commands raise, and how any error becomes one line."""
from __future__ import annotations

import os
import re

PROG = "sparsewave"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad combination of arguments (exit status 2)."""


class CliError(Exception):
    """A failure with a message meant for the user (exit status 1)."""


# Exceptions whose message reads well on its own; others are prefixed with their type.
_SELF_EXPLAINING = (OSError, ValueError, TypeError, ImportError, CliError, RuntimeError, KeyError)


def one_line(e: BaseException) -> str:
    """The message of ``e`` as one line for stderr (``sparsewave CMD: error: ...``)."""
    if isinstance(e, MemoryError):
        return "out of memory"
    msg = str(e)
    if isinstance(e, OSError) and e.strerror:
        msg = f"{e.strerror}: '{e.filename}'" if e.filename else e.strerror
        # our own messages (FileNotFoundError("no such model file ...")) carry no strerror
    if isinstance(e, KeyError) and len(e.args) == 1:
        msg = f"missing key {e.args[0]!r}"
    if not msg:
        msg = type(e).__name__
    elif not isinstance(e, _SELF_EXPLAINING):
        msg = f"{type(e).__name__}: {msg}"
    return re.sub(r"\s*\n\s*", " ", msg).strip()


def debug_enabled(args) -> bool:
    """--debug, or SPARSEWAVE_DEBUG set to anything but 0/false/no/off: show tracebacks."""
    env = os.environ.get("SPARSEWAVE_DEBUG", "").strip().lower()
    return bool(getattr(args, "debug", False)) or env not in ("", "0", "false", "no", "off")
