"""Implied volatility: recovery on a dense grid, impossible prices, junk inputs."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator, normalized_implied_total_vol

BLACK = GreeksCalculator("black76")
BS = GreeksCalculator("bs")
FORWARD = 100.0


def grid():
    """K/F 0.5-1.5, T 1 day-2 years, vol 5%-150%, calls and puts."""
    sign, kf, days, vol = np.meshgrid([1.0, -1.0], np.linspace(0.5, 1.5, 51),
                                      np.array([1, 2, 7, 14, 30, 61, 91, 182, 365, 547, 730]),
                                      np.array([0.05, 0.08, 0.12, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.25, 1.5]),
                                      indexing="ij")
    return sign.ravel(), kf.ravel() * FORWARD, days.ravel() / 365.0, vol.ravel()


@pytest.mark.parametrize("rate", [0.0, 0.03])
def test_grid_recovers_every_vol_with_time_value(rate):
    sign, strike, t, vol = grid()
    price = BLACK.calculate_batch(sign, FORWARD, strike, t, rate, vol).price
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warnings escape either
        implied = BLACK.implied_volatility_batch(price, sign, FORWARD, strike, t, rate)
    time_value = price - np.maximum(sign * (FORWARD - strike), 0.0) * np.exp(-rate * t)
    meaningful = time_value >= 1e-6 * FORWARD
    assert meaningful.sum() > 0.6 * meaningful.size  # the grid is mostly inside the domain
    assert np.all(np.isfinite(implied[meaningful]))
    assert np.max(np.abs(implied[meaningful] - vol[meaningful])) <= 1e-8
    # below that level the price is partly rounding: still a volatility or NaN, never an exception or junk sign
    rest = implied[~meaningful]
    assert np.all(np.isnan(rest) | (rest > 0.0))


def test_black_scholes_model_with_dividends_round_trips():
    sign, strike, t, vol = grid()
    price = BS.calculate_batch(sign, FORWARD, strike, t, 0.04, vol, 0.02).price
    implied = BS.implied_volatility_batch(price, sign, FORWARD, strike, t, 0.04, 0.02)
    forward = FORWARD * np.exp(0.02 * t)
    time_value = price - np.maximum(sign * (forward - strike), 0.0) * np.exp(-0.04 * t)
    meaningful = time_value >= 1e-6 * FORWARD
    assert np.max(np.abs(implied[meaningful] - vol[meaningful])) <= 1e-8


def test_impossible_prices_are_nan():
    t, r = 0.5, 0.03
    disc = math.exp(-r * t)
    cases = [
        (disc * 10.0 - 1e-6, 1, 110.0, 100.0),   # call below discounted intrinsic
        (disc * 10.0, 1, 110.0, 100.0),          # exactly intrinsic: zero time value
        (disc * 110.0, 1, 110.0, 100.0),         # call at the discounted forward: upper bound
        (disc * 100.0 + 1.0, -1, 110.0, 100.0),  # put above the discounted strike
        (0.0, 1, 100.0, 120.0),                  # worthless
        (-1.0, 1, 100.0, 100.0),
        (float("nan"), 1, 100.0, 100.0),
        (float("inf"), -1, 100.0, 100.0),
    ]
    price, sign, forward, strike = (np.array(c, dtype=float) for c in zip(*cases))
    assert np.all(np.isnan(BLACK.implied_volatility_batch(price, sign, forward, strike, t, r)))


def test_junk_never_raises():
    junk = [None, "abc", object(), -5, 0, np.nan, np.inf, -np.inf, 1e308, 1e-308, True]
    for value in junk:
        for position in range(6):
            args = [5.0, "C", 100.0, 100.0, 0.5, 0.02]
            args[position] = value
            out = BLACK.implied_volatility_batch(*args)
            assert np.all(np.isnan(out) | (np.asarray(out) > 0)), (position, value)
    assert math.isnan(BLACK.implied_volatility(5.0, "C", 100.0, 100.0, 0.0, 0.02))  # expired
    assert math.isnan(BLACK.implied_volatility(5.0, "X", 100.0, 100.0, 0.5, 0.02))  # unknown type
    out = BLACK.implied_volatility_batch(np.array([[5.0, 6.0]]), np.array(["C", "P"]), 100.0, [[90.0], [110.0]], 0.5, 0.02)
    assert out.shape == (2, 2)


def test_tiny_vega_is_solved_not_guessed():
    """Deep wings with a vega of 1e-9 of the forward: the answer is the true vol, or NaN, never the first guess."""
    sign = np.array([1.0, 1.0, -1.0, -1.0])
    strike = np.array([150.0, 200.0, 60.0, 40.0])
    t = np.array([0.05, 0.25, 0.05, 0.25])
    vol = np.array([0.3, 0.25, 0.35, 0.4])
    price = BLACK.calculate_batch(sign, FORWARD, strike, t, 0.0, vol).price
    assert np.all(price < 1e-6 * FORWARD) and np.all(price > 0)
    implied = BLACK.implied_volatility_batch(price, sign, FORWARD, strike, t, 0.0)
    assert np.all(np.abs(implied - vol) <= 1e-7 * vol)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([1.0, -1.0]), st.floats(0.5, 1.5), st.floats(1 / 365, 2.0), st.floats(0.05, 1.5),
       st.floats(-0.01, 0.1))
def test_implied_vol_inverts_the_price(sign, kf, t, vol, r):
    strike = kf * FORWARD
    price = BLACK.calculate(sign, FORWARD, strike, t, r, vol).price
    assume(price - max(sign * (FORWARD - strike), 0.0) * math.exp(-r * t) >= 1e-6 * FORWARD)
    assert BLACK.implied_volatility(price, sign, FORWARD, strike, t, r) == pytest.approx(vol, abs=1e-8)


@settings(max_examples=300, deadline=None)
@given(st.floats(-8.0, 0.0), st.floats(1e-3, 6.0))
def test_normalized_solver_over_a_wide_domain(x, s):
    """Beyond the trading domain too: |ln F/K| up to 8, total vol up to 6."""
    h, half = x / s, 0.5 * s
    from scipy.special import ndtr

    tau = math.exp(0.5 * x) * ndtr(h + half) - math.exp(-0.5 * x) * ndtr(h - half)
    assume(tau > 1e-250 and tau < math.exp(0.5 * x) * (1 - 1e-12))
    solved = normalized_implied_total_vol(np.array([x]), np.array([tau]))[0]
    assert math.isnan(solved) or solved == pytest.approx(s, rel=1e-6)
    # where the price carries enough digits the answer must be there
    if tau > 1e-200 and math.exp(0.5 * x) - tau > 1e-10:
        assert solved == pytest.approx(s, rel=1e-6)
