"""The pre-trade gate, reduce-only mode and the kill switch inside the trading cycle, on the project's fake
exchange (tests/unit/execution/fakes.py); time passed in."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.pre_trade_schema import BudgetConfig
from src.strategy.domain.event.safeguard_events import (
    HedgeRedirectedEvent,
    KillSwitchEvent,
    OrderBudgetWarningEvent,
    PreTradeRefusedEvent,
    ReduceOnlyChangedEvent,
)
from src.strategy.domain.value_object.control_command import ControlCommand, ControlRequest
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.market_input import BarPrint, TopOfBook
from src.strategy.domain.value_object.order_instruction import OrderInstruction, OrderPurpose
from src.strategy.domain.value_object.signal_type import SignalType
from tests.unit.application.test_trading_cycle import FUTURE, PUT_PRICES, START, ScriptedSignals, make_cycle, minute

OPENED = "IO2502-P-3700.CFFEX"


@pytest.fixture(scope="module")
def config():
    return load_strategy_config(DEFAULT_STRATEGY_CONFIG)


def wide(config):
    """Greeks limits wide enough that repeated openings reach the gate."""
    from src.core.config.schema import GreeksLimits

    risk = dataclasses.replace(config.greeks_risk, position_limits=GreeksLimits(delta=1e4, gamma=1e4, vega=1e6),
                               portfolio_limits=GreeksLimits(delta=1e5, gamma=1e5, vega=1e7))
    return dataclasses.replace(config, greeks_risk=risk)


def refusals(published, rule=None):
    return [e for e in published if isinstance(e, PreTradeRefusedEvent) and (rule is None or e.rule == rule)]


def open_one(cycle, gateway):
    """The scripted SELL_PUT opens the fourth out-of-the-money put; the fill books it."""
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=24.0)
    assert [p.vt_symbol for p in cycle.positions.positions()] == [OPENED]


class Repeating(ScriptedSignals):
    """Asks for SELL_PUT on every window bar."""

    def check_open_signal(self, instrument, bar):
        return SignalType.SELL_PUT


def test_an_order_that_could_cross_our_own_working_order_never_reaches_the_exchange(config):
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START)  # a sell-open of OPENED is working (not filled)
    (working,) = gateway.sent
    assert working.direction is Direction.SHORT
    cycle._send(OrderInstruction(OPENED, Direction.LONG, Offset.CLOSE, 1, working.price + 5.0, "close test"),
                START + timedelta(minutes=1))
    cycle.on_time(START + timedelta(minutes=1))
    assert len(gateway.sent) == 1
    (event,) = refusals(published, "self_trade")
    assert event.figures["working_price"] == working.price and event.level == "order"


def test_an_order_beyond_the_days_price_limit_is_refused(config):
    cycle, gateway, published = make_cycle(config)
    # The option's day trades between 25 and 40: the opening's reference price (24) is below the limit.
    cycle.on_quote(TopOfBook(OPENED, 23.8, 24.2, 24.0, 40.0, 25.0), START)
    minute(cycle, START)
    assert gateway.sent == []
    (event,) = refusals(published, "price_limit")
    assert event.figures == {"price": 24.0, "limit_up": 40.0, "limit_down": 25.0}
    assert cycle.counters.refusal_count == 0  # decision refusals are counted apart; the gate's by rule
    assert cycle.safeguards.summary()["pre_trade_refusals"] == {"price_limit": 1}


def test_a_hedge_on_a_contract_locked_at_its_limit_goes_to_the_next_month(config):
    later_month = "IF2503.CFFEX"
    cycle, gateway, published = make_cycle(config, hedging=True, extra_symbols=[later_month])
    minute(cycle, START, extra_prints={later_month: BarPrint(3890.0, 50.0, 20_000.0)})
    gateway.fill(gateway.last_id(), price=35.0)
    # Short puts want futures sold; IF2502 is locked at limit-down: nobody buys.
    cycle.on_quote(TopOfBook(FUTURE, None, 3510.0, 3510.0, 4290.0, 3510.0), START + timedelta(minutes=1))
    minute(cycle, START + timedelta(minutes=1), extra_prints={later_month: BarPrint(3890.0, 50.0, 20_000.0)})
    hedges = [i for i in gateway.sent if i.purpose is OrderPurpose.HEDGE]
    assert len(hedges) == 1 and hedges[0].vt_symbol == later_month and hedges[0].direction is Direction.SHORT
    (moved,) = [e for e in published if isinstance(e, HedgeRedirectedEvent)]
    assert (moved.from_vt_symbol, moved.to_vt_symbol) == (FUTURE, later_month)


def test_a_locked_hedge_waits_when_so_configured(config):
    waiting = dataclasses.replace(config, pre_trade=dataclasses.replace(config.pre_trade, locked_hedge="wait"))
    cycle, gateway, published = make_cycle(waiting, hedging=True)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=35.0)
    cycle.on_quote(TopOfBook(FUTURE, None, 3510.0, 3510.0, 4290.0, 3510.0), START + timedelta(minutes=1))
    minute(cycle, START + timedelta(minutes=1))
    assert [i for i in gateway.sent if i.purpose is OrderPurpose.HEDGE] == []
    assert refusals(published, "locked_limit")


def test_stale_quotes_switch_to_reduce_only_and_back(config):
    per_contract = dataclasses.replace(wide(config), pre_trade=dataclasses.replace(
        config.pre_trade, stale_quote_scope="contract"))
    cycle, gateway, published = make_cycle(per_contract, signals=Repeating())
    open_one(cycle, gateway)
    silent = {strike: price for strike, price in PUT_PRICES.items() if strike != 3700}
    sent_before = len(gateway.sent)
    for n in range(1, 5):  # four minutes without a print of the option held: 180 s is the default
        minute(cycle, START + timedelta(minutes=n), put_prices=silent)
    changes = [e for e in published if isinstance(e, ReduceOnlyChangedEvent)]
    assert changes and changes[0].active and changes[0].reason.startswith(f"stale:{OPENED}")
    assert refusals(published, "reduce_only"), "the repeating signal's openings are refused meanwhile"
    assert cycle.monitor_view(START)["safeguards"]["reduce_only"] == [f"stale:{OPENED}"]
    minute(cycle, START + timedelta(minutes=5))  # the option prints again
    last = [e for e in published if isinstance(e, ReduceOnlyChangedEvent)][-1]
    assert not last.active and "quotes again" in last.reason
    assert len(gateway.sent) > sent_before  # openings again


def test_by_default_an_option_is_stale_only_when_its_future_is_silent_too(config):
    cycle, gateway, published = make_cycle(wide(config), signals=Repeating())
    open_one(cycle, gateway)
    silent = {strike: price for strike, price in PUT_PRICES.items() if strike != 3700}
    for n in range(1, 5):  # the option is quiet, its future prints: illiquid, not stale
        minute(cycle, START + timedelta(minutes=n), put_prices=silent)
    assert not [e for e in published if isinstance(e, ReduceOnlyChangedEvent)]
    cycle.on_time(START + timedelta(minutes=9))  # then nothing at all for four minutes: the feed is down
    (entered,) = [e for e in published if isinstance(e, ReduceOnlyChangedEvent)]
    assert entered.active and entered.reason.startswith(f"stale:{OPENED}")
    minute(cycle, START + timedelta(minutes=9))
    assert not [e for e in published if isinstance(e, ReduceOnlyChangedEvent)][-1].active


def test_a_gateway_disconnect_is_reduce_only_until_it_is_back(config):
    cycle, gateway, published = make_cycle(config)
    cycle.safeguards.gateway_status("CTP", False, START, "market data front down")
    minute(cycle, START)
    assert gateway.sent == [] and refusals(published, "reduce_only")
    cycle.safeguards.gateway_status("CTP", True, START + timedelta(minutes=1))
    cycle.services.signal_service = ScriptedSignals()
    minute(cycle, START + timedelta(minutes=1))
    assert len(gateway.sent) == 1


def test_the_kill_switch_flattens_the_book_and_holds_until_resume(config):
    cycle, gateway, published = make_cycle(wide(config), signals=Repeating())
    open_one(cycle, gateway)
    now = START + timedelta(minutes=1)
    cycle.safeguards.apply_control(ControlRequest(7, ControlCommand.FLATTEN, now), now)
    cycle.on_time(now)
    close = gateway.sent[-1]
    assert (close.vt_symbol, close.direction, close.offset, close.reason) == (
        OPENED, Direction.LONG, Offset.CLOSE, "close KILL_SWITCH")
    gateway.fill(gateway.last_id(), price=24.0)
    assert cycle.positions.positions() == []
    sent = len(gateway.sent)
    minute(cycle, now)  # the repeating signal: refused by the kill switch
    assert len(gateway.sent) == sent and refusals(published, "kill_switch")
    assert not cycle.safeguards.apply_control(ControlRequest(7, ControlCommand.FLATTEN, now), now)  # once per id
    cycle.safeguards.apply_control(ControlRequest(8, ControlCommand.RESUME, now), now)
    minute(cycle, now + timedelta(minutes=1))
    assert len(gateway.sent) == sent + 1
    commands = [e.command for e in published if isinstance(e, KillSwitchEvent)]
    assert commands == ["flatten", "resume"]


def test_the_cancel_budget_warning_stops_openings_with_one_event(config):
    tiny = BudgetConfig(max_orders_per_day=1000, max_cancels_per_day=3, max_open_lots_per_day=200,
                        max_position_lots=5000)
    small = dataclasses.replace(wide(config), pre_trade=dataclasses.replace(config.pre_trade, options=tiny))
    cycle, gateway, published = make_cycle(small, signals=Repeating())
    now = START
    for _ in range(8):  # every order times out unfilled and is cancelled, then re-sent
        minute(cycle, now)
        now += timedelta(seconds=config.order_execution.timeout_seconds + 1)
        gateway.now = now
        cycle.on_time(now)
        now += timedelta(minutes=1)
    warnings = [e for e in published if isinstance(e, OrderBudgetWarningEvent)]
    assert [(w.kind, w.level) for w in warnings][:1] == [("cancels", "warning")]
    assert refusals(published, "cancel_budget_warning")
    counts = cycle.safeguards.gate.counts("IO")
    assert counts["cancels"] >= 2  # warning at int(3 * 0.8) = 2
    assert len(gateway.cancel_requests) == counts["cancels"]


def test_the_safeguards_state_survives_a_restart(config):
    from src.strategy.application import cycle_state

    cycle, gateway, _ = make_cycle(config)
    open_one(cycle, gateway)
    cycle.safeguards.apply_control(ControlRequest(3, ControlCommand.STOP, START), START)
    saved = cycle_state.capture(cycle)
    restored, _gateway, _ = make_cycle(config)
    cycle_state.restore(restored, saved, START)
    assert restored.safeguards.mode.reasons == ("kill_switch:stop",)
    assert restored.safeguards.gate.counts("IO")["orders"] == 1
    assert restored.safeguards.control_request_id == 3

