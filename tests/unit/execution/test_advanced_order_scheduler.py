import json
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.advanced_order_scheduler import (
    AdvancedOrderScheduler,
    AdvancedOrderStatus,
    twap_schedule,
)
from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.domain_service.trading_clock import TradingClock, TradingClocks
from src.strategy.domain.event.order_events import AdvancedOrderFinishedEvent, OrderOverfilledEvent
from src.strategy.domain.value_object.advanced_order import AdvancedOrder, AdvancedOrderKind, AdvancedOrderSettings
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.trading_session import CFFEX_INDEX

from .fakes import CST, FUTURE, FakeTradeGateway, at

IF_CLOCK = TradingClock(CFFEX_INDEX)


def instruction(volume: int = 10, direction: Direction = Direction.LONG) -> OrderInstruction:
    return OrderInstruction(FUTURE, direction, Offset.OPEN, volume, 4000.0, "rebalance")


def make(cancel_mode: str = "sync", timeout: float = 30, retries: int = 3, batch: int = 5, slices: int = 10,
         window: float = 300) -> tuple[AdvancedOrderScheduler, SmartOrderExecutor, FakeTradeGateway]:
    gateway = FakeTradeGateway(cancel_mode=cancel_mode)
    executor = SmartOrderExecutor(gateway, ExecutionSettings(timeout, retries, 1), TradingClocks())
    executor.register_contract(ContractParams(FUTURE, multiplier=300, pricetick=0.2, margin_ratio=0.12))
    gateway.listener = executor
    scheduler = AdvancedOrderScheduler(executor, AdvancedOrderSettings(batch, slices, window), TradingClocks())
    return scheduler, executor, gateway


def pump(scheduler, executor, gateway, now):
    gateway.now = now
    scheduler.on_time(now)
    executor.on_time(now)


def finished_events(scheduler):
    return [e for e in scheduler.pop_events() if isinstance(e, AdvancedOrderFinishedEvent)]


class TestAdvancedOrderValue:
    def test_kinds_need_their_own_parameters(self):
        order = AdvancedOrder.iceberg("a", instruction(), 3, at())
        assert order.kind is AdvancedOrderKind.ICEBERG and order.volume == 10
        with pytest.raises(ValueError, match="needs a batch_size"):
            AdvancedOrder("a", AdvancedOrderKind.ICEBERG, instruction(), at())
        with pytest.raises(ValueError, match="belong to TWAP"):
            AdvancedOrder("a", AdvancedOrderKind.ICEBERG, instruction(), at(), batch_size=2, slices=3)
        with pytest.raises(ValueError, match="needs slices"):
            AdvancedOrder("a", AdvancedOrderKind.TWAP, instruction(), at(), slices=3)
        with pytest.raises(ValueError, match="window_seconds must be > 0"):
            AdvancedOrder.twap("a", instruction(), 3, 0, at())
        with pytest.raises(ValueError, match="batch_size must be >= 1"):
            AdvancedOrder.iceberg("a", instruction(), 0, at())
        with pytest.raises(ValueError, match="timezone-aware"):
            AdvancedOrder.iceberg("a", instruction(), 2, datetime(2024, 12, 23, 10))

    def test_round_trip_and_settings(self):
        order = AdvancedOrder.twap("t", instruction(), 4, 120.0, at())
        assert AdvancedOrder.from_dict(json.loads(json.dumps(order.to_dict()))) == order
        with pytest.raises(ValueError, match="default_twap_slices"):
            AdvancedOrderSettings(5, 0, 300)


