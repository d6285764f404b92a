"""The HK feed as a process: client -> validation -> loss-free storage, metrics every minute, volatility alerts.

``HkFeedService.run(stop)`` opens the configured database (``VNPY_DATABASE_*``,
the same SQLite file or MySQL database as the bars; tables by schema migration
3), starts the writer, connects, and runs until ``stop`` is set, ``duration``
seconds passed, or AllTick refused the token or the plan (401/604/605: exit 2,
restarting cannot help). On the way out it drains the buffer into the database.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from src.datafeed.hk.analytics import VolatilityWatch
from src.datafeed.hk.bars import MinuteBarWriter
from src.datafeed.hk.client import AllTickClient, ClientSettings, FatalFeedError, TokenLike
from src.datafeed.hk.metrics import MONITOR_NAME, FeedMetrics
from src.datafeed.hk.pipeline import FeedProcessor
from src.datafeed.hk.storage import StoreSettings, TickStore
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.trading_session import CHINA_TRADING_SESSIONS, SessionPhase
from src.strategy.infrastructure.monitoring.strategy_monitor import StrategyMonitor
from src.strategy.infrastructure.persistence.database_connection import (
    CONNECTION_ERRORS,
    DatabaseLocation,
    connection_error,
    open_database,
)

logger = logging.getLogger("datafeed.hk")

HK_TIMEZONE = ZoneInfo("Asia/Hong_Kong")
HKEX = CHINA_TRADING_SESSIONS.schedule("SEHK", "")
EXIT_OK = 0
EXIT_REFUSED = 2


def hk_market_open(now: float | None = None) -> bool:
    """Whether HKEX is in continuous trading now (weekdays; holidays unknown): when silence means a stall.

    Auctions are left out: nothing trades from 09:00 to about 09:20, nor from 16:00 to about 16:08.
    """
    moment = datetime.fromtimestamp(time.time() if now is None else now, HK_TIMEZONE)
    match = HKEX.locate(moment.replace(tzinfo=None).time())
    return moment.weekday() < 5 and match is not None and match.phase is SessionPhase.CONTINUOUS


@dataclass(frozen=True)
class FeedAlertEvent(DomainEvent):
    """The feed stopped for a reason no retry fixes (token, plan)."""

    code: int
    message: str


@dataclass(frozen=True)
class ServiceSettings:
    codes: tuple[str, ...]
    client: ClientSettings = field(default_factory=ClientSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    metrics_interval: float = 60.0
    duration: float | None = None
    volatility_window: int = 30
    volatility_quantile: float = 0.9


class HkFeedService:
    def __init__(self, token: TokenLike, location: DatabaseLocation, settings: ServiceSettings, *,
                 market_open=hk_market_open, bar_database=None) -> None:
        """``bar_database``: vnpy's database, to keep 1-minute bars of the trades too (None: raw rows only)."""
        self.token = token
        self.bar_database = bar_database
        self.bars: MinuteBarWriter | None = None
        self.location = location
        self.settings = settings
        self.market_open = market_open
        self.client: AllTickClient | None = None
        self.store: TickStore | None = None
        self.metrics: FeedMetrics | None = None
        self.alerts: list[DomainEvent] = []
        self.loop_tick = time.monotonic()

    def alive(self, within: float = 30.0) -> bool:
        """Whether the feed's event loop went round in the last ``within`` seconds (the daemon's heartbeat probe)."""
        return time.monotonic() - self.loop_tick < within

    def run(self, stop: threading.Event) -> int:
        settings = self.settings
        database = open_database(self.location)
        try:
            store = self.store = TickStore(database, settings.store).start()
        except CONNECTION_ERRORS as error:
            raise connection_error(self.location, error, "open") from None
        monitor = StrategyMonitor.open(self.location)
        processor = FeedProcessor(settings.codes, store)
        if self.bar_database is not None:
            self.bars = MinuteBarWriter(self.bar_database)
            processor.trade_listeners.append(self.bars.on_trade)
        client = self.client = AllTickClient(self.token, settings.codes, processor.on_push, settings.client,
                                             market_open=self.market_open)
        metrics = self.metrics = FeedMetrics(client, processor, store, monitor=monitor, bars=self.bars)
        watch = VolatilityWatch(open_database(self.location), window=settings.volatility_window,
                                quantile=settings.volatility_quantile)
        logger.info("HK feed: %s into %s", ", ".join(settings.codes), self.location.describe())
        try:
            fatal = asyncio.run(self._main(client, metrics, watch, monitor, stop))
        finally:
            if self.bars is not None:
                self.bars.close()
            drained = store.close(timeout=30)
            metrics.report()
            monitor.close()
            watch.table._meta.database.close()
            stats = store.stats
            logger.info("HK feed stopped: %d trades, %d books, %d gaps stored; %d dropped; %s%s", stats.trades_written,
                        stats.depth_written, stats.gaps_written, stats.dropped_total,
                        "buffer drained" if drained else f"{stats.buffered} rows NOT written",
                        f"; {self.bars.bars_written} 1-minute bars" if self.bars is not None else "")
        if fatal is not None:
            return EXIT_REFUSED
        return EXIT_OK

    async def _main(self, client: AllTickClient, metrics: FeedMetrics, watch: VolatilityWatch,
                    monitor: StrategyMonitor, stop: threading.Event) -> FatalFeedError | None:
        task = asyncio.create_task(client.run())
        started = time.monotonic()
        next_report = started + self.settings.metrics_interval
        next_bars = started + 1.0
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.1)
                now = self.loop_tick = time.monotonic()
                if stop.is_set() or (self.settings.duration is not None and now - started >= self.settings.duration):
                    client.stop()
                    break
                if self.bars is not None and now >= next_bars:
                    next_bars = now + 1.0
                    await asyncio.to_thread(self.bars.flush)
                if now >= next_report:
                    next_report = now + self.settings.metrics_interval
                    metrics.report()
                    await asyncio.to_thread(self._check_volatility, watch, monitor)
            fatal = await asyncio.wait_for(task, timeout=self.settings.client.close_timeout + 5)
        finally:
            if not task.done():
                task.cancel()
        if fatal is not None:
            event = FeedAlertEvent(occurred_at=datetime.now(HK_TIMEZONE), code=fatal.ret, message=str(fatal))
            self.alerts.append(event)
            monitor.record_events(MONITOR_NAME, [event])
        return fatal

    def _check_volatility(self, watch: VolatilityWatch, monitor: StrategyMonitor) -> None:
        now = datetime.now(HK_TIMEZONE)
        for code in self.settings.codes:
            try:
                alert = watch.check(code, now)
            except Exception as error:  # an analytic must not stop the feed
                logger.warning("volatility check of %s failed: %s: %s", code, type(error).__name__, error)
                continue
            if alert is not None:
                logger.warning("volatility alert: %s 30-minute volatility %.5f above its %.0f%% quantile %.5f",
                               code, alert.volatility, alert.quantile * 100, alert.threshold)
                self.alerts.append(alert)
                monitor.record_events(MONITOR_NAME, [alert])
