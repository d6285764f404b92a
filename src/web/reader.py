"""Read-only access to the monitor tables and vnpy's bars, for the dashboard.

The reader keeps no state of its own beyond a lazily opened connection: every
answer comes from the database (SQLite file or MySQL database, the same tables
``StrategyMonitor`` writes), so the dashboard can be restarted at any time and
several dashboards can read the same database. SQLite is opened with
``query_only``: the dashboard cannot write even by mistake, and a missing file
is refused rather than created.

Every list is capped (``MAX_*``); a database that cannot be reached raises
``DatabaseUnavailable`` with one line naming it (password masked).
"""
from __future__ import annotations

import json
import math
import re
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee

from src.strategy.infrastructure.persistence.database_connection import (
    CONNECTION_ERRORS,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    DatabaseLocation,
    first_line,
    open_database,
)
from src.strategy.infrastructure.persistence.schema import (
    EVENT_TABLE,
    NAME_LENGTH,
    SNAPSHOT_TABLE,
    STORAGE_TIMEZONE,
    from_storage_time,
    storage_time,
)

MAX_VARIANTS = 200
MAX_SNAPSHOTS = 2_000
MAX_EVENTS = 500
MAX_BARS = 5_000
MAX_PUSH_ROWS = 500
DEFAULT_SNAPSHOTS = 500
DEFAULT_EVENTS = 200
MIN_STALE_SECONDS = 10.0
BAR_INTERVALS = ("1m", "1h", "d", "w", "tick")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SYMBOL = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message names it, never the password."""


def valid_variant_name(name: Any) -> bool:
    """A name that could be a strategy_name of the monitor tables (existence is checked separately)."""
    return isinstance(name, str) and 0 < len(name) <= NAME_LENGTH and name.strip() != "" \
        and not _CONTROL.search(name)


@dataclass(frozen=True)
class NewRows:
    snapshots: list[dict]
    events: list[dict]
    last_snapshot_id: int
    last_event_id: int


class MonitorReader:
    """Reads ``monitor_signal_snapshot``, ``strategy_event`` and vnpy's ``dbbardata``."""

    def __init__(self, location: DatabaseLocation, *, min_stale_seconds: float = MIN_STALE_SECONDS,
                 stale_seconds: float | None = None, connect_timeout: float = 3.0) -> None:
        self.location = location
        self.min_stale_seconds = min_stale_seconds
        self.stale_seconds = stale_seconds
        if location.is_sqlite:
            self._database = peewee.SqliteDatabase(
                location.database, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, pragmas=[("query_only", 1)])
        else:
            self._database = open_database(location, connect_timeout=connect_timeout, io_timeout=10.0)
        self._lock = threading.Lock()  # peewee connections are per thread; the lock keeps table checks simple

    # ------------------------------------------------------------------ plumbing
    def describe(self) -> str:
        return self.location.describe()

    def ping(self) -> None:
        """Raises DatabaseUnavailable unless the database answers."""
        self._run(lambda db: db.execute_sql("SELECT 1").fetchall())

    def close(self) -> None:
        try:
            self._database.close()
        except Exception:  # a dead connection may fail to say goodbye
            pass

    def _run(self, operation):
        if self.location.is_sqlite and not Path(self.location.database).exists():
            raise DatabaseUnavailable(f"cannot read {self.location.describe()}: no such file")
        try:
            return operation(self._database)
        except CONNECTION_ERRORS as error:
            if _missing_table(error):
                raise _NoTable() from None
            self.close()
            raise DatabaseUnavailable(self.location.mask(
                f"cannot read {self.location.describe()}: {type(error).__name__}: {first_line(error)}")) from None
        except peewee.ProgrammingError as error:
            if _missing_table(error):
                raise _NoTable() from None
            raise

    def _rows(self, sql: str, params: tuple = ()) -> list[dict]:
        def query(db):
            cursor = db.execute_sql(sql.replace("?", db.param), params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        try:
            return self._run(query)
        except _NoTable:
            return []

    # ------------------------------------------------------------------ variants
    def variants(self) -> list[dict]:
        """Every strategy variant with a snapshot: its newest snapshot's summary, by name."""
        ids = self._rows(f"SELECT strategy_name, MAX(id) AS last_id, COUNT(*) AS n FROM {SNAPSHOT_TABLE} "
                         f"GROUP BY strategy_name ORDER BY strategy_name LIMIT {MAX_VARIANTS}")
        names_with_events = {row["strategy_name"] for row in self._rows(
            f"SELECT DISTINCT strategy_name FROM {EVENT_TABLE} LIMIT {MAX_VARIANTS}")}
        result = []
        for row in ids:
            snapshot = self.latest_snapshot(row["strategy_name"])
            if snapshot is not None:
                result.append(snapshot)
        for name in sorted(names_with_events - {row["strategy_name"] for row in ids}):
            if len(result) >= MAX_VARIANTS:
                break
            result.append({"variant": name, "id": None, "bar_time": None, "recorded_at": None,
                           "recorded_epoch": None, "stale_after_seconds": self._stale_after([]),
                           "positions": [], "position_count": 0})
        return result

    def variant_exists(self, name: str) -> bool:
        if not valid_variant_name(name):
            return False
        for table in (SNAPSHOT_TABLE, EVENT_TABLE):
            if self._rows(f"SELECT id FROM {table} WHERE strategy_name = ? LIMIT 1", (name,)):
                return True
        return False

    # ------------------------------------------------------------------ snapshots
    def latest_snapshot(self, name: str) -> dict | None:
        rows = self._rows(f"SELECT * FROM {SNAPSHOT_TABLE} WHERE strategy_name = ? ORDER BY id DESC LIMIT 10",
                          (name,))
        if not rows:
            return None
        snapshot = snapshot_view(rows[0])
        snapshot["stale_after_seconds"] = self._stale_after(rows)
        return snapshot

    def snapshots(self, name: str, limit: int = DEFAULT_SNAPSHOTS) -> list[dict]:
        """The newest ``limit`` snapshots (capped), oldest first, for the curves (no positions)."""
        limit = _cap(limit, MAX_SNAPSHOTS)
        rows = self._rows(f"SELECT id, strategy_name, bar_time, recorded_at, position_count, delta, gamma, vega, "
                          f"theta, pnl, latest_signal FROM {SNAPSHOT_TABLE} WHERE strategy_name = ? "
                          f"ORDER BY id DESC LIMIT {limit}", (name,))
        return [curve_point(row) for row in reversed(rows)]

    def _stale_after(self, newest_first: list[dict]) -> float:
        """Two window bars: twice the usual wall-clock gap between the last snapshots (at least the floor)."""
        if self.stale_seconds is not None:
            return self.stale_seconds
        times = [_epoch(row["recorded_at"]) for row in newest_first]
        gaps = [a - b for a, b in zip(times, times[1:]) if a - b > 0]
        window = statistics.median(gaps) if gaps else 0.0
        return max(2.0 * window, self.min_stale_seconds)

    # ------------------------------------------------------------------ events
    def events(self, name: str, limit: int = DEFAULT_EVENTS, event_type: str | None = None,
               before_id: int | None = None) -> list[dict]:
        """Newest first, optionally of one type and older than ``before_id`` (paging); capped."""
        limit = _cap(limit, MAX_EVENTS)
        sql = f"SELECT * FROM {EVENT_TABLE} WHERE strategy_name = ?"
        params: list = [name]
        if event_type:
            sql += " AND event_type = ?"
            params.append(event_type)
        if before_id is not None:
            sql += " AND id < ?"
            params.append(int(before_id))
        sql += f" ORDER BY id DESC LIMIT {limit}"
        return [event_view(row) for row in self._rows(sql, tuple(params))]

    def event_types(self, name: str) -> list[str]:
        rows = self._rows(f"SELECT DISTINCT event_type FROM {EVENT_TABLE} WHERE strategy_name = ? "
                          f"ORDER BY event_type LIMIT 200", (name,))
        return [row["event_type"] for row in rows]

    # ------------------------------------------------------------------ live push
    def last_ids(self) -> tuple[int, int]:
        snapshot = self._rows(f"SELECT MAX(id) AS m FROM {SNAPSHOT_TABLE}")
        event = self._rows(f"SELECT MAX(id) AS m FROM {EVENT_TABLE}")
        return (int((snapshot[0]["m"] if snapshot else None) or 0), int((event[0]["m"] if event else None) or 0))

    def new_rows(self, after_snapshot_id: int, after_event_id: int, limit: int = MAX_PUSH_ROWS) -> NewRows:
        """Rows written since the given ids, oldest first (at most ``limit`` of each)."""
        limit = _cap(limit, MAX_PUSH_ROWS)
        snapshots = self._rows(f"SELECT * FROM {SNAPSHOT_TABLE} WHERE id > ? ORDER BY id LIMIT {limit}",
                               (after_snapshot_id,))
        events = self._rows(f"SELECT * FROM {EVENT_TABLE} WHERE id > ? ORDER BY id LIMIT {limit}",
                            (after_event_id,))
        return NewRows([snapshot_view(row) for row in snapshots], [event_view(row) for row in events],
                       int(snapshots[-1]["id"]) if snapshots else after_snapshot_id,
                       int(events[-1]["id"]) if events else after_event_id)

    # ------------------------------------------------------------------ bars
    def bars(self, symbol: str, exchange: str, interval: str = "1m", start: datetime | None = None,
             end: datetime | None = None, limit: int = MAX_BARS) -> list[dict]:
        """vnpy's stored bars of one contract, oldest first, capped (the newest ``limit`` in the range)."""
        if not _SYMBOL.match(symbol or "") or not _SYMBOL.match(exchange or ""):
            raise ValueError("symbol and exchange must be 1-64 letters, digits, '_', '.' or '-'")
        if interval not in BAR_INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(BAR_INTERVALS)}")
        limit = _cap(limit, MAX_BARS)
        sql = ("SELECT datetime, open_price, high_price, low_price, close_price, volume, turnover, open_interest "
               "FROM dbbardata WHERE symbol = ? AND exchange = ? AND `interval` = ?")
        if self.location.is_sqlite:
            sql = sql.replace("`interval`", '"interval"')
        params: list = [symbol, exchange, interval]
        if start is not None:
            sql += " AND datetime >= ?"
            params.append(storage_time(start))
        if end is not None:
            sql += " AND datetime <= ?"
            params.append(storage_time(end))
        sql += f" ORDER BY datetime DESC LIMIT {limit}"
        rows = self._rows(sql, tuple(params))
        return [{"datetime": _iso(row["datetime"]), "open": row["open_price"], "high": row["high_price"],
                 "low": row["low_price"], "close": row["close_price"], "volume": row["volume"],
                 "turnover": row["turnover"], "open_interest": row["open_interest"]} for row in reversed(rows)]