class TestTwapSchedule:
    def test_a_window_across_lunch_resumes_at_13_00(self):
        order = AdvancedOrder.twap("t", instruction(volume=7), 5, 300, at(11, 28))
        slices = twap_schedule(order, IF_CLOCK)
        assert [s.due_at for s in slices] == [at(11, 28), at(11, 29), at(13, 0), at(13, 1), at(13, 2)]
        assert [s.volume for s in slices] == [1, 1, 2, 1, 2]
        assert [s.cumulative for s in slices] == [1, 2, 4, 5, 7]

    def test_created_in_a_break_starts_at_the_next_session(self):
        slices = twap_schedule(AdvancedOrder.twap("t", instruction(), 2, 60, at(12, 15)), IF_CLOCK)
        assert [s.due_at for s in slices] == [at(13, 0), at(13, 0, 30)]

    @settings(max_examples=200, deadline=None)
    @given(created=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31)),
           volume=st.integers(1, 500), count=st.integers(1, 60), window=st.floats(1, 4 * 14400))
    def test_slices_sum_to_the_volume_and_none_falls_in_a_break(self, created, volume, count, window):
        order = AdvancedOrder.twap("t", instruction(volume=volume), count, window, created.replace(tzinfo=CST))
        slices = twap_schedule(order, IF_CLOCK)
        assert len(slices) == count
        assert sum(s.volume for s in slices) == volume == slices[-1].cumulative
        assert all(s.volume >= 0 for s in slices)
        for item in slices:
            assert CFFEX_INDEX.is_trading_minute(item.due_at), item.due_at
            local = item.due_at.time()
            assert "09:30" <= local.strftime("%H:%M") < "11:30" or "13:00" <= local.strftime("%H:%M") < "15:00"
        assert [s.due_at for s in slices] == sorted(s.due_at for s in slices)
        assert slices[0].due_at >= order.created_at
        spread = IF_CLOCK.trading_seconds_between(slices[0].due_at, slices[-1].due_at)
        assert spread == pytest.approx(window * (count - 1) / count, abs=1e-4)


