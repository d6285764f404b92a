"""Time to expiry in trading time (weekends and closures weighted) for IV, Greeks, limits and hedges."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.option_greeks_service import OptionGreeksService
from src.strategy.domain.domain_service.time_to_expiry import (
    SHORTEST_YEAR_FRACTION,
    TradingTimeToExpiry,
    effective_expiry,
)
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.trading_calendar import act365_year_fraction
from src.strategy.infrastructure.calendar import load_cn_calendar

CST = ZoneInfo("Asia/Shanghai")
CLOCKS = TradingClocks(calendar=load_cn_calendar())  # exchange_calendars XSHG + the local override


def option(symbol: str = "IO2602-P-4500", expiry: date = date(2026, 2, 24), product: str = "IO") -> OptionContract:
    return OptionContract(vt_symbol=f"{symbol}.CFFEX", symbol=symbol, exchange="CFFEX", product=product,
                          underlying_vt_symbol="IF2602.CFFEX", option_type=OptionType.PUT, strike=4500.0,
                          expiry=expiry, multiplier=100.0, pricetick=0.2)


def test_io2602_on_the_last_day_before_the_spring_festival_has_trading_time_not_calendar_time():
    """IO2602 expires 2026-02-24, after the closure of 2026-02-14..23. At the close of 2026-02-13 one
    morning of trading is left before the averaging window (09:30-11:30 = half a day) and 10 closed days."""
    io = option()
    close = datetime(2026, 2, 13, 15, 0, tzinfo=CST)
    unweighted = TradingTimeToExpiry(CLOCKS, non_trading_day_weight=0.0)
    assert unweighted.year_fraction(io, close) == pytest.approx(0.5 / 244)
    weighted = TradingTimeToExpiry(CLOCKS)  # the default: a closed day weighs 0.1 of a trading day
    assert weighted.days_per_year == pytest.approx(244 + 0.1 * 121)
    assert weighted.year_fraction(io, close) == pytest.approx((0.5 + 1.0) / (244 + 12.1))
    calendar = act365_year_fraction(close, datetime(2026, 2, 24, 15, 0, tzinfo=CST))
    assert calendar == pytest.approx(11 / 365)
    assert weighted.year_fraction(io, close) < calendar / 4
    # During that day: the rest of the Friday (10:00 -> 90 + 120 minutes) plus the half day after the closure.
    morning = datetime(2026, 2, 13, 10, 0, tzinfo=CST)
    assert unweighted.year_fraction(io, morning) == pytest.approx((210 / 240 + 0.5) / 244)


def test_index_options_expire_for_the_greeks_when_the_settlement_average_starts():
    io = option()
    assert effective_expiry(io) == datetime(2026, 2, 24, 13, 0, tzinfo=CST)
    assert effective_expiry(option(product="HO")).hour == 13
    assert effective_expiry(option(product="m")).hour == 15  # a commodity option: the close
    basis = TradingTimeToExpiry(CLOCKS, non_trading_day_weight=0.0)
    assert basis.year_fraction(io, datetime(2026, 2, 24, 11, 0, tzinfo=CST)) == pytest.approx(30 / 240 / 244)
    assert basis.year_fraction(io, datetime(2026, 2, 24, 13, 30, tzinfo=CST)) == SHORTEST_YEAR_FRACTION


def test_a_weekend_counts_its_weight_and_the_lunch_break_nothing():
    io = option("IO2601-P-4500", date(2026, 1, 16))
    basis = TradingTimeToExpiry(CLOCKS, non_trading_day_weight=0.25)
    friday_close = datetime(2026, 1, 9, 15, 0, tzinfo=CST)
    monday_open = datetime(2026, 1, 12, 9, 30, tzinfo=CST)
    days = basis.days_per_year
    assert (basis.year_fraction(io, friday_close) - basis.year_fraction(io, monday_open)) * days == \
        pytest.approx(2 * 0.25)
    assert basis.year_fraction(io, datetime(2026, 1, 12, 11, 30, tzinfo=CST)) == \
        pytest.approx(basis.year_fraction(io, datetime(2026, 1, 12, 13, 0, tzinfo=CST)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60 * 24 * 40), st.integers(1, 60 * 24 * 10), st.sampled_from([0.0, 0.1, 0.5]))
def test_time_to_expiry_never_grows_as_time_passes(offset_minutes, step_minutes, weight):
    io = option("IO2603-C-4500", date(2026, 3, 20))
    basis = TradingTimeToExpiry(CLOCKS, non_trading_day_weight=weight)
    first = datetime(2026, 1, 5, 0, 0, tzinfo=CST) + timedelta(minutes=offset_minutes)
    later = first + timedelta(minutes=step_minutes)
    assert basis.year_fraction(io, later) <= basis.year_fraction(io, first) + 1e-15
    assert basis.year_fraction(io, first) >= SHORTEST_YEAR_FRACTION


def test_the_greeks_service_uses_trading_time_and_gives_theta_per_trading_day():
    io = option()
    basis = TradingTimeToExpiry(CLOCKS)
    trading = OptionGreeksService(GreeksCalculator("black76"), 0.02, time_to_expiry=basis)
    calendar = OptionGreeksService(GreeksCalculator("black76"), 0.02)
    at = datetime(2026, 2, 13, 14, 0, tzinfo=CST)
    assert trading.days_per_year == pytest.approx(basis.days_per_year)
    (on_trading,) = trading.per_lot([io], [30.0], lambda _: 4520.0, at)
    (on_calendar,) = calendar.per_lot([io], [30.0], lambda _: 4520.0, at)
    # Less time for the same price: a higher implied vol, and a larger gamma near the money.
    assert trading.implied_vols[io.vt_symbol] > calendar.implied_vols[io.vt_symbol]
    assert abs(on_trading.gamma) > abs(on_calendar.gamma)
    # Theta per trading day x the trading days left is of the order of the time value (not 365/244 of it).
    left = basis.year_fraction(io, at) * basis.days_per_year
    assert 0.2 * 30.0 < -on_trading.theta * left < 3 * 30.0
