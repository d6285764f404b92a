"""Push latency of the dashboard: from a monitor write (StrategyMonitor.record_snapshot, default
settings) to the variant's page in headless Chromium showing it, median of 20; beside it, in the
same run, the time until the same kind of write is readable in the database (the floor any
dashboard polling the tables has).

    .venv/bin/python scripts/bench_dashboard_push.py [--samples 20]

Needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.strategy.infrastructure.monitoring import StrategyMonitor  # noqa: E402
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation  # noqa: E402
from src.web.reader import MonitorReader  # noqa: E402
from tests.e2e.browser_support import (  # noqa: E402
    MISSING_REASON,
    DashboardProcess,
    browser_available,
    start_chromium,
    wait_for,
)
from tests.web.helpers import snapshot_payload  # noqa: E402

VARIANT = "bench_15m@paper"
BAR = datetime(2026, 1, 12, 9, 45, tzinfo=ZoneInfo("Asia/Shanghai"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    if not browser_available():
        print(MISSING_REASON, file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    location = DatabaseLocation.sqlite(folder / "database.db")
    monitor = StrategyMonitor.open(location)  # the strategy's defaults (0.2 s linger)
    monitor.record_snapshot(VARIANT, snapshot_payload(0), BAR)
    monitor.flush(10)
    env = dict(os.environ, VNPY_DATABASE_DRIVER="sqlite", VNPY_DATABASE_DATABASE=str(location.database))
    dashboard = DashboardProcess(env, folder / "dashboard.txt")
    driver = start_chromium(folder / "profile")
    reader = MonitorReader(location)
    browser_ms, database_ms = [], []
    try:
        driver.get(f"{dashboard.url}/dashboard/{VARIANT.replace('@', '%40')}")
        wait_for(lambda: driver.execute_script("return document.body.dataset.connection") == "connected", 30,
                 "the socket")
        time.sleep(1.0)
        for index in range(1, args.samples + 1):
            before = driver.execute_script("return window.__lastSnapshotApplied ? window.__lastSnapshotApplied.id "
                                           ": Number(document.body.dataset.snapshotId)")
            written = time.time()
            monitor.record_snapshot(VARIANT, snapshot_payload(index), BAR + timedelta(minutes=index))
            applied = wait_for(lambda: driver.execute_script(
                "const a = window.__lastSnapshotApplied; return a && a.id > arguments[0] ? a : null", before),
                30, "the pushed snapshot", interval=0.005)
            browser_ms.append(applied["at"] - written * 1000)
            time.sleep(0.6)
            # The reference: the same write, until a reader of the table sees it.
            last = reader.last_ids()[0]
            written = time.time()
            monitor.record_snapshot(VARIANT, snapshot_payload(index), BAR + timedelta(minutes=index, seconds=30))
            wait_for(lambda: reader.last_ids()[0] > last, 30, "the row in the database", interval=0.005)
            database_ms.append((time.time() - written) * 1000)
            time.sleep(0.6)
    finally:
        driver.quit()
        dashboard.stop()
        monitor.close()
        reader.close()
    print(f"monitor write -> page shows it: median {statistics.median(browser_ms):.0f} ms of {len(browser_ms)} "
          f"(min {min(browser_ms):.0f}, max {max(browser_ms):.0f})")
    print(f"monitor write -> readable in the database: median {statistics.median(database_ms):.0f} ms "
          f"(min {min(database_ms):.0f}, max {max(database_ms):.0f})")
    print(f"load: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
