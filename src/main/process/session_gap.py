"""The child's side of a kept session gap: it reads the daemon's gap notice and makes its strategies idle.

``GapFollower.poll()`` (called from the child's main loop, a few times a
second) reads the notice file the daemon writes next to the heartbeat
(``src.core.process.session_gap``). On a change it puts one event on vnpy's
event engine, whose handler, in the event thread (where no tick callback of a
strategy can run at the same time), enters or leaves the gap on every
strategy's cycle (``src.strategy.application.session_gap``): idle, working
orders kept or cancelled as the notice says. A missing or unreadable file
changes nothing: the strategies keep trading.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from vnpy.event import Event, EventEngine

from src.core.process.session_gap import GapNotice, read_notice
from src.strategy.application.session_gap import enter_gap, leave_gap
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

logger = logging.getLogger("child")

EVENT_SESSION_GAP = "eChildSessionGap"


class GapFollower:
    def __init__(self, path: Path, event_engine: EventEngine, strategies: Sequence) -> None:
        self.path = Path(path)
        self.strategies = list(strategies)
        self.applied: GapNotice | None = None
        self.changes = 0
        self._engine = event_engine
        event_engine.register(EVENT_SESSION_GAP, self._apply)

    def poll(self) -> None:
        notice = read_notice(self.path)
        if notice is None or notice == self.applied:
            return
        if self.applied is None and not notice.in_gap:
            self.applied = notice  # "trading" before any gap: nothing to leave
            return
        self.applied = notice
        self.changes += 1
        self._engine.put(Event(EVENT_SESSION_GAP, notice))

    def _apply(self, event: Event) -> None:
        notice: GapNotice = event.data
        if notice.in_gap:
            logger.info("the daemon keeps this process through the session gap %s: strategies idle, working "
                        "orders %s", notice.gap.describe(), "kept" if notice.orders == "keep" else "cancelled")
        else:
            logger.info("the session gap is over: strategies trade again")
        for strategy in self.strategies:
            cycle = getattr(strategy, "cycle", None)
            if cycle is None:
                continue
            try:
                now = _now_of(strategy)
                if notice.in_gap:
                    enter_gap(cycle, now, notice.gap.end, notice.orders)
                else:
                    leave_gap(cycle, now)
            except Exception:  # one strategy's failure must not leave the others trading in a gap
                logger.exception("%s: applying the session gap notice failed", strategy.strategy_name)


def _now_of(strategy) -> datetime:
    clock = getattr(strategy, "clock", None)
    return clock.now() if clock is not None else datetime.now(EXCHANGE_TIMEZONE)
