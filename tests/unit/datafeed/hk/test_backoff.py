"""Reconnect delays: bounded, growing with the attempt, jittered within the upper half."""
from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from src.datafeed.hk.client import backoff_delay


@given(attempt=st.integers(0, 200), initial=st.floats(0.001, 10), factor=st.floats(1, 1000), seed=st.integers())
def test_delay_lies_in_the_upper_half_of_the_capped_exponential(attempt, initial, factor, seed):
    cap = initial * factor
    base = min(cap, initial * 2 ** min(attempt, 64))
    delay = backoff_delay(attempt, initial, cap, random.Random(seed))
    assert base / 2 <= delay <= base <= cap


@given(attempt=st.integers(0, 60), seed=st.integers())
def test_the_lowest_next_delay_is_never_below_half_the_previous_highest(attempt, seed):
    rng = random.Random(seed)
    now = backoff_delay(attempt, 1.0, 60.0, rng)
    later = backoff_delay(attempt + 1, 1.0, 60.0, rng)
    assert later >= now / 2
