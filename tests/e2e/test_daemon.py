"""The daemon (``src/main/main.py --mode daemon``) with real strategy children, as a user runs it.

The children replay the sample market at real-time speed (``--speed 1``), so they
run until stopped, like live children; replays are not tied to trading periods.
Every interval comes from a small runtime override, so restarts take fractions
of a second.
"""
from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime, timedelta

from src.core.process.heartbeat import read_beat
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.state_repository import StateRepository
from tests.e2e.daemon_support import (
    Process,
    environment,
    line_time,
    lines_matching,
    read_file,
    wait_for,
    write_override,
)
from tests.e2e.sample_database import copy

# Ceiling of each wait for a line, a beat or an exit: the waits end when it comes, so a generous
# ceiling costs nothing on an idle machine and keeps a loaded one from failing the test.
WAIT = 120

REPLAY_UNTIL_STOPPED = ["--paper", "--replay", "--replay-start", "2026-01-13", "--replay-end", "2026-01-13",
                        "--speed", "1", "--replay-warmup-days", "0"]


def start_daemon(tmp_path, database, override, entry=("src/main/main.py",)) -> Process:
    return Process([*entry, "--mode", "daemon", "--override-config", str(override), "--log-dir",
                    str(tmp_path / "logs"), *REPLAY_UNTIL_STOPPED], environment(database), tmp_path / "daemon.out")


