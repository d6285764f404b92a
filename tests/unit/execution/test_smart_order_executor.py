import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.smart_order_executor import (
    AttemptOutcome,
    ExecutionStatus,
    SmartOrderExecutor,
    aggressive_limit_price,
)
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.domain.event.order_events import (
    OrderOverfilledEvent,
    OrderRetryExhaustedEvent,
    OrderTimeoutEvent,
)
from src.strategy.domain.interface.trade_execution_gateway import ITradeExecutionGateway
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_status import OrderStatus

from .fakes import FUTURE, FakeTradeGateway, at

LONG, SHORT = Direction.LONG, Direction.SHORT
TICK = 0.2


def instruction(volume: int = 5, direction: Direction = LONG, price: float = 4000.0,
                offset: Offset = Offset.OPEN) -> OrderInstruction:
    return OrderInstruction(FUTURE, direction, offset, volume, price, "delta hedge")


def make(cancel_mode: str = "sync", timeout: float = 30, retries: int = 3, slippage: int = 2,
         clocks: TradingClocks | None = None) -> tuple[SmartOrderExecutor, FakeTradeGateway]:
    gateway = FakeTradeGateway(cancel_mode=cancel_mode)
    executor = SmartOrderExecutor(gateway, ExecutionSettings(timeout, retries, slippage), clocks)
    executor.register_contract(ContractParams(FUTURE, multiplier=300, pricetick=TICK, margin_ratio=0.12))
    gateway.listener = executor
    return executor, gateway


def events_of(executor, kind):
    return [event for event in executor.pop_events() if isinstance(event, kind)]


def test_the_fake_implements_the_port():
    assert isinstance(FakeTradeGateway(), ITradeExecutionGateway)


class TestPricing:
    def test_buy_pays_the_ask_plus_slippage(self):
        executor, gateway = make()
        executor.update_price(FUTURE, bid=3999.8, ask=4000.2, last=4000.0)
        executor.submit(instruction(direction=LONG), at())
        assert gateway.sent[-1].price == pytest.approx(4000.6)
        assert gateway.sent[-1].volume == 5

    def test_sell_hits_the_bid_minus_slippage(self):
        executor, gateway = make()
        executor.update_price(FUTURE, bid=3999.8, ask=4000.2, last=4000.0)
        executor.submit(instruction(direction=SHORT), at())
        assert gateway.sent[-1].price == pytest.approx(3999.4)

    def test_without_a_side_the_last_price_and_without_any_quote_the_instruction_price(self):
        executor, gateway = make()
        executor.update_price(FUTURE, last=4010.0)
        executor.submit(instruction(direction=LONG), at())
        assert gateway.sent[-1].price == pytest.approx(4010.4)
        executor2, gateway2 = make()
        executor2.submit(instruction(direction=SHORT, price=3990.0), at())
        assert gateway2.sent[-1].price == pytest.approx(3989.6)

    def test_off_grid_reference_rounds_to_the_aggressive_side(self):
        assert aggressive_limit_price(LONG, 4000.3, 0, TICK) == pytest.approx(4000.4)
        assert aggressive_limit_price(SHORT, 4000.3, 0, TICK) == pytest.approx(4000.2)
        assert aggressive_limit_price(LONG, 3.2, 1, 0.2) == 3.4  # exact on the grid, no 3.4000000000000004

    def test_price_limits_win_and_a_sell_never_goes_below_one_tick(self):
        assert aggressive_limit_price(LONG, 4400.0, 5, TICK, limit_up=4400.4) == pytest.approx(4400.4)
        assert aggressive_limit_price(SHORT, 3600.0, 5, TICK, limit_down=3599.8) == pytest.approx(3599.8)
        assert aggressive_limit_price(SHORT, 0.4, 5, 0.2) == pytest.approx(0.2)


