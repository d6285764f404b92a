"""PortfolioRiskAggregator: exposures in lots x multiplier, breach events, refusal of orders that would breach."""
from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.portfolio_risk_aggregator import PortfolioRiskAggregator
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent, RiskLimitExceededEvent
from src.strategy.domain.value_object.risk import GreeksLimits, PositionGreeks, RiskThresholds

NOW = datetime(2024, 10, 8, 9, 30, tzinfo=timezone.utc)
THRESHOLDS = RiskThresholds(GreeksLimits(delta=100.0, gamma=5.0, vega=2_000.0),
                            GreeksLimits(delta=300.0, gamma=20.0, vega=5_000.0, theta=200_000.0))
CALL = "IO2411-C-4000.CFFEX"
PUT = "IO2411-P-3800.CFFEX"


def call(quantity):  # per-unit Greeks of an index option; multiplier 100 CNY per point
    return PositionGreeks(CALL, quantity, 100.0, delta=0.4, gamma=0.002, vega=5.0, theta=-300.0)


def put(quantity):
    return PositionGreeks(PUT, quantity, 100.0, delta=-0.3, gamma=0.0015, vega=4.5, theta=-250.0)


def test_exposures_are_lots_times_multiplier_times_greeks():
    aggregator = PortfolioRiskAggregator(THRESHOLDS)
    portfolio = aggregator.aggregate([call(2), put(-1), call(-1)])
    assert portfolio.by_symbol[CALL].delta == pytest.approx(1 * 100 * 0.4)
    assert portfolio.by_symbol[PUT].delta == pytest.approx(-1 * 100 * -0.3)
    assert portfolio.total.delta == pytest.approx(40.0 + 30.0)
    assert portfolio.total.vega == pytest.approx(500.0 - 450.0)
    assert portfolio.total.theta == pytest.approx(-30_000.0 + 25_000.0)


def test_breaches_become_events_with_metric_value_and_limit():
    aggregator = PortfolioRiskAggregator(THRESHOLDS)
    _, events = aggregator.evaluate([call(3), put(-2)], NOW)
    assert events == [GreeksRiskBreachEvent(NOW, CALL, "delta", pytest.approx(120.0), 100.0)]
    event = events[0]
    assert isinstance(event, DomainEvent) and event.occurred_at == NOW and not event.is_portfolio
    assert "delta" in event.message and "100" in event.message
    with pytest.raises(FrozenInstanceError):
        event.value = 0.0  # type: ignore[misc]


def test_portfolio_breach_is_reported_with_the_portfolio_scope():
    aggregator = PortfolioRiskAggregator(THRESHOLDS)
    book = [PositionGreeks(f"IO2411-C-{4000 + 50 * i}.CFFEX", 2, 100.0, 0.45, 0.002, 5.0, -300.0) for i in range(4)]
    _, events = aggregator.evaluate(book, NOW)
    portfolio = [e for e in events if e.is_portfolio]
    # 8 lots x 100 x 0.45 = 360 delta; theta 8 x 100 x -300 = -240,000 per year, over 200,000 in absolute value
    assert [(e.metric, round(e.value, 9), e.limit) for e in portfolio] == [("delta", 360.0, 300.0),
                                                                          ("theta", -240_000.0, 200_000.0)]
    assert not [e for e in events if not e.is_portfolio]  # each position alone is within its limits
    _, events = PortfolioRiskAggregator(RiskThresholds(THRESHOLDS.position, GreeksLimits(1e9, 1e9, 1e9))).evaluate(book, NOW)
    assert not [e for e in events if e.is_portfolio]


def test_an_order_that_would_breach_is_refused_with_that_reason():
    aggregator = PortfolioRiskAggregator(THRESHOLDS)
    decision = aggregator.check_open([call(2)], call(1), NOW)
    assert not decision.approved
    assert [(b.scope, b.metric.value, round(b.value, 9), b.limit) for b in decision.breaches] == [(CALL, "delta", 120.0, 100.0)]
    assert "delta" in decision.reason and "120" in decision.reason and "100" in decision.reason
    assert decision.events == (RiskLimitExceededEvent(NOW, CALL, "delta", pytest.approx(120.0), 100.0, CALL, 1),)
    assert decision.events[0].quantity == 1


