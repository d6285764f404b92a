"""Pin risk and in-the-money alerts in an option's last days (ExpiryRiskWatch)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.domain_service.expiry_risk import ExpiryRiskSettings, ExpiryRiskWatch
from src.strategy.domain.entity.position import Position
from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from tests.unit.domain.builders import CST, FUTURE, option

EXPIRY = date(2025, 1, 17)  # a Friday
PUT = option(4000, OptionType.PUT, EXPIRY)
CALL = option(4200, OptionType.CALL, EXPIRY)
OPTIONS = {PUT.vt_symbol: PUT, CALL.vt_symbol: CALL}


def when(day: int, hour: int = 10, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=CST)


def short(contract, lots: int = 2) -> Position:
    return Position(contract.vt_symbol, Direction.SHORT, 100, volume=lots, avg_price=30.0)


def test_in_the_money_on_the_last_day_before_expiry_with_its_figures():
    watch = ExpiryRiskWatch(ExpiryRiskSettings(pin_distance=0.0))
    (event,) = watch.check([short(PUT, 3)], OPTIONS, {FUTURE: 3950.0}, when(16, 10))
    assert event.vt_symbol == PUT.vt_symbol and event.direction is Direction.SHORT and event.lots == 3
    assert event.underlying_vt_symbol == FUTURE and event.underlying_price == 3950.0 and event.strike == 4000
    assert event.in_the_money and not event.pinned
    assert event.moneyness == pytest.approx(50 / 4000) and event.intrinsic == pytest.approx(50.0)
    assert event.days_left == 1 and event.expiry == EXPIRY
    assert "in the money" in event.detail


def test_pinned_out_of_the_money_within_the_distance_but_not_beyond_it():
    watch = ExpiryRiskWatch(ExpiryRiskSettings(pin_distance=0.01))
    (event,) = watch.check([short(PUT)], OPTIONS, {FUTURE: 4030.0}, when(17, 9, 31))
    assert event.pinned and not event.in_the_money and event.days_left == 0
    assert event.moneyness == pytest.approx(-30 / 4000) and event.distance == pytest.approx(30 / 4000)
    assert ExpiryRiskWatch(ExpiryRiskSettings(pin_distance=0.005)).check(
        [short(PUT)], OPTIONS, {FUTURE: 4030.0}, when(17, 9, 31)) == []


def test_once_per_contract_and_day_then_again_the_next_day():
    watch = ExpiryRiskWatch()
    positions, prices = [short(PUT), short(CALL)], {FUTURE: 4250.0}  # the call is in the money
    assert [e.vt_symbol for e in watch.check(positions, OPTIONS, prices, when(16, 9, 31))] == [CALL.vt_symbol]
    assert watch.check(positions, OPTIONS, prices, when(16, 14, 0)) == []
    # the put becomes pinned later the same day: its own first event
    assert [e.vt_symbol for e in watch.check(positions, OPTIONS, {FUTURE: 4010.0}, when(16, 14, 1))] == [
        PUT.vt_symbol]
    assert {e.vt_symbol for e in watch.check(positions, OPTIONS, {FUTURE: 4250.0}, when(17, 9, 31))} == {
        CALL.vt_symbol}


def test_nothing_before_the_last_day_before_expiry_nor_after_the_settlement():
    watch = ExpiryRiskWatch()
    itm = {FUTURE: 3000.0}
    assert watch.check([short(PUT)], OPTIONS, itm, when(15, 14, 59)) == []  # two trading days left
    assert watch.check([short(PUT)], OPTIONS, itm, when(17, 15, 0)) == []   # settled from 15:00
    assert len(watch.check([short(PUT)], OPTIONS, itm, when(17, 14, 59))) == 1


def test_the_window_opens_on_the_previous_trading_day_across_a_holiday():
    calendar = TradingCalendar(holidays=[date(2025, 1, 16)])
    watch = ExpiryRiskWatch(calendar=calendar)
    (event,) = watch.check([short(PUT)], OPTIONS, {FUTURE: 3900.0}, when(15, 10))
    assert event.days_left == 1
    assert ExpiryRiskWatch().check([short(PUT)], OPTIONS, {FUTURE: 3900.0}, when(15, 10)) == []


def test_futures_flat_positions_unknown_prices_and_disabled_alerts_raise_nothing():
    future = Position(FUTURE, Direction.SHORT, 300, volume=1, avg_price=4000.0)
    flat = Position(PUT.vt_symbol, Direction.SHORT, 100)
    watch = ExpiryRiskWatch()
    assert watch.check([future, flat], OPTIONS, {FUTURE: 3000.0}, when(16)) == []
    assert watch.check([short(PUT)], OPTIONS, {}, when(16)) == []
    off = ExpiryRiskWatch(ExpiryRiskSettings(enabled=False))
    assert off.check([short(PUT)], OPTIONS, {FUTURE: 3000.0}, when(16)) == []


def test_settings_are_checked():
    with pytest.raises(ValueError, match="pin_distance"):
        ExpiryRiskSettings(pin_distance=-0.1)
    with pytest.raises(ValueError, match="share of the strike"):
        ExpiryRiskSettings(pin_distance=1.5)


@given(price=st.floats(1000, 8000), distance=st.floats(0, 0.2), call=st.booleans())
def test_raised_exactly_when_in_the_money_or_within_the_distance(price, distance, call):
    contract = CALL if call else PUT
    raised = ExpiryRiskWatch(ExpiryRiskSettings(pin_distance=distance)).check(
        [short(contract)], OPTIONS, {FUTURE: price}, when(16))
    itm = price > contract.strike if call else price < contract.strike
    near = abs(price - contract.strike) / contract.strike <= distance
    assert bool(raised) == (itm or near)
    for event in raised:
        assert event.in_the_money == itm and event.pinned == near
        assert event.intrinsic == pytest.approx(max(price - contract.strike, 0) if call
                                                else max(contract.strike - price, 0))
