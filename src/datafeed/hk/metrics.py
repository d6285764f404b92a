"""Feed metrics: one log line per interval (a minute by default) and a row in the monitor tables.

Each report covers the interval since the previous one: trades/s and books/s
accepted, lag from the exchange's time to the commit (p50, p99, max, in ms),
reconnects, rows dropped by the buffer, gaps, bad messages by reason (malformed
JSON included), server errors by code, rows still buffered. The row goes to
``monitor_signal_snapshot`` under the name ``datafeed.hk`` (payload = the
figures), so the dashboard shows it like a strategy's snapshot; alerts (fatal
errors, volatility) go to ``strategy_event``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from src.datafeed.hk.client import AllTickClient
from src.datafeed.hk.pipeline import FeedProcessor
from src.datafeed.hk.storage import TickStore

logger = logging.getLogger("datafeed.hk.metrics")

MONITOR_NAME = "datafeed.hk"
HK_TIMEZONE = ZoneInfo("Asia/Hong_Kong")


class FeedMetrics:
    def __init__(self, client: AllTickClient, processor: FeedProcessor, store: TickStore | None, *,
                 monitor=None, name: str = MONITOR_NAME, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, bars=None) -> None:
        self.client = client
        self.processor = processor
        self.store = store
        self.monitor = monitor
        self.bars = bars
        self.name = name
        self.clock = clock
        self.wall_clock = wall_clock
        self._last_at = clock()
        self._last = self._totals()
        self.reports: list[dict] = []

    def _totals(self) -> dict:
        validator = self.processor.validator
        counters = self.client.counters
        totals = {"trades": validator.trades_accepted, "depth": validator.depth_accepted,
                  "reconnects": counters.reconnects, "malformed": counters.malformed,
                  "gaps": self.processor.gaps_found, "rejects": dict(validator.rejects),
                  "errors": dict(counters.errors), "dropped": 0,
                  "bars": self.bars.bars_written if self.bars is not None else 0}
        if self.store is not None:
            totals["dropped"] = self.store.stats.dropped_total
        return totals

    def report(self) -> dict:
        now = self.clock()
        elapsed = max(now - self._last_at, 1e-9)
        totals = self._totals()
        last = self._last
        bad = {reason.value: count - last["rejects"].get(reason, 0) for reason, count in totals["rejects"].items()
               if count - last["rejects"].get(reason, 0)}
        if totals["malformed"] - last["malformed"]:
            bad["malformed_json"] = totals["malformed"] - last["malformed"]
        errors = {str(ret): count - last["errors"].get(ret, 0) for ret, count in totals["errors"].items()
                  if count - last["errors"].get(ret, 0)}
        payload = {
            "interval_s": round(elapsed, 3),
            "trades": totals["trades"] - last["trades"],
            "ticks_per_s": round((totals["trades"] - last["trades"]) / elapsed, 2),
            "depth_per_s": round((totals["depth"] - last["depth"]) / elapsed, 2),
            "reconnects": totals["reconnects"] - last["reconnects"],
            "connected": self.client.connected,
            "dropped": totals["dropped"] - last["dropped"],
            "gaps": totals["gaps"] - last["gaps"],
            "bad_messages": bad,
            "server_errors": errors,
            "bars_written": totals["bars"] - last["bars"],
        }
        if self.store is not None:
            stats = self.store.stats
            payload.update({"lag_ms_p50": _round(stats.lag_ms_p50), "lag_ms_p99": _round(stats.lag_ms_p99),
                            "buffered": stats.buffered, "write_failures": stats.write_failures,
                            "stored_trades_total": stats.trades_written})
            self.store.reset_lags()
        self._last_at, self._last = now, totals
        logger.info("HK feed: %.1f trades/s, %.1f books/s, lag p50 %s ms p99 %s ms, %d reconnects, %d dropped, "
                    "%d gaps, bad %s, %s", payload["ticks_per_s"], payload["depth_per_s"],
                    payload.get("lag_ms_p50"), payload.get("lag_ms_p99"), payload["reconnects"], payload["dropped"],
                    payload["gaps"], bad or "none", "connected" if payload["connected"] else "disconnected")
        if self.monitor is not None:
            self.monitor.record_snapshot(self.name, payload, datetime.fromtimestamp(self.wall_clock(), HK_TIMEZONE))
        self.reports.append(payload)
        return payload


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
