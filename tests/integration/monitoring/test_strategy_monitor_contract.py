"""StrategyMonitor writes what it is given and reads it back, on SQLite and MySQL; it never raises to its caller."""
from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from src.strategy.domain.event.base import DomainEvent
from src.strategy.infrastructure.monitoring import StrategyMonitor
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation

SHANGHAI = ZoneInfo("Asia/Shanghai")
BAR = datetime(2024, 3, 1, 9, 31, tzinfo=SHANGHAI)


class Signal(Enum):
    SELL_PUT = "SELL_PUT"


@dataclass(frozen=True)
class OrderTimeoutEvent(DomainEvent):
    vt_orderid: str
    waited_seconds: float
    price: Decimal


@pytest.fixture
def monitor(database_location):
    monitor = StrategyMonitor.open(database_location, linger_seconds=0.01)
    yield monitor
    monitor.close()


def payload_at(minute: int) -> dict:
    return {
        "positions": [{"vt_symbol": "IO2403-C-3500.CFFEX", "volume": -2}],
        "greeks": {"delta": -0.31, "gamma": 0.002, "vega": 12.5, "theta": float("nan")},
        "pnl": {"total": 1250.0 + minute, "realized": 800.0},
        "signals": ["HOLD", {"signal": Signal.SELL_PUT, "at": BAR + timedelta(minutes=minute)}],
        "iv": np.float64(0.21),
    }


def test_snapshots_are_stored_with_key_columns_and_read_back_newest_first(monitor):
    for minute in range(3):
        monitor.record_snapshot("vol_15m", payload_at(minute), BAR + timedelta(minutes=minute))
    monitor.record_snapshot("vol_30m", {"pnl": 5}, BAR)
    assert monitor.flush(10)

    rows = monitor.snapshots("vol_15m")
    assert [row["bar_time"] for row in rows] == [BAR + timedelta(minutes=m) for m in (2, 1, 0)]
    newest = rows[0]
    assert newest["position_count"] == 1
    assert (newest["delta"], newest["gamma"], newest["vega"]) == (-0.31, 0.002, 12.5)
    assert newest["theta"] is None                      # NaN is stored as NULL
    assert newest["pnl"] == 1252.0
    assert newest["latest_signal"] == "SELL_PUT"
    assert newest["payload"]["greeks"]["theta"] is None
    assert newest["payload"]["signals"][1] == {"signal": "SELL_PUT", "at": "2024-03-01T09:33:00+08:00"}
    assert newest["payload"]["iv"] == 0.21
    assert monitor.latest_snapshot("vol_30m")["pnl"] == 5.0
    assert monitor.count_snapshots() == 4
    stats = monitor.stats()
    assert (stats.queued, stats.written, stats.dropped, stats.rejected) == (0, 4, 0, 0)
    assert stats.connected and stats.last_error is None


def test_events_are_stored_with_their_fields(monitor):
    first = OrderTimeoutEvent(BAR, "CTP.1", 30.0, Decimal("35.2"))
    second = OrderTimeoutEvent(BAR + timedelta(seconds=5), "CTP.2", 31.5, Decimal("36"))
    monitor.record_events("vol_15m", [first, second])
    assert monitor.flush(10)
    rows = monitor.events("vol_15m")
    assert [row["occurred_at"] for row in rows] == [second.occurred_at, first.occurred_at]
    assert rows[0]["event_type"] == "OrderTimeoutEvent"
    assert rows[0]["payload"] == {"vt_orderid": "CTP.2", "waited_seconds": 31.5, "price": 36.0}


def test_bad_input_is_counted_never_raised(monitor):
    monitor.record_snapshot("vol_15m", ["not", "a", "dict"], BAR)
    monitor.record_snapshot("", {}, BAR)
    monitor.record_snapshot("vol_15m", {"thing": object()}, BAR)
    monitor.record_snapshot("vol_15m", {}, "09:31")
    monitor.record_events("vol_15m", [object()])
    monitor.record_events("vol_15m", None)
    monitor.record_snapshot("vol_15m", {"pnl": 1}, BAR)
    assert monitor.flush(10)
    stats = monitor.stats()
    assert stats.rejected == 6
    assert stats.written == 1
    assert "has no occurred_at" in stats.last_error or "not recorded" in stats.last_error


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_database_queues_boundedly_drops_the_oldest_and_never_blocks():
    location = DatabaseLocation.mysql("strategy", host="127.0.0.1", port=closed_port(), user="trader",
                                      password="pw-never-shown")
    monitor = StrategyMonitor.open(location, max_queue=10, linger_seconds=0.0, retry_initial_seconds=0.05,
                                   retry_max_seconds=0.1)
    slowest = 0.0
    for minute in range(25):
        started = time.perf_counter()
        monitor.record_snapshot("vol_15m", payload_at(minute), BAR + timedelta(minutes=minute))
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05
    assert monitor.flush(0.3) is False
    stats = monitor.stats()
    assert stats.queued == 10 and stats.dropped == 15 and stats.written == 0
    assert not stats.connected and stats.failed_attempts >= 1
    assert "127.0.0.1" in stats.last_error or "Can't connect" in stats.last_error
    assert "pw-never-shown" not in stats.last_error
    monitor.close(timeout=0.2)
    after = monitor.stats()
    assert after.queued == 0 and after.dropped == 25
    monitor.record_snapshot("vol_15m", {}, BAR)     # after close: counted, not raised
    assert monitor.stats().dropped == 26


def test_display_json_handles_non_finite_numpy_values(monitor):
    monitor.record_snapshot("vol_15m", {"greeks": {"delta": np.float32("nan")}, "x": [math.inf]}, BAR)
    assert monitor.flush(10)
    row = monitor.latest_snapshot("vol_15m")
    assert row["delta"] is None and row["payload"] == {"greeks": {"delta": None}, "x": [None]}
