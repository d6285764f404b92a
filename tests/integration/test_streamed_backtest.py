"""The backtest streamed from the database a window of days at a time gives the report of vnpy's
whole-range loading, byte for byte; the bulk reader returns vnpy's bars."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from vnpy.trader.constant import Exchange, Interval

from src.backtesting.bar_stream import BulkBarReader
from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.database_factory import create_database
from src.datafeed.sample_market import ensure_sample_market

START, END = date(2026, 1, 7), date(2026, 1, 13)


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, START, END)
    return database


def test_bulk_reader_returns_the_bars_vnpy_loads(sample_database):
    symbols = ["IF2601.CFFEX", "IO2601-C-4600.CFFEX", "MO2602-P-7000.CFFEX", "IM2602.CFFEX"]
    start, end = datetime.combine(date(2026, 1, 8), time.min), datetime.combine(date(2026, 1, 9), time.max)
    reader = BulkBarReader(sample_database, symbols, Interval.MINUTE)
    bulk = sorted(reader.bars(start, end), key=lambda bar: (bar.vt_symbol, bar.datetime))
    vnpy = []
    for vt_symbol in symbols:
        symbol, exchange = vt_symbol.rsplit(".", 1)
        vnpy += sample_database.load_bar_data(symbol, Exchange(exchange), Interval.MINUTE, start, end)
    vnpy.sort(key=lambda bar: (bar.vt_symbol, bar.datetime))
    assert len(bulk) > 500 and bulk == vnpy
    assert reader.minutes(start, end) == sorted({bar.datetime for bar in vnpy})


@pytest.mark.parametrize("stream_days", [1, 2])
def test_streamed_report_is_byte_identical_to_whole_range_loading(sample_database, tmp_path, stream_days):
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    reports = {}
    for name, days in (("whole", None), ("streamed", stream_days)):
        runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), sample_database,
                                DEFAULT_STRATEGY_CONFIG, stream_days=days)
        result = runner.run(tmp_path / name)
        reports[name] = result
        if days is not None:
            assert runner.last_engine.replayed_bars > 0 and runner.last_engine.history_data == {}
    assert reports["whole"].counts.total > 0
    for file in ("trades.csv", "summary.json"):
        assert (tmp_path / "streamed" / file).read_bytes() == (tmp_path / "whole" / file).read_bytes()


_MYSQL_CHECK = """
import src.backtesting
from datetime import date, datetime, time
from vnpy.trader.constant import Exchange, Interval
from src.backtesting.bar_stream import BulkBarReader
from src.core.database_factory import create_database
from src.datafeed.sample_market import generate_sample_market
database = create_database()
market = generate_sample_market(date(2026, 1, 8), date(2026, 1, 8))
symbols = [vt for vt in market.vt_symbols if vt.startswith(("IF2601", "IO2601-C-4"))][:6]
for vt in symbols:
    database.save_bar_data(market.bars[vt])
start, end = datetime.combine(date(2026, 1, 8), time.min), datetime.combine(date(2026, 1, 8), time.max)
reader = BulkBarReader(database, symbols, Interval.MINUTE)
bulk = sorted(reader.bars(start, end), key=lambda bar: (bar.vt_symbol, bar.datetime))
vnpy = []
for vt in symbols:
    symbol, exchange = vt.rsplit(".", 1)
    vnpy += database.load_bar_data(symbol, Exchange(exchange), Interval.MINUTE, start, end)
vnpy.sort(key=lambda bar: (bar.vt_symbol, bar.datetime))
assert len(bulk) > 200 and bulk == vnpy, (len(bulk), len(vnpy))
assert reader.minutes(start, end) == sorted({bar.datetime for bar in vnpy})
print("same", len(bulk))
"""


@pytest.mark.mysql
def test_bulk_reader_on_mysql_returns_the_bars_vnpy_loads():
    import os
    import subprocess
    import sys

    from src.paths import PROJECT_ROOT
    from tests.db_backends import MYSQL_SKIP_REASON, drop_tables, mysql_configured, mysql_environment, \
        mysql_location
    if not mysql_configured():
        pytest.skip(MYSQL_SKIP_REASON)
    location = mysql_location()
    drop_tables(location)
    try:
        result = subprocess.run([sys.executable, "-c", _MYSQL_CHECK], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=300, env={**os.environ, **mysql_environment(location)})
    finally:
        drop_tables(location)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("same")
