"""FuturesSideService: signals -> orders in the dominant future, reversal, stop/target, roll, expiry, sizing.

IF at 3,900, multiplier 300, margin rate 12%: one lot's margin on a margin price of 3,800 is
3,800 x 300 x 0.12 = 136,800 CNY.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.futures_side import (
    ActiveFuture,
    FuturesHolding,
    FuturesSideService,
    FuturesSideSettings,
    signal_direction,
)
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService, SizingSettings
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, DecisionStage
from src.strategy.domain.event.futures_events import FuturesClosedEvent, FuturesOpenedEvent, FuturesRolledEvent
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType
from tests.unit.domain.builders import CST

FRONT, NEXT = "IF2501.CFFEX", "IF2502.CFFEX"
FRONT_EXPIRY, NEXT_EXPIRY = date(2025, 1, 17), date(2025, 2, 21)
NOW = datetime(2025, 1, 6, 10, 0, tzinfo=CST)
PARAMS = {vt: ContractParams(vt, 300, 0.2, 0.12) for vt in (FRONT, NEXT)}
MARGIN = 3800 * 300 * 0.12


def service(**changes) -> FuturesSideService:
    return FuturesSideService(FuturesSideSettings(**{"position_ratio": 0.5, **changes}), PositionSizingService())


def active(vt_symbol: str = FRONT, price: float = 3900.0, margin_price: float = 3800.0) -> ActiveFuture:
    expiry = FRONT_EXPIRY if vt_symbol == FRONT else NEXT_EXPIRY
    return ActiveFuture(vt_symbol, expiry, price, margin_price, PARAMS[vt_symbol])


def account(balance: float = 1_000_000.0, available: float | None = None) -> AccountSnapshot:
    available = balance if available is None else available
    return AccountSnapshot(balance=balance, available=available, frozen=max(balance - available, 0.0), taken_at=NOW)


def holding(direction: Direction, volume: int = 3, price: float = 3900.0, vt_symbol: str = FRONT) -> FuturesHolding:
    return FuturesHolding(vt_symbol, direction, volume, price, FRONT_EXPIRY if vt_symbol == FRONT else NEXT_EXPIRY)


def test_a_bullish_signal_opens_a_long_sized_by_margin_and_capital_share():
    decision = service().on_window_bar("IF", SignalType.SELL_PUT, [], active(), {FRONT: 3900.0}, PARAMS,
                                       account(), working=False, now=NOW)
    (order,) = decision.orders
    lots = math.floor(500_000 / MARGIN)  # 0.5 of the balance over one lot's margin on the previous price
    assert (order.vt_symbol, order.direction, order.offset, order.volume, order.price) == \
        (FRONT, Direction.LONG, Offset.OPEN, lots, 3900.0)
    (event,) = decision.events
    assert isinstance(event, FuturesOpenedEvent) and event.lots == lots and event.margin_per_lot == pytest.approx(MARGIN)


def test_a_bearish_signal_opens_a_short_and_the_broker_multiplier_raises_the_margin():
    strict = FuturesSideService(FuturesSideSettings(position_ratio=0.5),
                                PositionSizingService(SizingSettings(broker_margin_multiplier=1.5)))
    decision = strict.on_window_bar("IF", SignalType.SELL_CALL, [], active(), {}, PARAMS, account(),
                                    working=False, now=NOW)
    (order,) = decision.orders
    assert order.direction is Direction.SHORT and order.volume == math.floor(500_000 / (MARGIN * 1.5))


def test_available_funds_cap_the_lots():
    decision = service().on_window_bar("IF", SignalType.SELL_PUT, [], active(), {}, PARAMS,
                                       account(available=300_000.0), working=False, now=NOW)
    assert decision.orders[0].volume == 2  # 300,000 / 136,800


def test_too_little_capital_is_a_sizing_refusal_with_the_figures():
    decision = service(position_ratio=0.1).on_window_bar("IF", SignalType.SELL_PUT, [], active(), {}, PARAMS,
                                                         account(), working=False, now=NOW)
    assert decision.orders == ()
    (event,) = decision.events
    assert isinstance(event, DecisionRefusedEvent) and event.stage is DecisionStage.SIZING
    assert "margin 136800.00 per lot" in event.reason and "fewer than 1 lot(s) fit" in event.reason


def test_a_margin_call_refuses_openings():
    decision = service().on_window_bar("IF", SignalType.SELL_PUT, [], active(), {}, PARAMS,
                                       account(available=-1.0), working=False, now=NOW)
    assert decision.orders == () and "margin call" in decision.events[0].reason


def test_the_opposite_signal_closes_and_reverses_with_the_released_margin():
    long = holding(Direction.LONG, volume=3)
    # Nothing available, but the three lots closed free 3 x 136,800 of margin.
    decision = service().on_window_bar("IF", SignalType.SELL_CALL, [long], active(), {FRONT: 3950.0}, PARAMS,
                                       account(available=0.0), working=False, now=NOW)
    close, reverse = decision.orders
    assert (close.direction, close.offset, close.volume, close.price) == (Direction.SHORT, Offset.CLOSE, 3, 3950.0)
    assert (reverse.direction, reverse.offset, reverse.volume) == (Direction.SHORT, Offset.OPEN, 3)
    closed, opened = decision.events
    assert isinstance(closed, FuturesClosedEvent) and closed.reason is CloseReason.REVERSAL
    assert isinstance(opened, FuturesOpenedEvent) and opened.direction is Direction.SHORT


def test_a_signal_in_the_direction_held_adds_nothing_and_says_why():
    decision = service().on_window_bar("IF", SignalType.SELL_PUT, [holding(Direction.LONG)], active(),
                                       {FRONT: 3900.0}, PARAMS, account(), working=False, now=NOW)
    assert decision.orders == ()
    assert decision.events[0].stage is DecisionStage.SIGNAL and "already long 3 IF2501.CFFEX" in decision.events[0].reason


def test_nothing_is_decided_while_orders_are_working():
    decision = service().on_window_bar("IF", SignalType.SELL_CALL, [holding(Direction.LONG)], active(),
                                       {FRONT: 3900.0}, PARAMS, account(), working=True, now=NOW)
    assert decision.orders == () and "still being worked" in decision.events[0].reason
    quiet = service().on_window_bar("IF", None, [], active(), {}, PARAMS, account(), working=True, now=NOW)
    assert quiet.orders == () and quiet.events == ()


@pytest.mark.parametrize("mark, reason", [(3900 * 0.97, CloseReason.STOP_LOSS), (3900 * 1.05, CloseReason.PROFIT_TARGET)])
def test_stop_and_target_close_at_fractions_of_the_entry_price(mark, reason):
    decision = service(stop_loss_ratio=0.02, profit_target_ratio=0.04).on_window_bar(
        "IF", None, [holding(Direction.LONG)], active(), {FRONT: mark}, PARAMS, account(), working=False, now=NOW)
    (close,) = decision.orders
    assert close.offset is Offset.CLOSE and decision.events[0].reason is reason


def test_a_position_adopted_without_a_price_is_not_judged_by_stop_or_target():
    adopted = FuturesHolding(FRONT, Direction.LONG, 2, 0.0, FRONT_EXPIRY)
    decision = service(stop_loss_ratio=0.02).on_window_bar("IF", None, [adopted], active(), {FRONT: 3000.0}, PARAMS,
                                                           account(), working=False, now=NOW)
    assert decision.orders == ()


def test_without_stop_and_target_a_position_is_held_until_the_signal_turns():
    decision = service().on_window_bar("IF", None, [holding(Direction.SHORT)], active(), {FRONT: 3000.0}, PARAMS,
                                       account(), working=False, now=NOW)
    assert decision.orders == () and decision.events == ()


def test_a_position_in_the_old_month_is_rolled_into_the_active_one():
    short = holding(Direction.SHORT, volume=4)
    decision = service().on_minute("IF", [short], active(NEXT, price=3912.3), {FRONT: 3900.1, NEXT: 3912.3}, PARAMS,
                                   set(), NOW)
    close, reopen = decision.orders
    assert (close.vt_symbol, close.direction, close.offset, close.volume) == (FRONT, Direction.LONG, Offset.CLOSE, 4)
    assert (reopen.vt_symbol, reopen.direction, reopen.offset, reopen.volume) == (NEXT, Direction.SHORT, Offset.OPEN, 4)
    (event,) = decision.events
    assert isinstance(event, FuturesRolledEvent) and (event.from_vt_symbol, event.to_vt_symbol) == (FRONT, NEXT)
    assert event.close_price == 3900.2 and event.open_price == 3912.4  # on the 0.2 grid


def test_a_roll_waits_for_working_orders_and_for_a_price():
    short = holding(Direction.SHORT)
    assert service().on_minute("IF", [short], active(NEXT), {FRONT: 3900.0}, PARAMS, {FRONT}, NOW).orders == ()
    waiting = service().on_minute("IF", [short], active(NEXT), {}, PARAMS, set(), NOW)
    assert waiting.orders == () and "no price of IF2501.CFFEX" in waiting.events[0].reason


def test_the_expiry_backstop_closes_a_position_in_the_active_month_two_days_before():
    two_days_before = datetime(2025, 1, 15, 10, 0, tzinfo=CST)
    decision = service().on_minute("IF", [holding(Direction.LONG)], active(), {FRONT: 3900.0}, PARAMS, set(),
                                   two_days_before)
    (close,) = decision.orders
    assert close.offset is Offset.CLOSE and decision.events[0].reason is CloseReason.EXPIRY
    opening = service().on_window_bar("IF", SignalType.SELL_PUT, [], active(), {}, PARAMS, account(),
                                      working=False, now=two_days_before)
    assert opening.orders == () and "expires 2025-01-17" in opening.events[0].reason


def test_settings_are_validated():
    with pytest.raises(ValueError, match="stop_loss_ratio must be in"):
        FuturesSideSettings(stop_loss_ratio=1.5)
    with pytest.raises(ValueError, match="position_ratio"):
        FuturesSideSettings(position_ratio=0.0)


# ------------------------------------------------------------------ properties
CONTRACTS = [(f"IF25{month:02d}.CFFEX", expiry) for month, expiry in
             ((1, date(2025, 1, 17)), (2, date(2025, 2, 21)), (3, date(2025, 3, 21)), (4, date(2025, 4, 18)),
              (5, date(2025, 5, 16)), (6, date(2025, 6, 20)), (7, date(2025, 7, 18)))]
ALL_PARAMS = {vt: ContractParams(vt, 300, 0.2, 0.12) for vt, _ in CONTRACTS}


def front_month(day: date) -> tuple[str, date]:
    """The relabelled main contract: the front month while more than 5 calendar days are left."""
    return next((vt, expiry) for vt, expiry in CONTRACTS if (expiry - day).days > 5)


class Book:
    """Fills every order at once at its price; marks at the day's price."""

    def __init__(self, capital: float) -> None:
        self.capital = capital
        self.realized = 0.0
        self.held: dict[str, FuturesHolding] = {}

    def apply(self, order, expiries) -> None:
        current = self.held.get(order.vt_symbol)
        if order.offset is Offset.OPEN:
            assert current is None or current.direction is order.direction
            volume = order.volume + (current.volume if current else 0)
            self.held[order.vt_symbol] = FuturesHolding(order.vt_symbol, order.direction, volume, order.price,
                                                        expiries[order.vt_symbol])
        else:
            assert current is not None and current.direction is order.direction.opposite
            self.realized += (order.price - current.avg_price) * current.direction.sign * order.volume * 300
            del self.held[order.vt_symbol]

    def account(self, price: float, now: datetime) -> AccountSnapshot:
        unrealized = sum((price - h.avg_price) * h.direction.sign * h.volume * 300 for h in self.held.values())
        balance = self.capital + self.realized + unrealized
        margin = sum(h.volume * price * 300 * 0.12 for h in self.held.values())
        return AccountSnapshot(balance=balance, available=balance - margin, frozen=margin, taken_at=now)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, None, SignalType.SELL_PUT, SignalType.SELL_CALL]),
                          st.floats(-0.03, 0.03)), min_size=20, max_size=90),
       st.floats(300_000, 5_000_000), st.floats(0.05, 1.0),
       st.one_of(st.none(), st.floats(0.005, 0.05)))
