"""The warm-up's fallback when the recorder left gaps: the real IF2101 minutes of 2021-01-04/05 in a sqlite
database with holes, filled from the gateway (a vnpy gateway of ours offering history, through vnpy's real
MainEngine.query_history) and from our Tushare datafeed (the real tushare client against the local Tushare Pro
server of tests/datafeed_servers)."""
from __future__ import annotations

import logging
import os
import time
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vnpy.event import EventEngine
from vnpy.trader.constant import Exchange, Interval, Product
from vnpy.trader.engine import MainEngine
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import BarData, ContractData, HistoryRequest

from src.core.config.env_settings import DatabaseSettings
from src.core.config.secret_value import Secret
from src.core.database_factory import create_database
from src.datafeed.cn.tushare_feed import TushareDatafeed
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.strategy.infrastructure.persistence.warmup_history import (
    DatafeedHistorySource,
    GatewayHistorySource,
    WarmupHistory,
)
from tests.datafeed_servers import market
from tests.datafeed_servers.tushare_pro import TushareProServer

VT_SYMBOL = "IF2101.CFFEX"
END = datetime(2021, 1, 5, 15, 0, tzinfo=EXCHANGE_TIMEZONE)
DAY1_GAP = (datetime(2021, 1, 4, 14, 0, tzinfo=EXCHANGE_TIMEZONE), 60)   # the recorder down 14:00-15:00
DAY2_GAP = (datetime(2021, 1, 5, 10, 0, tzinfo=EXCHANGE_TIMEZONE), 60)   # and 10:00-11:00 the next day
SHORT_HOLE = (datetime(2021, 1, 5, 13, 30, tzinfo=EXCHANGE_TIMEZONE), 3)  # below min_gap_minutes: left alone


def reference_bars(shared_data) -> list[BarData]:
    frame = market.if2101_minutes(shared_data)
    bars = []
    for row in frame.to_dict("records"):
        moment = datetime.strptime(str(row["trade_time"]), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=EXCHANGE_TIMEZONE) - timedelta(minutes=1)
        bars.append(BarData(gateway_name="DB", symbol="IF2101", exchange=Exchange.CFFEX, datetime=moment,
                            interval=Interval.MINUTE, open_price=row["open"], high_price=row["high"],
                            low_price=row["low"], close_price=row["close"], volume=float(row["vol"]),
                            turnover=float(row["amount"]), open_interest=float(row["oi"])))
    return bars


def minutes(first: datetime, count: int) -> set[datetime]:
    return {first + timedelta(minutes=k) for k in range(count)}


HOLES = minutes(*DAY1_GAP) | minutes(*DAY2_GAP) | minutes(*SHORT_HOLE)


@pytest.fixture
def database(tmp_path, shared_data):
    database = create_database(DatabaseSettings(driver="sqlite", database=str(tmp_path / "bars.db"), host="",
                                                port=3306, user="", password=Secret("")))
    database.save_bar_data([bar for bar in reference_bars(shared_data) if bar.datetime not in HOLES])
    return database


@pytest.fixture
def tushare_server(shared_data):
    with TushareProServer(shared_data, tokens=("good-token",)) as server:
        yield server


def history(database, sources) -> WarmupHistory:
    return WarmupHistory(database, sources, TradingClocks(calendar=load_cn_calendar()), fill=lambda vt: True,
                         min_gap_minutes=5)


def closes(slices) -> dict[datetime, float]:
    return {moment: bars[VT_SYMBOL].close_price for moment, bars in slices}


def test_the_datafeed_fills_the_recorders_gaps_and_the_log_says_how_many_bars_came_from_where(
        database, tushare_server, shared_data, caplog):
    caplog.set_level(logging.INFO)
    feed = TushareDatafeed(token=Secret("good-token"), url=tushare_server.url)
    warmup = history(database, [DatafeedHistorySource(feed, "tushare")])
    slices = warmup.load_bar_slices([VT_SYMBOL], END, days=2)

    reference = {bar.datetime: bar.close_price for bar in reference_bars(shared_data)}
    assert len(reference) == 480
    assert closes(slices) == {moment: close for moment, close in reference.items() if moment not in
                              minutes(*SHORT_HOLE)}
    report = warmup.last_report
    assert dict(report.bars_by_source) == {"database": 480 - 123, "datafeed tushare": 120}
    assert [(first, length) for _, first, length in report.gaps] == [DAY1_GAP, DAY2_GAP]
    assert report.still_missing == 0 and report.trading_days == (date(2021, 1, 4), date(2021, 1, 5))
    assert [api for api, _ in tushare_server.requests] == ["ft_mins", "ft_mins"]  # one request per day with a gap
    assert ("warm-up bars over 2 trading days 2021-01-04..2021-01-05: 357 from the database, 120 from the "
            "datafeed tushare; 2 gaps of missing minutes (120 minutes), 0 minutes still missing") in caplog.text


def test_without_a_source_the_gaps_stay_and_are_reported(database):
    warmup = history(database, [])
    slices = warmup.load_bar_slices([VT_SYMBOL], END, days=2)
    assert len(slices) == 480 - 123
    assert warmup.last_report.still_missing == 120
    assert "120 minutes still missing" in warmup.last_report.describe()


def test_a_failing_datafeed_leaves_the_gaps_and_says_why(database, tushare_server, caplog):
    caplog.set_level(logging.INFO)
    feed = TushareDatafeed(token=Secret("wrong-token"), url=tushare_server.url)
    warmup = history(database, [DatafeedHistorySource(feed, "tushare")])
    warmup.load_bar_slices([VT_SYMBOL], END, days=2)
    assert warmup.last_report.still_missing == 120
    assert "datafeed tushare could not fill IF2101.CFFEX 2021-01-04 14:00..15:00" in caplog.text
    assert "bad token" in caplog.text and "wrong-token" not in caplog.text