def test_an_order_within_limits_is_approved():
    decision = PortfolioRiskAggregator(THRESHOLDS).check_open([call(1)], put(-1), NOW)
    assert decision.approved and decision.reason is None and not decision.events
    assert decision.portfolio_after.delta == pytest.approx(70.0)


def test_an_order_reducing_an_existing_breach_is_approved():
    aggregator = PortfolioRiskAggregator(THRESHOLDS)
    _, events = aggregator.evaluate([call(5)], NOW)
    assert events  # delta 200 > 100
    assert aggregator.check_open([call(5)], call(-1), NOW).approved
    assert not aggregator.check_open([call(5)], call(1), NOW).approved


def test_theta_is_checked_only_when_limited():
    decaying = PositionGreeks("X", 1, 10.0, 0.0, 0.0, 0.0, -1e6)
    no_theta = RiskThresholds(GreeksLimits(1.0, 1.0, 1.0), GreeksLimits(1.0, 1.0, 1.0))
    assert PortfolioRiskAggregator(no_theta).evaluate([decaying], NOW)[1] == []
    with_theta = RiskThresholds(GreeksLimits(1.0, 1.0, 1.0, theta=1e3), GreeksLimits(1.0, 1.0, 1.0))
    _, events = PortfolioRiskAggregator(with_theta).evaluate([decaying], NOW)
    assert [(e.metric, e.value, e.limit) for e in events] == [("theta", -1e7, 1e3)]


def test_limits_and_positions_are_validated():
    with pytest.raises(ValueError):
        GreeksLimits(-1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        GreeksLimits(float("nan"), 1.0, 1.0)
    with pytest.raises(ValueError):
        RiskThresholds.from_mapping({"delta": 1, "gamma": 1}, {"delta": 1, "gamma": 1, "vega": 1})
    with pytest.raises(ValueError):
        RiskThresholds.from_mapping({"delta": 1, "gamma": 1, "vega": 1, "rho": 1}, {"delta": 1, "gamma": 1, "vega": 1})
    with pytest.raises(TypeError):
        PositionGreeks("X", 1.5, 10.0, 0.1, 0.1, 0.1, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PositionGreeks("X", 1, 0.0, 0.1, 0.1, 0.1, 0.1)
    with pytest.raises(ValueError):
        PortfolioRiskAggregator(THRESHOLDS).evaluate([call(1)], NOW.replace(tzinfo=None))
    limits = RiskThresholds.from_mapping({"delta": 0.8, "gamma": 0.1, "vega": 50.0}, {"delta": 5, "gamma": 1, "vega": 500})
    assert limits.position.theta is None and limits.portfolio.vega == 500.0


def test_position_greeks_from_the_calculator():
    greeks = GreeksCalculator("black76").calculate("C", 4000.0, 4100.0, 30 / 365, 0.02, 0.2)
    position = PositionGreeks.from_greeks(CALL, -3, 100.0, greeks)
    assert position.exposure().vega == pytest.approx(-300.0 * greeks.vega)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(-20, 20)), max_size=12),
       st.sampled_from(["A", "B", "D"]), st.integers(-20, 20))
def test_decisions_are_consistent_with_evaluate(book, symbol, quantity):
    """Whatever the book: an approved order never creates a new breach, a refused one always worsens one."""
    def position(sym, qty):
        return PositionGreeks(sym, qty, 10.0, 0.5, 0.01, 2.0, -10.0)

    aggregator = PortfolioRiskAggregator(RiskThresholds(GreeksLimits(50.0, 1.0, 200.0), GreeksLimits(120.0, 2.0, 400.0)))
    positions = [position(s, q) for s, q in book]
    candidate = position(symbol, quantity)
    decision = aggregator.check_open(positions, candidate, NOW)
    before = {(e.scope, e.metric): abs(e.value) for e in aggregator.evaluate(positions, NOW)[1]}
    after = {(e.scope, e.metric): abs(e.value) for e in aggregator.evaluate(positions + [candidate], NOW)[1]
             if e.scope in (symbol, "portfolio")}
    worsened = {key for key, value in after.items() if value > before.get(key, 0.0)}
    assert decision.approved == (not worsened)
    assert {(b.scope, b.metric.value) for b in decision.breaches} == worsened