class TestTwapExecution:
    def test_unfilled_part_of_a_slice_is_carried_into_the_next(self):
        scheduler, executor, gateway = make(slices=5, window=300, timeout=120)
        order_id = scheduler.submit_twap(instruction(volume=10), at(10))
        assert [i.volume for i in gateway.sent] == [2]
        gateway.fill(gateway.last_id(), 1)
        pump(scheduler, executor, gateway, at(10, 0, 59))
        assert len(gateway.sent) == 1
        pump(scheduler, executor, gateway, at(10, 1))     # slice 2 due: 4 done by now, 1 filled
        assert gateway.cancel_requests == ["FAKE.1"]
        assert gateway.sent[-1].volume == 3 and "TWAP slice 2/5" in gateway.sent[-1].reason
        gateway.fill(gateway.last_id())
        for minute in (2, 3, 4):
            pump(scheduler, executor, gateway, at(10, minute))
            gateway.fill(gateway.last_id())
        pump(scheduler, executor, gateway, at(10, 4, 1))
        assert [i.volume for i in gateway.sent] == [2, 3, 2, 2, 2]
        view = scheduler.order(order_id)
        assert view.status is AdvancedOrderStatus.COMPLETED and view.filled == 10 == gateway.total_traded()
        assert [e.status for e in finished_events(scheduler)] == ["COMPLETED"]

    def test_no_child_goes_out_in_the_lunch_break(self):
        scheduler, executor, gateway = make(slices=3, window=180, retries=0)
        scheduler.submit_twap(instruction(volume=3), at(11, 28, 30))  # slices 11:28:30, 11:29:30, 13:00:30
        gateway.fill(gateway.last_id())
        pump(scheduler, executor, gateway, at(11, 29, 50))
        assert len(gateway.sent) == 2
        gateway.cancel_elsewhere(gateway.last_id())       # closed unfilled at the break; not retried
        for moment in (at(11, 30, 5), at(12, 0), at(13, 0, 10)):
            pump(scheduler, executor, gateway, moment)
            assert len(gateway.sent) == 2, moment
        pump(scheduler, executor, gateway, at(13, 0, 30))
        assert [i.volume for i in gateway.sent] == [1, 1, 2]
        assert all(IF_CLOCK.is_trading(moment) for moment in [at(11, 28, 30), at(11, 29, 50), at(13, 0, 30)])

    def test_a_short_last_slice_makes_the_twap_incomplete(self):
        scheduler, executor, gateway = make(slices=2, window=60, retries=0)
        order_id = scheduler.submit_twap(instruction(volume=4), at(10))
        gateway.fill(gateway.last_id())
        pump(scheduler, executor, gateway, at(10, 0, 30))
        gateway.fill(gateway.last_id(), 1)
        pump(scheduler, executor, gateway, at(10, 1, 0))    # the executor times out, gives up
        pump(scheduler, executor, gateway, at(10, 1, 1))
        view = scheduler.order(order_id)
        assert view.status is AdvancedOrderStatus.INCOMPLETE and view.filled == 3
        events = finished_events(scheduler)
        assert len(events) == 1 and "1 lots unfilled" in events[0].reason

    def test_a_late_fill_on_an_earlier_child_shrinks_the_next(self):
        scheduler, executor, gateway = make(cancel_mode="async", slices=2, window=60)
        order_id = scheduler.submit_twap(instruction(volume=4), at(10))
        first = gateway.last_id()
        pump(scheduler, executor, gateway, at(10, 0, 30))   # slice 2 due: child 1 cancelled ...
        gateway.confirm_cancels()                           # ... reported with nothing traded
        pump(scheduler, executor, gateway, at(10, 0, 31))
        assert gateway.sent[-1].volume == 4
        gateway.late_fill(first, 2)                         # but 2 had traded
        pump(scheduler, executor, gateway, at(10, 0, 32))   # the working 4 is too many now
        gateway.confirm_cancels()
        pump(scheduler, executor, gateway, at(10, 0, 33))
        assert gateway.sent[-1].volume == 2
        gateway.fill(gateway.last_id())
        pump(scheduler, executor, gateway, at(10, 0, 34))
        view = scheduler.order(order_id)
        assert view.status is AdvancedOrderStatus.COMPLETED and view.filled == 4 == gateway.total_traded()
        assert not [e for e in scheduler.pop_events() if isinstance(e, OrderOverfilledEvent)]


    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(start_minute=st.integers(0, 24 * 60 - 1), volume=st.integers(1, 30), count=st.integers(1, 12),
           window=st.integers(10, 3 * 3600), steps=st.lists(st.tuples(st.integers(1, 900), st.integers(0, 3)),
                                                           max_size=40))
    def test_children_only_in_sessions_and_never_more_than_missing(self, start_minute, volume, count, window,
                                                                   steps):
        scheduler, executor, gateway = make(slices=count, window=window, retries=1)
        now = at(0) + timedelta(minutes=start_minute)
        gateway.now = now
        order_id = scheduler.submit_twap(instruction(volume=volume), now)
        for seconds, fill in steps:
            active = sorted(gateway.active_ids())
            if fill and active:
                order = gateway.orders[active[0]]
                gateway.fill(order.vt_orderid, min(fill, order.open_volume))
            now += timedelta(seconds=seconds)
            pump(scheduler, executor, gateway, now)
            assert gateway.total_traded() + gateway.active_open_volume() <= volume
            assert len(gateway.active_ids()) <= 1
        assert all(IF_CLOCK.is_trading(moment) for moment in gateway.sent_times)
        view = scheduler.order(order_id)
        assert view.filled == gateway.total_traded()
        if view.status is AdvancedOrderStatus.COMPLETED:
            assert view.filled == volume


