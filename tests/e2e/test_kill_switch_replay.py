"""The kill switch end to end in a paper replay: ``python -m src.main.control flatten`` while the replay trades
closes the book through the executor; the child is SIGKILLed; a new child reads the flag and opens nothing."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from src.paths import PROJECT_ROOT
from tests.e2e.daemon_support import Process, environment
from tests.e2e.sample_database import copy

STRATEGY = "volatility_strategy@replay"


def query(database, sql: str, params: tuple = ()) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
            return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # a table not created yet
        return []


def wait_for(what: str, check, timeout: float, run: Process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if run.popen.poll() is not None:
            pytest.fail(f"the replay exited ({run.popen.returncode}) before {what}:\n{run.text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout} s:\n{run.text()[-3000:]}")


def control(database, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "src.main.control", *args], cwd=PROJECT_ROOT,
                          env=environment(database), capture_output=True, text=True, timeout=60)


def replay(tmp_path, database, name: str, speed: str) -> Process:
    return Process(["src/main/main.py", "--paper", "--replay", "--replay-start", "2026-01-12", "--replay-end",
                    "2026-01-13", "--speed", speed, "--log-dir", str(tmp_path / name), "--no-ui"],
                   environment(database), tmp_path / f"{name}.txt")


def test_flatten_closes_the_replayed_book_and_holds_after_a_sigkill(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    first = replay(tmp_path, database, "first", "150")
    try:
        wait_for("a position", lambda: query(
            database, "SELECT id FROM monitor_signal_snapshot WHERE strategy_name = ? AND position_count > 0",
            (STRATEGY,)), 240, first)
        written = control(database, "flatten", "--strategy", STRATEGY, "--note", "test")
        assert written.returncode == 0, written.stderr
        (event_id, occurred), = wait_for("a KillSwitchEvent", lambda: query(
            database, "SELECT id, occurred_at FROM strategy_event WHERE strategy_name = ? AND event_type = "
                      "'KillSwitchEvent'", (STRATEGY,)), 60, first)
        wait_for("a flat book", lambda: query(
            database, "SELECT id FROM monitor_signal_snapshot WHERE strategy_name = ? AND position_count = 0 "
                      "AND bar_time > ?", (STRATEGY, occurred)), 240, first)
        closes = query(database, "SELECT vt_symbol, direction, volume FROM paper_trade WHERE offset = 'Close' "
                                 "AND trade_time >= ?", (occurred,))
        opens_after = query(database, "SELECT vt_symbol FROM paper_trade WHERE offset = 'Open' AND trade_time > ?",
                            (occurred,))
        assert closes, "the kill switch's closes filled"
        assert opens_after == []
        assert first.popen.poll() is None, "still replaying when killed"
        first.signal(signal.SIGKILL)
        first.wait(30)
    finally:
        first.kill_everything()
    print(f"flatten: {len(closes)} closing fills after the command; book flat; child SIGKILLed")

    run_ids = {run for (run,) in query(database, "SELECT DISTINCT run_id FROM paper_trade")}
    second = replay(tmp_path, database, "second", "0")
    try:
        assert second.wait(300) == 0, second.text()[-3000:]
    finally:
        second.kill_everything()
    log = (tmp_path / "second" / "paper-default" / "standalone.log").read_text()
    assert "kill switch: flatten" in log and "Traceback" not in log
    new_opens = [row for row in query(database, "SELECT run_id, offset FROM paper_trade") if row[0] not in run_ids
                 and row[1] == "Open"]
    assert new_opens == [], "the flag survived the SIGKILL: the new child opened nothing"
    refused = query(database, "SELECT COUNT(*) FROM strategy_event WHERE strategy_name = ? AND event_type = "
                              "'PreTradeRefusedEvent' AND id > ? AND payload LIKE '%kill_switch%'",
                    (STRATEGY, event_id))[0][0]
    assert refused > 0
    shown = control(database, "show", "--strategy", STRATEGY)
    assert shown.returncode == 0 and "flatten  test" in shown.stdout
