"""Windows of at most a year, the rate governor and the backoff: invariants over generated inputs."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.datafeed.futu.backfill import one_year_after, plan_windows
from src.datafeed.futu.governor import Backoff, RateGovernor

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))


@given(days, st.integers(min_value=0, max_value=4000))
def test_windows_cover_the_span_exactly_contiguously_and_each_at_most_one_year(start, length):
    end = start + timedelta(days=length)
    windows = plan_windows(start, end)
    assert windows[0][0] == start and windows[-1][1] == end
    for (_, last), (following, _) in zip(windows, windows[1:], strict=False):
        assert following == last + timedelta(days=1)
    for begin, last in windows:
        assert begin <= last <= one_year_after(begin) and (last - begin).days <= 365
    assert len(windows) == len(set(windows))


def test_a_window_from_the_29th_of_february_ends_on_the_last_of_february():
    assert one_year_after(date(2016, 2, 29)) == date(2017, 2, 28)
    assert plan_windows(date(2016, 1, 1), date(2018, 12, 31)) == [
        (date(2016, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2017, 12, 31)),
        (date(2018, 1, 1), date(2018, 12, 31))]


def test_an_end_before_the_start_is_refused():
    with pytest.raises(ValueError, match="before start"):
        plan_windows(date(2020, 1, 2), date(2020, 1, 1))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


@settings(max_examples=50)
@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=30),
       st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=300))
def test_the_governor_never_lets_more_than_limit_minus_margin_first_pages_into_any_window(limit, margin, gaps):
    margin = min(margin, limit - 1)
    clock = FakeClock()
    governor = RateGovernor(limit=limit, window_seconds=30.0, margin=margin, clock=clock, sleep=clock.sleep)
    sent = []
    for gap in gaps:
        clock.now += gap
        governor.acquire()
        sent.append(clock.now)
    for index, moment in enumerate(sent):
        in_window = [other for other in sent[: index + 1] if moment - other < 30.0]
        assert len(in_window) <= limit - margin
    assert governor.peak_in_window <= limit - margin and governor.first_pages == len(gaps)


def test_the_governor_waits_only_when_the_window_is_full():
    clock = FakeClock()
    governor = RateGovernor(limit=60, window_seconds=30.0, margin=6, clock=clock, sleep=clock.sleep)
    for _ in range(54):
        governor.acquire()
    assert clock.now == 0 and governor.waits == 0
    governor.acquire()
    assert governor.waits == 1 and clock.now == pytest.approx(30.0, abs=0.01)


def test_governor_settings_are_checked():
    with pytest.raises(ValueError):
        RateGovernor(limit=60, margin=60)
    with pytest.raises(ValueError):
        RateGovernor(limit=0)


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=2 ** 32))
def test_backoff_delays_grow_are_capped_and_jittered_within_bounds(attempt, seed):
    backoff = Backoff(base_seconds=1.0, factor=2.0, cap_seconds=30.0, jitter=0.5, rng=random.Random(seed))
    ceiling = min(30.0, 2.0 ** (attempt - 1))
    assert ceiling * 0.5 <= backoff.delay(attempt) <= ceiling
