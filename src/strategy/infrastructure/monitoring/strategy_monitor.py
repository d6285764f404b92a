"""Strategy snapshots and events for the dashboard, written without ever holding up the strategy.

``record_snapshot`` and ``record_events`` are called from ``on_bars``. They turn
their input into rows on the caller's thread (a few JSON dumps, so later changes
to the caller's objects do not leak into what is stored) and append them to a
bounded in-memory queue; a background writer thread inserts them in batches.

When the database is unreachable the rows wait in the queue and the writer
retries with exponential backoff; when the queue is full the oldest rows are
dropped and counted. Nothing raised by monitoring reaches the caller: failures
show in ``stats()`` (with the password masked) and in the log.

Snapshot payload shape (every key optional; the rest of the payload is stored
as JSON as given)::

    {"positions": [...] | {...},                  -> position_count
     "greeks": {"delta": .., "gamma": .., "vega": .., "theta": ..},
     "pnl": 12.5 | {"total": 12.5, ...},          -> pnl
     "latest_signal": "SELL_PUT",                 -> latest_signal
     "signals": [..., "SELL_PUT" | {"signal": "SELL_PUT", ...}]}  (used when latest_signal is absent)

Rows carry a random ``row_key`` under a unique index, so a batch retried after a
commit whose acknowledgement was lost is not stored twice.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import peewee

from src.strategy.domain.event.base import DomainEvent
from src.strategy.infrastructure.persistence.database_connection import (
    CONNECTION_ERRORS,
    DatabaseConnectionError,
    DatabaseLocation,
    first_line,
    open_database,
)
from src.strategy.infrastructure.persistence.schema import (
    EVENT_TYPE_LENGTH,
    SIGNAL_LENGTH,
    STORAGE_TIMEZONE,
    bind_tables,
    ensure_schema,
    from_storage_time,
    storage_time,
    validate_strategy_name,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_QUEUE = 10_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_LINGER_SECONDS = 0.2
DEFAULT_RETRY_INITIAL_SECONDS = 0.5
DEFAULT_RETRY_MAX_SECONDS = 10.0
GREEK_COLUMNS = ("delta", "gamma", "vega", "theta")

_SNAPSHOT = "snapshot"
_EVENT = "event"


@dataclass(frozen=True)
class MonitorStats:
    queued: int          # rows waiting to be written (including a batch being written)
    written: int         # rows stored
    dropped: int         # rows discarded because the queue was full (oldest first) or the monitor closed
    rejected: int        # records that could not be turned into rows (bad input), or rows the database refused
    failed_attempts: int  # batch writes that failed and will be retried
    last_error: str | None
    connected: bool


class StrategyMonitor:
    """Writes monitor snapshots and domain events to the database on a background thread."""

    def __init__(self, database: peewee.Database, *, location: DatabaseLocation | None = None,
                 max_queue: int = DEFAULT_MAX_QUEUE, batch_size: int = DEFAULT_BATCH_SIZE,
                 linger_seconds: float = DEFAULT_LINGER_SECONDS,
                 retry_initial_seconds: float = DEFAULT_RETRY_INITIAL_SECONDS,
                 retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS,
                 clock: Callable[[], datetime] | None = None) -> None:
        for name, value in (("max_queue", max_queue), ("batch_size", batch_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name, value in (("linger_seconds", linger_seconds), ("retry_initial_seconds", retry_initial_seconds),
                            ("retry_max_seconds", retry_max_seconds)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self._database = database
        self._location = location
        self._tables = bind_tables(database)
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._linger = linger_seconds
        self._retry_initial = max(retry_initial_seconds, 0.01)
        self._retry_max = max(retry_max_seconds, self._retry_initial)
        self._clock = clock or (lambda: datetime.now(STORAGE_TIMEZONE))

        self._condition = threading.Condition()
        self._queue: deque[tuple[str, dict]] = deque()
        self._in_flight = 0
        self._written = 0
        self._dropped = 0
        self._rejected = 0
        self._failed_attempts = 0
        self._last_error: str | None = None
        self._connected = False
        self._closing = False
        self._close_deadline = math.inf
        self._flush_waiters = 0
        self._flush_generation = 0
        self._schema_ready = False
        self._read_schema_ready = False
        self._writer = threading.Thread(target=self._write_loop, name="strategy-monitor-writer", daemon=True)
        self._writer.start()

    @classmethod
    def open(cls, location: DatabaseLocation, **options) -> StrategyMonitor:
        # Short connect timeout: the writer retries anyway, and close() should not wait on a dead host.
        return cls(open_database(location, connect_timeout=3.0, io_timeout=30.0), location=location, **options)

    # ------------------------------------------------------------------ recording (caller's thread)
    def record_snapshot(self, strategy_name: str, payload: dict, at: datetime) -> None:
        """Queue one snapshot (positions, Greeks, PnL, signals) of a strategy at bar time ``at``."""
        try:
            row = self._snapshot_row(strategy_name, payload, at)
        except Exception as error:  # monitoring must never break the bar loop
            self._reject(f"snapshot of {strategy_name!r} not recorded: {_describe(error)}")
            return
        self._enqueue([(_SNAPSHOT, row)])

    def record_events(self, strategy_name: str, events: Iterable[DomainEvent]) -> None:
        """Queue domain events of a strategy; the payload is the event's dataclass fields."""
        rows = []
        try:
            events = list(events)
        except Exception as error:
            self._reject(f"events of {strategy_name!r} not recorded: {_describe(error)}")
            return
        for event in events:
            try:
                rows.append((_EVENT, self._event_row(strategy_name, event)))
            except Exception as error:
                self._reject(f"event {type(event).__name__} of {strategy_name!r} not recorded: {_describe(error)}")
        self._enqueue(rows)

    def _snapshot_row(self, strategy_name: str, payload: dict, at: datetime) -> dict:
        validate_strategy_name(strategy_name)
        if not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
        if not isinstance(at, datetime):
            raise TypeError(f"at must be a datetime, got {type(at).__name__}")
        greeks = payload.get("greeks") if isinstance(payload.get("greeks"), dict) else {}
        positions = payload.get("positions")
        row = {
            "row_key": uuid.uuid4().hex,
            "strategy_name": strategy_name,
            "bar_time": storage_time(at),
            "recorded_at": storage_time(self._clock()),
            "position_count": len(positions) if isinstance(positions, (list, tuple, dict)) else None,
            "pnl": _finite_or_none(_pnl_of(payload.get("pnl"))),
            "latest_signal": _latest_signal(payload),
            "payload": display_json(payload),
        }
        row.update({name: _finite_or_none(greeks.get(name)) for name in GREEK_COLUMNS})
        return row

    def _event_row(self, strategy_name: str, event: DomainEvent) -> dict:
        validate_strategy_name(strategy_name)
        occurred_at = getattr(event, "occurred_at", None)
        if not isinstance(occurred_at, datetime):
            raise TypeError(f"{type(event).__name__} has no occurred_at datetime")
        if dataclasses.is_dataclass(event):
            fields = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
        else:
            fields = dict(vars(event))
        fields.pop("occurred_at", None)
        event_type = getattr(event, "event_type", type(event).__name__)
        return {
            "row_key": uuid.uuid4().hex,
            "strategy_name": strategy_name,
            "event_type": str(event_type)[:EVENT_TYPE_LENGTH],
            "occurred_at": storage_time(occurred_at),
            "recorded_at": storage_time(self._clock()),
            "payload": display_json(fields),
        }

    def _enqueue(self, rows: Sequence[tuple[str, dict]]) -> None:
        if not rows:
            return
        with self._condition:
            if self._closing:
                self._dropped += len(rows)
                return
            for row in rows:
                if len(self._queue) >= self._max_queue:
                    self._queue.popleft()
                    self._dropped += 1
                self._queue.append(row)
            self._condition.notify_all()

    def _reject(self, message: str) -> None:
        with self._condition:
            self._rejected += 1
            self._last_error = self._masked(message)
        logger.warning("monitor: %s", self._masked(message))

    # ------------------------------------------------------------------ control
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued row is written; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._condition:
            self._flush_waiters += 1
            self._flush_generation += 1
            self._condition.notify_all()
            try:
                while self._queue or self._in_flight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._writer.is_alive():
                        return False
                    self._condition.wait(remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (retrying for up to ``timeout`` seconds), then stop the writer."""
        with self._condition:
            if not self._closing:
                self._closing = True
                self._close_deadline = time.monotonic() + timeout
            self._condition.notify_all()
        self._writer.join(timeout + 1.0)
        with self._condition:
            lost = len(self._queue)
            if lost and not self._writer.is_alive():
                self._queue.clear()
                self._dropped += lost
        if lost:
            logger.warning("monitor: closed with %d rows not written (%s)", lost, self._last_error or "timeout")
        try:
            self._database.close()
        except peewee.PeeweeException:
            logger.debug("monitor: closing the reader connection failed", exc_info=True)

    def stats(self) -> MonitorStats:
        with self._condition:
            return MonitorStats(queued=len(self._queue) + self._in_flight, written=self._written,
                                dropped=self._dropped, rejected=self._rejected,
                                failed_attempts=self._failed_attempts, last_error=self._last_error,
                                connected=self._connected)

    # ------------------------------------------------------------------ writer thread
    def _write_loop(self) -> None:
        retry_delay = self._retry_initial
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            try:
                self._write(batch)
            except Exception as error:  # keep the thread alive whatever the driver raises
                failure = error
            else:
                failure = None
            with self._condition:
                self._in_flight = 0
                if failure is None:
                    self._connected = True
                    retry_delay = self._retry_initial
                else:
                    self._requeue(batch, failure)
                self._condition.notify_all()
            if failure is not None:
                self._close_writer_connection()
                self._wait_before_retry(retry_delay)
                retry_delay = min(retry_delay * 2, self._retry_max)
        self._close_writer_connection()

    def _next_batch(self) -> list[tuple[str, dict]] | None:
        with self._condition:
            while not self._queue:
                if self._closing:
                    return None
                self._condition.wait()
            linger_until = time.monotonic() + self._linger
            while len(self._queue) < self._batch_size and not self._closing and not self._flush_waiters:
                remaining = linger_until - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            if self._closing and time.monotonic() >= self._close_deadline:
                return None
            size = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(size)]
            self._in_flight = size
            return batch

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        if not self._schema_ready:
            ensure_schema(self._database, self._tables)
            self._schema_ready = True
        try:
            with self._database.atomic():
                self._insert(batch)
            with self._condition:
                self._written += len(batch)
        except CONNECTION_ERRORS:
            raise
        except peewee.DatabaseError:
            self._write_one_by_one(batch)

    def _insert(self, rows: list[tuple[str, dict]]) -> None:
        for kind, table in ((_SNAPSHOT, self._tables.snapshot), (_EVENT, self._tables.event)):
            values = [row for row_kind, row in rows if row_kind == kind]
            if values:
                table.insert_many(values).on_conflict_ignore().execute()

    def _write_one_by_one(self, batch: list[tuple[str, dict]]) -> None:
        """A batch the database refused for its content: store the rows it accepts, count the others."""
        for row in batch:
            try:
                with self._database.atomic():
                    self._insert([row])
            except CONNECTION_ERRORS:
                raise
            except peewee.DatabaseError as error:
                self._reject(f"the database refused a {row[0]} row of {row[1]['strategy_name']!r}: "
                             f"{_describe(error)}")
            else:
                with self._condition:
                    self._written += 1

    def _requeue(self, batch: list[tuple[str, dict]], error: BaseException) -> None:
        """Put a failed batch back in front (called with the condition held); trim the oldest beyond the bound."""
        self._failed_attempts += 1
        self._connected = False
        self._last_error = self._masked(f"write failed, will retry: {_describe(error)}")
        self._queue.extendleft(reversed(batch))
        while len(self._queue) > self._max_queue:
            self._queue.popleft()
            self._dropped += 1
        if self._failed_attempts == 1 or self._failed_attempts % 20 == 0:
            logger.warning("monitor: %s (%d rows queued)", self._last_error, len(self._queue))

    def _wait_before_retry(self, delay: float) -> None:
        retry_at = time.monotonic() + delay
        with self._condition:
            generation = self._flush_generation
            while self._flush_generation == generation:
                limit = min(retry_at, self._close_deadline) if self._closing else retry_at
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    return
                self._condition.wait(remaining)

    def _close_writer_connection(self) -> None:
        try:
            self._database.close()
        except Exception:  # a broken connection may fail to say goodbye
            logger.debug("monitor: closing the writer connection failed", exc_info=True)

    def _masked(self, text: str) -> str:
        return self._location.mask(text) if self._location is not None else text

    # ------------------------------------------------------------------ reading (dashboard, tests)
    def latest_snapshot(self, strategy_name: str) -> dict | None:
        rows = self.snapshots(strategy_name, limit=1)
        return rows[0] if rows else None

    def snapshots(self, strategy_name: str, limit: int = 100) -> list[dict]:
        """Stored snapshots of a strategy, newest first, payload parsed."""
        table = self._tables.snapshot
        query = (table.select().where(table.strategy_name == strategy_name)
                 .order_by(table.bar_time.desc(), table.id.desc()).limit(limit).dicts())
        return [_parsed(row, ("bar_time", "recorded_at")) for row in self._read(lambda: list(query))]

    def events(self, strategy_name: str, limit: int = 100) -> list[dict]:
        """Stored events of a strategy, newest first, payload parsed."""
        table = self._tables.event
        query = (table.select().where(table.strategy_name == strategy_name)
                 .order_by(table.occurred_at.desc(), table.id.desc()).limit(limit).dicts())
        return [_parsed(row, ("occurred_at", "recorded_at")) for row in self._read(lambda: list(query))]

    def count_snapshots(self, strategy_name: str | None = None) -> int:
        table = self._tables.snapshot
        query = table.select()
        if strategy_name is not None:
            query = query.where(table.strategy_name == strategy_name)
        return self._read(lambda: query.count())

    def _read(self, operation: Callable[[], Any]) -> Any:
        try:
            if not self._read_schema_ready:
                ensure_schema(self._database, self._tables)
                self._read_schema_ready = True
            return operation()
        except CONNECTION_ERRORS as error:
            self._database.close()
            where = self._location.describe() if self._location else "the database"
            raise DatabaseConnectionError(self._masked(f"cannot read monitor rows from {where}: "
                                                       f"{_describe(error)}")) from None


def display_json(value: Any) -> str:
    """JSON for people and browsers: dates as ISO text, enums by value, NaN/inf as null."""
    try:
        return json.dumps(value, default=_display_default, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    except ValueError:
        return json.dumps(_without_non_finite(value), default=_display_default, ensure_ascii=False,
                          allow_nan=False, separators=(",", ":"))


def _display_default(value: Any) -> Any:
    if isinstance(value, (datetime, date, time_of_day)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Mapping):  # read-only views such as the mappingproxy of frozen domain values
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"a value of type {type(value).__name__} cannot be shown as JSON")


def _without_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _without_non_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_non_finite(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _without_non_finite(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, np.floating):
        return _without_non_finite(float(value))
    return value


def _finite_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, np.integer, np.floating)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _pnl_of(value: Any) -> Any:
    return value.get("total") if isinstance(value, dict) else value


def _latest_signal(payload: dict) -> str | None:
    signal = payload.get("latest_signal")
    if signal is None:
        signals = payload.get("signals")
        if isinstance(signals, (list, tuple)) and signals:
            signal = signals[-1]
    if isinstance(signal, dict):
        signal = signal.get("signal", signal.get("type"))
    if isinstance(signal, Enum):
        signal = signal.value
    return None if signal is None else str(signal)[:SIGNAL_LENGTH]


def _parsed(row: dict, time_columns: tuple[str, ...]) -> dict:
    row = dict(row)
    row["payload"] = json.loads(row["payload"])
    for column in time_columns:
        row[column] = from_storage_time(row[column])
    return row


def _describe(error: BaseException) -> str:
    detail = first_line(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
