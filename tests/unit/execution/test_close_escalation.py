"""A close that does not fill escalates: the far touch, then marketable limits N ticks through it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.domain_service.smart_order_executor import ExecutionStatus, SmartOrderExecutor
from src.strategy.domain.event.order_events import CloseEscalatedEvent, OrderTimeoutEvent
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction, OrderPurpose

from .fakes import FUTURE, FakeTradeGateway, at

TICK = 0.2


def make(escalation: int = 5, retries: int = 3, slippage: int = 2) -> tuple[SmartOrderExecutor, FakeTradeGateway]:
    gateway = FakeTradeGateway()
    executor = SmartOrderExecutor(gateway, ExecutionSettings(30, retries, slippage, escalation))
    executor.register_contract(ContractParams(FUTURE, multiplier=300, pricetick=TICK, margin_ratio=0.12))
    gateway.listener = executor
    return executor, gateway


def close(direction: Direction = Direction.LONG, purpose: OrderPurpose = OrderPurpose.SIGNAL,
          offset: Offset = Offset.CLOSE, volume: int = 2) -> OrderInstruction:
    return OrderInstruction(FUTURE, direction, offset, volume, 4000.0, "close STOP_LOSS", purpose=purpose)


def time_out(executor, gateway, times: int, start=None):
    """Lets the working order time out ``times`` times (the fake confirms cancels at once)."""
    now = start or at()
    for _ in range(times):
        now += timedelta(seconds=31)
        gateway.now = now
        executor.on_time(now)
    return now


def escalations(executor) -> list[CloseEscalatedEvent]:
    return [e for e in executor.pop_events() if isinstance(e, CloseEscalatedEvent)]


def test_a_buy_to_close_goes_to_the_far_touch_then_n_ticks_more_per_resend():
    executor, gateway = make(escalation=5)
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2, last=4000.0)
    executor.submit(close(), at())
    time_out(executor, gateway, 3)
    prices = [order.price for order in gateway.sent]
    # first: ask + 2; resend 1 at the far touch (ask + 3, the ordinary retry); then + 5 more ticks a resend
    assert prices == pytest.approx([4000.6, 4000.8, 4002.0, 4003.2])
    events = escalations(executor)
    assert [(e.step, e.stage) for e in events] == [(1, "far touch"), (2, "marketable limit"),
                                                  (3, "marketable limit")]
    assert [e.price for e in events] == pytest.approx(prices[1:])
    assert [e.ticks for e in events] == [3, 9, 15]
    assert all(e.reference == pytest.approx(4000.2) and e.reference_source == "far touch" for e in events)
    assert all(e.volume == 2 and e.direction is Direction.LONG for e in events)


def test_a_sell_to_close_escalates_downwards_and_stops_at_the_limit_down():
    executor, gateway = make(escalation=10)
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2, last=4000.0, limit_down=3997.0)
    executor.submit(close(direction=Direction.SHORT), at())
    time_out(executor, gateway, 3)
    prices = [order.price for order in gateway.sent]
    assert prices == pytest.approx([3999.4, 3999.2, 3997.0, 3997.0])
    events = escalations(executor)
    assert "price limit 3997" in events[-1].detail


def test_without_a_touch_the_last_price_is_the_reference():
    executor, gateway = make(escalation=5)
    executor.update_price(FUTURE, last=4000.0)
    executor.submit(close(), at())
    time_out(executor, gateway, 2)
    events = escalations(executor)
    assert [e.reference_source for e in events] == ["last price", "last price"]
    assert gateway.sent[-1].price == pytest.approx(4000.0 + 9 * TICK)


@pytest.mark.parametrize("purpose", [OrderPurpose.SIGNAL, OrderPurpose.CORRECTION, OrderPurpose.HEDGE])
def test_every_close_escalates_whatever_its_purpose(purpose):
    executor, gateway = make()
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    executor.submit(close(purpose=purpose), at())
    time_out(executor, gateway, 2)
    assert len(escalations(executor)) == 2


def test_openings_retry_one_tick_at_a_time_and_raise_no_escalation():
    executor, gateway = make()
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    executor.submit(close(offset=Offset.OPEN), at())
    time_out(executor, gateway, 3)
    assert [order.price for order in gateway.sent] == pytest.approx([4000.6, 4000.8, 4001.0, 4001.2])
    assert escalations(executor) == []


def test_zero_ticks_turns_escalation_off():
    executor, gateway = make(escalation=0)
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    executor.submit(close(), at())
    time_out(executor, gateway, 3)
    assert [order.price for order in gateway.sent] == pytest.approx([4000.6, 4000.8, 4001.0, 4001.2])
    assert escalations(executor) == []


def test_a_partial_fill_escalates_the_remainder_only_and_a_fill_ends_the_ladder():
    executor, gateway = make(retries=5)
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    execution_id = executor.submit(close(volume=3), at())
    gateway.fill(gateway.last_id(), volume=1)
    now = time_out(executor, gateway, 1)
    gateway.fill(gateway.last_id())
    time_out(executor, gateway, 2, start=now)
    events = escalations(executor)
    assert [(e.step, e.volume) for e in events] == [(1, 2)]
    assert executor.execution(execution_id).status is ExecutionStatus.COMPLETED


def test_escalation_survives_a_restart_of_the_executor():
    executor, gateway = make()
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    executor.submit(close(), at())
    now = time_out(executor, gateway, 1)
    executor.pop_events()
    restored = SmartOrderExecutor.from_dict(executor.to_dict(), gateway, executor.settings)
    gateway.listener = restored
    restored.update_price(FUTURE, bid=3999.8, ask=4000.2)
    time_out(restored, gateway, 1, start=now)
    (event,) = escalations(restored)
    assert event.step == 2 and gateway.sent[-1].price == pytest.approx(4002.0)


@given(steps=st.integers(1, 6), n=st.integers(1, 20), slippage=st.integers(0, 5), buy=st.booleans())
def test_each_resend_of_a_close_is_more_aggressive_than_the_last(steps, n, slippage, buy):
    executor, gateway = make(escalation=n, retries=steps, slippage=slippage)
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    executor.submit(close(direction=Direction.LONG if buy else Direction.SHORT), at())
    time_out(executor, gateway, steps)
    sign = 1 if buy else -1
    prices = [sign * order.price for order in gateway.sent]
    assert len(prices) == steps + 1
    assert all(later > earlier for earlier, later in zip(prices, prices[1:]))
    events = [e for e in executor.pop_events() if isinstance(e, (CloseEscalatedEvent, OrderTimeoutEvent))]
    assert sum(isinstance(e, CloseEscalatedEvent) for e in events) == steps


def test_a_remainder_resized_by_a_late_fill_keeps_the_escalated_price_without_a_new_step():
    gateway = FakeTradeGateway(cancel_mode="async")
    executor = SmartOrderExecutor(gateway, ExecutionSettings(30, 5, 2, 5))
    executor.register_contract(ContractParams(FUTURE, multiplier=300, pricetick=TICK, margin_ratio=0.12))
    gateway.listener = executor
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
    executor.submit(close(volume=3), at())
    first = gateway.last_id()
    now = at()
    for _ in range(2):  # two timeouts: resend 1 (far touch), resend 2 (marketable limit)
        now = time_out(executor, gateway, 1, start=now)
        gateway.confirm_cancels()
        now = time_out(executor, gateway, 1, start=now)
    assert gateway.sent[-1].price == pytest.approx(4000.2 + 9 * TICK)
    gateway.late_fill(first, 1)  # the first attempt's cancel had raced a fill
    executor.on_time(now)
    gateway.confirm_cancels()
    executor.on_time(now)
    assert (gateway.sent[-1].volume, gateway.sent[-1].price) == (2, pytest.approx(4000.2 + 9 * TICK))
    assert [e.step for e in escalations(executor)] == [1, 2]
