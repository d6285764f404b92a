"""Invariants of the European Greeks (Black-76 and Black-Scholes-Merton) and of the value objects."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator, option_sign
from src.strategy.domain.value_object.greeks import GreeksBatch, GreeksResult
from src.strategy.domain.value_object.option_contract import OptionType

BLACK = GreeksCalculator("black76")
BS = GreeksCalculator("bs")

forwards = st.floats(1.0, 10_000.0)
moneyness = st.floats(0.6, 1.6)
times = st.floats(0.02, 2.0)
vols = st.floats(0.05, 1.5)
rates = st.floats(-0.01, 0.10)
yields = st.floats(0.0, 0.06)
signs = st.sampled_from([1, -1])


@settings(max_examples=150, deadline=None)
@given(forwards, moneyness, times, vols, rates)
def test_black76_put_call_parity(forward, kf, t, vol, r):
    strike = kf * forward
    call = BLACK.calculate(1, forward, strike, t, r, vol)
    put = BLACK.calculate(-1, forward, strike, t, r, vol)
    assert call.price - put.price == pytest.approx(math.exp(-r * t) * (forward - strike), abs=1e-11 * (forward + strike))
    assert call.delta - put.delta == pytest.approx(math.exp(-r * t), abs=1e-12)
    assert call.gamma == pytest.approx(put.gamma, rel=1e-12)
    assert call.vega == pytest.approx(put.vega, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(forwards, moneyness, times, vols, rates, yields)
def test_black_scholes_put_call_parity_with_dividends(spot, kf, t, vol, r, q):
    strike = kf * spot
    call = BS.calculate("C", spot, strike, t, r, vol, q)
    put = BS.calculate("P", spot, strike, t, r, vol, q)
    parity = spot * math.exp(-q * t) - strike * math.exp(-r * t)
    assert call.price - put.price == pytest.approx(parity, abs=1e-11 * (spot + strike))
    assert call.delta - put.delta == pytest.approx(math.exp(-q * t), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(forwards, times, vols, rates, st.lists(moneyness, min_size=2, max_size=12, unique=True))
def test_prices_are_monotone_in_strike(forward, t, vol, r, kfs):
    strikes = np.sort(np.array(kfs) * forward)
    calls = BLACK.calculate_batch(1, forward, strikes, t, r, vol).price
    puts = BLACK.calculate_batch(-1, forward, strikes, t, r, vol).price
    tolerance = 1e-12 * forward
    assert np.all(np.diff(calls) <= tolerance)
    assert np.all(np.diff(puts) >= -tolerance)
    # and convex in strike (a butterfly is worth something), checked where strikes are apart enough
    # for the slopes not to be rounding
    apart = np.concatenate([[True], np.diff(strikes) > 1e-3 * forward])
    strikes, calls = strikes[apart], calls[apart]
    if strikes.size >= 3:
        slopes = np.diff(calls) / np.diff(strikes)
        assert np.all(np.diff(slopes) >= -1e-7)


@settings(max_examples=100, deadline=None)
@given(signs, forwards, moneyness, times, rates, st.lists(vols, min_size=2, max_size=10, unique=True))
def test_prices_increase_with_volatility(sign, forward, kf, t, r, sigmas):
    sigmas = np.sort(np.array(sigmas))
    prices = BLACK.calculate_batch(sign, forward, kf * forward, t, r, sigmas).price
    assert np.all(np.diff(prices) >= -1e-12 * forward)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["black76", "bs"]), signs, st.floats(50.0, 200.0), moneyness, times, vols, rates, yields)
def test_greeks_match_finite_differences(model, sign, underlying, kf, t, vol, r, q):
    calc = GreeksCalculator(model)
    strike = kf * underlying
    g = calc.calculate(sign, underlying, strike, t, r, vol, q)
    assume(g.vega > 1e-6 * underlying)  # a Greek that is all rounding has nothing to check
    def price_at(u):
        return calc.calculate(sign, u, strike, t, r, vol, q).price

    def richardson(difference, step):
        # Cancels the step^2 error term, which is large deep in the tails (|d1| ~ 4).
        return (4 * difference(step / 2) - difference(step)) / 3

    delta = richardson(lambda h: (price_at(underlying + h) - price_at(underlying - h)) / (2 * h), 1e-4 * underlying)
    assert g.delta == pytest.approx(delta, rel=1e-6, abs=1e-8)
    gamma = richardson(lambda h: (price_at(underlying + h) - 2 * g.price + price_at(underlying - h)) / h ** 2,
                       1e-4 * underlying)
    assert g.gamma == pytest.approx(gamma, rel=1e-4, abs=1e-7)
    vega = richardson(lambda h: (calc.calculate(sign, underlying, strike, t, r, vol + h, q).price
                                 - calc.calculate(sign, underlying, strike, t, r, vol - h, q).price) / (2 * h),
                      1e-4 * vol)
    assert g.vega == pytest.approx(vega, rel=1e-6, abs=1e-8 * underlying)
    theta = richardson(lambda h: -(calc.calculate(sign, underlying, strike, t + h, r, vol, q).price
                                   - calc.calculate(sign, underlying, strike, t - h, r, vol, q).price) / (2 * h),
                       1e-4 * t)
    assert g.theta == pytest.approx(theta, rel=1e-5, abs=1e-7 * underlying)


def test_black76_theta_includes_the_discounting_term():
    """A deep in-the-money Black-76 option barely has time value: theta is about r * V (its value grows as T shrinks)."""
    g = BLACK.calculate(1, 100.0, 20.0, 1.0, 0.05, 0.2)
    assert g.theta == pytest.approx(0.05 * g.price, rel=1e-9)
    atm = BLACK.calculate(1, 100.0, 100.0, 0.5, 0.03, 0.2)
    assert atm.theta < 0


def test_option_types_in_every_spelling():
    assert list(option_sign(["C", "p", " call ", "PUT", "x"])[:4]) == [1, -1, 1, -1]
    assert math.isnan(option_sign(["x"])[0])
    assert list(option_sign(np.array([1, -1]))) == [1, -1]
    assert math.isnan(option_sign(2)) and math.isnan(option_sign(True))
    assert list(option_sign(np.array([OptionType.CALL, OptionType.PUT], dtype=object))) == [1, -1]
    a = BLACK.calculate_batch(np.array(["C", "P"]), 100.0, 100.0, 0.5, 0.02, 0.2)
    b = BLACK.calculate_batch(np.array([1, -1]), 100.0, 100.0, 0.5, 0.02, 0.2)
    assert a == b


def test_invalid_inputs_give_nan_and_never_raise():
    rows = [
        (1, -100.0, 100.0, 0.5, 0.02, 0.2), (1, 100.0, 0.0, 0.5, 0.02, 0.2), (1, 100.0, 100.0, -0.1, 0.02, 0.2),
        (1, 100.0, 100.0, 0.5, 0.02, -0.2), (1, np.nan, 100.0, 0.5, 0.02, 0.2), (1, 100.0, 100.0, 0.5, np.inf, 0.2),
        (1, 100.0, np.inf, 0.5, 0.02, 0.2), (1, 100.0, 100.0, np.inf, 0.02, 0.2), (0, 100.0, 100.0, 0.5, 0.02, 0.2),
        (1, 100.0, 100.0, 0.5, 0.02, np.nan), (1, 100.0, 100.0, 0.5, 0.02, 0.2),
    ]
    for model in ("black76", "bs", "american"):
        calc = GreeksCalculator(model)
        w, u, k, t, r, v = (np.array(c, dtype=float) for c in zip(*rows))
        batch = calc.calculate_batch(w, u, k, t, r, v)
        assert not np.any(batch.valid()[:-1]), model
        assert batch.valid()[-1], model
        with pytest.raises(ValueError):
            calc.calculate(1, -1.0, 100.0, 0.5, 0.02, 0.2)


def test_expiry_and_zero_vol_limits():
    at_expiry = BLACK.calculate_batch([1, -1, 1], [110.0, 110.0, 100.0], 100.0, 0.0, 0.03, 0.2)
    assert list(at_expiry.price) == [10.0, 0.0, 0.0]
    assert list(at_expiry.delta) == [1.0, 0.0, 0.5]
    assert not np.any(at_expiry.gamma) and not np.any(at_expiry.vega)
    frozen = BS.calculate(1, 100.0, 90.0, 1.0, 0.05, 0.0, 0.01)
    assert frozen.price == pytest.approx(100.0 * math.exp(-0.01) - 90.0 * math.exp(-0.05), rel=1e-14)
    assert frozen.gamma == 0.0 and frozen.vega == 0.0


def test_broadcasting_and_shapes():
    strikes = np.linspace(80, 120, 5)
    batch = BLACK.calculate_batch("C", 100.0, strikes[:, None], np.array([0.1, 0.5, 1.0])[None, :], 0.02, 0.25)
    assert batch.shape == (5, 3)
    assert batch.price.flags.writeable is False
    with pytest.raises(ValueError):
        BLACK.calculate_batch("C", 100.0, np.ones(3), np.ones(4), 0.02, 0.2)


def test_greeks_result_is_validated_and_frozen():
    result = GreeksResult(1.0, 0.5, 0.01, 20.0, -3.0)
    with pytest.raises(AttributeError):
        result.price = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        GreeksResult(float("nan"), 0.5, 0.01, 20.0, -3.0)
    with pytest.raises(TypeError):
        GreeksResult("1", 0.5, 0.01, 20.0, -3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        GreeksBatch(np.zeros(2), np.zeros(2), np.zeros(3), np.zeros(2), np.zeros(2))


def test_unknown_model_is_refused():
    with pytest.raises(ValueError):
        GreeksCalculator("heston")  # type: ignore[arg-type]
