"""The order-status transition table, and Order and SmartOrderExecutor both following it."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.entity.order import Order
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_status import ORDER_STATUS_TRANSITIONS, OrderStatus

from tests.unit.execution.fakes import FUTURE, FakeTradeGateway, at

FINAL = [status for status in OrderStatus if not status.is_active]
ACTIVE = [status for status in OrderStatus if status.is_active]
statuses = st.sampled_from(list(OrderStatus))


def test_the_table_covers_every_status():
    assert set(ORDER_STATUS_TRANSITIONS) == set(OrderStatus)
    assert all(set(targets) <= set(OrderStatus) for targets in ORDER_STATUS_TRANSITIONS.values())


@given(statuses, statuses)
def test_table_invariants(current, reported):
    allowed = current.can_move_to(reported)
    assert allowed == (reported in ORDER_STATUS_TRANSITIONS[current])
    if current.is_final:
        assert not allowed                     # a final status stays, even against a repeat of itself
    if current is OrderStatus.SUBMITTING:
        assert allowed                         # the first report may say anything
    if current.is_active and current is not OrderStatus.SUBMITTING:
        # acknowledged: never back to SUBMITTING, every other report is accepted
        assert allowed == (reported is not OrderStatus.SUBMITTING)
    assert current.is_final == (not current.is_active)


def test_every_status_is_reachable_and_every_active_status_can_finish():
    reached, frontier = {OrderStatus.SUBMITTING}, [OrderStatus.SUBMITTING]
    while frontier:
        for target in ORDER_STATUS_TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(OrderStatus)
    for status in ACTIVE:
        assert all(status.can_move_to(final) for final in FINAL)


# a report: (status, traded lots); traded never decreases so that both trackers see the same history
reports = st.lists(st.tuples(statuses, st.integers(0, 5)), min_size=1, max_size=12).map(
    lambda items: [(status, traded) for (status, _), traded in
                   zip(items, sorted(min(t, 5) for _, t in items))])


def _executor_with_one_order():
    gateway = FakeTradeGateway()
    executor = SmartOrderExecutor(gateway, ExecutionSettings(30, 3, 2))
    executor.register_contract(ContractParams(FUTURE, multiplier=300, pricetick=0.2, margin_ratio=0.12))
    executor.update_price(FUTURE, bid=3999.8, ask=4000.2, last=4000.0)
    executor.submit(OrderInstruction(FUTURE, Direction.LONG, Offset.OPEN, 5, 4000.0, "test"), at())
    return executor, gateway.last_id()


def _child_status(executor: SmartOrderExecutor, vt_orderid: str) -> OrderStatus:
    for execution in executor.to_dict()["executions"]:
        for attempt in execution["attempts"]:
            for child in attempt["children"]:
                if child["vt_orderid"] == vt_orderid:
                    return OrderStatus(child["status"])
    raise AssertionError(f"{vt_orderid} not found")


@settings(max_examples=200, deadline=None)
@given(reports)
def test_order_and_executor_follow_the_same_table(history):
    order = Order("FAKE.1", FUTURE, Direction.LONG, Offset.OPEN, 4000.0, 5, at(), at())
    executor, vt_orderid = _executor_with_one_order()
    expected = OrderStatus.SUBMITTING
    for status, traded in history:
        accepted = order.apply_update(status, traded, at())
        assert accepted == expected.can_move_to(status)
        if accepted:
            expected = status
        executor.on_order_update(vt_orderid, status, traded, at())
        assert order.status is expected
        assert _child_status(executor, vt_orderid) is expected
    # once final, nothing moves it
    if expected.is_final:
        for status in OrderStatus:
            assert not order.apply_update(status, order.traded, at())
        assert order.status is expected
