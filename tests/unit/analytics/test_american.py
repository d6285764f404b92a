"""The American model (Bjerksund-Stensland 2002) against a Cox-Ross-Rubinstein tree written here.

Tolerance. BS2002 values one particular exercise strategy (a two-step flat
exercise boundary), so it is a lower bound of the American value. Over the
domain drawn here (T <= 1 year, vol <= 60 %, K/F in [0.8, 1.25], r <= 8 %) its
shortfall against a high-precision reference (QuantLib's QdFp engine) was at
most 0.0015 K on 600 random options, larger for long-dated high-vol deep
in-the-money options. So the check is: the model is at most the tree value
plus the tree's own error, and at least the tree value minus 0.002 K. The
tree's error is made small with 1,200/1,201 steps averaged (odd/even
oscillation) and the European control variate (the tree's European error is
subtracted from its American value).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator

AMERICAN_FUTURES = GreeksCalculator("american")
AMERICAN_SPOT = GreeksCalculator("american", american_underlying="spot")
BLACK = GreeksCalculator("black76")
BS = GreeksCalculator("bs")


def crr(sign: int, spot: float, strike: float, t: float, r: float, carry: float, vol: float, steps: int,
        american: bool) -> float:
    dt = t / steps
    up = math.exp(vol * math.sqrt(dt))
    p = (math.exp(carry * dt) - 1.0 / up) / (up - 1.0 / up)
    discount = math.exp(-r * dt)
    prices = spot * up ** (2.0 * np.arange(steps + 1) - steps)
    values = np.maximum(sign * (prices - strike), 0.0)
    for step in range(steps - 1, -1, -1):
        values = discount * (p * values[1:] + (1.0 - p) * values[:-1])
        if american:
            prices = spot * up ** (2.0 * np.arange(step + 1) - step)
            np.maximum(values, sign * (prices - strike), out=values)
    return float(values[0])


def tree_reference(sign, spot, strike, t, r, carry, vol, european_exact, steps=1200):
    """American CRR value with the European control variate, averaged over two step counts."""
    values = []
    for n in (steps, steps + 1):
        values.append(crr(sign, spot, strike, t, r, carry, vol, n, True)
                      - crr(sign, spot, strike, t, r, carry, vol, n, False) + european_exact)
    return 0.5 * sum(values)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, -1]), st.floats(0.8, 1.25), st.floats(0.02, 1.0), st.floats(0.0, 0.08),
       st.floats(0.1, 0.6))
def test_american_on_futures_matches_the_tree(sign, kf, t, r, vol):
    forward, strike = 100.0, 100.0 * kf
    model = AMERICAN_FUTURES.calculate(sign, forward, strike, t, r, vol).price
    european = BLACK.calculate(sign, forward, strike, t, r, vol).price
    reference = tree_reference(sign, forward, strike, t, r, 0.0, vol, european)
    assert model >= european - 1e-12
    assert model >= max(sign * (forward - strike), 0.0) - 1e-12
    assert model <= reference + 2e-4 * strike
    assert model >= reference - 2e-3 * strike


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, -1]), st.floats(0.8, 1.25), st.floats(0.02, 1.0), st.floats(0.0, 0.08),
       st.floats(0.0, 0.06), st.floats(0.1, 0.6))
def test_american_on_spot_with_dividends_matches_the_tree(sign, kf, t, r, q, vol):
    spot, strike = 100.0, 100.0 * kf
    model = AMERICAN_SPOT.calculate(sign, spot, strike, t, r, vol, q).price
    european = BS.calculate(sign, spot, strike, t, r, vol, q).price
    reference = tree_reference(sign, spot, strike, t, r, r - q, vol, european)
    assert model >= european - 1e-12
    assert model <= reference + 2e-4 * strike
    assert model >= reference - 2e-3 * strike


def test_no_early_exercise_premium_without_interest_on_futures():
    """With r = 0 an option on a futures price is never exercised early: American = Black-76."""
    sign = np.array([1, -1, 1, -1])
    strike = np.array([90.0, 90.0, 115.0, 115.0])
    american = AMERICAN_FUTURES.calculate_batch(sign, 100.0, strike, 0.7, 0.0, 0.3)
    european = BLACK.calculate_batch(sign, 100.0, strike, 0.7, 0.0, 0.3)
    assert np.allclose(american.price, european.price, rtol=1e-12)
    assert np.allclose(american.delta, european.delta, atol=1e-7)
    assert np.allclose(american.gamma, european.gamma, rtol=1e-4)
    assert np.allclose(american.vega, european.vega, rtol=1e-6)
    assert np.allclose(american.theta, european.theta, rtol=1e-4)


def test_american_greeks_have_the_right_signs_and_bounds():
    strike = np.linspace(70, 130, 13)
    calls = AMERICAN_FUTURES.calculate_batch(1, 100.0, strike, 0.5, 0.06, 0.3)
    puts = AMERICAN_FUTURES.calculate_batch(-1, 100.0, strike, 0.5, 0.06, 0.3)
    assert np.all((calls.delta >= 0) & (calls.delta <= 1 + 1e-9))
    assert np.all((puts.delta <= 0) & (puts.delta >= -1 - 1e-9))
    assert np.all(calls.gamma >= -1e-8) and np.all(puts.gamma >= -1e-8)
    assert np.all(calls.vega >= 0) and np.all(puts.vega >= 0)
    # deep in the money a put on futures is worth its exercise value: delta -1
    deep = AMERICAN_FUTURES.calculate(-1, 60.0, 100.0, 0.5, 0.08, 0.2)
    assert deep.price == pytest.approx(40.0, abs=1e-9)
    assert deep.delta == pytest.approx(-1.0, abs=1e-6)


def test_american_implied_vol_round_trips():
    rng = np.random.default_rng(7)
    n = 300
    sign = rng.choice([1.0, -1.0], n)
    strike = 100.0 * rng.uniform(0.8, 1.25, n)
    t = rng.uniform(0.02, 1.0, n)
    r = rng.uniform(0.0, 0.08, n)
    vol = rng.uniform(0.08, 0.8, n)
    price = AMERICAN_FUTURES.price_batch(sign, 100.0, strike, t, r, vol)
    implied = AMERICAN_FUTURES.implied_volatility_batch(price, sign, 100.0, strike, t, r)
    time_value = price - np.maximum(sign * (100.0 - strike), 0.0)
    ok = time_value > 1e-3
    assert ok.sum() > 0.8 * n
    assert np.max(np.abs(implied[ok] - vol[ok])) < 1e-7
    impossible = AMERICAN_FUTURES.implied_volatility_batch([5.0, 100.0, 39.9], [1, 1, -1], [110.0, 100.0, 60.0],
                                                           100.0, 0.5, 0.05)
    assert np.all(np.isnan(impossible))
