"""The vendor bar CSV reader: layouts, end- to start-labelled bars, sessions, bad rows."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vnpy.trader.constant import Exchange, Interval

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.trading_session import CHINA_TRADING_SESSIONS
from src.strategy.infrastructure.bar_csv import BarCsvLayout, LayoutError, read_bar_csv

WONDERTRADER = BarCsvLayout(bar_minutes=5, label="end", date_column="Date", date_format="%Y/%m/%d",
                            time_column="Time", open="Open", high="High", low="Low", close="Close",
                            volume="Volume")
HEADER = "<Date>, <Time>, <Open>, <High>, <Low>, <Close>, <Volume>\n"


def read(tmp_path, text, layout=WONDERTRADER, symbol="IF888", exchange=Exchange.CFFEX):
    path = tmp_path / "bars.csv"
    path.write_text(text, encoding="utf-8")
    return list(read_bar_csv(path, symbol, exchange, layout))


def test_end_labelled_bars_land_on_their_start(tmp_path):
    rows = read(tmp_path, HEADER + "2014/1/2,09:35:00,2342.2,2343.4,2339.2,2343.2,10226\n"
                                   "2014/1/2,11:30:00,2300,2301,2299,2300.5,5\n"
                                   "2014/1/2,15:00:00,2300,2301,2299,2300.5,7\n")
    bars = [item for _, item in rows]
    assert [bar.datetime for bar in bars] == [
        datetime(2014, 1, 2, 9, 30, tzinfo=EXCHANGE_TIMEZONE),
        datetime(2014, 1, 2, 11, 25, tzinfo=EXCHANGE_TIMEZONE),
        datetime(2014, 1, 2, 14, 55, tzinfo=EXCHANGE_TIMEZONE)]
    first = bars[0]
    assert (first.open_price, first.high_price, first.low_price, first.close_price, first.volume) == \
        (2342.2, 2343.4, 2339.2, 2343.2, 10226)
    assert first.interval is Interval.MINUTE and first.symbol == "IF888" and first.exchange is Exchange.CFFEX


def test_bad_rows_are_reported_by_line_and_reason(tmp_path):
    rows = read(tmp_path, HEADER
                + "2014/1/2,09:35:00,2342.2,2343.4,2339.2,2343.2,10226\n"    # 2 good
                + "2014/13/2,09:40:00,1,1,1,1,1\n"                          # 3 bad date
                + "2014/1/2,09:40:00,abc,1,1,1,1\n"                         # 4 bad number
                + "2014/1/2,09:40:00,1,1,1\n"                               # 5 short row
                + "2014/1/2,09:40:00,-1,1,1,1,1\n"                          # 6 non-positive price
                + "2014/1/2,09:40:00,10,9,8,10,1\n"                         # 7 high below open
                + "2014/1/2,09:40:00,10,11,9,10,-3\n"                       # 8 negative volume
                + "2014/1/2,09:30:00,10,11,9,10,3\n"                        # 9 09:25-09:30: before the session
                + "2014/1/2,13:00:00,10,11,9,10,3\n"                        # 10 12:55-13:00: lunch
                + "2014/1/2,09:35:00,10,11,9,10,3\n"                        # 11 same time again
                + "2014/1/2,09:40:30,10,11,9,10,3\n")                       # 12 not a whole minute
    reasons = {line: item for line, item in rows if isinstance(item, str)}
    assert reasons == {
        3: "unparsable time '2014/13/2 09:40:00'", 4: "unparsable number in 'open': 'abc'",
        5: "expected 7 fields, found 5", 6: "invalid price", 7: "inconsistent OHLC",
        8: "negative or non-finite volume", 9: "outside session", 10: "outside session",
        11: "duplicate bar time", 12: "time not on a whole minute"}
    assert [line for line, item in rows if not isinstance(item, str)] == [2]


def test_missing_columns_name_what_the_header_has(tmp_path):
    rows = read(tmp_path, "a,b\n1,2\n")
    assert len(rows) == 1 and rows[0][0] == 1
    assert rows[0][1].startswith("missing column(s): Date, Time, Open, High, Low, Close, Volume (the header has: a, b)")


def test_timezone_and_price_scale(tmp_path):
    layout = BarCsvLayout(bar_minutes=1, datetime_column="ts", timezone="UTC", price_scale=10000,
                          open="o", high="h", low="l", close="c", volume="v", open_interest="oi")
    rows = read(tmp_path, "ts,o,h,l,c,v,oi\n2021-01-04T01:30:00,52300000,52310000,52290000,52300000,4,100\n",
                layout=layout, symbol="IF2101")
    bar = rows[0][1]
    assert bar.datetime == datetime(2021, 1, 4, 9, 30, tzinfo=EXCHANGE_TIMEZONE)
    assert bar.open_price == 5230.0 and bar.high_price == 5231.0 and bar.open_interest == 100


def test_daily_bars_are_stamped_at_midnight_of_their_day(tmp_path):
    layout = BarCsvLayout(bar_minutes=0, date_column="trade_date", date_format="%Y%m%d", volume="vol")
    rows = read(tmp_path, "trade_date,open,high,low,close,vol\n20200102,10,11,9,10.5,7\n", layout=layout,
                symbol="IO2002-C-4000")
    bar = rows[0][1]
    assert bar.interval is Interval.DAILY
    assert bar.datetime == datetime(2020, 1, 2, tzinfo=EXCHANGE_TIMEZONE)


def test_session_check_can_be_turned_off(tmp_path):
    layout = BarCsvLayout(bar_minutes=1, check_sessions=False)
    rows = read(tmp_path, "datetime,open,high,low,close,volume\n2021-01-04 12:00:00,1,1,1,1,1\n", layout=layout)
    assert not isinstance(rows[0][1], str)


@pytest.mark.parametrize("values,message", [
    ({"label": "middle"}, "label: expected 'start' or 'end'"),
    ({"timezone": "Mars/Olympus"}, "timezone: unknown timezone"),
    ({"price_scale": 0}, "price_scale: expected a positive number"),
    ({"bar_minutes": -5}, "bar_minutes: expected a whole number"),
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"datetime_column": "ts", "date_column": "d"}, "either datetime_column or date_column"),
])
def test_bad_layouts_are_refused_by_key(values, message):
    with pytest.raises(LayoutError, match="^layout.yaml: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        BarCsvLayout.from_mapping(values, "layout.yaml")


IF_SCHEDULE = CHINA_TRADING_SESSIONS.schedule("CFFEX", "IF")
IF_MINUTES = [m for m in range(24 * 60) if IF_SCHEDULE.is_trading_minute(datetime(2020, 1, 2, m // 60, m % 60))]


@settings(max_examples=60, deadline=None)
@given(width=st.sampled_from([1, 5, 15, 30, 60]), start_minute=st.sampled_from(IF_MINUTES),
       label=st.sampled_from(["start", "end"]))
def test_a_bar_is_kept_exactly_when_it_fits_one_session(tmp_path_factory, width, start_minute, label):
    """Whatever the label, the stored bar starts where the vendor's bar started, and only whole-session bars pass."""
    start = datetime(2020, 1, 2, start_minute // 60, start_minute % 60)
    stamp = start + timedelta(minutes=width) if label == "end" else start
    layout = BarCsvLayout(bar_minutes=width, label=label)
    path = tmp_path_factory.mktemp("bars") / "one.csv"
    path.write_text(f"datetime,open,high,low,close,volume\n{stamp.isoformat()},1,1,1,1,1\n", encoding="utf-8")
    (_line, item), = list(read_bar_csv(path, "IF2001", Exchange.CFFEX, layout))
    last = IF_SCHEDULE.locate(start + timedelta(minutes=width - 1))
    fits = last is not None and last.session_index == IF_SCHEDULE.locate(start).session_index \
        and IF_SCHEDULE.is_trading_minute(start + timedelta(minutes=width - 1))
    if fits:
        assert item.datetime == start.replace(tzinfo=EXCHANGE_TIMEZONE)
    else:
        assert item == "outside session"
