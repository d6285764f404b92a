"""The cycle with limits in money: openings refused with the figures, breaches counted once, reductions sent,
the stress grid on the monitor view and the attribution adding up to the book's P&L."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.schema import CashLimitsConfig, MoneyLimitConfig, MoneyLimitSetConfig
from src.strategy.application.bootstrap import cash_limits_of
from src.strategy.domain.domain_service.cash_risk_monitor import CashRiskMonitor
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent, RiskLimitExceededEvent, RiskReductionEvent
from src.strategy.domain.value_object.market import Direction, Offset
from tests.unit.application.test_trading_cycle import FUTURE, START, make_cycle, minute


@pytest.fixture(scope="module")
def config():
    return load_strategy_config(DEFAULT_STRATEGY_CONFIG)


def with_limits(config, delta_soft, delta_hard=None, action="close_largest"):
    limits = CashLimitsConfig(per_underlying=MoneyLimitSetConfig(delta=MoneyLimitConfig(delta_soft, delta_hard)),
                              book=MoneyLimitSetConfig(), on_hard_breach=action)
    return dataclasses.replace(config, greeks_risk=dataclasses.replace(config.greeks_risk, cash_limits=limits))


def tighten(cycle, config, *args, **kwargs):
    """New limits on a running cycle (the book was built under wide ones)."""
    cycle.services.book_risk.monitor = CashRiskMonitor(cash_limits_of(with_limits(config, *args, **kwargs)
                                                                      .greeks_risk))


def test_an_opening_over_the_soft_limit_is_refused_with_the_figures(config):
    cycle, gateway, published = make_cycle(with_limits(config, 50.0))
    minute(cycle, START)
    assert gateway.sent == []
    (refusal,) = [e for e in published if isinstance(e, DecisionRefusedEvent)]
    assert refusal.stage == "risk" and "IF (CSI 300) cash delta" in refusal.reason and "soft limit 50" in refusal.reason
    (exceeded,) = [e for e in published if isinstance(e, RiskLimitExceededEvent)]
    assert exceeded.unit == "CNY per 1% move" and exceeded.value > 50 and exceeded.quantity < 0


def test_a_hard_breach_is_counted_once_and_reduced_by_closing_the_largest_contributor(config):
    cycle, gateway, published = make_cycle(with_limits(config, 1e9))
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=24.0)
    (position,) = cycle.positions.positions()
    tighten(cycle, config, 50.0, 100.0)
    for offset in range(1, 4):
        minute(cycle, START + timedelta(minutes=offset))
    breaches = [e for e in published if isinstance(e, GreeksRiskBreachEvent)]
    assert [(e.scope, e.metric, e.level) for e in breaches] == [("IF", "delta", "hard")]
    assert cycle.counters.risk_breach_count == 1
    (reduction,) = [e for e in published if isinstance(e, RiskReductionEvent)]
    assert reduction.action == "close_largest" and reduction.vt_symbol == position.vt_symbol
    # One reducing instruction while it is being worked (the executor re-prices it after its timeout).
    closes = {(i.vt_symbol, i.direction, i.volume, i.reason) for i in gateway.sent if i.offset is Offset.CLOSE}
    ((symbol, direction, volume, reason),) = closes
    assert (symbol, direction, volume) == (position.vt_symbol, Direction.LONG, position.volume)
    assert reason.startswith("reduce risk: IF (CSI 300) cash delta")


def test_hedge_mode_sells_or_buys_the_active_future(config):
    cycle, gateway, published = make_cycle(with_limits(config, 1e9))
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=24.0)
    tighten(cycle, config, 50.0, 100.0, action="hedge")
    minute(cycle, START + timedelta(minutes=1))
    (reduction,) = [e for e in published if isinstance(e, RiskReductionEvent)]
    assert reduction.action == "hedge" and reduction.vt_symbol == FUTURE
    hedge = gateway.sent[-1]
    # Short puts are long delta: the hedge sells the future.
    assert (hedge.vt_symbol, hedge.direction, hedge.offset) == (FUTURE, Direction.SHORT, Offset.OPEN)


def test_the_monitor_view_carries_cash_greeks_and_the_stress_grid_and_the_attribution_adds_up(config):
    cycle, gateway, _published = make_cycle(with_limits(config, 1e9))
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=24.0)
    minute(cycle, START + timedelta(minutes=1))  # the first mark of the position: its Greeks from here on
    minute(cycle, START + timedelta(minutes=2), future_close=3880.0,
           put_prices={3900: 104.0, 3850: 78.0, 3800: 56.0, 3750: 40.0, 3700: 27.0, 3650: 18.0, 3600: 12.0})
    view = cycle.monitor_view(START + timedelta(minutes=3))
    cash = view["risk"]["cash"]
    assert cash["by_underlying"]["IF"]["delta"] > 0 and cash["by_underlying"]["IF"]["gamma"] < 0
    assert cash["book"]["vega"] < 0 and cash["units"]["theta"] == "CNY per trading day"
    stress = view["risk"]["stress"]
    assert stress["worst"]["spot"] == -0.10 and stress["worst"]["pnl"] < 0
    book_risk = cycle.services.book_risk
    summary = book_risk.summary(cycle)
    attribution = summary["attribution"]
    assert attribution["total"]["total"] == pytest.approx(attribution["book_pnl"], abs=0.01)
    assert attribution["total"]["fees"] < 0 and attribution["total"]["delta"] < 0  # short puts, index down
    assert summary["risk"]["worst_stress"]["pnl"] == stress["worst"]["pnl"]


def test_a_breach_under_way_is_not_counted_again_after_a_restart(config):
    from src.strategy.application import cycle_state

    cycle, gateway, _published = make_cycle(with_limits(config, 1e9))
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=24.0)
    tighten(cycle, config, 50.0)  # soft only: no reducing order
    minute(cycle, START + timedelta(minutes=1))
    assert cycle.counters.risk_breach_count == 1
    state = cycle_state.capture(cycle)
    restarted, _gateway, published = make_cycle(with_limits(config, 1e9))
    tighten(restarted, config, 50.0)
    cycle_state.restore(restarted, state, START + timedelta(minutes=2))
    minute(restarted, START + timedelta(minutes=2))
    assert restarted.counters.risk_breach_count == 1
    assert not [e for e in published if isinstance(e, GreeksRiskBreachEvent)]
