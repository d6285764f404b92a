"""PutCallSentimentSource on the stored option market statistics (Futu markets and Cboe history).

A day's figures are taken as usable at the market's publication time on that day: US markets and
Cboe at 17:00 New York time, Hong Kong at 16:30 Hong Kong time (after the 16:00 closes).

Each (market, data type) is read from the database once and kept. It is read again, at most once
per ``refresh_seconds`` of the process's own clock, when a moment is asked for that lies more than a
day after the last stored day's publication: a long-running live process then picks up the days
``stats update`` adds, while a backtest over stored history never reads twice.
"""
from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from src.strategy.domain.value_object.put_call_sentiment import DailyPutCall, PutCallHistory, PutCallSentiment
from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository

NEW_YORK, HONG_KONG = ZoneInfo("America/New_York"), ZoneInfo("Asia/Hong_Kong")
PUBLICATION = {"US_": (NEW_YORK, time(17, 0)), "CBOE_": (NEW_YORK, time(17, 0)),
               "HK_": (HONG_KONG, time(16, 30))}
STALE_AFTER = timedelta(days=1)


def publication_time(market: str, trade_date: date) -> datetime:
    for prefix, (zone, moment) in PUBLICATION.items():
        if market.upper().startswith(prefix):
            return datetime.combine(trade_date, moment, zone)
    raise ValueError(f"no publication time known for market {market!r} (known prefixes: {', '.join(PUBLICATION)})")


class StoredPutCallSentiment:
    def __init__(self, repository: OptionMarketStatisticRepository, refresh_seconds: float = 3600.0,
                 monotonic: Callable[[], float] = clock.monotonic) -> None:
        self._repository = repository
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._histories: dict[tuple[str, str], tuple[PutCallHistory, float]] = {}
        self.reads = 0

    def history(self, market: str, data_type: str, as_of: datetime | None = None) -> PutCallHistory:
        key = (market, data_type)
        cached = self._histories.get(key)
        if cached is not None and not self._stale(cached, as_of):
            return cached[0]
        rows = self._repository.statistics(market, data_type)
        self.reads += 1
        history = PutCallHistory.of(market, data_type, (
            DailyPutCall(row.trade_date, row.call_value, row.put_value, publication_time(market, row.trade_date))
            for row in rows))
        self._histories[key] = (history, self._monotonic())
        return history

    def _stale(self, cached: tuple[PutCallHistory, float], as_of: datetime | None) -> bool:
        history, read_at = cached
        if as_of is None or self._monotonic() - read_at < self._refresh_seconds:
            return False
        return not history.days or as_of > history.days[-1].available_at + STALE_AFTER

    def sentiment(self, market: str, data_type: str, as_of: datetime, window: int,
                  min_observations: int = 1) -> PutCallSentiment | None:
        return self.history(market, data_type, as_of).sentiment(as_of, window, min_observations)