class _NoTable(Exception):
    """The monitor's tables do not exist yet (nothing has been recorded): an empty answer, not an error."""


def _missing_table(error: BaseException) -> bool:
    text = str(error).lower()
    return "no such table" in text or "1146" in text or "doesn't exist" in text


def _cap(value: Any, cap: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return cap
    return max(1, min(number, cap))


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return from_storage_time(value)


def _iso(value: Any) -> str | None:
    moment = _time(value)
    return None if moment is None else moment.isoformat()


def _epoch(value: Any) -> float:
    moment = _time(value)
    return moment.timestamp() if moment is not None else 0.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _payload(text: Any) -> dict:
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def curve_point(row: dict) -> dict:
    return {"id": row["id"], "bar_time": _iso(row["bar_time"]), "pnl": _number(row["pnl"]),
            "delta": _number(row["delta"]), "gamma": _number(row["gamma"]), "vega": _number(row["vega"]),
            "theta": _number(row["theta"]), "position_count": row["position_count"]}


def snapshot_view(row: dict) -> dict:
    """A stored snapshot as the pages show it: summary columns, positions (desk columns), signals, smile."""
    payload = _payload(row.get("payload"))
    positions = payload.get("positions") if isinstance(payload.get("positions"), list) else []
    pnl = payload.get("pnl") if isinstance(payload.get("pnl"), dict) else {}
    signals = payload.get("signals") if isinstance(payload.get("signals"), dict) else {}
    view = {
        "id": row["id"], "variant": row["strategy_name"], "bar_time": _iso(row["bar_time"]),
        "recorded_at": _iso(row["recorded_at"]), "recorded_epoch": _epoch(row["recorded_at"]),
        "position_count": row.get("position_count"),
        "delta": _number(row.get("delta")), "gamma": _number(row.get("gamma")), "vega": _number(row.get("vega")),
        "theta": _number(row.get("theta")), "pnl": _number(row.get("pnl")),
        "pnl_detail": {key: _number(value) for key, value in pnl.items()},
        "latest_signal": row.get("latest_signal") or _latest_of(signals),
        "signals": _finite_tree(signals),
        "positions": [desk_row(position) for position in positions[:500] if isinstance(position, dict)],
        "smile": [smile_point(point) for point in (payload.get("smile") or [])[:500] if isinstance(point, dict)]
        if isinstance(payload.get("smile"), list) else [],
    }
    return view


def desk_row(position: dict) -> dict:
    """One position in the columns an options desk expects (None where the snapshot does not say)."""
    direction = str(position.get("direction", ""))
    volume = _number(position.get("volume")) or 0.0
    short = direction.lower() in ("short", "空", "sell")
    return {
        "contract": str(position.get("vt_symbol", "")),
        "long": 0.0 if short else volume, "short": volume if short else 0.0,
        "net": -volume if short else volume,
        "avg_price": _number(position.get("avg_price")), "price": _number(position.get("mark")),
        "iv": _number(position.get("iv")), "delta": _number(position.get("delta")),
        "gamma": _number(position.get("gamma")), "vega": _number(position.get("vega")),
        "theta": _number(position.get("theta")), "pnl": _number(position.get("unrealized_pnl")),
    }


def smile_point(point: dict) -> dict:
    return {"vt_symbol": str(point.get("vt_symbol", "")), "expiry": str(point.get("expiry", "")),
            "option_type": str(point.get("option_type", "")), "strike": _number(point.get("strike")),
            "iv": _number(point.get("iv"))}


def _finite_tree(value: Any) -> Any:
    """JSON-safe for browsers: non-finite floats become None (JSON.parse rejects NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _finite_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_tree(item) for item in value]
    return value


def _latest_of(signals: dict) -> str | None:
    latest, latest_time = None, ""
    for product, signal in signals.items():
        if isinstance(signal, dict):
            at = str(signal.get("bar_time", ""))
            if at >= latest_time:
                latest, latest_time = f"{product} {signal.get('signal', '')}".strip(), at
    return latest


def event_view(row: dict) -> dict:
    return {"id": row["id"], "variant": row["strategy_name"], "event_type": row["event_type"],
            "occurred_at": _iso(row["occurred_at"]), "recorded_at": _iso(row["recorded_at"]),
            "fields": _finite_tree(_payload(row.get("payload")))}


def now_epoch() -> float:
    return time.time()


def exchange_now() -> datetime:
    return datetime.now(STORAGE_TIMEZONE)
