"""The put/call sentiment input on Cboe's real history, loaded through the statistics storage."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from src.datafeed.cboe_putcall import import_cboe_putcall
from src.strategy.domain.domain_service.put_call_filter_replay import replay_put_filter
from src.strategy.domain.interface.put_call_sentiment_source import PutCallSentimentSource
from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter
from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository
from src.strategy.infrastructure.sentiment.stored_put_call_sentiment import StoredPutCallSentiment
from tests.integration.datafeed.futu.conftest import putcall_folder

NY = ZoneInfo("America/New_York")


@pytest.fixture
def cboe_repository(database_location):
    folder = putcall_folder()
    if not folder.is_dir():
        pytest.skip(f"Cboe put/call files not found at {folder}")
    repository = OptionMarketStatisticRepository.open(database_location)
    results = import_cboe_putcall(repository, [folder / name for name in ("totalpc.csv", "equitypc.csv",
                                                                             "indexpc.csv")])
    assert [r.market for r in results] == ["CBOE_TOTAL", "CBOE_EQUITY", "CBOE_INDEX"]
    assert all(r.stored >= 3250 for r in results)
    yield repository
    repository.close()


def test_loading_twice_changes_nothing(cboe_repository):
    before = cboe_repository.count()
    import_cboe_putcall(cboe_repository, [putcall_folder() / "indexpc.csv"])
    assert cboe_repository.count() == before and cboe_repository.duplicate_keys() == 0


def test_decisions_before_the_close_use_the_previous_days_ratio_and_the_filter_refuses_in_fearful_weeks(
        cboe_repository):
    source = StoredPutCallSentiment(cboe_repository)
    assert isinstance(source, PutCallSentimentSource)
    days = [row.trade_date for row in cboe_repository.statistics("CBOE_EQUITY", "VOLUME")]
    put_filter = PutCallFilter(enabled=True, market="CBOE_EQUITY", window=252, min_observations=60,
                               max_percentile=90)
    midday = replay_put_filter(source, put_filter, [datetime.combine(day, time(15, 0), NY) for day in days])
    assert midday.without_sentiment == 60 and midday.lagged_days == midday.decisions - 60
    assert 0.03 < midday.refused_share < 0.25
    worst = max(midday.episodes, key=lambda episode: episode.days)
    assert worst.days >= 3

    evening = replay_put_filter(source, put_filter, [datetime.combine(day, time(17, 30), NY) for day in days])
    assert evening.lagged_days == 0  # after publication the day's own ratio is used

    sentiment = source.sentiment("CBOE_EQUITY", "VOLUME", datetime(2008, 10, 10, 15, 0, tzinfo=NY), 252, 60)
    assert str(sentiment.trade_date) == "2008-10-09"
