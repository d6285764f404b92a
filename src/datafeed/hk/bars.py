"""1-minute bars of the recorded HK trades, built by BarPipeline and saved into vnpy's bar table.

``python -m src.datafeed.hk run`` stores raw trades loss-free in its own tables;
with this writer (on by default, ``--no-bars`` turns it off) it also keeps the
1-minute bars of the HKEX sessions in vnpy's ``dbbardata`` (symbol ``700``,
exchange ``SEHK``), so the backtester and the strategies read HK bars like any
other. The bars come from the same ``TickBuilder`` ticks the gateway emits, so a
run and a recorder behind ``AllTickGateway`` make the same bars.

A bar is emitted when a trade of a later minute arrives (or at the end of the
run); ``flush()`` writes the bars waiting, and keeps them for the next call when
the database refuses (logged, counted in ``write_failures``).
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict

from vnpy.trader.object import BarData

from src.datafeed.hk.ticks import TickBuilder
from src.datafeed.hk.validation import Trade
from src.strategy.infrastructure.bar_pipeline import BarPipeline

logger = logging.getLogger("datafeed.hk.bars")


class MinuteBarWriter:
    def __init__(self, database, gateway_name: str = "ALLTICK") -> None:
        """``database``: vnpy's BaseDatabase (``src.core.database_factory.create_database``)."""
        self.database = database
        self.pipeline = BarPipeline()
        self.ticks = TickBuilder(gateway_name)
        self.bars_written = 0
        self.write_failures = 0
        self._pending: list[BarData] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def on_trade(self, trade: Trade) -> None:
        bars = self.pipeline.update_tick(self.ticks.trade(trade))
        if bars:
            with self._lock:
                self._pending.extend(bars)

    def flush(self) -> int:
        """Write the finished bars; the number written."""
        with self._write_lock:
            with self._lock:
                bars, self._pending = self._pending, []
            if not bars:
                return 0
            groups: dict[str, list[BarData]] = defaultdict(list)
            for bar in bars:
                groups[bar.vt_symbol].append(bar)
            try:
                for group in groups.values():
                    self.database.save_bar_data(group, stream=True)
            except Exception as error:  # the driver's errors are of many kinds; keep the bars and retry
                self.write_failures += 1
                logger.error("cannot write %d HK 1-minute bars (kept for the next attempt): %s: %s", len(bars),
                             type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "")
                with self._lock:
                    self._pending[:0] = bars
                return 0
            self.bars_written += len(bars)
            return len(bars)

    def close(self) -> int:
        """Emit the bars still being built and write everything."""
        bars = self.pipeline.flush_ticks()
        with self._lock:
            self._pending.extend(bars)
        return self.flush()
