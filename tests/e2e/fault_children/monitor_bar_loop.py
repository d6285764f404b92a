"""A strategy-like bar loop that records a monitor snapshot per bar, for the database outage test.

Run as ``python -m tests.e2e.fault_children.monitor_bar_loop STRATEGY BARS BAR_SECONDS`` with
``VNPY_DATABASE_*`` set. It processes BARS simulated bars at one per BAR_SECONDS, calls
``StrategyMonitor.record_snapshot`` for each, prints ``bar N`` every 50 bars, then flushes
and prints one JSON line: the timings of the record_snapshot calls and the monitor's stats.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from src.core.database_factory import create_strategy_monitor

FIRST_BAR = datetime(2024, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
FLUSH_TIMEOUT = 60.0


def process_bar(index: int) -> dict:
    """Stands in for the strategy's own work on a bar."""
    price = 3500 + 20 * math.sin(index / 15)
    delta = sum(math.tanh((price - strike) / 100) for strike in range(3300, 3700, 50)) / 8
    return {"positions": [{"vt_symbol": "IO2403-C-3500.CFFEX", "volume": -2, "price": price}],
            "greeks": {"delta": delta, "gamma": 0.002, "vega": 12.0, "theta": -3.0},
            "pnl": {"total": index * 1.5}, "signals": ["SELL_PUT" if index % 7 == 0 else "HOLD"]}


def main() -> None:
    strategy, bars, bar_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    monitor = create_strategy_monitor(linger_seconds=0.05, retry_initial_seconds=0.1, retry_max_seconds=0.5,
                                      max_queue=bars + 100)
    call_seconds = []
    loop_started = time.monotonic()
    for index in range(bars):
        payload = process_bar(index)
        started = time.perf_counter()
        monitor.record_snapshot(strategy, payload, FIRST_BAR + timedelta(minutes=index))
        call_seconds.append(time.perf_counter() - started)
        if (index + 1) % 50 == 0:
            print(f"bar {index + 1}", flush=True)
        time.sleep(bar_seconds)
    loop_seconds = time.monotonic() - loop_started
    flushed = monitor.flush(FLUSH_TIMEOUT)
    stats = monitor.stats()
    monitor.close()
    ordered = sorted(call_seconds)
    print(json.dumps({
        "flushed": flushed, "loop_seconds": loop_seconds,
        "median_call": statistics.median(ordered), "p99_call": ordered[int(len(ordered) * 0.99) - 1],
        "max_call": ordered[-1], "written": stats.written, "dropped": stats.dropped,
        "rejected": stats.rejected, "failed_attempts": stats.failed_attempts, "last_error": stats.last_error,
    }), flush=True)


if __name__ == "__main__":
    main()
