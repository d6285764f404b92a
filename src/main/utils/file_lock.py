"""An exclusive lock on a file, across processes (POSIX ``flock``, Windows ``msvcrt.locking``).

Used where several processes may do the same one-off job at once: the daemons
that ``scripts/run_paper.sh`` starts (one per timeframe) all check the sample
market at start, and only one of them must generate it.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(path: Path, poll: float = 0.1) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created when missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        _acquire(handle, poll)
        try:
            yield
        finally:
            _release(handle)


if os.name == "nt":
    import msvcrt

    def _acquire(handle, poll: float) -> None:
        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                time.sleep(poll)

    def _release(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _acquire(handle, poll: float) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

    def _release(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
