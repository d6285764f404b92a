"""The trading cycle with ``trade_instrument: futures``: signals trade IF itself, reverse, roll; no hedging,
no option path; fees from the schedule (close-today) and the account from ``value_account``."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from src.core.config.schema import StrategySetting
from src.strategy.application.bootstrap import build_cycle
from src.strategy.application.futures_side import FuturesSide
from src.strategy.application.trading_cycle import CyclePorts
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, SignalEvent
from src.strategy.domain.event.futures_events import FuturesClosedEvent, FuturesOpenedEvent, FuturesRolledEvent
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset
from src.strategy.domain.value_object.market_input import BarPrint
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType
from tests.unit.application.test_trading_cycle import (  # noqa: F401  (config is a fixture)
    FUTURE,
    START,
    ExchangeToCycle,
    FakeAccount,
    FakeOrders,
    LogLines,
    config,
)
from tests.unit.execution.fakes import FakeTradeGateway

NEXT = "IF2503.CFFEX"


class Signals:
    """Answers the scripted signals in turn, then None."""

    def __init__(self, *signals) -> None:
        self.signals = list(signals)
        self.last_refusal = None

    def check_open_signal(self, instrument, bar):
        return self.signals.pop(0) if self.signals else None

    def check_close_signal(self, position, instrument, bar):
        raise AssertionError("the option close rules are not asked in futures mode")


def futures_cycle(config, *signals, capital=2_000_000.0, position_ratio=0.2):
    gateway = FakeTradeGateway(cancel_mode="sync", now=START)
    listener = ExchangeToCycle(gateway)
    gateway.listener = listener
    ports = CyclePorts(account=FakeAccount(capital), orders=FakeOrders(), events=LogLines())
    setting = StrategySetting(max_positions=5, position_ratio=position_ratio, strike_level=4, bar_window=1,
                              bar_interval="MINUTE", trade_instrument="futures")
    cycle = build_cycle("unit", [FUTURE, NEXT], config, setting, gateway, ports, prices_from_bars=True)
    cycle.services.signal_service = Signals(*signals)
    listener.cycle = cycle
    published: list[DomainEvent] = []
    cycle.bus.subscribe(DomainEvent, published.append)
    return cycle, gateway, published


def minute(cycle, at, close=3900.0, next_close=3915.0):
    prints = {FUTURE: BarPrint(close, 120.0, 50_000.0), NEXT: BarPrint(next_close, 60.0, 20_000.0)}
    active = cycle.instruments.active_contract("IF") or FUTURE
    price = close if active == FUTURE else next_close
    window = [BarSnapshot(active, at, price, price, price, price, 120.0, open_interest=50_000.0)]
    cycle.on_bars(prints, window, at, at + timedelta(minutes=1), trading=True, recording=True)


def test_built_only_for_futures(config):
    cycle, _gateway, _published = futures_cycle(config)
    assert isinstance(cycle.futures_side, FuturesSide)
    assert cycle.futures_side.service.settings.position_ratio == 0.2


def test_a_signal_opens_the_active_future_sized_by_margin_and_a_reversal_flips_it(config):
    cycle, gateway, published = futures_cycle(config, SignalType.SELL_PUT, None, SignalType.SELL_CALL)
    at = START
    minute(cycle, at)
    (opening,) = gateway.sent
    margin = 3900.0 * 300 * cycle.contract_params[FUTURE].margin_ratio  # no previous day yet: today's price
    assert (opening.vt_symbol, opening.direction, opening.offset) == (FUTURE, Direction.LONG, Offset.OPEN)
    assert opening.volume == int(2_000_000.0 * 0.2 // margin)
    gateway.fill(gateway.last_id(), price=3900.0)
    assert [e for e in published if isinstance(e, SignalEvent)][0].signal is SignalType.SELL_PUT
    assert [e for e in published if isinstance(e, FuturesOpenedEvent)][0].lots == opening.volume
    fees_after_open = cycle.fees.total
    assert fees_after_open == pytest.approx(3900.0 * 300 * opening.volume * 0.000023)

    at += timedelta(minutes=1)
    minute(cycle, at, close=3910.0)
    assert len(gateway.sent) == 1  # no signal, no stop or target set: held

    at += timedelta(minutes=1)
    minute(cycle, at, close=3880.0)
    close, reverse = gateway.sent[1:]
    assert (close.direction, close.offset, close.volume) == (Direction.SHORT, Offset.CLOSE, opening.volume)
    assert (reverse.direction, reverse.offset) == (Direction.SHORT, Offset.OPEN)
    for order_id in list(gateway.orders)[-2:]:
        gateway.fill(order_id, price=3880.0)
    closed = [e for e in published if isinstance(e, FuturesClosedEvent)]
    assert closed and closed[0].reason is CloseReason.REVERSAL
    # Closing lots opened the same day pays the close-today rate (2.3 / 10,000).
    assert cycle.fees.total - fees_after_open == pytest.approx(
        3880.0 * 300 * opening.volume * 0.00023 + 3880.0 * 300 * reverse.volume * 0.000023)
    held = {(p.vt_symbol, p.direction): p.volume for p in cycle.positions.positions()}
    assert held == {(FUTURE, Direction.SHORT): reverse.volume}
    assert cycle.positions.realized_pnl() == pytest.approx((3880.0 - 3900.0) * 300 * opening.volume)
    assert cycle.counters.hedge_trade_count == 0


def test_the_position_is_rolled_when_the_active_contract_changes(config):
    cycle, gateway, published = futures_cycle(config, SignalType.SELL_CALL)
    at = START
    minute(cycle, at)
    gateway.fill(gateway.last_id(), price=3900.0)
    lots = gateway.sent[0].volume
    cycle.instruments.set_active_contract("IF", NEXT, at)  # what the roll check does
    at += timedelta(minutes=1)
    minute(cycle, at)
    close, reopen = gateway.sent[1:]
    assert [(o.vt_symbol, o.direction, o.offset, o.volume) for o in (close, reopen)] == \
        [(FUTURE, Direction.LONG, Offset.CLOSE, lots), (NEXT, Direction.SHORT, Offset.OPEN, lots)]
    (rolled,) = [e for e in published if isinstance(e, FuturesRolledEvent)]
    assert (rolled.from_vt_symbol, rolled.to_vt_symbol, rolled.lots) == (FUTURE, NEXT, lots)
    at += timedelta(seconds=10)
    minute(cycle, at)
    assert len([e for e in published if isinstance(e, FuturesRolledEvent)]) == 1  # being worked: not decided again
    for order_id in sorted(gateway.active_ids()):
        gateway.fill(order_id, price=3905.0)
    sent = len(gateway.sent)
    at += timedelta(minutes=1)
    minute(cycle, at)
    assert len(gateway.sent) == sent and len([e for e in published if isinstance(e, FuturesRolledEvent)]) == 1
    assert {(p.vt_symbol, p.direction): p.volume for p in cycle.positions.positions()} == {(NEXT, Direction.SHORT): lots}


def test_too_little_capital_is_refused_with_the_reason_and_nothing_is_sent(config):
    cycle, gateway, published = futures_cycle(config, SignalType.SELL_PUT, capital=100_000.0)
    minute(cycle, START)
    assert gateway.sent == []
    (refused,) = [e for e in published if isinstance(e, DecisionRefusedEvent)]
    assert refused.stage == "sizing" and "fewer than 1 lot(s) fit" in refused.reason


def test_the_capital_share_scales_the_lots(config):
    shared = dataclasses.replace(config, account=dataclasses.replace(config.account, capital_share=0.5))
    whole, gateway_whole, _ = futures_cycle(config, SignalType.SELL_PUT, capital=4_000_000.0)
    half, gateway_half, _ = futures_cycle(shared, SignalType.SELL_PUT, capital=8_000_000.0)
    minute(whole, START)
    minute(half, START)
    assert gateway_whole.sent[0].volume == gateway_half.sent[0].volume > 0


def test_a_roll_waiting_for_a_price_is_refused_once_a_day(config):
    cycle, gateway, published = futures_cycle(config, SignalType.SELL_PUT)
    at = START
    minute(cycle, at)
    gateway.fill(gateway.last_id(), price=3900.0)
    cycle.instruments.set_active_contract("IF", NEXT, at)
    del cycle.last_prices[FUTURE]  # the old month's price is gone (a restart, say)
    sent = len(gateway.sent)
    for step in range(1, 4):
        cycle.on_bars({NEXT: BarPrint(3915.0, 60.0, 20_000.0)}, [], at + timedelta(minutes=step),
                      at + timedelta(minutes=step + 1), trading=True, recording=True)
    assert len(gateway.sent) == sent
    refused = [e for e in published if isinstance(e, DecisionRefusedEvent) and "roll to" in e.reason]
    assert len(refused) == 1 and refused[0].vt_symbol == FUTURE