class TestTimeoutsAndRetries:
    def test_timeout_cancels_and_resends_one_tick_more_aggressive_from_the_latest_price(self):
        executor, gateway = make()
        executor.update_price(FUTURE, bid=3999.8, ask=4000.2, last=4000.0)
        execution_id = executor.submit(instruction(), at(10, 0, 0))
        first = gateway.last_id()
        executor.on_time(at(10, 0, 29))
        assert gateway.cancel_requests == []
        executor.update_price(FUTURE, bid=4000.8, ask=4001.0, last=4001.0)
        executor.on_time(at(10, 0, 30))
        assert gateway.cancel_requests == [first]
        timeouts = events_of(executor, OrderTimeoutEvent)
        assert [(e.vt_orderid, e.timeout_seconds) for e in timeouts] == [(first, 30.0)]
        assert gateway.sent[-1].price == pytest.approx(4001.0 + 3 * TICK)
        assert gateway.active_ids() == {gateway.last_id()} != {first}
        view = executor.execution(execution_id)
        assert view.attempts == 2 and view.retries_used == 1 and view.status is ExecutionStatus.WORKING

    def test_partial_fill_then_timeout_resends_only_the_remainder(self):
        executor, gateway = make()
        execution_id = executor.submit(instruction(volume=5), at(10))
        gateway.fill(gateway.last_id(), 2)
        executor.on_time(at(10, 0, 30))
        assert gateway.sent[-1].volume == 3
        gateway.fill(gateway.last_id(), 3)
        view = executor.execution(execution_id)
        assert view.filled == 5 and view.status is ExecutionStatus.COMPLETED
        assert gateway.total_traded() == 5 and gateway.active_ids() == set()

    def test_retries_exhausted_after_max_retries_with_nothing_left_working(self):
        executor, gateway = make(retries=2)
        execution_id = executor.submit(instruction(volume=4), at(10))
        gateway.fill(gateway.last_id(), 1)
        for second in (30, 60, 90):
            executor.on_time(at(10, 0, 0) + timedelta(seconds=second))
        events = executor.pop_events()
        assert len([e for e in events if isinstance(e, OrderTimeoutEvent)]) == 3
        exhausted = [e for e in events if isinstance(e, OrderRetryExhaustedEvent)]
        assert len(exhausted) == 1 and exhausted[0].attempts == 3
        assert exhausted[0].last_vt_orderid == gateway.last_id()
        assert "1 of 4 filled" in exhausted[0].reason
        assert len(gateway.sent) == 3 and [i.volume for i in gateway.sent] == [4, 3, 3]
        view = executor.execution(execution_id)
        assert view.status is ExecutionStatus.EXHAUSTED and view.remaining == 3
        assert gateway.active_ids() == set() and executor.active_vt_orderids() == []
        executor.on_time(at(10, 5))
        assert len(gateway.sent) == 3

    def test_no_retries_means_one_attempt(self):
        executor, gateway = make(retries=0)
        execution_id = executor.submit(instruction(), at(10))
        executor.on_time(at(10, 1))
        assert len(gateway.sent) == 1
        assert executor.execution(execution_id).status is ExecutionStatus.EXHAUSTED

    def test_rejection_is_retried_at_the_next_tick_of_the_clock(self):
        executor, gateway = make()
        execution_id = executor.submit(instruction(), at(10))
        gateway.reject(gateway.last_id())
        assert len(gateway.sent) == 1
        executor.on_time(at(10, 0, 1))
        assert len(gateway.sent) == 2
        view = executor.execution(execution_id)
        assert view.retries_used == 1
        gateway.fill(gateway.last_id())
        assert executor.execution(execution_id).status is ExecutionStatus.COMPLETED

    def test_gateway_refusal_is_an_event_and_a_retry(self):
        executor, gateway = make()
        gateway.refuse_sends = 1
        execution_id = executor.submit(instruction(), at(10))
        refusals = events_of(executor, DecisionRefusedEvent)
        assert len(refusals) == 1 and "refused attempt 1" in refusals[0].reason
        assert executor.execution(execution_id).last_outcome is AttemptOutcome.REFUSED
        executor.on_time(at(10, 0, 1))
        assert len(gateway.sent) == 2 and gateway.active_ids() == {gateway.last_id()}

    def test_an_order_cancelled_elsewhere_is_sent_again(self):
        executor, gateway = make()
        executor.submit(instruction(), at(10))
        gateway.cancel_elsewhere(gateway.last_id())
        executor.on_time(at(10, 0, 5))
        assert len(gateway.sent) == 2

    def test_a_lost_cancel_is_asked_again_and_the_order_is_not_forgotten(self):
        executor, gateway = make(cancel_mode="ignore")
        execution_id = executor.submit(instruction(), at(10))
        first = gateway.last_id()
        executor.on_time(at(10, 0, 30))
        executor.on_time(at(10, 0, 45))
        assert gateway.cancel_requests == [first]
        assert executor.active_vt_orderids() == [first] and len(gateway.sent) == 1
        executor.on_time(at(10, 1, 0))
        assert gateway.cancel_requests == [first, first]
        gateway.confirm_cancel(first)
        executor.on_time(at(10, 1, 1))
        assert len(gateway.sent) == 2 and executor.execution(execution_id).attempts == 2


