"""BarPipeline on two days of real CFFEX IF2101 ticks, against an independent pandas aggregation.

The data lives outside the repository (../shared/data, see its README section 8);
the tests skip when it is absent.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData, TickData

from src.strategy.infrastructure.bar_pipeline import BarPipeline, DiscardReason
from src.strategy.infrastructure.tick_csv import CHINA_TZ, read_ctp_tick_csv
from tests.conftest import SHARED_DATA  # honours SHARED_DATA_DIR

IF2101_TICKS = SHARED_DATA / "cn_futures_ticks/CFFEX_IF2101_tick_20210104_20210105.csv.gz"

needs_data = pytest.mark.skipif(not IF2101_TICKS.is_file(), reason=f"real tick data not found at {IF2101_TICKS}")

BAR_COLUMNS = ["open", "high", "low", "close", "volume", "turnover", "open_interest"]
MORNING_START, MORNING_END = 9 * 60 + 30, 11 * 60 + 30
AFTERNOON_START, AFTERNOON_END = 13 * 60, 15 * 60
AUCTION_START = 9 * 60 + 25


def pandas_minute_bars(path: Path) -> tuple[pd.DataFrame, int]:
    """1-minute bars by the documented conventions, written with vectorised pandas; also the rows dropped."""
    frame = pd.read_csv(path)
    stamp = pd.to_datetime(frame["timestamp"]).dt.tz_convert("Asia/Shanghai")
    minute = stamp.dt.floor("min")
    minute_of_day = stamp.dt.hour * 60 + stamp.dt.minute
    in_session = minute_of_day.between(MORNING_START, MORNING_END - 1) | minute_of_day.between(
        AFTERNOON_START, AFTERNOON_END - 1
    )
    auction = minute_of_day.between(AUCTION_START, MORNING_START - 1)
    closing = minute_of_day.isin([MORNING_END, AFTERNOON_END])
    bar_minute = minute.mask(auction, minute.dt.normalize() + pd.Timedelta(minutes=MORNING_START))
    bar_minute = bar_minute.mask(closing, minute - pd.Timedelta(minutes=1))
    keep = in_session | auction | closing

    kept = frame.loc[keep].assign(bar=bar_minute[keep])
    by_day = kept.groupby("trading_date")
    kept = kept.assign(
        traded=by_day["total_volume"].diff().fillna(kept["total_volume"]),
        value=by_day["total_turnover"].diff().fillna(kept["total_turnover"]),
    )
    bars = kept.groupby("bar").agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("traded", "sum"),
        turnover=("value", "sum"),
        open_interest=("open_interest", "last"),
    )
    return bars.astype(float), int((~keep).sum())


def pandas_window_bars(minute_bars: pd.DataFrame, window: int) -> pd.DataFrame:
    start = minute_bars.index
    minute_of_day = start.hour * 60 + start.minute
    session_start = np.where(minute_of_day < AFTERNOON_START, MORNING_START, AFTERNOON_START)
    into_window = (minute_of_day - session_start) % window
    window_start = start - pd.to_timedelta(into_window, unit="min")
    return minute_bars.groupby(window_start).agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        turnover=("turnover", "sum"),
        open_interest=("open_interest", "last"),
    )


def as_frame(bars: list[BarData]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "open": [b.open_price for b in bars],
            "high": [b.high_price for b in bars],
            "low": [b.low_price for b in bars],
            "close": [b.close_price for b in bars],
            "volume": [b.volume for b in bars],
            "turnover": [b.turnover for b in bars],
            "open_interest": [b.open_interest for b in bars],
        },
        index=pd.DatetimeIndex([b.datetime for b in bars]).tz_convert("Asia/Shanghai"),
    )
    return frame.astype(float)


@pytest.fixture(scope="module")
def ticks() -> list[TickData]:
    rows = list(read_ctp_tick_csv(IF2101_TICKS, "IF2101", Exchange.CFFEX))
    rejected = [(line, item) for line, item in rows if isinstance(item, str)]
    assert rejected == []
    return [item for _, item in rows]


@pytest.fixture(scope="module")
def expected() -> tuple[pd.DataFrame, int]:
    return pandas_minute_bars(IF2101_TICKS)


@pytest.fixture(scope="module")
def pipeline_run(ticks):
    pipeline = BarPipeline(15, Interval.MINUTE)
    minutes: list[BarData] = []
    for tick in ticks:
        minutes.extend(pipeline.update_tick(tick))
    minutes.extend(pipeline.flush_ticks())
    windows: list[BarData] = []
    for bar in minutes:
        windows.extend(pipeline.update_bar(bar))
    windows.extend(pipeline.flush_bars())
    return pipeline, minutes, windows


def assert_same_bars(actual: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(actual.index) == list(reference.index)
    pd.testing.assert_frame_equal(
        actual[BAR_COLUMNS], reference[BAR_COLUMNS], check_exact=True, check_freq=False, check_names=False
    )


@needs_data
def test_reader_builds_ticks_from_every_row(ticks):
    assert len(ticks) == 56_209
    first = ticks[0]
    assert first.datetime.tzinfo is CHINA_TZ
    assert first.datetime.isoformat() == "2021-01-04T09:29:00.400000+08:00"
    assert (first.symbol, first.exchange, first.vt_symbol) == ("IF2101", Exchange.CFFEX, "IF2101.CFFEX")
    assert (first.last_price, first.volume, first.turnover, first.open_interest) == (
        5230.0,
        240,
        376560000.0,
        90767,
    )
    assert (first.bid_price_1, first.ask_price_1, first.bid_volume_1, first.ask_volume_1) == (5230.0, 5230.8, 1, 2)
    assert (first.last_volume, first.limit_up, first.limit_down, first.pre_close) == (240, 5737.8, 4694.6, 5227.0)


@needs_data
def test_minute_bars_equal_the_pandas_aggregation(pipeline_run, expected):
    _, minutes, _ = pipeline_run
    reference, _ = expected
    assert len(minutes) == 2 * 240
    assert all(b.interval is Interval.MINUTE and b.gateway_name == "CSV" for b in minutes)
    assert_same_bars(as_frame(minutes), reference)


@needs_data
def test_fifteen_minute_bars_equal_the_pandas_aggregation(pipeline_run, expected):
    _, _, windows = pipeline_run
    reference, _ = expected
    assert len(windows) == 2 * 16
    assert_same_bars(as_frame(windows), pandas_window_bars(reference, 15))


@needs_data
def test_discarded_ticks_are_the_rows_pandas_drops(pipeline_run, expected, ticks):
    pipeline, _, _ = pipeline_run
    _, dropped = expected
    stats = pipeline.stats
    assert dropped == 5  # the settlement records between 15:27 and 15:37
    assert stats.ticks_discarded[DiscardReason.OUTSIDE_SESSION] == dropped
    assert stats.ticks_discarded_total == dropped
    assert stats.ticks_accepted == len(ticks) - dropped
    assert stats.bars_accepted == stats.minute_bars_emitted == 480
    assert stats.window_bars_emitted == 32


@needs_data
def test_daily_volume_matches_the_exchange_total(pipeline_run):
    _, minutes, _ = pipeline_run
    by_day: dict[str, float] = {}
    for bar in minutes:
        by_day[bar.datetime.date().isoformat()] = by_day.get(bar.datetime.date().isoformat(), 0.0) + bar.volume
    assert by_day == {"2021-01-04": 84288.0, "2021-01-05": 88203.0}


@needs_data
def test_hourly_bars_from_the_real_minutes(pipeline_run, expected):
    _, minutes, _ = pipeline_run
    reference, _ = expected
    pipeline = BarPipeline(1, Interval.HOUR)
    hours = [bar for minute in minutes for bar in pipeline.update_bar(minute)] + pipeline.flush_bars()
    assert [b.datetime.strftime("%H:%M") for b in hours] == ["09:30", "10:30", "13:00", "14:00"] * 2
    assert all(b.interval is Interval.HOUR for b in hours)
    assert_same_bars(as_frame(hours), pandas_window_bars(reference, 60))


# --------------------------------------------------------------- tick_csv reader

HEADER = "timestamp,exchange,code,price,total_volume,total_turnover,open_interest,bid_price1,ask_price1"


def write_csv(directory: Path, lines: list[str], name: str = "ticks.csv") -> Path:
    path = directory / name
    text = "\n".join(lines) + "\n"
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as stream:
            stream.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_reader_reports_bad_rows_and_goes_on(tmp_path):
    path = write_csv(
        tmp_path,
        [
            HEADER,
            "2021-01-04T09:30:00.400+08:00,CFFEX,IF2101,5230.8,311,487976040.0,90751,5231.4,5231.6",
            "not a time,CFFEX,IF2101,5230.8,311,487976040.0,90751,5231.4,5231.6",
            "2021-01-04T09:30:01.400+08:00,CFFEX,IF2101,abc,311,487976040.0,90751,5231.4,5231.6",
            "2021-01-04T09:30:01.900+08:00,CFFEX,IF2101,5230.8,,487976040.0,90751,5231.4,5231.6",
            "2021-01-04T09:30:02.400+08:00,CFFEX,IF2101,5230.8,311,x,90751,5231.4,5231.6",
            "2021-01-04T09:30:02.900+08:00,CFFEX,IF2101,5230.8",
            "2021-01-04T09:30:03.400+08:00,CFFEX,IF2102,5230.8,311,487976040.0,90751,5231.4,5231.6",
            "2021-01-04 09:30:03.900,CFFEX,IF2101,5231.0,320,487976040.0,90751,,",
        ],
    )
    rows = list(read_ctp_tick_csv(path, "IF2101", Exchange.CFFEX))
    assert [line for line, _ in rows] == [2, 3, 4, 5, 6, 7, 8, 9]
    reasons = {line: item for line, item in rows if isinstance(item, str)}
    assert reasons == {
        3: "unparsable timestamp 'not a time'",
        4: "unparsable number in 'price': 'abc'",
        5: "unparsable number in 'total_volume': ''",
        6: "unparsable number in 'total_turnover': 'x'",
        7: "expected 9 fields, found 4",
        8: "code 'IF2102' is not the requested symbol 'IF2101'",
    }
    naive = rows[-1][1]
    assert isinstance(naive, TickData)
    assert naive.datetime.tzinfo is CHINA_TZ and naive.datetime.hour == 9
    assert (naive.bid_price_1, naive.ask_price_1) == (0, 0)


def test_reader_converts_offsets_and_reads_gzip(tmp_path):
    path = write_csv(
        tmp_path, [HEADER, "2021-01-04T01:30:00Z,CFFEX,IF2101,5230.8,1,2.0,3,4.0,5.0"], "ticks.csv.gz"
    )
    ((line, tick),) = list(read_ctp_tick_csv(path, "IF2101", Exchange.CFFEX, gateway_name="IMPORT"))
    assert line == 2
    assert tick.datetime.isoformat() == "2021-01-04T09:30:00+08:00"
    assert (tick.gateway_name, tick.volume, tick.turnover, tick.open_interest) == ("IMPORT", 1.0, 2.0, 3.0)


def test_reader_reports_a_header_without_required_columns(tmp_path):
    path = write_csv(tmp_path, ["timestamp,last,volume", "2021-01-04T09:30:00+08:00,1,2"])
    assert list(read_ctp_tick_csv(path, "IF2101", Exchange.CFFEX)) == [
        (1, "missing required column(s): price, total_volume (or, for the CTP snapshot layout: date, time, "
            "lastPrice)")
    ]
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert list(read_ctp_tick_csv(empty, "IF2101", Exchange.CFFEX)) == [(1, "empty file: no header")]
