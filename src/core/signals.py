"""Turning the operating system's stop signals into a ``threading.Event``.

SIGTERM (what ``kill``, systemd, Docker and the daemon send) and SIGINT (Ctrl+C)
both mean "stop cleanly": the handler only sets the event; the process's main
loop notices it, saves state, stops its engines and exits. On Windows the
daemon sends CTRL_BREAK_EVENT (SIGBREAK) to its child, since SIGTERM cannot be
delivered there without killing the process outright.
"""
from __future__ import annotations

import logging
import signal
import threading

logger = logging.getLogger(__name__)

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGBREAK") if hasattr(signal, name))


def install_stop_handlers(stop: threading.Event, what: str) -> None:
    """Make every stop signal set ``stop`` (call from the main thread)."""

    def handler(signum, _frame) -> None:
        if not stop.is_set():
            logger.info("%s: received %s, stopping", what, signal_name(signum))
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