class TestFillAccounting:
    @pytest.mark.parametrize("trade_first", [False, True])
    def test_a_report_and_its_trade_are_counted_once(self, trade_first):
        executor, gateway = make()
        execution_id = executor.submit(instruction(volume=3), at(10))
        gateway.fill(gateway.last_id(), 3, price=4000.4, trade_first=trade_first)
        view = executor.execution(execution_id)
        assert view.filled == 3 and view.status is ExecutionStatus.COMPLETED
        assert view.average_fill_price == pytest.approx(4000.4)

    def test_a_repeated_trade_and_an_unknown_order_are_ignored(self):
        executor, gateway = make()
        execution_id = executor.submit(instruction(volume=3), at(10))
        oid = gateway.last_id()
        assert executor.on_trade(oid, "T.x", 1, 4000.0, at(10))
        assert not executor.on_trade(oid, "T.x", 1, 4000.0, at(10))
        assert executor.execution(execution_id).filled == 1
        assert not executor.on_order_update("OTHER.1", OrderStatus.ALL_TRADED, 3, at(10))
        assert not executor.on_trade("OTHER.1", "T.y", 1, 4000.0, at(10))

    def test_stale_reports_do_not_reopen_or_shrink_an_order(self):
        executor, gateway = make()
        execution_id = executor.submit(instruction(volume=3), at(10))
        oid = gateway.last_id()
        executor.on_order_update(oid, OrderStatus.PART_TRADED, 2, at(10))
        executor.on_order_update(oid, OrderStatus.NOT_TRADED, 0, at(10))
        assert executor.execution(execution_id).filled == 2
        executor.on_order_update(oid, OrderStatus.CANCELLED, 2, at(10))
        executor.on_order_update(oid, OrderStatus.PART_TRADED, 2, at(10))
        assert executor.active_vt_orderids() == []


