"""ParentProcess with real child processes (``scripted_child``) and an injected clock.

The daemon runs in a thread of the test; its children are real processes. The
trading-period test runs a ``ScaledClock`` 1800 times faster than real time, so
a morning session's end and the lunch break pass in seconds.
"""
from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, time as clock_time

import pytest

from src.core.config.schema import RuntimeConfig, TradingPeriod
from src.core.process.heartbeat import read_beat
from src.core.process.parent_process import ParentProcess
from src.core.process.session_gap import notice_file_for
from src.core.process.supervision import TradingWindow
from src.core.clock import ScaledClock
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

# Ceiling of every wait for something the daemon or a child does: generous, so a loaded machine
# only makes a test slower; the waits end as soon as what they wait for happens.
WAIT_CEILING = 120.0

MORNING = TradingPeriod(clock_time(8, 40), clock_time(11, 30))
AFTERNOON = TradingPeriod(clock_time(13, 0), clock_time(15, 30))


def runtime(**overrides) -> RuntimeConfig:
    values = dict(max_restart_count=5, restart_delay=0.1, trading_periods=(MORNING, AFTERNOON),
                  max_restart_delay=10.0, healthy_reset_seconds=3600.0, heartbeat_interval=0.1,
                  heartbeat_timeout=5.0, stop_timeout=3.0)
    values.update(overrides)
    return RuntimeConfig(**values)


class Harness:
    """A daemon in a thread supervising ``scripted_child`` processes."""

    def __init__(self, tmp_path, config: RuntimeConfig, script: str = "", window: TradingWindow | None = None,
                 clock=None, child_interval: float = 0.05, poll_interval: float | None = None) -> None:
        self.state = tmp_path / "state"
        self.state.mkdir(parents=True)
        self.heartbeat = tmp_path / "heartbeat"
        command = [sys.executable, "-m", "tests.e2e.fault_children.scripted_child", "--heartbeat-file",
                   str(self.heartbeat), "--interval", str(child_interval), "--state-dir", str(self.state),
                   "--script", script, "--gap-file", str(notice_file_for(self.heartbeat))]
        self.parent = ParentProcess(command, config, self.heartbeat, window, clock=clock, name="test-daemon",
                                    poll_interval=poll_interval)
        self.result: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result = self.parent.run()

    def start(self) -> Harness:
        self.thread.start()
        return self

    def events(self) -> list[list[str]]:
        path = self.state / "events"
        return [line.split() for line in path.read_text().splitlines()] if path.exists() else []

    def starts(self) -> list[list[str]]:
        return [event for event in self.events() if event[0] == "start"]

    def wait_until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; events: {self.events()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> int:
        self.parent.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the daemon did not stop"
        return self.result


def first_beat_seconds(tmp_path) -> float:
    """Real seconds from spawning ``scripted_child`` to its first heartbeat, on this machine now.

    A child is "hung" when silent longer than heartbeat_timeout, its start-up included; a test
    whose timeout is below what a start takes on a busy machine would see healthy children hung.
    """
    folder = tmp_path / "calibration"
    folder.mkdir()
    beat_file = folder / "heartbeat"
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "tests.e2e.fault_children.scripted_child", "--heartbeat-file",
                              str(beat_file), "--interval", "0.05", "--state-dir", str(folder)], cwd=PROJECT_ROOT)
    try:
        while read_beat(beat_file) is None:
            if time.monotonic() - started > WAIT_CEILING:
                pytest.fail(f"scripted_child did not beat within {WAIT_CEILING} s")
            if child.poll() is not None:
                pytest.fail(f"scripted_child exited with code {child.returncode} before its first beat")
            time.sleep(0.01)
        return time.monotonic() - started
    finally:
        child.terminate()
        child.wait(WAIT_CEILING)


def daemon_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "daemon"]


