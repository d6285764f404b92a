"""P&L attribution: the components add up to the book's marked-to-market P&L; Greeks explain small moves."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.pnl_attribution import COMPONENTS, MarkedPosition, PnLAttribution

CST = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 12, 9, 31, tzinfo=CST)
SYMBOLS = {"IO-P": (True, 100.0), "MO-C": (True, 100.0), "IF": (False, 300.0)}

# One step: some fills (symbol, signed lots, price) then a mark of every symbol.
fill = st.tuples(st.sampled_from(sorted(SYMBOLS)), st.integers(-5, 5).filter(bool), st.floats(1.0, 5000.0),
                 st.floats(0.0, 50.0))
step = st.tuples(st.lists(fill, max_size=3), st.fixed_dictionaries(
    {s: st.floats(1.0, 5000.0) for s in SYMBOLS}), st.floats(-0.5, 0.5), st.floats(0.0, 3.0))


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_components_sum_to_the_cash_account_of_the_book(steps):
    """Equity = cash (premiums and futures flows, less fees) + positions at their marks; its change over
    the run equals the sum of the components, to 1e-6 CNY per 1 million of gross flows."""
    attribution = PnLAttribution()
    lots = {s: 0 for s in SYMBOLS}
    cash = 0.0
    gross = 1.0
    marks: dict[str, float] = {}
    for index, (fills, prices, d_vol, elapsed) in enumerate(steps):
        at = START + timedelta(minutes=index)
        for symbol, quantity, price, fee in fills:
            _is_option, multiplier = SYMBOLS[symbol]
            attribution.record_fill(symbol, quantity, price, multiplier, SYMBOLS[symbol][0], fee, at)
            lots[symbol] += quantity
            cash -= quantity * price * multiplier + fee
            gross += abs(quantity * price * multiplier) + fee
        marks = dict(prices)
        positions = {}
        for symbol, held in lots.items():
            if not held:
                continue
            is_option, multiplier = SYMBOLS[symbol]
            positions[symbol] = MarkedPosition(symbol, held, multiplier, marks[symbol], is_option,
                                               underlying_price=marks["IF"], delta=0.3, gamma=0.001, vega=2.0,
                                               theta=-1.0, volatility=0.2 + d_vol / 10, trading_days_left=20.0)
        underlying = {s: marks["IF"] for s in SYMBOLS if SYMBOLS[s][0]}
        vols = {s: 0.2 + d_vol / 10 for s in underlying}
        left = {s: 20.0 - elapsed for s in underlying}
        attribution.mark(at.date(), positions, marks, underlying, vols, left)
        gross += sum(abs(lots[s] * marks[s] * SYMBOLS[s][1]) for s in SYMBOLS)
    equity = cash + sum(lots[s] * marks[s] * SYMBOLS[s][1] for s in SYMBOLS)
    total = attribution.totals()
    assert set(total) == set(COMPONENTS)
    assert sum(total.values()) == pytest.approx(equity, abs=1e-6 * gross / 1e6 + 1e-9)
    # Per day the same figures; per trade the option fills' fees.
    summary = attribution.summary()
    assert summary["total"]["total"] == pytest.approx(sum(day["total"] for day in summary["by_day"]), abs=1e-6)


def test_a_small_move_is_explained_by_delta_gamma_vega_and_theta():
    """A short Black-76 put, one minute of a 0.4% move and +0.5 vol point: the residual is a small share."""
    calculator = GreeksCalculator("black76")
    strike, days_per_year = 4400.0, 256.1
    f0, f1, s0, s1 = 4600.0, 4618.4, 0.20, 0.205
    t0 = 20 / days_per_year
    t1 = t0 - (1 / 240) / days_per_year
    g0 = calculator.calculate_batch(np.array([-1.0]), np.array([f0]), np.array([strike]), np.array([t0]), 0.02,
                                    np.array([s0]))
    p1 = float(calculator.calculate_batch(np.array([-1.0]), np.array([f1]), np.array([strike]), np.array([t1]),
                                          0.02, np.array([s1])).price[0])
    p0 = float(g0.price[0])
    attribution = PnLAttribution()
    attribution.mark(date(2026, 1, 12), {"P": MarkedPosition(
        "P", -2, 100.0, p0, True, f0, float(g0.delta[0]), float(g0.gamma[0]), float(g0.vega[0]) / 100,
        float(g0.theta[0]) / days_per_year, s0, t0 * days_per_year)}, {"P": p0}, {"P": f0}, {"P": s0},
        {"P": t0 * days_per_year})
    step = attribution.mark(date(2026, 1, 12), {}, {"P": p1}, {"P": f1}, {"P": s1}, {"P": t1 * days_per_year})
    actual = -2 * 100.0 * (p1 - p0)
    assert sum(step.values()) == pytest.approx(actual)
    explained = step["delta"] + step["gamma"] + step["vega"] + step["theta"]
    assert abs(step["residual"]) < 0.05 * abs(actual)
    # A short put: gains on the rise (positive delta) and on time, loses on vol and on the move's size.
    assert step["delta"] > 0 and step["theta"] > 0 and step["vega"] < 0 and step["gamma"] < 0
    assert math.isclose(explained + step["residual"], actual, rel_tol=1e-9)


def test_a_trade_is_followed_from_its_opening_fill_to_the_one_that_leaves_it_flat():
    attribution = PnLAttribution()
    day = date(2026, 1, 12)
    attribution.record_fill("IO-P", -2, 50.0, 100.0, True, 30.0, START)
    attribution.mark(day, {"IO-P": MarkedPosition("IO-P", -2, 100.0, 48.0, True, 4600.0, -0.2, 0.001, 3.0,
                                                  -1.0, 0.2, 10.0)}, {"IO-P": 48.0}, {"IO-P": 4600.0},
                     {"IO-P": 0.2}, {"IO-P": 10.0})
    attribution.record_fill("IO-P", 2, 45.0, 100.0, True, 30.0, START + timedelta(minutes=1))
    attribution.mark(day, {}, {"IO-P": 46.0}, {"IO-P": 4610.0}, {"IO-P": 0.2}, {"IO-P": 9.99})
    (trade,) = attribution.summary()["by_trade"]
    assert trade["lots"] == 2 and trade["closed_at"] is not None
    assert trade["fees"] == pytest.approx(-60.0)
    assert trade["total"] == pytest.approx(-2 * 100 * (45.0 - 50.0) - 60.0)
