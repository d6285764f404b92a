"""The stored sentiment adapter reads a series once, and again only when newer days can exist."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.option_market_statistics import (
    OptionMarketStatisticRepository,
    StoredStatistic,
)
from src.strategy.infrastructure.sentiment.stored_put_call_sentiment import StoredPutCallSentiment

HK = ZoneInfo("Asia/Hong_Kong")


def rows(first: date, count: int) -> list[StoredStatistic]:
    return [StoredStatistic("HK_INDEX", "VOLUME", first + timedelta(days=i), 100, 50 + i, 150 + i, (50 + i) / 100)
            for i in range(count)]


def test_a_backtest_reads_once_and_a_live_process_sees_days_added_later(tmp_path):
    now = [0.0]
    with OptionMarketStatisticRepository.open(DatabaseLocation.sqlite(tmp_path / "s.db")) as repository:
        repository.upsert(rows(date(2024, 1, 1), 30))
        source = StoredPutCallSentiment(repository, refresh_seconds=60, monotonic=lambda: now[0])
        for day in range(2, 31):  # inside the stored history: one read whatever the clock says
            now[0] += 100
            assert source.sentiment("HK_INDEX", "VOLUME", datetime(2024, 1, day, 12, tzinfo=HK), 20) is not None
        assert source.reads == 1

        repository.upsert(rows(date(2024, 1, 31), 3))  # stats update adds three days
        later = datetime(2024, 2, 2, 17, tzinfo=HK)
        now[0] = 100 + 30  # within refresh_seconds of the read (made at 100): the cached series answers
        assert source.sentiment("HK_INDEX", "VOLUME", later, 20).trade_date == date(2024, 1, 30)
        now[0] = 100 + 61
        assert source.sentiment("HK_INDEX", "VOLUME", later, 20).trade_date == date(2024, 2, 2)
        assert source.reads == 2
