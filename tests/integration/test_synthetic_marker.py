"""Synthetic bars are recorded as such, said as such, and never written beside real ones."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData

from src.core.config.env_settings import DatabaseSettings
from src.core.database_factory import create_database
from src.datafeed.sample_market import ensure_sample_market, sample_codes
from src.datafeed.synthetic_marker import (
    SyntheticDataError,
    bar_holdings,
    synthetic_description,
    synthetic_windows,
)
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

START, END = date(2026, 1, 5), date(2026, 1, 6)


def database_at(path):
    return create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(path)}))


def real_bar(symbol: str, moment: datetime) -> BarData:
    return BarData(gateway_name="IMPORT", symbol=symbol, exchange=Exchange.CFFEX, datetime=moment,
                   interval=Interval.MINUTE, volume=10, open_price=4000, high_price=4001, low_price=3999,
                   close_price=4000.2, open_interest=100)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    database = database_at(tmp_path_factory.mktemp("synthetic") / "sample.db")
    assert ensure_sample_market(database, START, END, where="sample.db")
    return database


def test_a_generation_is_recorded_and_described_as_synthetic(sample_db):
    (window,) = synthetic_windows(sample_db)
    assert (window.start, window.end) == (START, END) and window.codes == set(sample_codes())
    holdings = bar_holdings(sample_db, sample_codes(), START, END)
    assert holdings.synthetic and not holdings.real
    described = synthetic_description(sample_db, sample_codes(), START, END)
    assert described.startswith("SYNTHETIC sample market 2026-01-05 to 2026-01-06")
    assert synthetic_description(sample_db, sample_codes(), date(2025, 3, 3), date(2025, 3, 4)) is None


def test_a_second_call_writes_nothing(sample_db):
    assert not ensure_sample_market(sample_db, START, END)
    assert len(synthetic_windows(sample_db)) == 1


def test_real_bars_are_never_joined_by_synthetic_ones(tmp_path):
    database = database_at(tmp_path / "real.db")
    database.save_bar_data([real_bar("IF2503", datetime(2025, 3, 3, 9, 30, tzinfo=EXCHANGE_TIMEZONE))])
    before = [(o.symbol, o.count) for o in database.get_bar_overview()]
    with pytest.raises(SyntheticDataError, match=r"refusing to write the synthetic sample market into real\.db: "
                                                 r"it holds real bars of .*IF2503\.CFFEX"):
        ensure_sample_market(database, START, END, where="real.db")
    assert [(o.symbol, o.count) for o in database.get_bar_overview()] == before
    assert synthetic_windows(database) == []


def test_real_bars_imported_into_a_synthetic_window_are_reported_as_mixed(tmp_path):
    database = database_at(tmp_path / "mixed.db")
    assert ensure_sample_market(database, START, END)
    database.save_bar_data([real_bar("IF2612", datetime(2026, 1, 5, 9, 30, tzinfo=EXCHANGE_TIMEZONE))])
    described = synthetic_description(database, sample_codes(), START, END)
    assert "mixed with real bars of IF2612.CFFEX" in described