class TestIceberg:
    def test_batches_refill_after_each_fill(self):
        scheduler, executor, gateway = make(batch=3)
        order_id = scheduler.submit_iceberg(instruction(volume=8), at(10))
        for expected in (3, 3, 2):
            assert gateway.sent[-1].volume == expected and gateway.active_open_volume() == expected
            gateway.fill(gateway.last_id())
            pump(scheduler, executor, gateway, at(10, 0, 1))
        view = scheduler.order(order_id)
        assert view.status is AdvancedOrderStatus.COMPLETED and view.filled == 8
        assert len(view.child_execution_ids) == 3 and view.working_child is None

    def test_a_batch_given_up_ends_the_iceberg(self):
        scheduler, executor, gateway = make(batch=2, retries=0)
        order_id = scheduler.submit_iceberg(instruction(volume=6), at(10))
        gateway.fill(gateway.last_id())
        pump(scheduler, executor, gateway, at(10, 0, 1))
        pump(scheduler, executor, gateway, at(10, 1))
        pump(scheduler, executor, gateway, at(10, 1, 1))
        view = scheduler.order(order_id)
        assert view.status is AdvancedOrderStatus.INCOMPLETE and view.filled == 2
        assert "EXHAUSTED" in finished_events(scheduler)[0].reason
        assert gateway.active_ids() == set()

    def test_cancel_stops_the_working_batch(self):
        scheduler, executor, gateway = make(cancel_mode="async", batch=2)
        order_id = scheduler.submit_iceberg(instruction(volume=6), at(10))
        assert scheduler.cancel(order_id, at(10, 0, 5))
        assert scheduler.order(order_id).status is AdvancedOrderStatus.CANCELLING
        gateway.confirm_cancels()
        pump(scheduler, executor, gateway, at(10, 0, 6))
        assert scheduler.order(order_id).status is AdvancedOrderStatus.CANCELLED
        assert len(gateway.sent) == 1 and gateway.active_ids() == set()
        assert not scheduler.cancel(order_id, at(10, 0, 7))

    def test_cancel_all_before_the_executor_stops(self):
        scheduler, executor, gateway = make(batch=2)
        ids = [scheduler.submit_iceberg(instruction(volume=4), at(10)),
               scheduler.submit_twap(instruction(volume=4), at(10))]
        assert scheduler.cancel_all(at(10, 0, 1)) == 2
        assert executor.cancel_all(at(10, 0, 1)) == 0
        pump(scheduler, executor, gateway, at(10, 5))
        assert [scheduler.order(i).status for i in ids] == [AdvancedOrderStatus.CANCELLED] * 2
        # the TWAP's first slice (floor(4 / 10) = 0 lots) sent nothing
        assert len(gateway.sent) == 1 and gateway.active_ids() == set()
        assert [e.status for e in finished_events(scheduler)] == ["CANCELLED", "CANCELLED"]

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(volume=st.integers(1, 40), batch=st.integers(1, 10),
           steps=st.lists(st.tuples(st.sampled_from(["fill", "part", "tick", "late"]), st.integers(1, 9)),
                          max_size=60))
    def test_never_shows_more_than_its_batch(self, volume, batch, steps):
        scheduler, executor, gateway = make(batch=batch, retries=100, cancel_mode="async")
        order_id = scheduler.submit_iceberg(instruction(volume=volume), at(10))
        now = at(10)
        late = False
        for action, number in steps:
            active = sorted(gateway.active_ids())
            raced = sorted(oid for oid, order in gateway.orders.items()
                           if order.status is OrderStatus.CANCELLED and order.traded < order.instruction.volume)
            if action in ("fill", "part") and active:
                order = gateway.orders[active[0]]
                gateway.fill(order.vt_orderid, None if action == "fill" else 1 + number % order.open_volume)
            elif action == "late" and raced:
                late = True
                gateway.late_fill(raced[0], 1)
            elif action == "tick":
                now += timedelta(seconds=number * 5)
                gateway.confirm_cancels()
            pump(scheduler, executor, gateway, now)
            assert gateway.active_open_volume() <= batch
            assert len(gateway.active_ids()) <= 1
            if not late:
                assert gateway.total_traded() + gateway.active_open_volume() <= volume
        while scheduler.order(order_id).status is AdvancedOrderStatus.WORKING:
            if gateway.active_ids():
                gateway.fill(min(gateway.active_ids()))
            gateway.confirm_cancels()
            pump(scheduler, executor, gateway, now)
            assert gateway.active_open_volume() <= batch
        view = scheduler.order(order_id)
        assert view.status is AdvancedOrderStatus.COMPLETED and view.filled == gateway.total_traded() >= volume
        overfills = [e for e in scheduler.pop_events() + executor.pop_events() if isinstance(e, OrderOverfilledEvent)]
        assert (view.filled > volume) == bool(overfills)
        if not late:
            assert view.filled == volume


