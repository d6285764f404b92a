"""PutCallSentimentSource on the stored option market statistics (Futu markets and Cboe history).

A day's figures are taken as usable at the market's publication time on that day: US markets and
Cboe at 17:00 New York time, Hong Kong at 16:30 Hong Kong time (after the 16:00 closes). Each
(market, data type) is read from the database once and kept.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from src.strategy.domain.value_object.put_call_sentiment import DailyPutCall, PutCallHistory, PutCallSentiment
from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository

NEW_YORK, HONG_KONG = ZoneInfo("America/New_York"), ZoneInfo("Asia/Hong_Kong")
PUBLICATION = {"US_": (NEW_YORK, time(17, 0)), "CBOE_": (NEW_YORK, time(17, 0)),
               "HK_": (HONG_KONG, time(16, 30))}


def publication_time(market: str, trade_date: date) -> datetime:
    for prefix, (zone, moment) in PUBLICATION.items():
        if market.upper().startswith(prefix):
            return datetime.combine(trade_date, moment, zone)
    raise ValueError(f"no publication time known for market {market!r} (known prefixes: {', '.join(PUBLICATION)})")


class StoredPutCallSentiment:
    def __init__(self, repository: OptionMarketStatisticRepository) -> None:
        self._repository = repository
        self._histories: dict[tuple[str, str], PutCallHistory] = {}

    def history(self, market: str, data_type: str) -> PutCallHistory:
        key = (market, data_type)
        if key not in self._histories:
            rows = self._repository.statistics(market, data_type)
            self._histories[key] = PutCallHistory.of(market, data_type, (
                DailyPutCall(row.trade_date, row.call_value, row.put_value,
                             publication_time(market, row.trade_date)) for row in rows))
        return self._histories[key]

    def sentiment(self, market: str, data_type: str, as_of: datetime, window: int,
                  min_observations: int = 1) -> PutCallSentiment | None:
        return self.history(market, data_type).sentiment(as_of, window, min_observations)
