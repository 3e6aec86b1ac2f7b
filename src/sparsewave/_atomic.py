"""Write a file so that readers see the old file or the complete new one, never a partial one.

The data go to a temporary file beside the target (same directory, so same file system),
which is flushed to disk and then renamed over the target with ``os.replace`` (atomic on
POSIX and Windows). If anything fails, the temporary file is removed and the target is
untouched.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; publish it as ``path`` when the block ends.

    On a normal exit the temporary file is fsynced, given the mode a plain ``open()`` would
    give (an existing target's mode is kept), renamed over ``path``, and the rename itself
    made durable. On an exception (KeyboardInterrupt included) it is deleted and the
    exception propagates. The caller may write the temporary path however it likes
    (``open``, ``torch.save``, ``safetensors.save_file``...), but must close it first.
    """
    target = Path(os.fspath(path))
    parent = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        _give_normal_mode(tmp, target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(parent)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:  # write access: Windows refuses fsync on read-only handles
        os.fsync(f.fileno())


def _give_normal_mode(tmp: Path, target: Path) -> None:
    """mkstemp makes 0600 files; give the result the mode a plain open() would."""
    try:
        mode = (target.stat().st_mode & 0o7777) if target.exists() else (0o666 & ~_umask())
        os.chmod(tmp, mode)
    except OSError:
        pass


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); not every platform lets a directory be opened."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (other threads may be creating files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)  # no /proc: read it the classic way (briefly changes the process umask)
    os.umask(old)
    return old
