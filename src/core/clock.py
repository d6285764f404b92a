"""Time as the daemon sees it, injectable so tests can run hours of schedule in seconds.

``Clock.now()`` is the exchange's wall-clock time (trading periods are read
against it); ``Clock.monotonic()`` measures durations (restart delays,
heartbeat silence, healthy running) and ``Clock.wait()`` sleeps in the same
units, waking early when an event is set (a stop request).

``ScaledClock`` runs ``scale`` times faster than real time from a chosen start:
with ``scale=600`` a 90-minute lunch break passes in 9 real seconds and a
5-second restart delay in 8 ms. Every interval the daemon uses is read through
the clock, so the schedule a test observes is the schedule production follows.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Protocol

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE


class Clock(Protocol):
    def now(self) -> datetime:
        """The current exchange-local time, timezone-aware."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep ``seconds`` (clock seconds) or until ``event`` is set; True when it was set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(EXCHANGE_TIMEZONE)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(seconds, 0.0))


class ScaledClock:
    """Starts at ``start`` and runs ``scale`` times faster than real time."""

    def __init__(self, start: datetime, scale: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start")
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        self.start = start.astimezone(EXCHANGE_TIMEZONE)
        self.scale = float(scale)
        self._origin = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._origin) * self.scale

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(seconds, 0.0) / self.scale)
