"""Strategy state snapshots in the ``strategy_state`` table, newest good one wins.

Every ``save`` inserts a new row (schema version, time, sha256 checksum, JSON
payload) and prunes the strategy's rows beyond the newest ``keep``, in one
transaction: a process killed mid-save leaves the previous snapshots untouched.
``load`` walks the snapshots newest first and returns the first whose checksum
verifies and whose payload parses; each one skipped is logged and recorded as a
``StateCorruptionDetected`` event for the caller (``pop_events``).

Pruning counts rows, good or bad: if the newest ``keep`` saves were all corrupt
the older good ones would be gone, which needs a storage fault on every one of
``keep`` consecutive saves; ``verify`` (and ``python -m src.main.state verify``)
is how to find out before that happens.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import peewee

from src.strategy.domain.event.base import DomainEvent
from src.strategy.infrastructure.persistence.database_connection import (
    DatabaseLocation,
    open_database,
    run_reconnecting,
)
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer, StateSerializationError
from src.strategy.infrastructure.persistence.schema import (
    STORAGE_TIMEZONE,
    bind_tables,
    ensure_schema,
    from_storage_time,
    storage_time,
    validate_strategy_name,
)

DEFAULT_KEEP = 10

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class StateCorruptionDetected(DomainEvent):
    """A stored snapshot failed its checksum or could not be parsed, and was skipped."""

    strategy_name: str
    snapshot_id: int
    saved_at: datetime
    reason: str


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    strategy_name: str
    schema_version: int
    saved_at: datetime
    checksum: str
    size_bytes: int

    def as_dict(self) -> dict:
        return {"strategy_name": self.strategy_name, "snapshot_id": self.snapshot_id,
                "schema_version": self.schema_version, "saved_at": self.saved_at.isoformat(),
                "checksum": self.checksum, "size_bytes": self.size_bytes}


@dataclass(frozen=True)
class BadSnapshot:
    snapshot_id: int
    strategy_name: str
    saved_at: datetime
    reason: str

    def describe(self) -> str:
        return (f"strategy {self.strategy_name!r} snapshot {self.snapshot_id} saved at "
                f"{self.saved_at.isoformat()}: {self.reason}")


@dataclass(frozen=True)
class PreparedState:
    """A state already serialized: what ``save_prepared`` writes, and its digest."""

    schema_version: int
    payload: bytes
    checksum: str


def payload_checksum(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class StateRepository:
    """Versioned, checksummed strategy state snapshots; the newest ``keep`` per strategy are kept."""

    def __init__(self, database: peewee.Database, *, location: DatabaseLocation | None = None,
                 keep: int = DEFAULT_KEEP, serializer: JsonSerializer | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise ValueError(f"keep must be an int >= 1, got {keep!r}")
        self._database = database
        self._location = location
        self._keep = keep
        self._serializer = serializer or JsonSerializer()
        self._clock = clock or (lambda: datetime.now(STORAGE_TIMEZONE))
        self._tables = bind_tables(database)
        self._schema_ready = False
        self._events: list[StateCorruptionDetected] = []
        self._events_lock = threading.Lock()

    @classmethod
    def open(cls, location: DatabaseLocation, **options) -> StateRepository:
        return cls(open_database(location), location=location, **options)

    @property
    def serializer(self) -> JsonSerializer:
        return self._serializer

    @property
    def keep(self) -> int:
        return self._keep

    def describe(self) -> str:
        return self._location.describe() if self._location else type(self._database).__name__

    def close(self) -> None:
        self._database.close()

    # ------------------------------------------------------------------ writing
    def prepare(self, state: dict) -> PreparedState:
        payload = self._serializer.serialize(state)
        return PreparedState(self._serializer.schema_version, payload, payload_checksum(payload))

    def save(self, strategy_name: str, state: dict) -> None:
        self.save_prepared(strategy_name, self.prepare(state))

    def save_prepared(self, strategy_name: str, prepared: PreparedState) -> None:
        validate_strategy_name(strategy_name)
        saved_at = storage_time(self._clock())
        self._run(lambda: self._insert_and_prune(strategy_name, prepared, saved_at), "save state to")

    def _insert_and_prune(self, strategy_name: str, prepared: PreparedState, saved_at: datetime) -> None:
        table = self._tables.state
        with self._database.atomic():
            table.insert(strategy_name=strategy_name, schema_version=prepared.schema_version, saved_at=saved_at,
                         checksum=prepared.checksum, payload=prepared.payload,
                         payload_size=len(prepared.payload)).execute()
            # MySQL refuses LIMIT inside an IN subquery, so find the oldest id to keep first.
            oldest_kept = (table.select(table.id).where(table.strategy_name == strategy_name)
                           .order_by(table.id.desc()).offset(self._keep - 1).limit(1).scalar())
            if oldest_kept is not None:
                table.delete().where((table.strategy_name == strategy_name) & (table.id < oldest_kept)).execute()

    # ------------------------------------------------------------------ reading
    def load(self, strategy_name: str) -> dict | None:
        """The newest snapshot that verifies, migrated to the current schema version; None when there is none.

        Raises ``StateVersionError`` when the newest readable snapshot was written by a
        newer program (or cannot be migrated): loading an older one silently would
        roll the strategy back.
        """
        validate_strategy_name(strategy_name)
        for info in self.snapshots(strategy_name):
            version_and_state = self._read_verified(info)
            if version_and_state is not None:
                version, state = version_and_state
                return self._serializer.migrations.migrate(version, state)
        return None

    def newest_good_snapshot(self, strategy_name: str) -> SnapshotInfo | None:
        """Metadata of the newest snapshot that verifies and parses (whatever its schema version)."""
        validate_strategy_name(strategy_name)
        for info in self.snapshots(strategy_name):
            if self._read_verified(info) is not None:
                return info
        return None

    def snapshots(self, strategy_name: str) -> list[SnapshotInfo]:
        """Metadata of every stored snapshot of a strategy, newest first (not verified)."""
        validate_strategy_name(strategy_name)
        table = self._tables.state
        query = (table.select(table.id, table.strategy_name, table.schema_version, table.saved_at, table.checksum,
                              table.payload_size)
                 .where(table.strategy_name == strategy_name).order_by(table.id.desc()))
        return self._run(lambda: [_info(row) for row in query.tuples()], "read snapshots from")

    def strategy_names(self) -> list[str]:
        table = self._tables.state
        query = table.select(table.strategy_name).distinct().order_by(table.strategy_name)
        return self._run(lambda: [name for (name,) in query.tuples()], "read snapshots from")

    def verify(self, strategy_name: str | None = None) -> list[BadSnapshot]:
        """Every snapshot (of one strategy, or all) whose checksum fails or whose payload does not parse."""
        names = [strategy_name] if strategy_name is not None else self.strategy_names()
        bad = []
        for name in names:
            for info in self.snapshots(name):
                _, reason = self._examine(info)
                if reason is not None:
                    bad.append(BadSnapshot(info.snapshot_id, info.strategy_name, info.saved_at, reason))
        return bad

    def count_snapshots(self) -> int:
        table = self._tables.state
        return self._run(lambda: table.select().count(), "read snapshots from")

    def pop_events(self) -> list[StateCorruptionDetected]:
        """The corruption events recorded since the last call, oldest first."""
        with self._events_lock:
            events, self._events = self._events, []
        return events

    def _read_verified(self, info: SnapshotInfo) -> tuple[int, dict] | None:
        """Schema version and state of a snapshot as written; None, reported, when it does not verify."""
        decoded, reason = self._examine(info)
        if reason is not None:
            self._report(info, reason)
        return decoded

    def _examine(self, info: SnapshotInfo) -> tuple[tuple[int, dict] | None, str | None]:
        """(decoded, None) for a good snapshot, (None, reason) for a bad one, (None, None) when gone."""
        payload = self._payload(info.snapshot_id)
        if payload is None:  # pruned by a concurrent save since the listing
            return None, None
        actual = payload_checksum(payload)
        if actual != info.checksum:
            return None, (f"checksum mismatch (stored {info.checksum[:12]}..., payload {actual[:12]}..., "
                          f"{len(payload)} bytes)")
        try:
            return self._serializer.decode(payload), None
        except StateSerializationError as error:
            return None, f"unparsable payload: {error}"

    def _payload(self, snapshot_id: int) -> bytes | None:
        table = self._tables.state
        query = table.select(table.payload).where(table.id == snapshot_id)
        payload = self._run(lambda: query.scalar(), "read snapshots from")
        if payload is None:
            return None
        return payload if isinstance(payload, bytes) else bytes(payload)

    def _report(self, info: SnapshotInfo, reason: str) -> None:
        logger.warning("state snapshot %s of strategy %r saved at %s is corrupt and was skipped: %s",
                       info.snapshot_id, info.strategy_name, info.saved_at.isoformat(), reason)
        event = StateCorruptionDetected(occurred_at=self._clock(), strategy_name=info.strategy_name,
                                        snapshot_id=info.snapshot_id, saved_at=info.saved_at, reason=reason)
        with self._events_lock:
            self._events.append(event)

    # ------------------------------------------------------------------ connection
    def _run(self, operation: Callable[[], T], action: str) -> T:
        return run_reconnecting(self._database, self._location, self._ensure_schema, operation, action)

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            ensure_schema(self._database, self._tables)
            self._schema_ready = True


def _info(row: tuple) -> SnapshotInfo:
    snapshot_id, strategy_name, schema_version, saved_at, checksum, size = row
    return SnapshotInfo(snapshot_id=snapshot_id, strategy_name=strategy_name, schema_version=schema_version,
                        saved_at=from_storage_time(saved_at), checksum=checksum, size_bytes=size or 0)
