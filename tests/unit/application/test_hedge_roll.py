"""Hedge rolls: lots in a month that is no longer the hedge contract are closed, then reopened in it."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from src.core.config.schema import GreeksLimits, StrategySetting
from src.strategy.application.bootstrap import build_cycle
from src.strategy.application.trading_cycle import CyclePorts
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.market import BarSnapshot, Offset
from src.strategy.domain.value_object.market_input import BarPrint
from src.strategy.domain.value_object.order_instruction import OrderPurpose
from tests.unit.application.test_trading_cycle import (  # noqa: F401  (config is a fixture)
    FUTURE,
    OPTIONS,
    PUT_PRICES,
    START,
    ExchangeToCycle,
    FakeAccount,
    FakeOrders,
    LogLines,
    ScriptedSignals,
    config,
)
from tests.unit.execution.fakes import FakeTradeGateway

NEXT = "IF2503.CFFEX"


def hedged_cycle(config, hedge_month="dominant"):
    # The roll follows the dominant month ("dominant"); "options" keeps the options' month while it trades.
    hedge = dataclasses.replace(config.hedging.delta_hedging, enabled=True, hedging_band=0.1,
                                hedge_month=hedge_month)
    wide = dataclasses.replace(config.greeks_risk, position_limits=GreeksLimits(delta=1e4, gamma=1e4, vega=1e6),
                               portfolio_limits=GreeksLimits(delta=1e5, gamma=1e5, vega=1e7), cash_limits=None)
    config = dataclasses.replace(config, greeks_risk=wide,
                                 hedging=dataclasses.replace(config.hedging, delta_hedging=hedge),
                                 advanced_orders=dataclasses.replace(config.advanced_orders,
                                                                     default_iceberg_batch_size=1000))
    gateway = FakeTradeGateway(cancel_mode="sync", now=START)
    listener = ExchangeToCycle(gateway)
    gateway.listener = listener
    ports = CyclePorts(account=FakeAccount(20_000_000.0), orders=FakeOrders(), events=LogLines())
    setting = StrategySetting(max_positions=1, position_ratio=0.1, strike_level=4, bar_window=1,
                              bar_interval="MINUTE")
    cycle = build_cycle("unit", [FUTURE, NEXT, *OPTIONS], config, setting, gateway, ports, prices_from_bars=True)
    cycle.services.signal_service = ScriptedSignals()
    listener.cycle = cycle
    published: list[DomainEvent] = []
    cycle.bus.subscribe(DomainEvent, published.append)
    return cycle, gateway


def minute(cycle, at):
    prints = {FUTURE: BarPrint(3900.0, 120.0, 50_000.0), NEXT: BarPrint(3910.0, 60.0, 20_000.0)}
    prints.update({f"IO2502-P-{strike}.CFFEX": BarPrint(price, 30.0, 900.0) for strike, price in PUT_PRICES.items()})
    prints["IO2502-C-4000.CFFEX"] = BarPrint(40.0, 30.0, 900.0)
    window = [BarSnapshot(FUTURE, at, 3900.0, 3900.0, 3900.0, 3900.0, 120.0, open_interest=50_000.0)]
    cycle.on_bars(prints, window, at, at + timedelta(minutes=1), trading=True, recording=True)


def test_a_hedge_is_rolled_into_the_new_hedge_contract_and_futures_do_not_count_as_positions(config):
    cycle, gateway = hedged_cycle(config)
    at = START
    minute(cycle, at)
    gateway.fill(gateway.last_id(), price=35.0)  # the short puts
    at += timedelta(minutes=1)
    minute(cycle, at)
    (hedge,) = [i for i in gateway.sent if i.purpose is OrderPurpose.HEDGE]
    assert hedge.vt_symbol == FUTURE and hedge.offset is Offset.OPEN
    gateway.fill(gateway.last_id(), price=3900.0)
    lots = hedge.volume
    assert cycle.open_position_count() == 1  # the options only: max_positions=1 is not used up by the hedge

    # The roll check moves the product to the next month.
    cycle.instruments.set_active_contract("IF", NEXT, at)
    sent = len(gateway.sent)
    at += timedelta(minutes=1)
    minute(cycle, at)
    roll = gateway.sent[sent:]
    assert [(i.vt_symbol, i.offset, i.direction, i.volume, i.purpose) for i in roll] == \
        [(FUTURE, Offset.CLOSE, hedge.direction.opposite, lots, OrderPurpose.HEDGE),
         (NEXT, Offset.OPEN, hedge.direction, lots, OrderPurpose.HEDGE)]
    for order_id in list(gateway.orders)[-2:]:
        gateway.fill(order_id, price=3905.0)
    sent = len(gateway.sent)
    at += timedelta(minutes=1)
    minute(cycle, at)
    assert len(gateway.sent) == sent  # rolled: nothing more to hedge
    held = {(p.vt_symbol, p.direction): p.volume for p in cycle.positions.positions() if p.vt_symbol in cycle.futures}
    assert held == {(NEXT, hedge.direction): lots}


def test_hedging_in_the_options_month_stays_there_when_the_dominant_month_moves_on(config):
    """IO2502 puts are hedged in IF2502 (same month, same expiry and settlement) while IF2502 trades."""
    cycle, gateway = hedged_cycle(config, hedge_month="options")
    at = START
    minute(cycle, at)
    gateway.fill(gateway.last_id(), price=35.0)
    at += timedelta(minutes=1)
    minute(cycle, at)
    gateway.fill(gateway.last_id(), price=3900.0)
    cycle.instruments.set_active_contract("IF", NEXT, at)
    sent = len(gateway.sent)
    for _ in range(3):
        at += timedelta(minutes=1)
        minute(cycle, at)
    assert all(i.vt_symbol != NEXT for i in gateway.sent[sent:]), "no roll into the dominant month"
    assert {p.vt_symbol for p in cycle.positions.positions() if p.vt_symbol in cycle.futures} == {FUTURE}
