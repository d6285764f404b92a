"""Which gaps between trading periods keep the daemon's child, and the notice that tells the child."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.config.schema import TradingPeriod
from src.core.process.session_gap import (
    TRADING,
    GapNotice,
    SessionGap,
    gap_around,
    keeps_child,
    notice_file_for,
    read_notice,
    write_notice,
)
from src.core.process.supervision import TradingWindow
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

DEFAULT_LIMIT = 7200.0  # the shipped runtime.keep_child_through_gap
INDEX = [TradingPeriod(time(8, 40), time(11, 30)), TradingPeriod(time(13, 0), time(15, 30))]
# A commodity's day: the 10:15-10:30 break, lunch to 13:30, a night session; and one crossing midnight.
COMMODITY = [TradingPeriod(time(9, 0), time(10, 15)), TradingPeriod(time(10, 30), time(11, 30)),
             TradingPeriod(time(13, 30), time(15, 0)), TradingPeriod(time(21, 0), time(23, 0))]
METALS = [TradingPeriod(time(9, 0), time(11, 30)), TradingPeriod(time(13, 30), time(15, 0)),
          TradingPeriod(time(21, 0), time(2, 30))]
CALENDAR = load_cn_calendar()


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=EXCHANGE_TIMEZONE)


@pytest.mark.parametrize("periods,moment,start,end,kept", [
    (INDEX, at(1, 12, 12, 0), at(1, 12, 11, 30), at(1, 12, 13, 0), True),          # lunch, 1 h 30 min
    (COMMODITY, at(1, 12, 10, 20), at(1, 12, 10, 15), at(1, 12, 10, 30), True),    # the 15-minute break
    (COMMODITY, at(1, 12, 12, 0), at(1, 12, 11, 30), at(1, 12, 13, 30), True),     # lunch to 13:30, 2 h
    (COMMODITY, at(1, 12, 16, 0), at(1, 12, 15, 0), at(1, 12, 21, 0), False),      # to the night session
    (COMMODITY, at(1, 12, 23, 30), at(1, 12, 23, 0), at(1, 13, 9, 0), False),      # night to next morning
    (METALS, at(1, 13, 5, 0), at(1, 13, 2, 30), at(1, 13, 9, 0), False),           # after midnight
    (COMMODITY, at(1, 16, 23, 30), at(1, 16, 23, 0), at(1, 19, 9, 0), False),      # Friday night to Monday
    (INDEX, at(1, 17, 12, 0), at(1, 16, 15, 30), at(1, 19, 8, 40), False),         # a Saturday noon
])
def test_gaps_within_the_default_keep_the_child_and_longer_ones_stop_it(periods, moment, start, end, kept):
    window = TradingWindow(periods, CALENDAR)
    assert not window.is_open(moment)
    gap = gap_around(window, moment)
    assert gap == SessionGap(start, end)
    assert keeps_child(gap, DEFAULT_LIMIT) is kept


def test_zero_keeps_no_gap_and_the_limit_itself_is_kept():
    gap = SessionGap(at(1, 12, 11, 30), at(1, 12, 13, 0))
    assert not keeps_child(gap, 0.0)
    assert keeps_child(gap, 5400.0) and not keeps_child(gap, 5399.0)


def test_description_names_the_next_day_when_the_gap_crosses_midnight():
    assert SessionGap(at(1, 12, 11, 30), at(1, 12, 13, 0)).describe() == "11:30-13:00 (1 h 30 min)"
    assert SessionGap(at(1, 12, 23, 0), at(1, 13, 9, 0)).describe() == "23:00-2026-01-13 09:00 (10 h)"


@settings(max_examples=150, deadline=None)
@given(offset=st.integers(min_value=0, max_value=14 * 24 * 60),
       periods=st.sampled_from([INDEX, COMMODITY, METALS]))
def test_a_gap_is_the_closed_stretch_around_the_moment(offset, periods):
    """Outside the periods: the gap holds the moment, a period was open just before it, one opens at its end,
    and nothing is open inside it."""
    window = TradingWindow(periods, CALENDAR)
    moment = at(1, 5, 0, 0) + timedelta(minutes=offset)
    if window.is_open(moment):
        return
    gap = gap_around(window, moment)
    assert gap is not None
    assert gap.start <= moment < gap.end
    assert window.is_open(gap.start - timedelta(minutes=1))
    assert window.is_open(gap.end)
    step = (gap.end - gap.start) / 7
    assert not any(window.is_open(gap.start + step * k) for k in range(7))


def test_the_notice_round_trips_through_its_file(tmp_path):
    path = notice_file_for(tmp_path / "heartbeat")
    assert path == tmp_path / "heartbeat.gap"
    assert read_notice(path) is None  # no file: the child keeps trading
    notice = GapNotice(SessionGap(at(1, 12, 11, 30), at(1, 12, 13, 0)), "cancel")
    write_notice(path, notice)
    assert read_notice(path) == notice and read_notice(path).in_gap
    write_notice(path, TRADING)
    assert read_notice(path) == TRADING and not read_notice(path).in_gap
    assert [p.name for p in tmp_path.iterdir()] == ["heartbeat.gap"]  # no temporary file left behind


@pytest.mark.parametrize("text", ["", "gap", "gap 2026-01-12T11:30:00+08:00 2026-01-12T13:00:00+08:00 flatten",
                                  "gap 2026-01-12T13:00:00+08:00 2026-01-12T11:30:00+08:00 keep",
                                  "gap 2026-01-12T11:30:00 2026-01-12T13:00:00 keep", "trading now"])
def test_an_unreadable_notice_is_no_notice(tmp_path, text):
    path = tmp_path / "heartbeat.gap"
    path.write_text(text)
    assert read_notice(path) is None


def test_a_notice_refuses_an_unknown_order_policy():
    with pytest.raises(ValueError, match="orders must be one of"):
        GapNotice(None, "flatten")