class TestPrune:
    def test_finished_orders_and_their_children_are_pruned_together(self):
        scheduler, executor, gateway = make(batch=2)
        done = scheduler.submit_iceberg(instruction(volume=2), at(10))
        gateway.fill(gateway.last_id())
        working = scheduler.submit_iceberg(instruction(volume=4), at(10))
        pump(scheduler, executor, gateway, at(10, 0, 1))
        assert scheduler.order(done).status is AdvancedOrderStatus.COMPLETED
        assert executor.prune(at(11), keep=scheduler.execution_ids_in_use()) == 0
        assert scheduler.prune(at(11)) == 1 and scheduler.order(done) is None
        assert executor.prune(at(11), keep=scheduler.execution_ids_in_use()) == 1
        assert scheduler.order(working).working_child == f"{working}#1"


class TestState:
    def test_scheduler_and_executor_resume_together(self):
        scheduler, executor, gateway = make(slices=4, window=120)
        order_id = scheduler.submit_twap(instruction(volume=8), at(10))
        iceberg = scheduler.submit_iceberg(instruction(volume=5, direction=Direction.SHORT), at(10), batch_size=2)
        gateway.fill("FAKE.1", 1)
        pump(scheduler, executor, gateway, at(10, 0, 30))
        executor_state = json.loads(json.dumps(executor.to_dict()))
        scheduler_state = json.loads(json.dumps(scheduler.to_dict()))

        executor2 = SmartOrderExecutor.from_dict(executor_state, gateway, executor.settings, TradingClocks())
        scheduler2 = AdvancedOrderScheduler.from_dict(scheduler_state, executor2, AdvancedOrderSettings(),
                                                      TradingClocks())
        assert scheduler2.to_dict() == scheduler.to_dict()
        assert scheduler2.order(order_id) == scheduler.order(order_id)
        assert scheduler2.execution_ids_in_use() == scheduler.execution_ids_in_use()
        gateway.listener = executor2
        for second in range(30, 200, 10):
            for oid in sorted(gateway.active_ids()):
                gateway.fill(oid)
            pump(scheduler2, executor2, gateway, at(10, 0, 0) + timedelta(seconds=second))
        assert scheduler2.order(order_id).filled == 8 and scheduler2.order(iceberg).filled == 5
        assert scheduler2.order(order_id).status is AdvancedOrderStatus.COMPLETED
        assert scheduler2.submit_iceberg(instruction(volume=1), at(10, 5)) == "adv-3"

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(volume=st.integers(1, 30), count=st.integers(1, 8), fills=st.lists(st.integers(0, 3), max_size=20))
    def test_round_trip_at_any_point(self, volume, count, fills):
        scheduler, executor, gateway = make(slices=count, window=count * 20)
        scheduler.submit_twap(instruction(volume=volume), at(10))
        now = at(10)
        for amount in fills:
            active = sorted(gateway.active_ids())
            if amount and active:
                order = gateway.orders[active[0]]
                gateway.fill(order.vt_orderid, min(amount, order.open_volume))
            now += timedelta(seconds=7)
            pump(scheduler, executor, gateway, now)
            executor_state = json.loads(json.dumps(executor.to_dict()))
            restored_executor = SmartOrderExecutor.from_dict(executor_state, gateway, executor.settings)
            restored = AdvancedOrderScheduler.from_dict(json.loads(json.dumps(scheduler.to_dict())),
                                                        restored_executor, AdvancedOrderSettings())
            assert restored_executor.to_dict() == executor.to_dict()
            assert restored.to_dict() == scheduler.to_dict()
