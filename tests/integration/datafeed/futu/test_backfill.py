"""Backfill and update through the real futu-api client, the local OpenD and our database (SQLite, MySQL)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from src.datafeed.futu import checks
from src.datafeed.futu.backfill import FetchFailedError, StatisticsBackfill
from src.datafeed.futu.client import FutuConnectionSettings, FutuStatisticsClient
from src.datafeed.futu.governor import Backoff, RateGovernor
from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository
from tests.integration.datafeed.futu.local_opend import LocalOpenD

MARKETS = ("US_INDEX", "HK_INDEX")
TYPES = ("VOLUME", "OPEN_INTEREST")
START, END = date(2016, 1, 1), date(2018, 12, 31)
CODES = {"US_SECURITY": 1, "US_INDEX": 2, "HK_SECURITY": 3, "HK_INDEX": 4, "VOLUME": 0, "OPEN_INTEREST": 1}


def expected_points(series, market, data_type, start=START, end=END):
    return [p for p in series[(CODES[market], CODES[data_type])] if start <= p.trade_date <= end]


def client_for(opend: LocalOpenD, **overrides) -> FutuStatisticsClient:
    values = {"port": opend.port, "connect_timeout_seconds": 5.0, "request_timeout_seconds": 2.0,
              "reconnect_interval_seconds": 0.5}
    values.update(overrides)
    return FutuStatisticsClient(FutuConnectionSettings(**values))


def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def repository(database_location):
    repo = OptionMarketStatisticRepository.open(database_location)
    yield repo
    repo.close()


def test_a_three_year_backfill_of_two_markets_and_two_types_stores_every_day_once(local_opend, futu_series,
                                                                                   repository):
    with client_for(local_opend) as client:
        report = StatisticsBackfill(client, repository, sleep=no_sleep, progress=False).backfill(
            MARKETS, TYPES, START, END)
    assert report.windows_fetched == 12 and report.first_pages == 12 and report.failed_requests == 0
    assert local_opend.stats.first_pages == 12 and local_opend.stats.limit_errors == 0
    for market in MARKETS:
        for data_type in TYPES:
            stored = repository.statistics(market, data_type)
            expected = expected_points(futu_series, market, data_type)
            assert [(s.trade_date, s.call_value, s.put_value) for s in stored] == \
                [(p.trade_date, p.call_value, p.put_value) for p in expected]
            assert len(repository.checkpoints(market, data_type)) == 3
    assert repository.duplicate_keys() == 0
    assert report.rows_stored == sum(len(expected_points(futu_series, m, t)) for m in MARKETS for t in TYPES)

    with client_for(local_opend) as client:  # run again: every window already done, nothing asked
        again = StatisticsBackfill(client, repository, sleep=no_sleep, progress=False).backfill(
            MARKETS, TYPES, START, END)
    assert again.windows_skipped == 12 and again.requests == 0 and repository.duplicate_keys() == 0


def test_windows_are_retried_after_a_dropped_connection_an_injected_failure_and_a_corrupted_page(
        local_opend, futu_series, repository):
    local_opend.knobs.drop_on_continuation_page = 2
    local_opend.knobs.fail_first_pages = 1
    with client_for(local_opend) as client:
        backfill = StatisticsBackfill(client, repository, sleep=no_sleep, progress=False,
                                      backoff=Backoff(base_seconds=0.0))
        first = backfill.backfill(["HK_INDEX"], ["VOLUME"], START, date(2016, 12, 31))
        assert client.reconnections == 1
        local_opend.knobs.corrupt_next_page = ("total", "ratio", "duplicate", "negative", "bad_date", "weekend")
        report = backfill.backfill(["HK_INDEX"], ["VOLUME"], START, END)
    assert first.retries == 2 and first.failed_requests == 2 and not first.rejected
    assert report.windows_skipped == 1 and report.windows_fetched == 2
    assert report.rejected == {checks.TOTAL_MISMATCH: 1, checks.RATIO_MISMATCH: 1, checks.DUPLICATE: 1,
                               checks.NEGATIVE: 1, checks.BAD_DATE: 1, checks.NOT_TRADING_DAY: 1}
    expected = expected_points(futu_series, "HK_INDEX", "VOLUME")
    stored = repository.statistics("HK_INDEX", "VOLUME")
    missing = sorted({p.trade_date for p in expected} - {s.trade_date for s in stored})
    assert len(missing) == 6  # five rows refused, and the day the duplicate overwrote never arrived
    assert report.gaps[("HK_INDEX", "VOLUME")] == missing


def test_a_server_that_never_answers_is_one_hard_failure_naming_the_call(local_opend, repository):
    local_opend.knobs.silent = True
    with client_for(local_opend, request_timeout_seconds=0.5) as client:
        backfill = StatisticsBackfill(client, repository, sleep=no_sleep, progress=False, max_attempts=2)
        with pytest.raises(FetchFailedError, match=r"get_option_market_statistic\(US_INDEX, VOLUME, "
                                                   r"begin_time=2016-01-01, end_time=2016-12-31\) failed 2 times"):
            backfill.backfill(["US_INDEX"], ["VOLUME"], START, END)
    assert repository.count() == 0


def test_the_governor_keeps_a_tight_server_limit_free_of_limit_errors(futu_series, repository):
    with LocalOpenD(futu_series, page_size=250, rate_limit=8, rate_window_seconds=1.0) as opend, \
            client_for(opend) as client:
        governor = RateGovernor(limit=8, window_seconds=1.0, margin=3)
        report = StatisticsBackfill(client, repository, governor, sleep=no_sleep, progress=False).backfill(
            ("US_SECURITY", "HK_INDEX"), TYPES, date(2014, 1, 1), END)
    assert report.first_pages == 20 and governor.waits > 0 and governor.peak_in_window == 5
    # the server sees our sends a little later than we made them: the margin absorbs that
    assert opend.stats.limit_errors == 0 and opend.first_pages_in_any_window() <= 8


def test_without_the_governor_the_same_backfill_meets_the_limit_and_backs_off(futu_series, repository):
    with LocalOpenD(futu_series, page_size=250, rate_limit=6, rate_window_seconds=1.0) as opend, \
            client_for(opend) as client:
        unlimited = RateGovernor(limit=10_000, window_seconds=1.0, margin=0)
        report = StatisticsBackfill(client, repository, unlimited, progress=False, max_attempts=10,
                                    backoff=Backoff(base_seconds=0.3, cap_seconds=1.0)).backfill(
            ("US_SECURITY", "HK_INDEX"), TYPES, date(2014, 1, 1), END)
    assert opend.stats.limit_errors > 0 and report.retries == opend.stats.limit_errors
    assert repository.duplicate_keys() == 0 and report.windows_fetched == 20


def test_update_fetches_only_what_is_missing_up_to_the_last_published_day(local_opend, futu_series, repository):
    with client_for(local_opend) as client:
        backfill = StatisticsBackfill(client, repository, sleep=no_sleep, progress=False)
        backfill.backfill(["HK_INDEX"], ["VOLUME"], date(2019, 1, 1), date(2019, 6, 30))
        before_close = datetime(2019, 9, 20, 16, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))  # a Friday, before 16:30
        report = backfill.update(["HK_INDEX"], ["VOLUME"], before_close, start_if_empty=date(2019, 1, 1))
    stored = repository.statistics("HK_INDEX", "VOLUME")
    assert stored[-1].trade_date == date(2019, 9, 19)
    assert report.first_pages == 1
    assert [s.trade_date for s in stored] == [p.trade_date for p in expected_points(
        futu_series, "HK_INDEX", "VOLUME", date(2019, 1, 1), date(2019, 9, 19))]
