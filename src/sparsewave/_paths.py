"""Checks on the files a call reads or writes, made before any work, with messages that name
the file and what it was meant to be ("model file", "audio file", ...)."""
from __future__ import annotations

import os
from pathlib import Path

from ._atomic import output_target

__all__ = ["check_input_file", "check_output_file"]


def check_input_file(path, what: str, *, regular: bool = True) -> Path:
    """``path`` as a Path if it names a readable file; else FileNotFoundError, IsADirectoryError,
    PermissionError, or (with ``regular``) ValueError for a pipe or device, which could not be
    read twice."""
    p = Path(os.fspath(path))
    article = "an" if what[:1].lower() in "aeiou" else "a"
    if not p.exists():
        raise FileNotFoundError(f"no such {what}: '{p}'")
    if p.is_dir():
        raise IsADirectoryError(f"'{p}' is a directory, not {article} {what}")
    if regular and not p.is_file():
        raise ValueError(f"'{p}' is not a regular file (a pipe or device?), so not {article} {what}")
    if not os.access(p, os.R_OK):
        raise PermissionError(f"cannot read {what} '{p}' (permission denied)")
    return p


def check_output_file(path) -> Path:
    """``path`` as a Path if a file can be created or replaced there, or written into (a FIFO or
    character device, see :mod:`sparsewave._atomic`); else IsADirectoryError, FileNotFoundError
    (missing directory), PermissionError, or ValueError (a socket or block device)."""
    p = Path(os.fspath(path))
    if p.is_dir():
        raise IsADirectoryError(f"output '{p}' is a directory; give a file name")
    target = output_target(p)
    if target.direct:
        if not os.access(p, os.W_OK):
            raise PermissionError(f"cannot write '{p}' (permission denied)")
        return p
    parent = target.path.parent  # a symlink's target is what gets replaced
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write '{p}': directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write '{p}': no permission to write to directory '{parent}'")
    return p
