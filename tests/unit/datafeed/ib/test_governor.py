"""The rate governor's rules on a simulated clock (no real waiting)."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.datafeed.ib.governor import GovernorLimits, RateGovernor


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def governor(clock: SimulatedClock, **limits) -> RateGovernor:
    return RateGovernor(GovernorLimits(**limits), clock=clock, sleep=clock.sleep)


def max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=40, deadline=None)
@given(rate=st.integers(5, 50), gaps=st.lists(st.floats(0, 0.3), min_size=1, max_size=300))
def test_no_one_second_window_holds_more_than_the_rate(rate, gaps):
    clock = SimulatedClock()
    gov = governor(clock, messages_per_second=rate)
    sent: list[float] = []

    async def scenario():
        for gap in gaps:
            clock.now += gap
            await gov.message()
            sent.append(clock.now)
    asyncio.run(scenario())
    assert max_in_window(sent, 1.0) <= rate
    assert gov.stats.messages == len(gaps)


def test_a_steady_stream_runs_at_the_ceiling_and_a_late_wake_up_is_made_up():
    clock = SimulatedClock()
    gov = governor(clock)
    start = clock.now

    async def scenario():
        for number in range(900):
            if number == 300:
                clock.now += 0.3        # the process was not scheduled for 300 ms
            await gov.message()
    asyncio.run(scenario())
    assert 900 / (clock.now - start + 1.0) == pytest.approx(45.0, rel=0.02)


def test_error_100_backs_off_and_doubles_while_it_repeats():
    clock = SimulatedClock()
    gov = governor(clock, backoff=1.0)
    gov.on_error(100)
    assert gov.delay_for_message() == pytest.approx(1.0)
    clock.now += 1.0
    gov.on_error(100)
    assert gov.delay_for_message() == pytest.approx(2.0)
    clock.now += 100.0                       # a quiet period resets it
    gov.on_error(100)
    assert gov.delay_for_message() == pytest.approx(1.0)
    assert gov.stats.backoffs[100] == 3


@settings(max_examples=25, deadline=None)
@given(requests=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.floats(0, 5)), min_size=1, max_size=80))
def test_historical_requests_respect_ibs_pacing_rules(requests):
    clock = SimulatedClock()
    gov = governor(clock)
    log: list[tuple[float, tuple, int]] = []

    async def scenario():
        for contract, variant, gap in requests:
            clock.now += gap
            key = (contract, variant)
            await gov.historical(key, contract)
            log.append((clock.now, key, contract))
    asyncio.run(scenario())
    times = [t for t, _, _ in log]
    assert max_in_window(times, 600.0) <= 60
    for i, (t, key, contract) in enumerate(log):
        earlier = log[:i]
        assert all(t - t0 >= 15.0 - 1e-6 for t0, k0, _ in earlier if k0 == key)
        assert sum(1 for t0, _, c0 in earlier if c0 == contract and t - t0 < 2.0) < 6


def test_error_162_pauses_historical_requests_only():
    clock = SimulatedClock()
    gov = governor(clock, historical_backoff=15.0)
    gov.on_error(162)
    assert gov.delay_for_historical(("a",), "a") == pytest.approx(15.0)
    assert gov.delay_for_message() == 0.0


def test_connectivity_codes_gate_the_requests():
    gov = RateGovernor()

    async def scenario():
        gov.on_error(1100)
        assert not gov.connectivity_ok
        assert not await gov.wait_connectivity(0.01)
        gov.on_error(1102)
        assert await gov.wait_connectivity(0.01)
    asyncio.run(scenario())


def test_line_cap_holds_in_flight_requests():
    gov = RateGovernor(GovernorLimits(max_lines=3))
    peak = 0

    async def worker():
        nonlocal peak
        async with gov.line():
            peak = max(peak, gov.lines_in_use)
            await asyncio.sleep(0.001)

    async def scenario():
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(20))), 5)
    asyncio.run(scenario())
    assert peak == 3 and gov.lines_in_use == 0


@pytest.mark.parametrize("limits", [dict(messages_per_second=51), dict(batch_size=301), dict(window=0.5),
                                    dict(messages_per_second=44.5),
                                    dict(historical_per_10_min=61), dict(max_lines=0)])
def test_limits_beyond_what_tws_accepts_are_refused(limits):
    with pytest.raises(ValueError):
        GovernorLimits(**limits)