class TestRaces:
    def test_a_fill_after_the_cancel_request_is_counted_before_the_remainder_is_sent(self):
        executor, gateway = make(cancel_mode="async")
        execution_id = executor.submit(instruction(volume=5), at(10))
        first = gateway.last_id()
        executor.on_time(at(10, 0, 30))
        assert gateway.cancel_requests == [first] and len(gateway.sent) == 1
        gateway.fill(first, 2)            # the exchange filled part of it before the cancel arrived
        executor.on_time(at(10, 0, 31))   # still active: nothing is sent beside it
        assert len(gateway.sent) == 1
        gateway.confirm_cancels()
        executor.on_time(at(10, 0, 32))
        assert gateway.sent[-1].volume == 3
        gateway.fill(gateway.last_id())
        assert executor.execution(execution_id).filled == 5 == gateway.total_traded()

    def test_a_late_fill_on_a_resent_order_shrinks_the_working_order(self):
        executor, gateway = make(cancel_mode="async")
        execution_id = executor.submit(instruction(volume=5), at(10))
        first = gateway.last_id()
        executor.on_time(at(10, 0, 30))
        gateway.confirm_cancels()          # reported CANCELLED with nothing traded ...
        executor.on_time(at(10, 0, 31))
        second = gateway.last_id()
        assert gateway.sent[-1].volume == 5
        gateway.late_fill(first, 2)        # ... but 2 lots had traded after all
        view = executor.execution(execution_id)
        assert view.filled == 2
        executor.on_time(at(10, 0, 32))    # the working 5 would make 7: cancelled
        assert gateway.cancel_requests[-1] == second
        gateway.confirm_cancels()
        executor.on_time(at(10, 0, 33))
        assert gateway.sent[-1].volume == 3
        assert executor.execution(execution_id).retries_used == 1  # a resize is not a retry
        gateway.fill(gateway.last_id())
        assert executor.execution(execution_id).filled == 5 == gateway.total_traded()
        assert events_of(executor, OrderOverfilledEvent) == []

    def test_when_both_orders_filled_the_overfill_is_reported(self):
        executor, gateway = make(cancel_mode="async")
        execution_id = executor.submit(instruction(volume=5), at(10))
        first = gateway.last_id()
        executor.on_time(at(10, 0, 30))
        gateway.confirm_cancels()
        executor.on_time(at(10, 0, 31))
        gateway.fill(gateway.last_id())    # the resent 5 filled
        gateway.late_fill(first, 2)        # and so had 2 of the first order
        overfills = events_of(executor, OrderOverfilledEvent)
        assert [(e.order_id, e.volume, e.filled, e.excess, e.direction) for e in overfills] == \
            [(execution_id, 5, 7, 2, "LONG")]
        view = executor.execution(execution_id)
        assert view.status is ExecutionStatus.COMPLETED and view.filled == 7
        executor.on_time(at(10, 1))
        assert len(gateway.sent) == 2

    def test_a_synchronous_cancel_reentering_the_clock_is_harmless(self):
        executor, gateway = make(cancel_mode="sync")
        gateway.on_callback = lambda: executor.on_time(gateway.now)  # the entry's pump runs in the callback
        execution_id = executor.submit(instruction(volume=2), at(10))
        gateway.now = at(10, 0, 30)
        executor.on_time(at(10, 0, 30))
        assert len(gateway.sent) == 2 and len(gateway.active_ids()) == 1
        assert executor.execution(execution_id).attempts == 2


class TestCallerCancel:
    def test_cancel_waits_for_the_confirmation_and_sends_nothing_more(self):
        executor, gateway = make(cancel_mode="async")
        execution_id = executor.submit(instruction(volume=5), at(10))
        gateway.fill(gateway.last_id(), 1)
        assert executor.cancel(execution_id, at(10, 0, 5))
        assert executor.execution(execution_id).status is ExecutionStatus.CANCELLING
        executor.on_time(at(10, 1))
        assert len(gateway.sent) == 1
        gateway.confirm_cancels()
        view = executor.execution(execution_id)
        assert view.status is ExecutionStatus.CANCELLED and view.filled == 1
        assert not executor.cancel(execution_id, at(10, 2))

    def test_cancel_all(self):
        executor, gateway = make()
        ids = [executor.submit(instruction(volume=1), at(10)) for _ in range(3)]
        gateway.fill(gateway.last_id())
        assert executor.cancel_all(at(10, 0, 1)) == 2
        assert [executor.execution(i).status for i in ids] == \
            [ExecutionStatus.CANCELLED, ExecutionStatus.CANCELLED, ExecutionStatus.COMPLETED]
        assert gateway.active_ids() == set()