class HistoryGateway(BaseGateway):
    """A gateway of ours that offers 1-minute history (``history_data``) for the bars it holds."""

    default_name = "HISTORY"
    default_setting: dict = {}
    exchanges = [Exchange.CFFEX]

    def __init__(self, event_engine, gateway_name: str = "HISTORY") -> None:
        super().__init__(event_engine, gateway_name)
        self.bars: list[BarData] = []
        self.requests: list[HistoryRequest] = []

    def connect(self, setting: dict) -> None:
        self.on_contract(ContractData(symbol="IF2101", exchange=Exchange.CFFEX, name="IF2101",
                                      product=Product.FUTURES, size=300, pricetick=0.2, history_data=True,
                                      gateway_name=self.gateway_name))

    def query_history(self, req: HistoryRequest) -> list[BarData]:
        self.requests.append(req)
        return [bar for bar in self.bars if req.start <= bar.datetime < req.end]

    def close(self) -> None: ...
    def subscribe(self, req) -> None: ...
    def send_order(self, req) -> str: return ""
    def cancel_order(self, req) -> None: ...
    def query_account(self) -> None: ...
    def query_position(self) -> None: ...


def test_the_gateway_comes_first_and_the_datafeed_fills_what_it_lacks(database, tushare_server, shared_data):
    event_engine = EventEngine()
    folder = os.getcwd()
    main_engine = MainEngine(event_engine)
    os.chdir(folder)  # MainEngine moves into vnpy's folder
    try:
        gateway = main_engine.add_gateway(HistoryGateway)
        # The gateway keeps only the first day's history: the second day's gap falls to the datafeed.
        gateway.bars = [bar for bar in reference_bars(shared_data) if bar.datetime.date() == date(2021, 1, 4)]
        main_engine.connect({}, "HISTORY")
        deadline = time.monotonic() + 30
        while main_engine.get_contract(VT_SYMBOL) is None:
            assert time.monotonic() < deadline, "the gateway's contract never reached the OMS"
            time.sleep(0.01)
        feed = TushareDatafeed(token=Secret("good-token"), url=tushare_server.url)
        warmup = history(database, [GatewayHistorySource(main_engine), DatafeedHistorySource(feed, "tushare")])
        slices = warmup.load_bar_slices([VT_SYMBOL], END, days=2)
    finally:
        main_engine.close()
    assert dict(warmup.last_report.bars_by_source) == {"database": 357, "gateway": 60, "datafeed tushare": 60}
    assert len(gateway.requests) == 2 and len(tushare_server.requests) == 1
    assert len(slices) == 477 and warmup.last_report.still_missing == 0


# ------------------------------------------------------------------------------------ invariants
def session_minutes() -> list[datetime]:
    """IF's trading minutes of 2021-01-04/05 (09:30-11:30, 13:00-15:00), as bars are stamped."""
    moments = []
    for day in (4, 5):
        for start, count in (((9, 30), 120), ((13, 0), 120)):
            first = datetime(2021, 1, day, *start, tzinfo=EXCHANGE_TIMEZONE)
            moments.extend(first + timedelta(minutes=k) for k in range(count))
    return moments


def synthetic_bar(moment: datetime, close: float) -> BarData:
    return BarData(gateway_name="T", symbol="IF2101", exchange=Exchange.CFFEX, datetime=moment,
                   interval=Interval.MINUTE, open_price=close, high_price=close, low_price=close,
                   close_price=close, volume=1.0)


class EverythingSource:
    """A source of ours that has every minute, at a price no database bar has (so a replacement would show)."""

    name = "everything"

    def query(self, symbol, exchange, start, end):
        return [synthetic_bar(m, 9000.0 + k) for k, m in enumerate(session_minutes()) if start <= m < end]


@pytest.fixture(scope="module")
def scratch_database(tmp_path_factory):
    return create_database(DatabaseSettings(driver="sqlite", database=str(tmp_path_factory.mktemp("w") / "b.db"),
                                            host="", port=3306, user="", password=Secret("")))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(holes=st.lists(st.tuples(st.integers(0, 479), st.integers(1, 90)), max_size=6),
       min_gap=st.integers(1, 15))
def test_only_runs_of_min_gap_minutes_are_filled_and_no_database_bar_is_replaced(scratch_database, holes, min_gap):
    everything = session_minutes()
    missing = set()
    for first, length in holes:
        missing.update(everything[first:first + length])
    scratch_database.delete_bar_data("IF2101", Exchange.CFFEX, Interval.MINUTE)
    scratch_database.save_bar_data([synthetic_bar(m, 4000.0 + k) for k, m in enumerate(everything)
                                    if m not in missing])
    warmup = WarmupHistory(scratch_database, [EverythingSource()], TradingClocks(calendar=load_cn_calendar()),
                           fill=lambda vt: True, min_gap_minutes=min_gap)
    got = closes(warmup.load_bar_slices([VT_SYMBOL], END, days=2))

    # The runs of missing minutes, consecutive in trading time (across lunch and overnight).
    runs, current = [], []
    for moment in everything:
        if moment in missing:
            current.append(moment)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    filled = {m for run in runs if len(run) >= min_gap for m in run}
    assert set(got) == (set(everything) - missing) | filled
    for k, moment in enumerate(everything):
        if moment in got:
            assert got[moment] == (9000.0 + k if moment in missing else 4000.0 + k)
    report = warmup.last_report
    assert report.bars_by_source["database"] == len(everything) - len(missing)
    assert report.bars_by_source["everything"] == len(filled)
    assert report.still_missing == 0 and len(report.gaps) == sum(1 for run in runs if len(run) >= min_gap)
