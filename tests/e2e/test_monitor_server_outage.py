"""The MariaDB server dies (kill -9) under a running bar loop and comes back: the loop never waits, no row is lost.

The server is a throwaway instance of this test's own (scripts/lib/mariadb.sh), not
the one scripts/test.sh shares with the other tests.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from src.paths import PROJECT_ROOT
from tests.db_backends import ThrowawayMariaDB, database_environment, execute, mariadb_server_available

BARS = 500
BAR_SECONDS = 0.01
KILL_AT_BAR = 100
RESTART_AT_BAR = 250
STRATEGY = "vol_15m"


@pytest.fixture
def own_server():
    if not mariadb_server_available():
        pytest.skip("mariadbd is not installed (apt-get install mariadb-server)")
    # A short folder name: the server's Unix socket path must stay under 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="mdb-outage-"))
    server = ThrowawayMariaDB(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def wait_for(lines: queue.Queue, expected: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if lines.get(timeout=0.5) == expected:
                return
        except queue.Empty:
            continue
    pytest.fail(f"the bar loop never printed {expected!r}")


@pytest.mark.mysql
@pytest.mark.slow
def test_snapshots_queue_during_an_outage_and_land_after_the_restart(own_server):
    location = own_server.create_database("monitor_outage")
    loop = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.fault_children.monitor_bar_loop", STRATEGY, str(BARS), str(BAR_SECONDS)],
        cwd=PROJECT_ROOT, env={**os.environ, **database_environment(location)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        for line in loop.stdout:
            output.append(line.strip())
            lines.put(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lines, f"bar {KILL_AT_BAR}")
        before_outage = execute(location, "SELECT COUNT(*) FROM monitor_signal_snapshot")[0][0]
        os.kill(own_server.pid, signal.SIGKILL)
        wait_for(lines, f"bar {RESTART_AT_BAR}")
        own_server.start()  # same data folder, same port
        loop.wait(timeout=120)
    finally:
        if loop.poll() is None:
            loop.kill()
    reader.join(timeout=10)
    assert loop.returncode == 0, loop.stderr.read()
    summary = json.loads(output[-1])

    assert 0 < before_outage < BARS
    assert summary["flushed"] is True
    assert summary["failed_attempts"] >= 1, "the loop never noticed the outage"
    assert (summary["written"], summary["dropped"], summary["rejected"]) == (BARS, 0, 0)
    rows = execute(location, "SELECT COUNT(*), COUNT(DISTINCT bar_time) FROM monitor_signal_snapshot "
                             "WHERE strategy_name = ?", (STRATEGY,))[0]
    assert rows == (BARS, BARS)
    # The bar loop never waited on the database: calls stayed well under a millisecond at the median.
    assert summary["median_call"] < 0.001, summary
    assert summary["p99_call"] < 0.01, summary
    assert summary["max_call"] < 0.1, summary
    assert summary["loop_seconds"] < BARS * BAR_SECONDS * 3, summary