class TestSessions:
    def test_nothing_is_sent_in_the_lunch_break_and_the_timeout_counts_trading_time(self):
        executor, gateway = make(clocks=TradingClocks())
        execution_id = executor.submit(instruction(volume=2), at(12, 0))
        assert gateway.sent == []
        executor.on_time(at(12, 59, 59))
        assert gateway.sent == []
        executor.on_time(at(13, 0, 0))
        assert len(gateway.sent) == 1
        executor.on_time(at(13, 0, 29))
        assert gateway.cancel_requests == []

        late = executor.submit(instruction(volume=1), at(11, 29, 50, day=24))
        executor.on_time(at(13, 0, 5, day=24))  # 10 s before the break + 5 s after: not yet 30 s
        assert executor.execution(late).attempts == 1 and gateway.active_ids() >= {gateway.last_id()}
        executor.on_time(at(13, 0, 20, day=24))
        assert executor.execution(late).attempts == 2
        assert executor.execution(execution_id).attempts == 2


class TestBookkeeping:
    def test_sent_orders_carry_the_child_instruction(self):
        executor, gateway = make()
        executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
        execution_id = executor.submit(instruction(volume=4), at(10))
        sent = executor.pop_sent_orders()
        assert [(s.execution_id, s.vt_orderid, s.instruction.volume, s.sent_at) for s in sent] == \
            [(execution_id, gateway.last_id(), 4, at(10))]
        assert sent[0].instruction.price == pytest.approx(4000.6)
        assert executor.pop_sent_orders() == []
        assert executor.owns(gateway.last_id()) and executor.execution_id_of(gateway.last_id()) == execution_id

    def test_submit_needs_a_known_contract_and_a_fresh_id(self):
        executor, _ = make()
        with pytest.raises(ValueError, match="pricetick of IO"):
            executor.submit(OrderInstruction("IO2501-C-4000.CFFEX", LONG, Offset.OPEN, 1, 20.0, "x"), at(10))
        executor.submit(instruction(), at(10), execution_id="a")
        with pytest.raises(ValueError, match="already exists"):
            executor.submit(instruction(), at(10), execution_id="a")

    def test_prune_forgets_only_finished_old_executions(self):
        executor, gateway = make()
        done = executor.submit(instruction(volume=1), at(10))
        gateway.fill(gateway.last_id())
        kept = executor.submit(instruction(volume=1), at(10))
        gateway.fill(gateway.last_id())
        working = executor.submit(instruction(volume=1), at(10))
        assert executor.prune(at(11), keep=[kept]) == 1
        assert executor.execution(done) is None
        assert executor.execution(kept) is not None and executor.execution(working) is not None

    def test_state_round_trips_and_a_restored_executor_resumes(self):
        executor, gateway = make(cancel_mode="async")
        executor.update_price(FUTURE, bid=3999.8, ask=4000.2)
        first = executor.submit(instruction(volume=5), at(10))
        gateway.fill(gateway.last_id(), 2)
        executor.on_time(at(10, 0, 30))   # cancel requested, not yet confirmed
        executor.submit(instruction(volume=1, direction=SHORT), at(10, 0, 10))
        executor.pop_events()
        state = json.loads(json.dumps(executor.to_dict()))
        restored = SmartOrderExecutor.from_dict(state, gateway, executor.settings)
        assert restored.to_dict() == executor.to_dict()
        assert [v.execution_id for v in restored.executions()] == [v.execution_id for v in executor.executions()]

        gateway.listener = restored
        gateway.confirm_cancels()
        restored.on_time(at(10, 0, 31))
        assert gateway.sent[-1].volume == 3
        gateway.fill(gateway.last_id())
        assert restored.execution(first).filled == 5
        assert restored.submit(instruction(volume=1), at(10, 1)) == "exec-3"

    def test_unknown_state_version_is_refused(self):
        executor, gateway = make()
        state = executor.to_dict() | {"version": 99}
        with pytest.raises(ValueError, match="version 99"):
            SmartOrderExecutor.from_dict(state, gateway, executor.settings)


