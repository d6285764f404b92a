"""The databases tests run against: an SQLite file per test, and the MySQL-compatible server of scripts/test.sh.

scripts/test.sh starts a throwaway MariaDB and exports ``TEST_MYSQL_HOST``,
``TEST_MYSQL_PORT``, ``TEST_MYSQL_USER``, ``TEST_MYSQL_PASSWORD`` and
``TEST_MYSQL_DATABASE``; tests marked ``mysql`` skip when they are not set.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database
from src.strategy.infrastructure.persistence.control_repository import CONTROL_TABLE
from src.strategy.infrastructure.persistence.hk_tick_schema import HK_TABLES
from src.strategy.infrastructure.persistence.schema import (
    CHECKPOINT_TABLE,
    EVENT_TABLE,
    MIGRATIONS_TABLE,
    SNAPSHOT_TABLE,
    STATE_TABLE,
    STATISTIC_TABLE,
)

MYSQL_SKIP_REASON = ("TEST_MYSQL_HOST is not set: run the tests with scripts/test.sh, which starts a throwaway "
                     "MariaDB (apt-get install mariadb-server), or export TEST_MYSQL_* for a server of your own")
OUR_TABLES = (STATE_TABLE, SNAPSHOT_TABLE, EVENT_TABLE, MIGRATIONS_TABLE, STATISTIC_TABLE, CHECKPOINT_TABLE,
              CONTROL_TABLE) + HK_TABLES
VNPY_TABLES = ("dbbardata", "dbtickdata", "dbbaroverview", "dbtickoverview")
MARIADB_LIBRARY = PROJECT_ROOT / "scripts" / "lib" / "mariadb.sh"


def mysql_configured() -> bool:
    return bool(os.environ.get("TEST_MYSQL_HOST"))


def mysql_location(database: str | None = None) -> DatabaseLocation:
    return DatabaseLocation.mysql(
        database=database or os.environ["TEST_MYSQL_DATABASE"],
        host=os.environ["TEST_MYSQL_HOST"],
        port=int(os.environ.get("TEST_MYSQL_PORT", "3306")),
        user=os.environ.get("TEST_MYSQL_USER", "root"),
        password=os.environ.get("TEST_MYSQL_PASSWORD", ""),
    )


def mysql_environment(location: DatabaseLocation) -> dict[str, str]:
    """The VNPY_DATABASE_* variables that point a process of ours at ``location``."""
    return {"VNPY_DATABASE_DRIVER": "mysql", "VNPY_DATABASE_DATABASE": location.database,
            "VNPY_DATABASE_HOST": location.host, "VNPY_DATABASE_PORT": str(location.port),
            "VNPY_DATABASE_USER": location.user, "VNPY_DATABASE_PASSWORD": location.password}


def database_environment(location: DatabaseLocation) -> dict[str, str]:
    if location.is_sqlite:
        return {"VNPY_DATABASE_DRIVER": "sqlite", "VNPY_DATABASE_DATABASE": location.database}
    return mysql_environment(location)


def drop_tables(location: DatabaseLocation, tables: tuple[str, ...] = OUR_TABLES + VNPY_TABLES) -> None:
    database = open_database(location)
    try:
        for table in tables:
            database.execute_sql(f"DROP TABLE IF EXISTS {table}")
    finally:
        database.close()


def execute(location: DatabaseLocation, sql: str, params: tuple = ()) -> list[tuple]:
    """Runs one statement on a connection of its own (as an operator would, beside the program)."""
    database = open_database(location)
    try:
        cursor = database.execute_sql(sql.replace("?", database.param), params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        database.close()


def mariadb_server_available() -> bool:
    return any(shutil.which(name) or Path(f"/usr/sbin/{name}").exists() for name in ("mariadbd", "mysqld"))


class ThrowawayMariaDB:
    """A MariaDB server of a test's own (scripts/lib/mariadb.sh), which the test may kill and restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _library(self, command: str, *args: str) -> None:
        script = f'source "{MARIADB_LIBRARY}" && {command} "$@"'
        result = subprocess.run(["bash", "-c", script, "mariadb", *args], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{command} failed: {result.stderr.strip()}")

    def start(self) -> None:
        self._library("mariadb_start", str(self.folder))

    def create_database(self, name: str) -> DatabaseLocation:
        self._library("mariadb_create_test_database", str(self.folder), name)
        settings = dict(line.split("=", 1) for line in (self.folder / "test_env").read_text().splitlines())
        return DatabaseLocation.mysql(database=settings["TEST_MYSQL_DATABASE"], host=settings["TEST_MYSQL_HOST"],
                                      port=int(settings["TEST_MYSQL_PORT"]), user=settings["TEST_MYSQL_USER"],
                                      password=settings["TEST_MYSQL_PASSWORD"])

    @property
    def pid(self) -> int:
        return int((self.folder / "mysqld.pid").read_text().strip())

    def stop(self) -> None:
        self._library("mariadb_stop", str(self.folder))

