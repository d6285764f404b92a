"""Writing monitor rows the way the strategy does (through StrategyMonitor) for the dashboard tests."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from src.strategy.domain.event.base import DomainEvent
from src.strategy.infrastructure.monitoring import StrategyMonitor
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database

SHANGHAI = ZoneInfo("Asia/Shanghai")
BAR = datetime(2026, 1, 12, 9, 45, tzinfo=SHANGHAI)
XSS = '<img src=x onerror="window.__xss=1">'


@dataclass(frozen=True)
class SignalEvent(DomainEvent):
    product: str
    signal: str


@dataclass(frozen=True)
class DecisionRefusedEvent(DomainEvent):
    stage: str
    reason: str


def snapshot_payload(minute: int, pnl: float = 100.0) -> dict:
    """A payload shaped like TradingCycle.monitor_view: one short put with its IV and Greeks, and a smile."""
    return {
        "positions": [{"vt_symbol": "IO2602-P-4400.CFFEX", "direction": "SHORT", "volume": 3, "avg_price": 35.0,
                       "mark": 31.5, "unrealized_pnl": pnl + minute, "iv": 0.213, "delta": 0.75, "gamma": -0.0045,
                       "vega": -15.3, "theta": 3.1},
                      {"vt_symbol": "IF2602.CFFEX", "direction": "LONG", "volume": 1, "avg_price": 4500.0,
                       "mark": 4510.0, "unrealized_pnl": 10.0, "delta": 1.0}],
        "greeks": {"delta": 0.75, "gamma": -0.0045, "vega": -15.3, "theta": 3.1},
        "pnl": {"realized": 0.0, "unrealized": pnl + minute, "total": pnl + minute},
        "signals": {"IF": {"signal": "SELL_PUT", "bar_time": (BAR + timedelta(minutes=minute)).isoformat()}},
        "smile": [{"vt_symbol": f"IO2602-P-{k}.CFFEX", "expiry": "2026-02-20", "option_type": "PUT",
                   "strike": float(k), "iv": 0.20 + (4500 - k) / 10000} for k in (4300, 4400, 4500)],
    }


def write(location: DatabaseLocation, name: str, minutes: int = 3, events: list[DomainEvent] | None = None,
          start: int = 0) -> None:
    monitor = StrategyMonitor.open(location, linger_seconds=0.0)
    try:
        for minute in range(start, start + minutes):
            monitor.record_snapshot(name, snapshot_payload(minute), BAR + timedelta(minutes=minute))
        if events:
            monitor.record_events(name, events)
        assert monitor.flush(20), monitor.stats()
    finally:
        monitor.close()


def write_bars(location: DatabaseLocation, symbol: str, exchange: str, count: int) -> None:
    """vnpy's bar table (the columns the reader uses), as vnpy_sqlite / vnpy_mysql create it."""
    database = open_database(location)
    try:
        database.execute_sql(
            "CREATE TABLE IF NOT EXISTS dbbardata (id INTEGER PRIMARY KEY AUTO_INCREMENT, symbol VARCHAR(255), "
            "exchange VARCHAR(255), datetime DATETIME, `interval` VARCHAR(255), volume DOUBLE, turnover DOUBLE, "
            "open_interest DOUBLE, open_price DOUBLE, high_price DOUBLE, low_price DOUBLE, close_price DOUBLE)"
            .replace("INTEGER PRIMARY KEY AUTO_INCREMENT", "INTEGER PRIMARY KEY" if location.is_sqlite
                     else "INTEGER PRIMARY KEY AUTO_INCREMENT"))
        for index in range(count):
            at = (BAR + timedelta(minutes=index)).replace(tzinfo=None)
            database.execute_sql(
                "INSERT INTO dbbardata (symbol, exchange, datetime, `interval`, volume, turnover, open_interest, "
                "open_price, high_price, low_price, close_price) VALUES (%s)" % ", ".join([database.param] * 11),
                (symbol, exchange, at, "1m", 10.0, 1e6, 5e4, 4500.0 + index, 4501.0 + index, 4499.0 + index,
                 4500.5 + index))
    finally:
        database.close()