def test_child_runs_only_inside_trading_periods(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = ScaledClock(datetime(2026, 1, 12, 9, 45, tzinfo=EXCHANGE_TIMEZONE), scale=1800)  # a Monday, 3.5 real s before 11:30
    window = TradingWindow([MORNING, AFTERNOON], load_cn_calendar())
    # keep_child_through_gap 0: a daemon told to stop its child at every period's end (tests/integration/
    # process/test_session_gap.py has the default, which keeps it through the lunch break).
    config = runtime(restart_delay=60.0, max_restart_delay=600.0, heartbeat_interval=600.0,
                     heartbeat_timeout=7200.0, stop_timeout=3600.0, keep_child_through_gap=0.0)
    harness = Harness(tmp_path, config, window=window, clock=clock, poll_interval=18.0).start()

    harness.wait_until(lambda: len(harness.starts()) == 1, WAIT_CEILING, "the morning child")
    harness.wait_until(lambda: any(e[0] == "sigterm" for e in harness.events()), WAIT_CEILING, "the stop at 11:30")
    stopped_at = clock.now()
    assert clock_time(11, 30) <= stopped_at.time() < clock_time(13, 0)  # seen by the test during the break
    harness.wait_until(lambda: len(harness.starts()) == 2, WAIT_CEILING, "the afternoon child")
    assert harness.stop() == 0
    first, second = harness.parent.start_times
    assert first.time() < clock_time(11, 30)
    # Not before 13:00, and within one poll (18 clock seconds) of it plus what a busy machine adds
    # to the daemon thread's wake-up: half a real second is 15 clock minutes here.
    assert clock_time(13, 0) <= second.time() <= clock_time(13, 15, 18), second
    lines = daemon_lines(caplog)
    assert any("stopping child" in line and "outside the trading periods" in line for line in lines)
    assert any("next start 2026-01-12 13:00" in line for line in lines)
    assert not any("restart" in line and " of " in line for line in lines)  # a scheduled stop is no failure
    assert [e[0] for e in harness.events()].count("sigterm") == 2         # at 11:30 and when the daemon stopped


def test_no_child_outside_the_periods(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = ScaledClock(datetime(2026, 1, 10, 10, 0, tzinfo=EXCHANGE_TIMEZONE), scale=60)  # a Saturday
    window = TradingWindow([MORNING, AFTERNOON], load_cn_calendar())
    harness = Harness(tmp_path, runtime(), window=window, clock=clock).start()
    time.sleep(1.0)
    assert harness.starts() == []
    assert harness.stop() == 0
    assert any("next start 2026-01-12 08:40" in line for line in daemon_lines(caplog))


def test_gives_up_after_max_restart_count(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    harness = Harness(tmp_path, runtime(max_restart_count=2, restart_delay=0.05),
                      script="0:1,0:1,0:1,0:1").start()
    harness.thread.join(WAIT_CEILING)
    assert harness.result == 1
    assert len(harness.starts()) == 3  # the first start and two restarts
    lines = daemon_lines(caplog)
    assert [re.search(r"restart (\d) of 2 in ([\d.]+) s", line).groups() for line in lines
            if "restart " in line and " of " in line] == [("1", "0.050"), ("2", "0.100")]
    assert any("giving up after 2 restarts" in line for line in lines)


def test_exit_0_means_finished_and_exit_2_means_bad_input(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    finished = Harness(tmp_path / "finished", runtime(), script="0:0").start()
    finished.thread.join(WAIT_CEILING)
    assert finished.result == 0 and len(finished.starts()) == 1
    refused = Harness(tmp_path / "refused", runtime(), script="0:2").start()
    refused.thread.join(WAIT_CEILING)
    assert refused.result == 2 and len(refused.starts()) == 1
    assert any("refused its input" in line for line in daemon_lines(caplog))


def test_hung_child_is_replaced(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    # The timeout must cover a child's start-up (its first beat is due within it): derived from
    # the start-up measured now, at least 0.8 s, at most 30 s.
    heartbeat_timeout = min(30.0, max(0.8, 4 * first_beat_seconds(tmp_path)))
    harness = Harness(tmp_path, runtime(heartbeat_interval=0.1, heartbeat_timeout=heartbeat_timeout,
                                        stop_timeout=1.0), script="hang:0.5").start()
    harness.wait_until(lambda: len(harness.starts()) == 2, WAIT_CEILING, "the replacement child")
    # The replacement is healthy: wait for the daemon to see its beat, then stop.
    harness.wait_until(lambda: harness.parent.heartbeat.beats_seen >= 1, WAIT_CEILING, "the replacement's beat")
    assert harness.stop() == 0
    lines = daemon_lines(caplog)
    hung = [line for line in lines if "is hung: no heartbeat" in line]
    assert len(hung) == 1, hung
    first_pid = harness.starts()[0][1]
    assert f"child pid {first_pid} is hung" in hung[0]
    # The hung child ignores nothing: it got SIGTERM, wrote it down and exited; then a restart was scheduled.
    assert ["sigterm", first_pid] in harness.events()
    assert any("hung and was stopped" in line and "restart 1 of 5" in line for line in lines)


def test_restart_count_resets_after_healthy_running(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    # 1st child fails at once, 2nd runs longer than healthy_reset_seconds then fails, 3rd stays up.
    harness = Harness(tmp_path, runtime(restart_delay=0.05, healthy_reset_seconds=0.6),
                      script="0:1,1.0:1").start()
    harness.wait_until(lambda: len(harness.starts()) == 3, WAIT_CEILING, "the third child")
    assert harness.stop() == 0
    restarts = [re.search(r"restart (\d) of 5 in ([\d.]+) s", line).groups() for line in daemon_lines(caplog)
                if "restart " in line and " of 5" in line]
    assert restarts == [("1", "0.050"), ("1", "0.050")]
    assert any("healthy for" in line and "restart count reset" in line for line in daemon_lines(caplog))
