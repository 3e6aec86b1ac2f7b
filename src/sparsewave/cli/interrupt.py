"""Long engine calls that still stop at once on Ctrl-C."""
from __future__ import annotations

import os
import sys
import threading

from .errors import EXIT_INTERRUPTED, PROG


def run_interruptibly(fn, *args, **kwargs):
    """Run ``fn`` in a worker thread so that Ctrl-C reaches the main thread at once.

    The engine runs with the GIL released and swallows exceptions raised in
    progress callbacks, so a KeyboardInterrupt would otherwise only arrive
    after the whole synthesis. On Ctrl-C the process ends (exit 130) without
    waiting for the engine.
    """
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed to the main thread
            box["error"] = e

    t = threading.Thread(target=target, name="sparsewave-synthesis", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.1)
    except KeyboardInterrupt:
        sys.stderr.write("\n" if sys.stderr.isatty() else "")
        sys.stderr.write(f"{PROG}: interrupted\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)
    if "error" in box:
        raise box["error"]
    return box.get("value")
