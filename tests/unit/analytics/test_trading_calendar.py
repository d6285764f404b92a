"""TradingCalendar, year fractions, and the mainland exchanges' closure file."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.value_object.trading_calendar import TradingCalendar, act365_year_fraction
from src.strategy.infrastructure.calendar import load_cn_calendar, read_holidays

CN = load_cn_calendar()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_weekends_are_not_trading_days():
    calendar = TradingCalendar()
    assert calendar.is_trading_day(date(2024, 9, 27))          # Friday
    assert not calendar.is_trading_day(date(2024, 9, 28))      # Saturday
    assert not calendar.is_trading_day(datetime(2024, 9, 29, 10, 0))
    assert calendar.next_trading_day(date(2024, 9, 27)) == date(2024, 9, 30)
    assert calendar.previous_trading_day(date(2024, 9, 30)) == date(2024, 9, 27)


def test_national_day_2024():
    assert not CN.is_trading_day(date(2024, 10, 1))
    assert not CN.is_trading_day(date(2024, 10, 7))
    assert CN.next_trading_day(date(2024, 9, 30)) == date(2024, 10, 8)
    assert CN.previous_trading_day(date(2024, 10, 8)) == date(2024, 9, 30)
    # 2024-10-12 (Saturday) was an official make-up working day, but exchanges do not trade on weekends
    assert not CN.is_trading_day(date(2024, 10, 12))
    assert CN.trading_days_between(date(2024, 9, 30), date(2024, 10, 8)) == 1


def test_trading_days_per_year_match_the_exchanges():
    counts = {year: CN.trading_days_between(date(year - 1, 12, 31), date(year, 12, 31)) for year in range(2015, 2026)}
    assert counts == {2015: 244, 2016: 244, 2017: 244, 2018: 243, 2019: 244, 2020: 243, 2021: 243, 2022: 242,
                      2023: 242, 2024: 242, 2025: 243}


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2014, 6, 1), date(2027, 6, 1)), st.integers(-60, 60))
def test_trading_days_between_counts_what_is_trading_day_says(start, span):
    end = start + timedelta(days=span)
    low, high = min(start, end), max(start, end)
    brute = sum(CN.is_trading_day(low + timedelta(days=i)) for i in range(1, (high - low).days + 1))
    assert CN.trading_days_between(low, high) == brute
    assert CN.trading_days_between(high, low) == -brute
    following = CN.next_trading_day(start)
    assert following > start and CN.is_trading_day(following)
    assert all(not CN.is_trading_day(start + timedelta(days=i)) for i in range(1, (following - start).days))
    assert CN.previous_trading_day(following) <= start or not CN.is_trading_day(start)


def test_year_fractions():
    valuation = datetime(2024, 9, 30, 15, 0, tzinfo=SHANGHAI)
    expiry = datetime(2024, 10, 8, 15, 0, tzinfo=SHANGHAI)
    assert act365_year_fraction(valuation, expiry) == pytest.approx(8 / 365)
    assert CN.trading_year_fraction(valuation, expiry) == pytest.approx(1 / 244)
    assert act365_year_fraction(expiry, valuation) == pytest.approx(-8 / 365)
    # across a daylight-saving change, aware datetimes count the real elapsed time
    eastern = ZoneInfo("America/New_York")
    before = datetime(2022, 11, 4, 16, 0, tzinfo=eastern)
    after = datetime(2022, 11, 7, 16, 0, tzinfo=eastern)
    assert act365_year_fraction(before, after) == pytest.approx((3 * 24 + 1) / (365 * 24))
    with pytest.raises(ValueError):
        act365_year_fraction(valuation.replace(tzinfo=None), expiry)
    with pytest.raises(ValueError):
        CN.trading_year_fraction(valuation, expiry, days_per_year=0)


def test_calendar_is_a_validated_value():
    a = TradingCalendar([date(2024, 10, 1), date(2024, 10, 2)])
    assert a == TradingCalendar({date(2024, 10, 2), date(2024, 10, 1)}) and hash(a) == hash(TradingCalendar(a.holidays))
    with pytest.raises(TypeError):
        TradingCalendar([datetime(2024, 10, 1, tzinfo=timezone.utc)])
    with pytest.raises(TypeError):
        TradingCalendar(["2024-10-01"])  # type: ignore[list-item]


def test_holiday_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "holidays.csv"
    bad.write_text("# test\ndate,holiday\n2024-10-01,National Day\n2024-13-01,nonsense\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holidays.csv"):
        read_holidays(bad)
    good = tmp_path / "ok.csv"
    good.write_text("# comment\ndate,holiday\n2024-10-01,National Day\n", encoding="utf-8")
    assert read_holidays(good) == [date(2024, 10, 1)]


def test_calendar_matches_real_trading_dates(shared_data):
    """Every day with 50ETF option closes (2015-02 .. 2024-05) is a trading day, and no trading day is missing."""
    import pandas as pd

    path = shared_data / "cn_50etf_options" / "sse_50etf_option_daily_close_2015_2024.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    traded = sorted(set(pd.to_datetime(pd.read_csv(path, usecols=["trade_date"])["trade_date"]).dt.date))
    expected, day = [], traded[0]
    while day <= traded[-1]:
        if CN.is_trading_day(day):
            expected.append(day)
        day += timedelta(days=1)
    assert traded == expected
