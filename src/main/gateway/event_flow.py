"""An EventEngine that can tell when everything put on it has been handled.

A replay produces market data far faster than real time. If it ran ahead of
vnpy's event thread, the events a tick causes (an order acknowledged, a fill)
would queue behind thousands of later ticks, and the strategy would learn of
its fills minutes of market time late. The replay therefore publishes the
ticks of one timestamp, then waits until the engine is idle: every event put so
far, the ticks and whatever their handlers put in turn, has been handled. The
event order is then the one a live session has, and the replay is deterministic
whatever the machine's speed.

Counting uses only vnpy's public API: ``put`` is overridden to count, and a
general handler (vnpy calls general handlers after an event's own handlers)
counts each event once it has been handled.
"""
from __future__ import annotations

import threading
import time

from vnpy.event import Event, EventEngine

EVENT_HEARTBEAT_PING = "eHeartbeatPing"


class TrackedEventEngine(EventEngine):
    def __init__(self, interval: int = 1) -> None:
        super().__init__(interval)
        self._idle = threading.Condition()
        self._put_count = 0
        self._handled_count = 0
        self.register_general(self._handled)

    def put(self, event: Event) -> None:
        with self._idle:
            self._put_count += 1
        super().put(event)

    def _handled(self, _event: Event) -> None:
        with self._idle:
            self._handled_count += 1
            if self._handled_count >= self._put_count:
                self._idle.notify_all()

    def wait_until_idle(self, stop: threading.Event | None = None, poll: float = 0.5) -> bool:
        """Block until every event put so far has been handled; False if ``stop`` was set first."""
        with self._idle:
            while self._handled_count < self._put_count:
                if stop is not None and stop.is_set():
                    return False
                self._idle.wait(poll)
        return True


class EventEngineProbe:
    """The heartbeat's health check: healthy while vnpy's event engine answers the pings it is sent.

    Each call (one per heartbeat) puts a ping on the queue and reports whether a
    ping was answered within the last ``2 * interval + 1`` seconds, so a handler
    stuck in a loop, or a dead event thread, stops the heartbeat.
    """

    def __init__(self, event_engine: EventEngine, interval: float) -> None:
        self.event_engine = event_engine
        self.allowance = 2 * interval + 1.0
        self.last_answer = time.monotonic()
        event_engine.register(EVENT_HEARTBEAT_PING, self._answer)

    def _answer(self, _event: Event) -> None:
        self.last_answer = time.monotonic()

    def __call__(self) -> bool:
        self.event_engine.put(Event(EVENT_HEARTBEAT_PING))
        return time.monotonic() - self.last_answer <= self.allowance
