from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.trading_clock import TradingClock, TradingClocks
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.domain.value_object.trading_session import CFFEX_INDEX, COMMODITY_NIGHT_0100, COMMODITY_NIGHT_2300

from .fakes import CST, at

IF_CLOCK = TradingClock(CFFEX_INDEX)


def test_trading_moments_of_cffex_index():
    assert IF_CLOCK.is_trading(at(9, 30))
    assert IF_CLOCK.is_trading(at(11, 29, 59))
    assert not IF_CLOCK.is_trading(at(11, 30))
    assert not IF_CLOCK.is_trading(at(9, 29))          # the opening auction is not continuous trading
    assert not IF_CLOCK.is_trading(at(12, 0))
    assert not IF_CLOCK.is_trading(at(10, day=21))     # Saturday
    assert IF_CLOCK.is_trading(datetime(2024, 12, 23, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai


def test_durations_skip_the_lunch_break_the_night_and_the_weekend():
    assert IF_CLOCK.add_trading_seconds(at(11, 28), 300) == at(13, 3)
    assert IF_CLOCK.add_trading_seconds(at(11, 28), 120) == at(13, 0)    # the session end moves on
    assert IF_CLOCK.add_trading_seconds(at(14, 59), 120) == at(9, 31, day=24)
    assert IF_CLOCK.add_trading_seconds(at(14, 59, day=27), 60) == at(9, 30, day=30)  # Friday -> Monday
    assert IF_CLOCK.next_trading_moment(at(12, 10)) == at(13, 0)
    assert IF_CLOCK.next_trading_moment(at(10, 5, 7)) == at(10, 5, 7)
    assert IF_CLOCK.trading_seconds_between(at(11, 0), at(13, 30)) == 3600


def test_holidays_and_night_sessions():
    clock = TradingClock(CFFEX_INDEX, TradingCalendar([date(2024, 12, 24)]))
    assert clock.next_trading_moment(at(15, 0)) == at(9, 30, day=25)
    night = TradingClock(COMMODITY_NIGHT_2300)
    assert night.is_trading(at(22, 59))
    assert not night.is_trading(at(23, 0))
    assert night.next_trading_moment(at(15, 0)) == at(21, 0)
    assert night.next_trading_moment(at(15, 0, day=27)) == at(21, 0, day=27)  # Friday night trades
    assert night.next_trading_moment(at(23, 30, day=27)) == at(9, 0, day=30)
    past_midnight = TradingClock(COMMODITY_NIGHT_0100)
    assert past_midnight.is_trading(at(0, 30, day=24))
    assert past_midnight.is_trading(at(0, 30, day=28))      # Saturday morning: Friday's night session
    assert not past_midnight.is_trading(at(0, 30, day=29))  # Sunday
    assert past_midnight.add_trading_seconds(at(0, 59, day=24), 120) == at(9, 1, day=24)
    # no night session on the evening before a holiday
    closed = TradingClock(COMMODITY_NIGHT_2300, TradingCalendar([date(2024, 12, 24)]))
    assert closed.next_trading_moment(at(15, 0)) == at(9, 0, day=25)


def test_clocks_by_symbol_and_bad_input():
    clocks = TradingClocks()
    assert clocks.for_symbol("IO2501-C-4000.CFFEX").schedule is CFFEX_INDEX
    with pytest.raises(ValueError, match="not a vt_symbol"):
        clocks.for_symbol("IF2501")
    with pytest.raises(ValueError, match="timezone-aware"):
        IF_CLOCK.is_trading(datetime(2024, 12, 23, 10))
    with pytest.raises(ValueError, match="no trading session"):
        TradingClock(CFFEX_INDEX, TradingCalendar([date(2025, 1, 1) + timedelta(days=i) for i in range(60)])
                     ).next_trading_moment(at(10, day=1, month=1, year=2025))


moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31)).map(
    lambda value: value.replace(tzinfo=CST))


@settings(max_examples=200, deadline=None)
@given(start=moments, seconds=st.floats(0, 5 * 4 * 3600, allow_nan=False))
def test_adding_trading_time_lands_in_a_session_and_measures_back(start, seconds):
    end = IF_CLOCK.add_trading_seconds(start, seconds)
    assert IF_CLOCK.is_trading(end)
    assert CFFEX_INDEX.is_trading_minute(end)
    assert end >= start
    begin = IF_CLOCK.next_trading_moment(start)
    assert IF_CLOCK.trading_seconds_between(begin, end) == pytest.approx(seconds, abs=1e-5)
