"""The American model (Bjerksund-Stensland 2002) against a Cox-Ross-Rubinstein tree written here.

Tolerance. BS2002 values one particular exercise strategy (a two-step flat
exercise boundary), so it is a lower bound of the American value. Over the
domain drawn here (T <= 1 year, vol <= 60 %, K/F in [0.8, 1.25], r <= 8 %) its
shortfall against a high-precision reference (QuantLib's QdFp engine) was at
most 0.0015 K on 600 random options, larger for long-dated high-vol deep
in-the-money options. So the check is: the model is at most the tree value
plus the tree's own error, and at least the tree value minus 0.0025 K (0.002 K
before hypothesis found a deep in-the-money call, K/F 0.805, T 1, vol 56 %,
cost of carry 0, 0.00205 K below the tree). The
tree's error is made small with 1,200/1,201 steps averaged (odd/even
oscillation) and the European control variate (the tree's European error is
subtracted from its American value).
"""
from __future__ import annotations

import math
import warnings

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
    # 2.5e-3 K, not 2e-3 K: hypothesis found a deep in-the-money call (K/F 0.805, T 1, vol 56 %, r 3.1 %)
    # where the shortfall is 0.00205 K, the long-dated high-vol corner the module notes describe
    assert model >= reference - 2.5e-3 * strike


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
    # q = r is the futures case (b = 0), where the same corner shows a shortfall of 0.00205 K (see above)
    assert model >= reference - 2.5e-3 * strike


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


# Mixed batches at q = 0 (stocks and ETFs without a dividend yield): calls have no early-exercise value when
# r >= 0 and are priced in the same batch as puts that have one. Issue 13: the batch raised (a narrowed array
# met a full-length one inside the Bjerksund-Stensland kernel) and an overflow warning escaped.
_option = st.tuples(st.sampled_from([1, -1]), st.floats(0.7, 1.4), st.floats(0.02, 1.5), st.floats(0.05, 0.8))


@settings(max_examples=30, deadline=None)
@given(st.lists(_option, min_size=2, max_size=6), st.floats(-0.02, 0.08))
def test_american_spot_batch_mixing_calls_and_puts_at_zero_yield(options, r):
    signs = np.array([o[0] for o in options], dtype=np.float64)
    spot = 100.0
    strikes = spot * np.array([o[1] for o in options])
    t = np.array([o[2] for o in options])
    vol = np.array([o[3] for o in options])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = AMERICAN_SPOT.calculate_batch(signs, spot, strikes, t, r, vol, 0.0)
        prices = AMERICAN_SPOT.price_batch(signs, spot, strikes, t, r, vol, 0.0)
    european = BS.calculate_batch(signs, spot, strikes, t, r, vol, 0.0).price
    assert np.all(np.isfinite(batch.price))
    np.testing.assert_allclose(prices, batch.price, rtol=1e-12, atol=1e-12)
    for i, option in enumerate(options):
        alone = AMERICAN_SPOT.calculate(option[0], spot, strikes[i], t[i], r, vol[i], 0.0)
        assert alone.price == pytest.approx(batch.price[i], rel=1e-12, abs=1e-12)
        assert batch.price[i] >= european[i] - 1e-12
        assert batch.price[i] >= max(signs[i] * (spot - strikes[i]), 0.0) - 1e-12
        if signs[i] > 0 and r >= 0.0:
            # no dividend, no negative rate: an American call is never exercised early
            assert batch.price[i] == pytest.approx(european[i], rel=1e-9, abs=1e-9)
    # against the tree for the first option (the tree costs ~50 ms)
    reference = tree_reference(options[0][0], spot, strikes[0], t[0], r, r, vol[0], european[0], steps=600)
    assert batch.price[0] <= reference + 5e-4 * strikes[0]
    assert batch.price[0] >= reference - 3e-3 * strikes[0]


def test_american_spot_batch_example_from_issue_13():
    """Two calls and two puts on one ETF at q = 0: the batch prices them as one-by-one calls do."""
    signs, strikes = ["C", "P", "C", "P"], [95.0, 95.0, 105.0, 105.0]
    batch = AMERICAN_SPOT.calculate_batch(signs, 100.0, strikes, 0.25, 0.045, 0.2, 0.0)
    for i, sign in enumerate(signs):
        assert batch.price[i] == pytest.approx(AMERICAN_SPOT.calculate(sign, 100.0, strikes[i], 0.25, 0.045,
                                                                       0.2).price, rel=1e-12)
