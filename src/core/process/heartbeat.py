"""The heartbeat between the daemon and its child: a small file the child rewrites every few seconds.

Child side, ``HeartbeatWriter``: a thread that, every ``interval`` seconds,
asks its probe whether the process is healthy and, if so, rewrites the file
with ``<pid> <sequence> <unix time>``. The probe starts as "alive" (the child is
still importing and connecting) and becomes "the event engine answered a ping"
once vnpy runs, so a strategy callback stuck in an endless loop, a deadlock or
a stopped process (SIGSTOP) all silence the heartbeat.

Parent side, ``HeartbeatMonitor``: on every poll it reads the file; a new
sequence number from the current child's pid is a beat. A child that has not
beaten for ``timeout`` seconds (counted from its start, so the first beat has
the same allowance) is hung.

A file rather than a pipe: it works the same on Windows, survives a restart
of either side without broken-pipe handling, and ``cat`` shows it. It is
replaced atomically (write a temporary file, then ``os.replace``), so the
reader never sees half a line.

Standard library only: the child starts the writer before importing vnpy.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Beat:
    pid: int
    sequence: int
    written_at: float


def read_beat(path: Path) -> Beat | None:
    """The last beat in the file, or None when there is none (yet) or it cannot be read."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split()
    if len(parts) != 3:
        return None
    try:
        return Beat(int(parts[0]), int(parts[1]), float(parts[2]))
    except ValueError:
        return None


class HeartbeatWriter:
    def __init__(self, path: Path, interval: float, probe: Callable[[], bool] | None = None) -> None:
        if not interval > 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval!r}")
        self.path = Path(path)
        self.interval = interval
        self._probe: Callable[[], bool] = probe or (lambda: True)
        self._stop = threading.Event()
        self._sequence = 0
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def set_probe(self, probe: Callable[[], bool]) -> None:
        """From now on beat only while ``probe()`` is true."""
        self._probe = probe

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 1.0)
        self._temporary.unlink(missing_ok=True)

    @property
    def beats(self) -> int:
        return self._sequence

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                healthy = self._probe()
            except Exception:  # a broken probe must not kill the thread: it means "not healthy"
                logger.exception("heartbeat probe failed")
                healthy = False
            if healthy:
                self._beat()

    def _beat(self) -> None:
        self._sequence += 1
        try:
            self._temporary.write_text(f"{os.getpid()} {self._sequence} {time.time():.3f}\n", encoding="ascii")
            os.replace(self._temporary, self.path)
        except OSError as error:  # a reader holding the file on Windows, a full disk: try again next beat
            logger.warning("cannot write the heartbeat file %s: %s", self.path, error)


class HeartbeatMonitor:
    """Tracks one child's beats in the parent's clock time."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._pid: int | None = None
        self._sequence: int | None = None
        self._last_beat = 0.0
        self.beats_seen = 0

    def watch(self, pid: int, started_at: float) -> None:
        """Follow a new child; its first beat is due within ``timeout`` of ``started_at``."""
        self._pid = pid
        self._sequence = None
        self._last_beat = started_at
        self.beats_seen = 0

    def poll(self, now: float) -> float:
        """Read the file; return how long (clock seconds) the child has been silent."""
        beat = read_beat(self.path)
        if beat is not None and beat.pid == self._pid and beat.sequence != self._sequence:
            self._sequence = beat.sequence
            self._last_beat = now
            self.beats_seen += 1
        return now - self._last_beat

    def is_hung(self, now: float) -> bool:
        return self.poll(now) > self.timeout
