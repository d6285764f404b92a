"""PreTradeGate: each rule refuses with its name and figures; properties over random order flows."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.pre_trade_gate import GateContext, OrderRequest, PreTradeGate
from src.strategy.domain.domain_service.reduce_only import QuoteWatch, ReduceOnlyMode
from src.strategy.domain.event.safeguard_events import (
    OrderBudgetWarningEvent,
    PreTradeRefusedEvent,
    ReduceOnlyChangedEvent,
)
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderPurpose
from src.strategy.domain.value_object.pre_trade_limits import PreTradeLimits, ProductLimits

CST = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 12, 10, 0, tzinfo=CST)
OPTION = "IO2602-P-4300.CFFEX"


def limits(**changes) -> PreTradeLimits:
    values = dict(option_limits=ProductLimits(10, 5, 20, 50), future_limits=ProductLimits(10, 4, 30, 60),
                  warning_share=0.8)
    values.update(changes)
    return PreTradeLimits(**values)


def request(direction=Direction.SHORT, offset=Offset.OPEN, price=50.0, volume=1, purpose=OrderPurpose.SIGNAL,
            vt_symbol=OPTION, product="IO", is_option=True) -> OrderRequest:
    return OrderRequest(vt_symbol, product, is_option, direction, offset, volume, price, purpose)


def refusal(gate: PreTradeGate) -> PreTradeRefusedEvent:
    (event,) = [e for e in gate.pop_events() if isinstance(e, PreTradeRefusedEvent)]
    return event


def test_the_warning_level_stops_openings_with_an_event_and_closes_and_hedges_still_pass():
    gate = PreTradeGate(limits())
    for n in range(4):  # cancels: warning at int(5 * 0.8) = 4
        gate.record_order_sent(f"o{n}", request(), T0)
        gate.record_cancel_sent(f"o{n}", T0)
        gate.record_order_final(f"o{n}")
    warnings = [e for e in gate.pop_events() if isinstance(e, OrderBudgetWarningEvent)]
    assert [(w.kind, w.level, w.count, w.warning_at, w.budget) for w in warnings] == [("cancels", "warning", 4, 4, 5)]
    decision = gate.check(request(), GateContext(), T0)
    assert not decision.approved and decision.rule == "cancel_budget_warning"
    event = refusal(gate)
    assert event.rule == "cancel_budget_warning" and dict(event.figures) == {"count": 4, "warning_at": 4, "budget": 5}
    assert gate.check(request(direction=Direction.LONG, offset=Offset.CLOSE), GateContext(), T0).approved
    assert gate.check(request(purpose=OrderPurpose.HEDGE, direction=Direction.LONG), GateContext(), T0).approved
    assert gate.budget_level("IO", True) == "warning"


def test_at_the_budget_only_closing_orders_pass_and_a_new_day_starts_afresh():
    gate = PreTradeGate(limits())
    for n in range(5):
        gate.record_order_sent(f"o{n}", request(), T0)
        gate.record_cancel_sent(f"o{n}", T0)
        gate.record_order_final(f"o{n}")
    levels = [e.level for e in gate.pop_events() if isinstance(e, OrderBudgetWarningEvent)]
    assert levels == ["warning", "stop"]
    hedge = gate.check(request(purpose=OrderPurpose.HEDGE, direction=Direction.LONG), GateContext(), T0)
    assert hedge.rule == "cancel_budget"
    assert gate.check(request(direction=Direction.LONG, offset=Offset.CLOSE), GateContext(), T0).approved
    assert gate.budget_level("IO", True) == "stop"
    tomorrow = T0 + timedelta(days=1)
    assert gate.check(request(), GateContext(), tomorrow).approved
    assert gate.counts("IO") == {"orders": 0, "cancels": 0, "opened_lots": 0}


def test_an_order_that_could_cross_our_own_working_order_is_refused():
    gate = PreTradeGate(limits())
    gate.record_order_sent("buy-close", request(direction=Direction.LONG, offset=Offset.CLOSE, price=52.0), T0)
    crossing = gate.check(request(direction=Direction.SHORT, price=51.8), GateContext(), T0)
    assert crossing.rule == "self_trade"
    assert dict(refusal(gate).figures) == {"price": 51.8, "working_price": 52.0, "working_order": "buy-close"}
    assert gate.check(request(direction=Direction.SHORT, price=52.2), GateContext(), T0).approved
    gate.record_order_final("buy-close")
    assert gate.check(request(direction=Direction.SHORT, price=51.8), GateContext(), T0).approved


def test_prices_outside_the_days_limits_are_refused_and_a_locked_hedge_waits():
    gate = PreTradeGate(limits())
    context = GateContext(limit_up=60.0, limit_down=40.0)
    assert gate.check(request(direction=Direction.LONG, price=60.2), context, T0).rule == "price_limit"
    assert gate.check(request(direction=Direction.SHORT, price=39.8), context, T0).rule == "price_limit"
    assert gate.check(request(direction=Direction.LONG, price=60.0), context, T0).approved
    hedge = request(vt_symbol="IF2602.CFFEX", product="IF", is_option=False, direction=Direction.LONG,
                    purpose=OrderPurpose.HEDGE, price=4000.0)
    decision = gate.check(hedge, GateContext(limit_up=4000.0, locked=True), T0)
    assert decision.rule == "locked_limit"


def test_opening_volume_position_limit_margin_and_daily_loss():
    gate = PreTradeGate(limits(max_daily_loss=1000.0))
    gate.record_fill("x", "IO", Offset.OPEN, 18, T0)
    assert gate.check(request(volume=2), GateContext(), T0).approved
    assert gate.check(request(volume=2), GateContext(working_open_lots=1), T0).rule == "opening_volume"
    assert gate.check(request(volume=1), GateContext(held_lots=49, working_open_lots=1), T0).rule == "position_limit"
    assert gate.check(request(), GateContext(available=-5.0), T0).rule == "margin"
    assert gate.check(request(), GateContext(day_pnl=-1000.0), T0).rule == "daily_loss"
    hedge = request(purpose=OrderPurpose.HEDGE, direction=Direction.LONG)
    assert gate.check(hedge, GateContext(day_pnl=-1000.0, available=-5.0), T0).approved
    assert gate.refusals == {"opening_volume": 1, "position_limit": 1, "margin": 1, "daily_loss": 1}


def test_reduce_only_and_the_kill_switch():
    gate = PreTradeGate(limits())
    reduce_only = GateContext(reduce_only=("stale:IO2602-P-4300.CFFEX",))
    assert gate.check(request(), reduce_only, T0).rule == "reduce_only"
    assert gate.check(request(purpose=OrderPurpose.HEDGE), reduce_only, T0).approved
    assert gate.check(request(offset=Offset.CLOSE, direction=Direction.LONG), reduce_only, T0).approved
    flatten = GateContext(flattening=True)
    assert gate.check(request(purpose=OrderPurpose.HEDGE), flatten, T0).rule == "kill_switch"
    assert gate.check(request(offset=Offset.CLOSE, direction=Direction.LONG), flatten, T0).approved


def test_attempts_skip_the_quantity_rules_and_a_disabled_gate_approves_everything():
    gate = PreTradeGate(limits())
    gate.record_fill("x", "IO", Offset.OPEN, 20, T0)
    assert gate.check(request(), GateContext(), T0).rule == "opening_volume"
    assert gate.check(request(), GateContext(), T0, level="attempt").approved
    assert PreTradeGate(limits(enabled=False)).check(request(), GateContext(flattening=True), T0).approved


def test_the_state_round_trips():
    gate = PreTradeGate(limits())
    gate.record_order_sent("a", request(direction=Direction.LONG, price=52.0), T0)
    gate.record_cancel_sent("a", T0)
    gate.check(request(price=51.0), GateContext(), T0)
    restored = PreTradeGate(limits())
    restored.restore(gate.to_dict())
    assert restored.to_dict() == gate.to_dict()
    assert restored.check(request(price=51.0), GateContext(), T0).rule == "self_trade"


def test_reduce_only_mode_says_why_it_enters_and_leaves():
    mode = ReduceOnlyMode()
    assert mode.enter("stale:X", T0, "no quote for 200 s") and not mode.enter("stale:X", T0)
    mode.enter("gateway:CTP", T0)
    mode.leave("stale:X", T0, "quotes again")
    mode.leave("gateway:CTP", T0)
    events = mode.pop_events()
    assert all(isinstance(e, ReduceOnlyChangedEvent) for e in events)
    assert [(e.active, e.reason) for e in events] == [
        (True, "stale:X (no quote for 200 s)"), (True, "gateway:CTP"), (True, "stale:X (quotes again)"),
        (False, "gateway:CTP")]


def test_a_quote_watch_measures_silence_in_trading_time_only():
    watch = QuoteWatch(120)
    seconds = lambda _s, a, b: (b - a).total_seconds()  # noqa: E731
    watch.seen("A", T0)
    assert watch.stale(["A"], T0 + timedelta(seconds=119), seconds, lambda s, t: True) == {}
    assert watch.stale(["A"], T0 + timedelta(seconds=121), seconds, lambda s, t: True) == {"A": 121.0}
    assert watch.stale(["A"], T0 + timedelta(seconds=500), seconds, lambda s, t: False) == {}
    assert watch.stale(["B"], T0, seconds, lambda s, t: True) == {}  # first listed: the watch starts now
    with pytest.raises(ValueError):
        QuoteWatch(0)


# ---------------------------------------------------------------- properties

flows = st.lists(st.tuples(st.sampled_from(["send", "cancel", "fill", "final"]), st.integers(0, 5)), max_size=60)
kinds = st.sampled_from([(Offset.OPEN, OrderPurpose.SIGNAL), (Offset.OPEN, OrderPurpose.HEDGE),
                         (Offset.CLOSE, OrderPurpose.SIGNAL), (Offset.CLOSE, OrderPurpose.CORRECTION)])


@settings(max_examples=200, deadline=None)
@given(flow=flows, kind=kinds, direction=st.sampled_from(list(Direction)), price=st.floats(30.0, 70.0))
def test_no_opening_past_the_warning_level_and_closes_are_never_refused_by_a_budget(flow, kind, direction, price):
    gate = PreTradeGate(limits())
    for action, n in flow:
        oid = f"o{n}"
        if action == "send":
            gate.record_order_sent(oid, request(direction=Direction.LONG, price=price), T0)
        elif action == "cancel":
            gate.record_cancel_sent(oid, T0)
        elif action == "fill":
            gate.record_fill(oid, "IO", Offset.OPEN, 1, T0)
        else:
            gate.record_order_final(oid)
    offset, purpose = kind
    decision = gate.check(request(direction=direction, offset=offset, purpose=purpose, price=price), GateContext(),
                          T0)
    counts = gate.counts("IO")
    past_warning = counts["orders"] >= 8 or counts["cancels"] >= 4
    past_budget = counts["orders"] >= 10 or counts["cancels"] >= 5
    if offset is Offset.OPEN and purpose is OrderPurpose.SIGNAL and past_warning:
        assert not decision.approved
    if offset is Offset.OPEN and past_budget:
        assert not decision.approved
    if not decision.approved and offset is Offset.CLOSE:
        assert decision.rule == "self_trade"  # the only rule that can refuse a close here
    assert sum(1 for e in gate.pop_events() if isinstance(e, PreTradeRefusedEvent)) == (0 if decision.approved else 1)


@settings(max_examples=300, deadline=None)
@given(working=st.lists(st.tuples(st.sampled_from(list(Direction)), st.floats(1.0, 100.0)), max_size=6),
       direction=st.sampled_from(list(Direction)), price=st.floats(1.0, 100.0))
def test_an_approved_order_never_crosses_a_working_order_of_ours(working, direction, price):
    gate = PreTradeGate(limits(option_limits=ProductLimits(10_000, 10_000, 10_000, 10_000)))
    for n, (side, level) in enumerate(working):
        gate.record_order_sent(f"w{n}", request(direction=side, offset=Offset.CLOSE, price=level), T0)
    decision = gate.check(request(direction=direction, offset=Offset.CLOSE, price=price), GateContext(), T0)
    crosses = any(side is not direction and (price >= level if direction is Direction.LONG else price <= level)
                  for side, level in working)
    assert decision.approved == (not crosses)
    assert decision.approved or decision.rule == "self_trade"
