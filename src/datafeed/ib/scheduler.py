"""The ``run`` loop: the plan of the current session, again whenever it is due, until asked to stop.

The session comes from the exchange calendar at each wake-up (``sessions``): the open session's
snapshot repeats every 30 minutes, the others run once per session; the short streaming list
lives only while the market is open. A failure of one cycle (TWS unreachable past the reconnect
deadline) is logged and retried at the next wake-up; the process itself is kept alive by the
parent/child daemon, which restarts it if it dies.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from src.datafeed.ib.connection import ConnectionLost
from src.datafeed.ib.pipeline import ChainPipeline, PlanReport, describe
from src.datafeed.ib.sessions import Session, next_wakeup, plan_for, snapshot_due

LOG = logging.getLogger(__name__)


@dataclass
class SchedulerState:
    last_run: datetime | None = None
    cycles: int = 0
    failures: int = 0
    reports: list[PlanReport] = field(default_factory=list)


class Scheduler:
    def __init__(self, pipeline: ChainPipeline, *, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 calendar=None, retry_after: timedelta = timedelta(minutes=1),
                 ceiling: timedelta = timedelta(minutes=5), keep_reports: int = 10) -> None:
        self.pipeline = pipeline
        self.now = now
        self.calendar = calendar
        self.retry_after = retry_after
        self.ceiling = ceiling
        self.keep_reports = keep_reports
        self.state = SchedulerState()
        self.stop_event = asyncio.Event()

    def request_stop(self) -> None:
        self.stop_event.set()

    async def run(self, *, max_cycles: int | None = None, heartbeat: Callable[[], None] | None = None) -> SchedulerState:
        while not self.stop_event.is_set():
            if max_cycles is not None and self.state.cycles >= max_cycles:
                break
            now = self.now()
            window, plan = plan_for(now, self.calendar)
            wake = next_wakeup(plan, window, self.state.last_run, now, ceiling=self.ceiling)
            if window.session is not Session.OPEN and self.pipeline.streams.tickers:
                await self.pipeline.streams.stop()
            if snapshot_due(plan, window, self.state.last_run, now):
                self.state.cycles += 1
                try:
                    report = await self.pipeline.execute(window, plan)
                except (ConnectionLost, ConnectionError, asyncio.TimeoutError, OSError) as error:
                    self.state.failures += 1
                    LOG.error("session %s cycle failed: %s: %s; retrying in %s", window.session.value,
                              type(error).__name__, error, self.retry_after)
                    wake = now + self.retry_after
                else:
                    self.state.last_run = now
                    self.state.reports = [*self.state.reports, report][-self.keep_reports:]
                    for line in describe(report):
                        LOG.info(line)
                    wake = next_wakeup(plan, window, now, self.now(), ceiling=self.ceiling)
            if heartbeat is not None:
                heartbeat()
            delay = max(0.0, (wake - self.now()).total_seconds())
            try:
                await asyncio.wait_for(self.stop_event.wait(), timeout=max(delay, 0.01))
            except asyncio.TimeoutError:
                pass
        await self.pipeline.streams.stop()
        return self.state
