"""Limits in money per underlying: units, breaches counted once, openings refused, hard-limit reductions."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.cash_risk_monitor import CashRiskMonitor, HedgeFuture, cash_book
from src.strategy.domain.value_object.cash_risk import (
    BOOK_SCOPE,
    BreachLevel,
    CashGreeks,
    CashPosition,
    CashRiskLimits,
    MoneyLimit,
    MoneyLimits,
    ReductionAction,
)

CST = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=CST)
LIMITS = CashRiskLimits(
    per_underlying=MoneyLimits(delta=MoneyLimit(10_000, 20_000), gamma=MoneyLimit(3_000, 6_000),
                               vega=MoneyLimit(4_000, 8_000)),
    book=MoneyLimits(delta=MoneyLimit(15_000, 30_000), vega=MoneyLimit(6_000)))


def option(symbol: str, underlying: str, delta: float = 0.0, gamma: float = 0.0, vega: float = 0.0,
           lots: int = -1) -> CashPosition:
    return CashPosition(symbol, underlying, lots, True, CashGreeks(delta, gamma, vega, 0.0))


def test_cash_greeks_of_one_short_io_put():
    """1 lot short of an IO put, delta -0.25, gamma 0.0015/pt, vega 5 pts per vol point, theta -1 pt/day, F 4,600."""
    greeks = CashGreeks.of_option(-1, 100.0, 4600.0, -0.25, 0.0015, 5.0, -1.0)
    assert greeks.delta == pytest.approx(1_150.0)             # CNY per 1% move
    assert greeks.gamma == pytest.approx(-0.0015 * 100 * 4600 ** 2 / 1e4)  # -317.4 CNY of delta per 1%
    assert greeks.vega == pytest.approx(-500.0)               # CNY per vol point
    assert greeks.theta == pytest.approx(100.0)               # CNY per trading day
    assert CashGreeks.of_future(2, 300.0, 4600.0).delta == pytest.approx(27_600.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(100, 10_000), st.floats(0.01, 0.99), st.floats(1e-5, 1e-2))
def test_cash_gamma_is_the_change_of_cash_delta_for_a_one_percent_move(price, delta, gamma):
    here = CashGreeks.of_option(3, 100.0, price, delta, gamma, 0.0, 0.0)
    moved_delta = delta + gamma * price * 0.01  # the delta after a 1% move, to first order
    there = CashGreeks.of_option(3, 100.0, price, moved_delta, gamma, 0.0, 0.0)
    # Cash delta at the new delta, on the old price: the change is exactly the cash gamma.
    assert there.delta - here.delta == pytest.approx(here.gamma, rel=1e-9)


def test_the_book_sums_underlyings_and_futures_count():
    book = cash_book([option("IO-P", "IF", delta=8_000), option("MO-P", "IM", delta=9_000),
                      CashPosition("IF2602.CFFEX", "IF", -1, False, CashGreeks.of_future(-1, 300.0, 4600.0))])
    assert book.by_underlying["IF"].delta == pytest.approx(8_000 - 13_800)
    assert book.total.delta == pytest.approx(8_000 + 9_000 - 13_800)


def test_a_breach_is_one_episode_however_long_it_lasts():
    monitor = CashRiskMonitor(LIMITS)
    over = cash_book([option("IO-P", "IF", delta=12_000)])
    events = []
    for minute in range(30):
        found, fresh = monitor.evaluate(over, NOW + timedelta(minutes=minute))
        assert [b.level for b in found] == [BreachLevel.SOFT]
        events += fresh
    assert len(events) == 1 and monitor.episodes == 1 and monitor.breach_minutes == 30
    assert events[0].scope == "IF" and events[0].level == "soft" and events[0].unit == "CNY per 1% move"
    # Hovering just under the limit (above 95% of it) is still the same episode ...
    monitor.evaluate(cash_book([option("IO-P", "IF", delta=9_800)]), NOW + timedelta(minutes=31))
    monitor.evaluate(over, NOW + timedelta(minutes=32))
    assert monitor.episodes == 1
    # ... back well within, then over again: a second one.
    monitor.evaluate(cash_book([option("IO-P", "IF", delta=5_000)]), NOW + timedelta(minutes=33))
    _found, fresh = monitor.evaluate(over, NOW + timedelta(minutes=34))
    assert len(fresh) == 1 and monitor.episodes == 2


def test_evaluating_twice_in_a_minute_does_not_count_twice():
    """The former count: every window bar of each product re-evaluated the whole book (672 for 336)."""
    monitor = CashRiskMonitor(LIMITS)
    over = cash_book([option("IO-P", "IF", delta=12_000), option("MO-P", "IM", delta=11_000)])
    first = monitor.evaluate(over, NOW)[1]
    second = monitor.evaluate(over, NOW)[1]
    assert {(e.scope, e.metric) for e in first} == {("IF", "delta"), ("IM", "delta"), (BOOK_SCOPE, "delta")}
    assert second == []


def test_an_opening_that_increases_a_breach_is_refused_with_the_figures_and_one_that_reduces_it_passes():
    monitor = CashRiskMonitor(LIMITS)
    book = cash_book([option("IO-P", "IF", delta=9_000)])
    refused, events = monitor.check_open(book, option("IO-P2", "IF", delta=2_000, lots=-2), -2, NOW)
    assert [(b.scope, b.metric.value) for b in refused] == [("IF", "delta")]
    assert events[0].value == pytest.approx(11_000) and events[0].limit == 10_000 and events[0].quantity == -2
    assert "11,000" in refused[0].describe() and "10,000" in refused[0].describe()
    over = cash_book([option("IO-P", "IF", delta=12_000)])
    assert monitor.check_open(over, option("IO-C", "IF", delta=-1_000), -1, NOW)[0] == []
    # The book's own limit binds across underlyings.
    both = cash_book([option("IO-P", "IF", delta=9_000), option("MO-P", "IM", delta=5_500)])
    refused, _ = monitor.check_open(both, option("MO-P2", "IM", delta=1_000), -1, NOW)
    assert [(b.scope, b.metric.value) for b in refused] == [(BOOK_SCOPE, "delta")]


def test_past_the_hard_limit_the_largest_contributor_is_closed():
    monitor = CashRiskMonitor(LIMITS)
    book = cash_book([option("IO-A", "IF", delta=9_000, lots=-2), option("IO-B", "IF", delta=13_000, lots=-3),
                      option("IO-C", "IF", delta=-1_000, lots=-1)])
    found, _ = monitor.evaluate(book, NOW)
    (reduction,) = [r for r in monitor.reductions(book, found, {}) if r.breach.scope == "IF"]
    assert (reduction.vt_symbol, reduction.lots, reduction.closing) == ("IO-B", 3, True)
    assert reduction.action is ReductionAction.CLOSE_LARGEST
    # A symbol already being worked is left alone: the next largest is chosen.
    (busy,) = [r for r in monitor.reductions(book, found, {}, busy={"IO-B"}) if r.breach.scope == "IF"]
    assert busy.vt_symbol == "IO-A"


def test_hedge_mode_trades_the_future_back_to_the_soft_limit_for_delta():
    limits = CashRiskLimits(LIMITS.per_underlying, MoneyLimits(), ReductionAction.HEDGE)
    monitor = CashRiskMonitor(limits)
    book = cash_book([option("IO-B", "IF", delta=25_000, gamma=-7_000, lots=-5)])
    found, _ = monitor.evaluate(book, NOW)
    hedges = {"IF": HedgeFuture("IF2602.CFFEX", 300.0, 4600.0)}  # 13,800 CNY per 1% per lot
    reductions = {r.breach.metric.value: r for r in monitor.reductions(book, found, hedges)}
    hedge = reductions["delta"]
    assert (hedge.vt_symbol, hedge.lots, hedge.closing) == ("IF2602.CFFEX", -2, False)  # ceil(15,000/13,800)
    assert reductions["gamma"].action is ReductionAction.CLOSE_LARGEST  # futures carry no gamma


def test_limits_are_validated():
    with pytest.raises(ValueError, match="hard"):
        MoneyLimit(10.0, 5.0)
    with pytest.raises(ValueError):
        MoneyLimit(0.0)
    assert MoneyLimit(10.0).level(11.0) is BreachLevel.SOFT
    assert MoneyLimit(10.0, 20.0).level(-21.0) is BreachLevel.HARD