# --- invariants under random event sequences -----------------------------------

# Weighted by repetition: time, fills and races are what the invariants are about.
ACTIONS = st.lists(st.tuples(st.sampled_from(["tick", "tick", "tick", "fill", "part", "part", "reject", "confirm",
                                              "confirm", "late", "late", "elsewhere", "quote", "restore",
                                              "cancel"]),
                             st.integers(0, 1000)), min_size=1, max_size=50)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS, volumes=st.lists(st.integers(1, 8), min_size=1, max_size=3),
       cancel_mode=st.sampled_from(["sync", "async", "ignore"]), retries=st.integers(0, 3))
def test_random_event_sequences_keep_the_book_safe(actions, volumes, cancel_mode, retries):
    executor, gateway = make(cancel_mode=cancel_mode, retries=retries, timeout=20)
    now = at(10)
    ids = [executor.submit(instruction(volume=v, direction=LONG if i % 2 else SHORT), now)
           for i, v in enumerate(volumes)]
    volume_of = dict(zip(ids, volumes))
    overfill = {execution_id: 0 for execution_id in ids}
    late_fills = 0

    def check() -> None:
        # no orphan: every order still live at the exchange is tracked as active
        assert gateway.active_ids() <= set(executor.active_vt_orderids())
        for event in executor.pop_events():
            if isinstance(event, OrderOverfilledEvent):
                overfill[event.order_id] = event.excess
        for execution_id in ids:
            view = executor.execution(execution_id)
            live = [gateway.orders[oid] for oid in view.active_vt_orderids]
            assert len(live) <= 1, "two orders of one execution at the exchange at once"
            open_volume = sum(order.open_volume for order in live)
            if late_fills == 0:
                assert view.filled + open_volume <= volume_of[execution_id]
            assert overfill[execution_id] == max(view.filled - volume_of[execution_id], 0)
            traded = sum(order.traded for order in gateway.orders.values()
                         if executor.execution_id_of(order.vt_orderid) == execution_id)
            assert view.filled == traded

    for action, number in actions:
        active = sorted(gateway.active_ids())
        # a cancel can race a fill only on an order that was cancelled with lots still open
        raced = sorted(oid for oid, order in gateway.orders.items()
                       if order.status is OrderStatus.CANCELLED and order.traded < order.instruction.volume)
        if action == "tick":
            now += timedelta(seconds=number % 40)
            gateway.now = now
            executor.on_time(now)
        elif action in ("fill", "part") and active:
            order = gateway.orders[active[number % len(active)]]
            gateway.fill(order.vt_orderid, None if action == "fill" else 1 + number % order.open_volume,
                         trade_first=bool(number % 2))
        elif action == "reject" and active:
            gateway.reject(active[number % len(active)])
        elif action == "elsewhere" and active:
            gateway.cancel_elsewhere(active[number % len(active)])
        elif action == "confirm":
            gateway.confirm_cancels()
        elif action == "late" and raced:
            order = gateway.orders[raced[number % len(raced)]]
            late_fills += 1
            gateway.late_fill(order.vt_orderid, 1 + number % (order.instruction.volume - order.traded))
        elif action == "quote":
            executor.update_price(FUTURE, bid=3990 + number % 20, ask=3991 + number % 20)
        elif action == "restore":
            executor = SmartOrderExecutor.from_dict(json.loads(json.dumps(executor.to_dict())), gateway,
                                                    executor.settings)
            gateway.listener = executor
        elif action == "cancel":
            executor.cancel(ids[number % len(ids)], now)
        check()

    # Let time run with every cancel honoured: everything ends and nothing is left working.
    gateway.cancel_mode = "sync"
    for _ in range(2 * (retries + 3)):
        gateway.confirm_cancels()
        now += timedelta(seconds=21)
        gateway.now = now
        executor.on_time(now)
        check()
    assert gateway.active_ids() == set()
    assert all(executor.execution(execution_id).is_finished for execution_id in ids)