def test_positions_are_never_held_into_expiry_and_never_exceed_the_sizing_cap(steps, capital, ratio, stop):
    """One decision a trading day from 2025-01-02 over about four months, the active contract switching as the
    relabelled main contract does; every order fills at once."""
    side = FuturesSideService(FuturesSideSettings(position_ratio=ratio, stop_loss_ratio=stop), PositionSizingService())
    expiries = dict(CONTRACTS)
    book = Book(capital)
    price = 4000.0
    opened = 0
    day = date(2025, 1, 2)
    for signal, move in steps:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        price = max(price * (1 + move), 100.0)
        bar_time = datetime(day.year, day.month, day.day, 10, 0, tzinfo=CST)
        check_time = bar_time.replace(hour=14, minute=50)
        vt_symbol, expiry = front_month(day)
        marks = {vt: price for vt in book.held} | {vt_symbol: price}
        current = ActiveFuture(vt_symbol, expiry, price, price, ALL_PARAMS[vt_symbol])
        account_now = book.account(price, bar_time)
        decision = side.on_window_bar("IF", signal, list(book.held.values()), current, marks, ALL_PARAMS,
                                      account_now, working=False, now=bar_time)
        for order in decision.orders:
            book.apply(order, expiries)
            if order.offset is Offset.OPEN:
                # Net lots after an opening are the opening's alone (the rest closed first), within the cap.
                assert order.volume <= side.sizing_cap(account_now.balance, current)
                opened = order.volume
        minute = side.on_minute("IF", list(book.held.values()), current, marks, ALL_PARAMS, set(), check_time)
        for order in minute.orders:
            book.apply(order, expiries)
        assert len(book.held) <= 1
        for held in book.held.values():
            assert held.volume == opened, "a roll carries the same lots; nothing is ever added"
            assert held.vt_symbol == vt_symbol, "rolled into the active month the same minute"
            assert (held.expiry - day).days > side.settings.close_days_before_expiry
        day += timedelta(days=1)


@given(st.sampled_from([SignalType.SELL_PUT, SignalType.SELL_CALL]))
def test_signal_direction_is_the_view(signal):
    assert signal_direction(signal) is (Direction.LONG if signal is SignalType.SELL_PUT else Direction.SHORT)