def test_killed_child_is_restarted_with_doubling_backoff(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    override = write_override(tmp_path, "e2e_restarts", strategy_name="e2e_restarts", runtime={
        "restart_delay": 0.25, "max_restart_delay": 60, "max_restart_count": 10, "heartbeat_interval": 0.5,
        "heartbeat_timeout": 60, "stop_timeout": 5})
    log = tmp_path / "logs" / "paper-e2e_restarts" / "daemon.log"
    daemon = start_daemon(tmp_path, database, override)
    try:
        seen_after_kill = []
        for kill in range(1, 6):
            pid = int(wait_for(read_file(log), r"started child pid (\d+)", WAIT, count=kill)[-1].group(1))
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            wait_for(read_file(log), r"started child pid (\d+)", WAIT, count=kill + 1)
            seen_after_kill.append(time.monotonic() - killed_at)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(WAIT) == 0
    finally:
        daemon.kill_everything()

    text = log.read_text()
    failures = lines_matching(text, r"killed by SIGKILL after .* restart \d+ of 10 in")
    starts = lines_matching(text, r"started child pid")
    assert len(failures) == 5 and len(starts) == 6
    scheduled = [float(re.search(r"in ([\d.]+) s", line).group(1)) for line in failures]
    assert scheduled == [0.25, 0.5, 1.0, 2.0, 4.0]
    measured = [(line_time(start) - line_time(failure)).total_seconds()
                for failure, start in zip(failures, starts[1:])]
    print("restart delays, scheduled / measured by the daemon / seen by the test after the kill:")
    for expected, by_daemon, by_test in zip(scheduled, measured, seen_after_kill):
        print(f"  {expected:5.2f} s / {by_daemon:5.3f} s / {by_test:5.3f} s")
    for expected, by_daemon, by_test in zip(scheduled, measured, seen_after_kill):
        # Never earlier than scheduled. The daemon polls a few times per restart_delay, and a busy
        # machine delays its thread's wake-ups: the upper bound only says the delay did not run away.
        assert expected - 0.02 <= by_daemon <= expected * 2 + 5
        assert by_test >= expected - 0.02
    assert text.splitlines()[-1].endswith("daemon[paper-e2e_restarts]: stopped")


def test_sigterm_stops_the_child_cleanly_and_saves_its_state(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    override = write_override(tmp_path, "e2e_sigterm", strategy_name="e2e_sigterm", runtime={
        "restart_delay": 0.25, "heartbeat_interval": 0.5, "heartbeat_timeout": 60, "stop_timeout": 30})
    folder = tmp_path / "logs" / "paper-e2e_sigterm"
    daemon = start_daemon(tmp_path, database, override, entry=("-m", "src.main.main"))
    try:
        wait_for(read_file(folder / "child.log"), r"strategies started", 3 * WAIT, what="the child trading")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(WAIT) == 0
    finally:
        daemon.kill_everything()

    child = (folder / "child.log").read_text()
    assert "child: received SIGTERM, stopping" in child
    assert re.search(r"e2e_sigterm: stopped", child), "on_stop did not run"  # StrategyEntry.on_stop's log
    assert "strategies stopped: e2e_sigterm" in child
    assert re.search(r"child pid \d+ exits with code 0", child)
    parent = (folder / "daemon.log").read_text()
    assert re.search(r"child pid \d+ stopped \(exit code 0\)", parent)
    assert "restart" not in parent.split("stopping child pid")[-1]
    repository = StateRepository.open(DatabaseLocation.sqlite(database))
    try:
        state = repository.load("e2e_sigterm@replay")
    finally:
        repository.close()
    assert state is not None and "positions" in state, "on_stop did not save the state"
    assert "state persistence attached: saved as e2e_sigterm@replay" in child


def test_hung_child_is_killed_and_replaced(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    override = write_override(tmp_path, "e2e_hung", strategy_name="e2e_hung", runtime={
        "restart_delay": 0.25, "heartbeat_interval": 0.25, "heartbeat_timeout": 3.0, "stop_timeout": 1.0})
    folder = tmp_path / "logs" / "paper-e2e_hung"
    daemon = start_daemon(tmp_path, database, override)
    try:
        first = int(wait_for(read_file(folder / "daemon.log"), r"started child pid (\d+)", WAIT)[0].group(1))
        deadline = time.monotonic() + WAIT
        while True:  # a few beats of the running child before it hangs
            beat = read_beat(folder / "heartbeat")
            if beat is not None and beat.pid == first and beat.sequence >= 5:
                break
            assert time.monotonic() < deadline, "the child never beat"
            time.sleep(0.05)
        os.kill(first, signal.SIGSTOP)  # hung: alive, silent
        second = int(wait_for(read_file(folder / "daemon.log"), r"started child pid (\d+)", WAIT,
                              count=2)[1].group(1))
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(WAIT) == 0
    finally:
        daemon.kill_everything()

    assert second != first
    text = (folder / "daemon.log").read_text()
    assert re.search(rf"child pid {first} is hung: no heartbeat for [\d.]+ s \(heartbeat_timeout 3 s\)", text)
    # SIGTERM cannot reach a stopped process: the daemon killed it after stop_timeout.
    assert re.search(rf"child pid {first} did not stop within 1 s", text)
    assert re.search(rf"child pid {first} hung and was stopped \(killed by SIGKILL\) .* restart 1 of 10", text)
    try:
        os.kill(first, 0)
        raise AssertionError(f"the hung child {first} is still there")
    except ProcessLookupError:
        pass


def test_no_child_runs_outside_the_trading_periods(tmp_path):
    start = (datetime.now(EXCHANGE_TIMEZONE) + timedelta(hours=6)).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=1)
    override = write_override(tmp_path, "e2e_closed", runtime={
        "trading_days_only": False, "trading_periods": [{"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}]})
    login = {"CTP_USERNAME": "089123", "CTP_PASSWORD": "unused-password-42", "CTP_BROKER_ID": "9999", "CTP_TD_SERVER": "127.0.0.1:9",
             "CTP_MD_SERVER": "127.0.0.1:9"}  # never used: no child may start
    daemon = Process(["src/main/main.py", "--mode", "daemon", "--override-config", str(override), "--log-dir",
                      str(tmp_path / "logs")], environment(tmp_path / "unused.db", **login), tmp_path / "daemon.out")
    log = tmp_path / "logs" / "e2e_closed" / "daemon.log"
    try:
        wait_for(read_file(log), r"outside the trading periods .*next start " + f"{start:%Y-%m-%d %H:%M}", WAIT)
        time.sleep(1.5)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(WAIT) == 0
    finally:
        daemon.kill_everything()
    assert "started child" not in log.read_text()
