"""A cycle kept through a session gap: idle while it lasts, its working orders kept or cancelled at its start."""
from __future__ import annotations

from datetime import timedelta

import pytest

from src.strategy.application.session_gap import enter_gap, leave_gap
from src.strategy.domain.event.decision_events import SignalEvent
from tests.unit.application.test_trading_cycle import START, config, make_cycle, minute  # noqa: F401 (fixture)

GAP_END = START + timedelta(hours=3)


def test_an_idle_cycle_decides_nothing_and_trades_again_after_the_gap(config):  # noqa: F811
    cycle, gateway, published = make_cycle(config)
    enter_gap(cycle, START, GAP_END, "keep")
    minute(cycle, START)
    assert gateway.sent == [] and not any(isinstance(e, SignalEvent) for e in published)
    assert cycle.instruments.active_contract("IF") is not None, "bars still update the instruments"
    assert cycle.last_prices, "and the prices"

    leave_gap(cycle, GAP_END)
    minute(cycle, GAP_END)
    (sent,) = gateway.sent
    assert sent.vt_symbol == "IO2502-P-3700.CFFEX" and cycle.idle_reason is None


@pytest.mark.parametrize("orders,cancelled", [("keep", False), ("cancel", True)])
def test_working_orders_are_kept_or_cancelled_at_the_gap_start(config, orders, cancelled):  # noqa: F811
    cycle, gateway, _published = make_cycle(config)
    minute(cycle, START)
    (vt_orderid,) = gateway.orders
    gateway.acknowledge(vt_orderid)
    assert len(cycle.executor.working_executions()) == 1

    message = enter_gap(cycle, START + timedelta(minutes=2), GAP_END, orders)
    lines = cycle.ports.events.lines
    assert message in lines
    if cancelled:
        assert gateway.cancel_requests == [vt_orderid]
        assert cycle.executor.working_executions() == []
        assert cycle.positions.active_orders() == []
        assert "1 working orders cancelled" in message
    else:
        assert gateway.cancel_requests == []
        assert len(cycle.executor.working_executions()) == 1
        assert "1 working orders kept at the exchange" in message
    assert len(gateway.sent) == 1, "nothing new is sent when entering the gap"


def test_an_unknown_policy_is_refused(config):  # noqa: F811
    cycle, _gateway, _published = make_cycle(config)
    with pytest.raises(ValueError, match="'keep' or 'cancel'"):
        enter_gap(cycle, START, GAP_END, "flatten")
