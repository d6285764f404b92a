"""Our own peewee connections to the database that holds vnpy's bars.

State, monitor snapshots and events live in the same SQLite file or MySQL
database as the bars, but each component opens its own peewee connection to it:
vnpy's connection is a module-level global of its driver, bound once, and its
settings (SQLite journal mode, MySQL timeouts) are not ours to change.

SQLite runs in WAL mode with ``synchronous=FULL``:

- WAL: a commit is one append to the write-ahead log, and a process killed at any
  point (kill -9 included) leaves either the whole transaction or none of it; the
  next opener replays or drops the tail. Readers (the dashboard, ``state show``)
  never block the writer. The mode is a property of the file, so vnpy's own
  connection also switches to WAL, which it handles transparently.
- FULL rather than NORMAL: NORMAL is already safe against a killed process (the
  WAL is in the OS page cache, which survives it), but a power cut or kernel
  crash may lose the last commits. FULL syncs the WAL at every commit, making a
  returned ``save()`` durable against those too. State is saved about once a
  minute, so one fsync per save costs nothing that matters.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import peewee

T = TypeVar("T")

DRIVERS = ("sqlite", "mysql")
SQLITE_BUSY_TIMEOUT_SECONDS = 15.0
SQLITE_PRAGMAS = (("journal_mode", "wal"), ("synchronous", "full"), ("foreign_keys", 0))
MASK = "***"

# Errors that mean "the database cannot be reached or the connection broke",
# as opposed to a mistake in a query.
CONNECTION_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


class DatabaseConnectionError(Exception):
    """The database cannot be opened or reached. The message never contains the password."""


@dataclass(frozen=True)
class DatabaseLocation:
    """Where our tables live: an SQLite file, or a MySQL database on a server."""

    driver: str
    database: str
    host: str = "localhost"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise ValueError(f"unknown database driver {self.driver!r} (expected one of: {', '.join(DRIVERS)})")
        if not self.database:
            raise ValueError("the database (SQLite file or MySQL database name) is required")
        if self.driver == "sqlite" and not Path(self.database).is_absolute():
            raise ValueError(f"the SQLite file must be an absolute path, got {self.database!r}")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port!r}")

    @classmethod
    def sqlite(cls, path: str | Path) -> DatabaseLocation:
        return cls(driver="sqlite", database=str(Path(path).expanduser().resolve()))

    @classmethod
    def mysql(cls, database: str, host: str = "localhost", port: int = 3306, user: str = "root",
              password: str = "") -> DatabaseLocation:
        return cls(driver="mysql", database=database, host=host, port=port, user=user, password=password)

    @property
    def is_sqlite(self) -> bool:
        return self.driver == "sqlite"

    def describe(self) -> str:
        """Where the data lives, for messages (never the password)."""
        if self.is_sqlite:
            return f"SQLite file {self.database}"
        return f"MySQL {self.user}@{self.host}:{self.port}/{self.database}"

    def mask(self, text: str) -> str:
        """``text`` with the password replaced, for error messages that quote driver errors."""
        return text.replace(self.password, MASK) if self.password else text

    def __str__(self) -> str:
        return self.describe()


def open_database(location: DatabaseLocation, *, connect_timeout: float = 5.0,
                  io_timeout: float = 30.0) -> peewee.Database:
    """A peewee database for ``location``; it connects lazily, one connection per thread."""
    if location.is_sqlite:
        database = peewee.SqliteDatabase(location.database, timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
                                         pragmas=list(SQLITE_PRAGMAS))
    else:
        database = peewee.MySQLDatabase(
            location.database, host=location.host, port=location.port, user=location.user,
            password=location.password, connect_timeout=connect_timeout, read_timeout=io_timeout,
            write_timeout=io_timeout)
    return database


def connection_error(location: DatabaseLocation, error: BaseException, action: str) -> DatabaseConnectionError:
    """A one-line error naming the database and the driver's reason, password masked."""
    detail = location.mask(first_line(error)) or type(error).__name__
    return DatabaseConnectionError(f"cannot {action} {location.describe()}: {type(error).__name__}: {detail}")


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def run_reconnecting(database: peewee.Database, location: DatabaseLocation | None, prepare: Callable[[], None],
                     operation: Callable[[], T], action: str) -> T:
    """Runs ``prepare`` (the schema on first use) and ``operation``, once more on a fresh connection if the
    first one had broken (a MySQL server drops idle connections); SQLite is not retried. A failure is one
    ``DatabaseConnectionError`` naming the database and what was being done."""
    retry = location is not None and not location.is_sqlite
    while True:
        try:
            prepare()
            return operation()
        except CONNECTION_ERRORS as error:
            database.close()
            if not retry:
                if location is not None:
                    raise connection_error(location, error, action) from None
                raise DatabaseConnectionError(f"cannot {action} the database: {type(error).__name__}") from None
            retry = False
