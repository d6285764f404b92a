"""Expiry settlement: intrinsic value against the last two hours' average, positions leave the book."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.expiry_settlement import (
    ExpirySettlement,
    intrinsic_value,
    is_expired,
    settlement_time,
)
from src.strategy.domain.event.position_events import ManualCloseDetectedEvent, PositionSettledEvent
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot
from tests.unit.domain.builders import CST, option

EXPIRY = date(2025, 1, 17)
FUTURE = "IF2501.CFFEX"
PUT = option(4000, OptionType.PUT, EXPIRY)
CALL = option(4000, OptionType.CALL, EXPIRY)


def _book(*contracts) -> PositionAggregate:
    book = PositionAggregate({FUTURE: 300, **{c.vt_symbol: 100 for c in contracts}})
    return book


def _fill(book: PositionAggregate, n: int, vt_symbol: str, direction: Direction, offset: Offset, price: float,
          volume: int, when: datetime) -> None:
    book.update_trade(f"o{n}", f"t{n}", vt_symbol, direction, offset, price, volume, when)


def _record_afternoon(service: ExpirySettlement, closes, day: date = EXPIRY) -> None:
    start = datetime(day.year, day.month, day.day, 13, 0, tzinfo=CST)
    for i, close in enumerate(closes):
        service.record(FUTURE, start + timedelta(minutes=i), close)


def test_settlement_price_is_the_average_of_the_last_two_hours_only():
    service = ExpirySettlement({FUTURE: EXPIRY}, {})
    service.record(FUTURE, datetime(2025, 1, 17, 11, 29, tzinfo=CST), 9999.0)  # morning: not in the window
    service.record(FUTURE, datetime(2025, 1, 16, 14, 0, tzinfo=CST), 9999.0)  # the day before
    _record_afternoon(service, [3900.0] * 60 + [3960.0] * 60)
    price, detail = service.underlying_settlement(FUTURE, last_price=1.0)
    assert price == pytest.approx(3930.0)
    assert "120 1-minute closes" in detail


def test_expired_only_from_the_expiry_close():
    assert not is_expired(EXPIRY, datetime(2025, 1, 17, 14, 59, tzinfo=CST))
    assert is_expired(EXPIRY, datetime(2025, 1, 17, 15, 0, tzinfo=CST))
    assert is_expired(EXPIRY, datetime(2025, 1, 20, 9, 30, tzinfo=CST))
    assert settlement_time(EXPIRY) == datetime(2025, 1, 17, 15, 0, tzinfo=CST)


def test_short_put_in_the_money_settles_at_intrinsic_and_leaves_the_book():
    book = _book(PUT, CALL)
    _fill(book, 1, PUT.vt_symbol, Direction.SHORT, Offset.OPEN, 50.0, 3, datetime(2025, 1, 10, 10, tzinfo=CST))
    _fill(book, 2, CALL.vt_symbol, Direction.SHORT, Offset.OPEN, 40.0, 2, datetime(2025, 1, 10, 10, tzinfo=CST))
    _fill(book, 3, FUTURE, Direction.SHORT, Offset.OPEN, 3990.0, 1, datetime(2025, 1, 10, 10, tzinfo=CST))
    service = ExpirySettlement({FUTURE: EXPIRY}, {PUT.vt_symbol: PUT, CALL.vt_symbol: CALL})
    _record_afternoon(service, [3920.0] * 120)
    assert not service.settle(book, {FUTURE: 3925.0}, datetime(2025, 1, 17, 14, 59, tzinfo=CST)).settled
    outcome = service.settle(book, {FUTURE: 3925.0}, datetime(2025, 1, 20, 9, 30, tzinfo=CST))
    by_symbol = {event.vt_symbol: event for event in outcome.settled}
    assert book.positions() == []
    assert by_symbol[PUT.vt_symbol].settlement_price == pytest.approx(80.0)
    assert by_symbol[PUT.vt_symbol].realized_pnl == pytest.approx((50.0 - 80.0) * 3 * 100)
    assert by_symbol[CALL.vt_symbol].settlement_price == 0.0
    assert by_symbol[CALL.vt_symbol].realized_pnl == pytest.approx(40.0 * 2 * 100)
    assert by_symbol[FUTURE].settlement_price == pytest.approx(3920.0)
    assert by_symbol[FUTURE].realized_pnl == pytest.approx((3990.0 - 3920.0) * 300)
    assert all(e.occurred_at == settlement_time(EXPIRY) for e in outcome.settled)
    assert book.realized_pnl() == pytest.approx(sum(e.realized_pnl for e in outcome.settled))
    # Idempotent: nothing is left to settle.
    assert not service.settle(book, {}, datetime(2025, 1, 21, 9, 30, tzinfo=CST)).settled


def test_without_window_bars_the_last_price_is_used_and_said_so_without_any_price_nothing_settles():
    book = _book(PUT)
    _fill(book, 1, PUT.vt_symbol, Direction.SHORT, Offset.OPEN, 50.0, 1, datetime(2025, 1, 10, 10, tzinfo=CST))
    service = ExpirySettlement({FUTURE: EXPIRY}, {PUT.vt_symbol: PUT})
    after = datetime(2025, 1, 20, 9, 30, tzinfo=CST)
    outcome = service.settle(book, {}, after)
    assert outcome.unsettled == (PUT.vt_symbol,) and len(book.positions()) == 1
    outcome = service.settle(book, {FUTURE: 3950.0}, after)
    assert "last price" in outcome.settled[0].detail
    assert outcome.settled[0].settlement_price == pytest.approx(50.0)


def test_live_reconciliation_after_settlement_reports_no_manual_close():
    book = _book(PUT)
    _fill(book, 1, PUT.vt_symbol, Direction.SHORT, Offset.OPEN, 50.0, 1, datetime(2025, 1, 10, 10, tzinfo=CST))
    book.pop_events()
    service = ExpirySettlement({FUTURE: EXPIRY}, {PUT.vt_symbol: PUT})
    _record_afternoon(service, [3800.0] * 10)
    after = datetime(2025, 1, 20, 9, 15, tzinfo=CST)
    service.settle(book, {}, after)
    book.reconcile([], after)  # the account no longer reports the expired option
    events = book.pop_events()
    assert [type(e) for e in events] == [PositionSettledEvent]
    assert not any(isinstance(e, ManualCloseDetectedEvent) for e in events)
    assert PositionSnapshot  # the type the gateway reports with


_fills = st.lists(st.tuples(st.sampled_from([PUT.vt_symbol, CALL.vt_symbol, FUTURE]),
                            st.sampled_from([Direction.LONG, Direction.SHORT]),
                            st.booleans(), st.integers(1, 5), st.floats(1.0, 200.0)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(fills=_fills, window=st.lists(st.floats(3500.0, 4500.0), min_size=1, max_size=120),
       marks=st.floats(3500.0, 4500.0))
def test_book_sums_through_settlement(fills, window, marks):
    """Cash + marked positions = equity at every step; every lot opened is closed, settled or held;
    after settlement nothing is held and the equity is the realized P&L."""
    book = _book(PUT, CALL)
    multipliers = {PUT.vt_symbol: 100, CALL.vt_symbol: 100, FUTURE: 300}
    cash, opened, closed = 0.0, 0, 0
    when = datetime(2025, 1, 13, 10, tzinfo=CST)
    for n, (vt_symbol, side, closing, volume, price) in enumerate(fills):
        price = price if vt_symbol != FUTURE else 3800.0 + price
        held = book.position(vt_symbol, side)
        if closing:
            if held is None or held.volume == 0:
                continue
            volume = min(volume, held.volume)
            _fill(book, n, vt_symbol, side.opposite, Offset.CLOSE, price, volume, when)
            cash -= side.opposite.sign * price * volume * multipliers[vt_symbol]
            closed += volume
        else:
            _fill(book, n, vt_symbol, side, Offset.OPEN, price, volume, when)
            cash -= side.sign * price * volume * multipliers[vt_symbol]
            opened += volume
        marked = sum(p.direction.sign * p.volume * price_of(p.vt_symbol, marks) * p.multiplier
                     for p in book.positions())
        unrealized = sum(p.unrealized_pnl(price_of(p.vt_symbol, marks)) for p in book.positions())
        assert cash + marked == pytest.approx(book.realized_pnl() + unrealized, abs=1e-4)
    held_lots = sum(p.volume for p in book.positions())
    service = ExpirySettlement({FUTURE: EXPIRY}, {PUT.vt_symbol: PUT, CALL.vt_symbol: CALL})
    _record_afternoon(service, window)
    outcome = service.settle(book, {}, datetime(2025, 1, 20, 9, 30, tzinfo=CST))
    settled = sum(event.volume for event in outcome.settled)
    assert opened == closed + settled and settled == held_lots
    assert book.positions() == []
    underlying = sum(window) / len(window)
    for event in outcome.settled:
        cash += event.direction.sign * event.settlement_price * event.volume * multipliers[event.vt_symbol]
        contract = {PUT.vt_symbol: PUT, CALL.vt_symbol: CALL}.get(event.vt_symbol)
        expected = intrinsic_value(contract, underlying) if contract else underlying
        assert event.settlement_price == pytest.approx(expected)
    assert cash == pytest.approx(book.realized_pnl(), abs=1e-4)


def price_of(vt_symbol: str, underlying: float) -> float:
    if vt_symbol == FUTURE:
        return underlying
    contract = PUT if vt_symbol == PUT.vt_symbol else CALL
    return intrinsic_value(contract, underlying) + 1.0
