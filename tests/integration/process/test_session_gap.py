"""The daemon keeps one child through a short gap between trading periods, and replaces it after a long one.

Real child processes (``scripted_child``, which reads the gap notice with the child's own reader) under a
``ParentProcess`` in a thread. Time is a ``SteppedClock`` the test moves: the clock jumps to just past the
period's end only once the child runs and beats, so no start-up time on a loaded machine can make the
test miss the moment it is about; every wait ends when what it waits for happens, under one ceiling.
"""
from __future__ import annotations

import logging
from datetime import datetime, time as clock_time

from src.core.config.schema import TradingPeriod
from src.core.process.supervision import TradingWindow
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from tests.e2e.daemon_support import SteppedClock
from tests.integration.process.test_parent_process import WAIT_CEILING, Harness, daemon_lines, runtime

MONDAY = datetime(2026, 1, 12, tzinfo=EXCHANGE_TIMEZONE)
MORNING = TradingPeriod(clock_time(9, 30), clock_time(11, 30))
TEN_MINUTES_LATER = TradingPeriod(clock_time(11, 40), clock_time(15, 0))


def start_harness(tmp_path, keep_child_through_gap: float, gap_working_orders: str = "keep"):
    clock = SteppedClock(MONDAY.replace(hour=11, minute=20))
    window = TradingWindow([MORNING, TEN_MINUTES_LATER], load_cn_calendar())
    # Silence is counted on the stepped clock, which jumps 10 minutes: the timeout is above any jump.
    config = runtime(heartbeat_interval=600.0, heartbeat_timeout=7200.0, stop_timeout=3600.0,
                     keep_child_through_gap=keep_child_through_gap, gap_working_orders=gap_working_orders)
    harness = Harness(tmp_path, config, window=window, clock=clock).start()
    harness.wait_until(lambda: len(harness.starts()) == 1, WAIT_CEILING, "the morning child")
    harness.wait_until(lambda: harness.parent.heartbeat.beats_seen >= 1, WAIT_CEILING, "the child's first beat")
    return harness, clock


def kinds(harness) -> list[str]:
    return [event[0] for event in harness.events()]


def test_one_child_runs_through_a_gap_shorter_than_the_setting(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    harness, clock = start_harness(tmp_path, keep_child_through_gap=900.0, gap_working_orders="cancel")
    pid = harness.starts()[0][1]
    clock.jump_to(MONDAY.replace(hour=11, minute=30, second=1))
    harness.wait_until(lambda: "gap" in kinds(harness), WAIT_CEILING, "the child told of the gap")
    clock.jump_to(MONDAY.replace(hour=11, minute=40, second=1))
    harness.wait_until(lambda: "trading" in kinds(harness), WAIT_CEILING, "the child told the gap is over")
    assert harness.parent.gaps_kept == 1
    assert harness.stop() == 0

    events = harness.events()
    assert [e for e in events if e[0] == "start"] == [["start", pid, "1"]], "one child, never restarted"
    gap = next(e for e in events if e[0] == "gap")
    assert gap == ["gap", pid, MONDAY.replace(hour=11, minute=30).isoformat(),
                   MONDAY.replace(hour=11, minute=40).isoformat(), "cancel"]
    assert ["trading", pid] in events
    assert kinds(harness).index("trading") < kinds(harness).index("sigterm"), "stopped only when the daemon was"
    lines = daemon_lines(caplog)
    print("\n".join(lines))
    assert any(f"gap 11:30-11:40 (10 min) is within runtime.keep_child_through_gap (15 min): keeping child pid "
               f"{pid} running (no restart), its strategies idle, working orders cancelled by the child" in line
               for line in lines)
    assert any(f"gap 11:30-11:40 (10 min) over: child pid {pid} kept running through it" in line for line in lines)
    assert not any("outside the trading periods" in line for line in lines)


def test_a_gap_longer_than_the_setting_stops_the_child_and_starts_a_new_one(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    harness, clock = start_harness(tmp_path, keep_child_through_gap=300.0)
    first = harness.starts()[0][1]
    clock.jump_to(MONDAY.replace(hour=11, minute=30, second=1))
    harness.wait_until(lambda: "sigterm" in kinds(harness), WAIT_CEILING, "the child stopped at 11:30")
    clock.jump_to(MONDAY.replace(hour=11, minute=40, second=1))
    harness.wait_until(lambda: len(harness.starts()) == 2, WAIT_CEILING, "a new child at 11:40")
    assert harness.stop() == 0

    second = harness.starts()[1][1]
    assert second != first
    assert "gap" not in kinds(harness) and harness.parent.gaps_kept == 0
    first_start, second_start = harness.parent.start_times
    assert first_start.time() < clock_time(11, 30) <= clock_time(11, 40) <= second_start.time()
    lines = daemon_lines(caplog)
    print("\n".join(lines))
    assert any(f"stopping child pid {first}: outside the trading periods (the gap 11:30-11:40 (10 min) is longer "
               f"than runtime.keep_child_through_gap (5 min))" in line for line in lines)
    assert not any("restart" in line and " of " in line for line in lines)  # a scheduled stop is no failure
