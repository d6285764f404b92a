"""Black-76 and Black-Scholes-Merton Greeks against QuantLib on a grid.

Agreement is 1e-9 relative wherever the reference is at least 1e-6 of the
underlying; below that (deep out-of-the-money prices of 1e-7 and less, where
both libraries subtract two nearly equal terms) it is 1e-12 of the underlying
in absolute terms.
"""
from __future__ import annotations

import itertools
import math

import pytest

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator

ql = pytest.importorskip("QuantLib")

TODAY = ql.Date(15, 6, 2022)
DAY_COUNT = ql.Actual365Fixed()
UNDERLYING = 100.0
GRID = list(itertools.product([1, -1], [50.0, 80.0, 95.0, 100.0, 105.0, 120.0, 150.0], [1, 7, 30, 365, 730],
                              [0.0, 0.03], [0.0, 0.02], [0.05, 0.3, 1.5]))
GREEKS = ("price", "delta", "gamma", "vega", "theta")


@pytest.fixture(autouse=True)
def evaluation_date():
    ql.Settings.instance().evaluationDate = TODAY


def assert_close(mine: float, reference: float, what: str) -> None:
    if abs(reference) >= 1e-6 * UNDERLYING:
        assert abs(mine - reference) <= 1e-9 * abs(reference), f"{what}: {mine!r} vs QuantLib {reference!r}"
    else:
        assert abs(mine - reference) <= 1e-12 * UNDERLYING, f"{what}: {mine!r} vs QuantLib {reference!r}"


def quantlib_black76(sign, forward, strike, t, r, vol):
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if sign > 0 else ql.Option.Put, strike)
    calc = ql.BlackCalculator(payoff, forward, vol * math.sqrt(t), math.exp(-r * t))
    return {"price": calc.value(), "delta": calc.deltaForward(), "gamma": calc.gammaForward(),
            "vega": calc.vega(t), "theta": calc.theta(forward, t)}


def quantlib_bsm(sign, spot, strike, days, r, q, vol):
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, DAY_COUNT)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, DAY_COUNT)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DAY_COUNT)))
    option = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call if sign > 0 else ql.Option.Put, strike),
                              ql.EuropeanExercise(TODAY + days))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return {"price": option.NPV(), "delta": option.delta(), "gamma": option.gamma(), "vega": option.vega(),
            "theta": option.theta()}


def test_black76_matches_quantlib_black_calculator():
    calc = GreeksCalculator("black76")
    for sign, strike, days, r, _, vol in GRID:
        t = days / 365.0
        mine = calc.calculate(sign, UNDERLYING, strike, t, r, vol)
        reference = quantlib_black76(sign, UNDERLYING, strike, t, r, vol)
        for name in GREEKS:
            assert_close(getattr(mine, name), reference[name], f"black76 {name} {sign} K={strike} {days}d r={r} v={vol}")


def test_black_scholes_with_dividend_yield_matches_quantlib_analytic_engine():
    calc = GreeksCalculator("bs")
    for sign, strike, days, r, q, vol in GRID:
        t = DAY_COUNT.yearFraction(TODAY, TODAY + days)
        mine = calc.calculate(sign, UNDERLYING, strike, t, r, vol, q)
        reference = quantlib_bsm(sign, UNDERLYING, strike, days, r, q, vol)
        for name in GREEKS:
            assert_close(getattr(mine, name), reference[name], f"bs {name} {sign} K={strike} {days}d r={r} q={q} v={vol}")


def test_batch_equals_scalar_on_the_grid():
    calc = GreeksCalculator("bs")
    import numpy as np

    sign, strike, days, r, q, vol = (np.array(column, dtype=float) for column in zip(*GRID))
    batch = calc.calculate_batch(sign, UNDERLYING, strike, days / 365.0, r, vol, q)
    for i in range(0, len(GRID), 37):
        single = calc.calculate(sign[i], UNDERLYING, strike[i], days[i] / 365.0, r[i], vol[i], q[i])
        for name in GREEKS:
            assert getattr(batch.at(i), name) == pytest.approx(getattr(single, name), rel=1e-13, abs=1e-300)
