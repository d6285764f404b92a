"""The kill switch's table, ``strategy_control``: one row per command an operator wrote.

``python -m src.main.control flatten|stop|resume --strategy NAME`` appends a row;
a running strategy reads the newest row of its name on its timer
(``latest``) and carries the command out once (rows have increasing ids). The
rows are the history: who stopped what, when. Created by schema migration 5.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import peewee

from src.strategy.domain.value_object.control_command import ControlCommand, ControlRequest
from src.strategy.infrastructure.persistence.database_connection import (
    DatabaseLocation,
    open_database,
    run_reconnecting,
)
from src.strategy.infrastructure.persistence.control_schema import (  # noqa: F401 - CONTROL_TABLE re-exported
    CONTROL_TABLE,
    NOTE_LENGTH,
    bind_control_table,
)
from src.strategy.infrastructure.persistence.schema import (
    ensure_schema,
    from_storage_time,
    storage_time,
    validate_strategy_name,
)

T = TypeVar("T")


class StrategyControlRepository:
    def __init__(self, database: peewee.Database, *, location: DatabaseLocation | None = None) -> None:
        self._database = database
        self._location = location
        self._table = bind_control_table(database)
        self._schema_ready = False

    @classmethod
    def open(cls, location: DatabaseLocation) -> StrategyControlRepository:
        return cls(open_database(location), location=location)

    def describe(self) -> str:
        return self._location.describe() if self._location else type(self._database).__name__

    def close(self) -> None:
        self._database.close()

    def write(self, strategy_name: str, command: ControlCommand | str, at: datetime, note: str = "") -> ControlRequest:
        """Appends a command; returns it as the strategy will read it."""
        validate_strategy_name(strategy_name)
        command = ControlCommand(command)
        note = note[:NOTE_LENGTH]
        table = self._table
        row_id = self._run(lambda: table.insert(strategy_name=strategy_name, command=command.value,
                                                requested_at=storage_time(at), note=note).execute(),
                           "write a control command to")
        return self._request(row_id, command.value, storage_time(at), note)

    def latest(self, strategy_name: str) -> ControlRequest | None:
        """The newest command written for the strategy; None when there is none."""
        table = self._table
        query = (table.select(table.id, table.command, table.requested_at, table.note)
                 .where(table.strategy_name == strategy_name).order_by(table.id.desc()).limit(1))
        rows = self._run(lambda: list(query.tuples()), "read control commands from")
        return self._request(*rows[0]) if rows else None

    def history(self, strategy_name: str | None = None, limit: int = 20) -> list[tuple[str, ControlRequest]]:
        """The newest commands (of one strategy, or all), newest first, with their strategy names."""
        table = self._table
        query = table.select(table.strategy_name, table.id, table.command, table.requested_at, table.note)
        if strategy_name is not None:
            query = query.where(table.strategy_name == strategy_name)
        query = query.order_by(table.id.desc()).limit(limit)
        rows = self._run(lambda: list(query.tuples()), "read control commands from")
        return [(name, self._request(row_id, command, at, note)) for name, row_id, command, at, note in rows]

    @staticmethod
    def _request(row_id, command, requested_at, note) -> ControlRequest:
        return ControlRequest(request_id=int(row_id), command=ControlCommand(command),
                              requested_at=from_storage_time(requested_at), note=note or "")

    def _run(self, operation: Callable[[], T], action: str) -> T:
        return run_reconnecting(self._database, self._location, self._ensure_schema, operation, action)

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            ensure_schema(self._database)
            self._schema_ready = True
