"""One capital source per mode; margin of futures, of short options and of working opening orders."""
from __future__ import annotations

from datetime import datetime

import pytest

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.account_valuation import AccountFunds, value_account
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from tests.unit.domain.builders import CST, FUTURE, option

PUT = option(3800, OptionType.PUT)
PARAMS = {FUTURE: ContractParams(FUTURE, 300, 0.2, 0.12), PUT.vt_symbol: ContractParams(PUT.vt_symbol, 100, 0.2, 0.10)}
NOW = datetime(2025, 1, 6, 10, tzinfo=CST)
SIZING = PositionSizingService()


def _book() -> PositionAggregate:
    book = PositionAggregate({vt: p.multiplier for vt, p in PARAMS.items()})
    book.update_trade("o1", "t1", PUT.vt_symbol, Direction.SHORT, Offset.OPEN, 40.0, 2, NOW)
    book.update_trade("o2", "t2", FUTURE, Direction.LONG, Offset.OPEN, 3900.0, 1, NOW)
    return book


def test_futures_and_short_options_hold_margin_and_fees_lower_the_balance():
    marks = {FUTURE: 3910.0, PUT.vt_symbol: 35.0}
    account = value_account(1_000_000.0, _book(), marks, {PUT.vt_symbol: PUT}, PARAMS, SIZING, NOW, fees=31.0)
    option_margin = 2 * SIZING.short_option_margin(PUT, 35.0, 3910.0, PARAMS[PUT.vt_symbol])
    future_margin = 3910.0 * 300 * 0.12
    assert account.frozen == pytest.approx(option_margin + future_margin)
    pnl = (40.0 - 35.0) * 2 * 100 + (3910.0 - 3900.0) * 300
    assert account.balance == pytest.approx(1_000_000.0 - 31.0 + pnl)
    assert account.available == pytest.approx(account.balance - account.frozen)


def test_working_opening_orders_reserve_margin_and_closing_orders_do_not():
    book = _book()
    book.register_order("o3", OrderInstruction(vt_symbol=PUT.vt_symbol, direction=Direction.SHORT,
                                               offset=Offset.OPEN, volume=3, price=36.0, reason="open"), NOW)
    book.register_order("o4", OrderInstruction(vt_symbol=FUTURE, direction=Direction.SHORT, offset=Offset.CLOSE,
                                               volume=1, price=3910.0, reason="close"), NOW)
    marks = {FUTURE: 3910.0, PUT.vt_symbol: 35.0}
    without = value_account(1e6, book, marks, {PUT.vt_symbol: PUT}, PARAMS, SIZING, NOW)
    with_orders = value_account(1e6, book, marks, {PUT.vt_symbol: PUT}, PARAMS, SIZING, NOW,
                                working_orders=book.active_orders())
    assert with_orders.frozen - without.frozen == pytest.approx(
        3 * SIZING.short_option_margin(PUT, 36.0, 3910.0, PARAMS[PUT.vt_symbol]))


def test_live_funds_are_taken_as_reported_never_with_the_strategy_pnl_added_again():
    marks = {FUTURE: 4000.0, PUT.vt_symbol: 10.0}  # a large P&L on the book
    funds = AccountFunds(balance=2_000_000.0, available=1_500_000.0)
    account = value_account(2_000_000.0, _book(), marks, {PUT.vt_symbol: PUT}, PARAMS, SIZING, NOW, fees=99.0,
                            share=0.5, funds=funds)
    assert (account.balance, account.available) == (1_000_000.0, 750_000.0)


def test_a_share_of_the_capital_and_a_margin_call_shows_as_negative_available():
    marks = {FUTURE: 3910.0, PUT.vt_symbol: 35.0}
    account = value_account(200_000.0, _book(), marks, {PUT.vt_symbol: PUT}, PARAMS, SIZING, NOW, share=0.5)
    assert account.balance == pytest.approx(100_000.0 + (40.0 - 35.0) * 200 + 10.0 * 300)
    assert account.available < 0


def test_margin_is_on_the_previous_close_and_the_broker_multiplier_scales_it():
    from src.strategy.domain.domain_service.position_sizing_service import SizingSettings
    book = _book()
    marks = {FUTURE: 3910.0, PUT.vt_symbol: 35.0}
    previous = {FUTURE: 3850.0, PUT.vt_symbol: 45.0}
    broker = PositionSizingService(SizingSettings(broker_margin_multiplier=1.2))
    account = value_account(1e6, book, marks, {PUT.vt_symbol: PUT}, PARAMS, broker, NOW, previous=previous)
    exchange = 2 * SIZING.short_option_margin(PUT, 45.0, 3850.0, PARAMS[PUT.vt_symbol]) + 3850.0 * 300 * 0.12
    assert account.frozen == pytest.approx(1.2 * exchange)
    # The marks still value the book.
    assert account.balance == pytest.approx(1e6 + (40.0 - 35.0) * 200 + 10.0 * 300)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=100, deadline=None)
@given(fills=st.lists(st.tuples(st.sampled_from([PUT.vt_symbol, FUTURE]), st.sampled_from(list(Direction)),
                                st.booleans(), st.integers(1, 4), st.floats(1.0, 100.0)), max_size=20),
       put_mark=st.floats(0.2, 150.0), future_mark=st.floats(3500.0, 4300.0), fees=st.floats(0.0, 5000.0))
def test_the_book_always_sums(fills, put_mark, future_mark, fees):
    """cash + marked positions = equity (balance), and available + margin = balance, whatever was traded."""
    book = PositionAggregate({vt: p.multiplier for vt, p in PARAMS.items()})
    cash = 1_000_000.0 - fees
    for n, (vt_symbol, side, closing, volume, price) in enumerate(fills):
        price = price if vt_symbol == PUT.vt_symbol else 3800.0 + price
        multiplier = PARAMS[vt_symbol].multiplier
        held = book.position(vt_symbol, side)
        if closing:
            if held is None or not held.volume:
                continue
            volume = min(volume, held.volume)
            book.update_trade(f"o{n}", f"t{n}", vt_symbol, side.opposite, Offset.CLOSE, price, volume, NOW)
            cash -= side.opposite.sign * price * volume * multiplier
        else:
            book.update_trade(f"o{n}", f"t{n}", vt_symbol, side, Offset.OPEN, price, volume, NOW)
            cash -= side.sign * price * volume * multiplier
    marks = {PUT.vt_symbol: put_mark, FUTURE: future_mark}
    account = value_account(1_000_000.0, book, marks, {PUT.vt_symbol: PUT}, PARAMS, SIZING, NOW, fees=fees)
    marked = sum(p.direction.sign * p.volume * marks[p.vt_symbol] * p.multiplier for p in book.positions())
    assert account.balance == pytest.approx(cash + marked, abs=1e-4)
    assert account.available + account.frozen == pytest.approx(account.balance, abs=1e-4)
    assert account.frozen >= 0
