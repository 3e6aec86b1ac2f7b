"""Write a file so that readers see the old file or the complete new one, never a partial one.

The data go to a temporary file beside the target (same directory, so same file system),
which is flushed to disk and then renamed over the target with ``os.replace`` (atomic on
POSIX and Windows). If anything fails, the temporary file is removed and the target is
untouched.

What the target is decides how it is published (:func:`output_target`):

* a regular file, or a name that does not exist yet: the atomic rename above;
* a symbolic link: written through. The file the link points to (at the end of the chain) is
  replaced atomically and the link itself is kept; a dangling link creates its target;
* a FIFO or character device (``/dev/null``, a terminal, ``/dev/stdout`` on a pipe): never
  renamed over, which would put a regular file in its place. The complete data are written
  into it, as ``open(path, "wb")`` would, once the caller has finished (a failure writes nothing);
* anything else (a socket, a block device): refused with ValueError.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_write", "output_target", "OutputTarget"]


@dataclass(frozen=True)
class OutputTarget:
    """Where :func:`atomic_write` puts the data for a given path."""

    path: Path     # the file renamed over (a symlink's final target), or the stream opened
    direct: bool   # True: a FIFO or character device, written straight


def output_target(path) -> OutputTarget:
    """How ``path`` will be written (see the module docstring); ValueError for a socket or block device."""
    given = Path(os.fspath(path))
    try:
        st = os.stat(given)  # follows symlinks
    except FileNotFoundError:
        st = None
    except OSError:  # e.g. a symlink loop: let the rename report it
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            return OutputTarget(given, True)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(f"output '{given}' is a directory; give a file name")
        kind = "socket" if stat.S_ISSOCK(st.st_mode) else "block device" if stat.S_ISBLK(st.st_mode) else "special file"
        raise ValueError(f"output '{given}' is a {kind}; write to a regular file, a FIFO or a character device")
    if given.is_symlink():
        if st is not None and _through_proc(given):
            return OutputTarget(given, True)  # /dev/stdout on a file: write the open file, as the shell means
        return OutputTarget(Path(os.path.realpath(given)), False)
    return OutputTarget(given, False)


def _through_proc(link: Path) -> bool:
    """Whether the chain of links from ``link`` passes /proc/<pid>/fd or /dev/fd: links that name an
    open file (maybe deleted, maybe a pipe), not a place to rename a file into."""
    p = link
    for _ in range(40):  # the kernel's own limit on a chain of links
        if str(p).startswith(("/proc/", "/dev/fd/")):
            return True
        if not p.is_symlink():
            return False
        p = p.parent / os.readlink(p)
    return False


@contextlib.contextmanager
def atomic_write(path) -> Iterator[Path]:
    """Yield a temporary path to write to; publish it as ``path`` when the block ends.

    On a normal exit the temporary file is fsynced, given the mode a plain ``open()`` would
    give (an existing target's permission bits are kept, a new file follows the umask),
    renamed over the target, and the rename itself made durable; or, for a FIFO or device,
    copied into it (see the module docstring). On an exception (KeyboardInterrupt included)
    it is deleted, nothing is published, and the exception propagates. The caller may write
    the temporary path however it likes (``open``, ``torch.save``, ``safetensors.save_file``...),
    but must close it first.
    """
    target = output_target(path)
    # A FIFO's or device's directory (/dev) may not be writable: stage the data in the temp dir.
    parent = None if target.direct else target.path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.path.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if target.direct:
            _copy_into(tmp, target.path)
        else:
            _fsync_file(tmp)
            _give_normal_mode(tmp, target.path)
            os.replace(tmp, target.path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if target.direct:
        tmp.unlink()
    else:
        _fsync_directory(target.path.parent)


def _copy_into(src: Path, stream: Path) -> None:
    """The whole of ``src`` written into the FIFO or device ``stream`` (opening a FIFO waits for a reader)."""
    with open(src, "rb") as f, open(stream, "wb") as out:
        shutil.copyfileobj(f, out)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:  # write access: Windows refuses fsync on read-only handles
        os.fsync(f.fileno())


def _give_normal_mode(tmp: Path, target: Path) -> None:
    """mkstemp makes 0600 files; give the result the mode a plain open() would: an existing
    file's permission bits (not set-user/group-ID, which a write clears too), else 0666 less
    the umask."""
    try:
        mode = (target.stat().st_mode & 0o777) if target.exists() else (0o666 & ~_umask())
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
