"""The shortcuts taken for values made once per contract per bar change no answer.

Each fast path is checked against the general path it skips: a float ``require_real`` accepts is
returned as before and everything else is still refused with the same error; a bar's option quote
and a bar's last price are stored as the full checks would store them; the pricer's inputs of one
shape are the arrays broadcasting would make.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.domain_service.pricing.inputs import Inputs
from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.market import OptionQuote
from src.strategy.domain.value_object.validation import (
    is_plain_non_negative,
    require_non_negative,
    require_positive,
    require_real,
)
from tests.unit.domain.builders import option
from tests.unit.execution.fakes import FakeTradeGateway

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(np.float32),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.integers(-1000, 1000).map(np.int64),
    st.fractions(max_denominator=100), st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.sampled_from(["1.5", None, [1.0], complex(1, 0)]),
)


def general_require_real(owner, name, value):
    """``require_real`` as it was before its fast path."""
    from numbers import Real
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}.{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}.{name} must be finite, got {number}")
    return number


def outcome(check, value):
    try:
        result = check("X", "v", value)
    except (TypeError, ValueError) as error:
        return type(error), str(error)
    return type(result), result


@given(numbers)
def test_require_real_answers_as_the_general_check(value):
    assert outcome(require_real, value) == outcome(general_require_real, value)


@given(numbers)
def test_a_plain_non_negative_float_is_what_require_non_negative_returns_unchanged(value):
    if is_plain_non_negative(value):
        assert require_non_negative("X", "v", value) is value
    else:
        assert type(value) is not float or not 0.0 <= value < math.inf


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**6), st.booleans(),
                 st.decimals(allow_nan=False, allow_infinity=False, places=2), st.fractions(max_denominator=9)),
       st.sampled_from(["last_price", "volume", "open_interest"]))
def test_an_option_quote_of_a_bar_is_stored_as_the_full_checks_store_it(value, field):
    fields = {"last_price": 12.4, "volume": 30.0, "open_interest": 900.0, field: value}
    contract = option(3800.0)
    try:
        expected = general_require_real("X", "v", value)
        expected_error = None if expected >= 0 else ValueError
    except (TypeError, ValueError) as error:
        expected, expected_error = None, type(error)
    if expected_error is not None:
        with pytest.raises(expected_error):
            OptionQuote(contract=contract, **fields)
        return
    quote = OptionQuote(contract=contract, **fields)
    assert type(getattr(quote, field)) is float and getattr(quote, field) == expected
    # the same values through the general path (a bid forces it) are stored alike
    full = OptionQuote(contract=contract, bid=12.2, **fields)
    assert (full.last_price, full.volume, full.open_interest) == (quote.last_price, quote.volume,
                                                                 quote.open_interest)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**6), st.just(None)))
def test_a_bar_last_price_is_kept_as_the_general_path_keeps_it(last):
    def stored(**extra):
        executor = SmartOrderExecutor(FakeTradeGateway(), ExecutionSettings())
        try:
            executor.update_price("IF2501.CFFEX", last=last, **extra)
        except (TypeError, ValueError) as error:
            return type(error)
        return executor._quotes["IF2501.CFFEX"]  # the quote the executor prices its orders from

    # limit_up=0 is "no limit" (None) and takes the general path
    assert stored() == stored(limit_up=0.0)
    if isinstance(stored(), tuple) and last is not None and last > 0:
        assert stored().last == require_positive("X", "v", last)


@given(st.integers(0, 6), st.integers(1, 3))
def test_inputs_of_one_shape_are_the_arrays_broadcasting_makes(size, ndim):
    rng = np.random.default_rng(size * 10 + ndim)
    shape = (size,) + (1,) * (ndim - 1)
    named = {"underlying": rng.uniform(1, 5, shape), "strike": rng.uniform(1, 5, shape), "t": 0.5, "r": 0.02,
             "sign": np.where(rng.uniform(size=shape) > 0.5, 1, -1)}
    inputs = Inputs.build(**named)
    assert inputs.shape == np.broadcast_shapes(*(np.shape(v) for v in named.values()))
    for name, value in named.items():
        array = np.asarray(value, dtype=np.float64)
        got = inputs.values[name]
        if array.size == 1 and inputs.size != 0:
            assert isinstance(got, float) and got == float(array.reshape(-1)[0])
        else:
            expected = np.ascontiguousarray(np.broadcast_to(array, inputs.shape)).reshape(-1)
            assert got.dtype == np.float64 and np.array_equal(got, expected)


def test_inputs_of_different_shapes_still_broadcast():
    inputs = Inputs.build(underlying=np.array([[1.0], [2.0]]), strike=np.array([1.0, 2.0, 3.0]), t=1.0)
    assert inputs.shape == (2, 3)
    assert np.array_equal(inputs.values["underlying"], [1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
