"""Our tables: created on first use, migrated forward, and deploy/init_data/schema.sql in step with the models."""
from __future__ import annotations

import re
import sqlite3

import pymysql
import pytest

from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer
from src.strategy.infrastructure.persistence.schema import (
    BASELINE_VERSION,
    LATEST_VERSION,
    MIGRATIONS,
    ensure_schema,
)
from src.strategy.infrastructure.persistence.state_repository import StateRepository, payload_checksum
from tests.db_backends import execute, mysql_location

SCHEMA_SQL = PROJECT_ROOT / "deploy" / "init_data" / "schema.sql"

# strategy_state as version 1 of the schema created it, before migration 2 added payload_size.
VERSION_ONE_STATE_TABLE = {
    "sqlite": 'CREATE TABLE "strategy_state" ("id" INTEGER NOT NULL PRIMARY KEY, "strategy_name" VARCHAR(128) '
              'NOT NULL, "schema_version" INTEGER NOT NULL, "saved_at" DATETIME(6) NOT NULL, "checksum" '
              'VARCHAR(64) NOT NULL, "payload" LONGBLOB NOT NULL)',
    "mysql": "CREATE TABLE `strategy_state` (`id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY, `strategy_name` "
             "VARCHAR(128) NOT NULL, `schema_version` INTEGER NOT NULL, `saved_at` DATETIME(6) NOT NULL, "
             "`checksum` VARCHAR(64) NOT NULL, `payload` LONGBLOB NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
}


def test_migration_2_adds_and_fills_payload_size_on_a_version_one_table(database_location):
    execute(database_location, VERSION_ONE_STATE_TABLE[database_location.driver])
    payload = JsonSerializer().serialize({"counter": 41})
    execute(database_location, "INSERT INTO strategy_state (strategy_name, schema_version, saved_at, checksum, payload)"
            " VALUES (?, ?, ?, ?, ?)", ("vol_15m", 1, "2024-03-01 09:30:00", payload_checksum(payload), payload))

    database = open_database(database_location)
    assert ensure_schema(database) == [BASELINE_VERSION, *(m.version for m in MIGRATIONS)]
    assert "payload_size" in [column.name for column in database.get_columns("strategy_state")]
    assert ensure_schema(database) == []
    database.close()

    repository = StateRepository.open(database_location)
    assert repository.load("vol_15m") == {"counter": 41}
    assert repository.snapshots("vol_15m")[0].size_bytes == len(payload)
    repository.save("vol_15m", {"counter": 42})
    assert repository.load("vol_15m") == {"counter": 42}
    repository.close()
    versions = execute(database_location, "SELECT version FROM schema_migrations ORDER BY version")
    assert [version for (version,) in versions] == [BASELINE_VERSION, *(m.version for m in MIGRATIONS)]


def test_a_new_database_gets_every_table_and_is_marked_fully_migrated(database_location):
    database = open_database(database_location)
    assert ensure_schema(database) == list(range(1, LATEST_VERSION + 1))
    for table in ("strategy_state", "monitor_signal_snapshot", "strategy_event", "schema_migrations"):
        assert database.table_exists(table)
    database.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "bars.db")
    database = open_database(location)
    ensure_schema(database)
    assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    database.close()
    with sqlite3.connect(location.database) as other:  # WAL is a property of the file, seen by every connection
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_schema_sql_lists_every_migration():
    listed = {int(version) for version in re.findall(r"^\s*\((\d+), '", SCHEMA_SQL.read_text(), re.MULTILINE)}
    assert listed == {BASELINE_VERSION, *(migration.version for migration in MIGRATIONS)}


def schema_sql_statements() -> list[str]:
    text = "\n".join(line.split("--", 1)[0] for line in SCHEMA_SQL.read_text().splitlines())
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def mysql_shape(location: DatabaseLocation) -> dict:
    columns = execute(location, "SELECT table_name, column_name, column_type, is_nullable, column_key, extra "
                      "FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, ordinal_position",
                      (location.database,))
    indexes = execute(location, "SELECT table_name, index_name, non_unique, seq_in_index, column_name "
                      "FROM information_schema.statistics WHERE table_schema = ? "
                      "ORDER BY table_name, index_name, seq_in_index", (location.database,))
    tables = execute(location, "SELECT table_name, engine, table_collation FROM information_schema.tables "
                     "WHERE table_schema = ? ORDER BY table_name", (location.database,))
    return {"columns": columns, "indexes": indexes, "tables": tables}


@pytest.mark.mysql
def test_schema_sql_creates_exactly_the_tables_the_programs_create(mysql_database):
    from_models = mysql_database
    database = open_database(from_models)
    ensure_schema(database)
    database.close()
    from_sql = mysql_location(f"{from_models.database}_schema_sql")
    server = pymysql.connect(host=from_sql.host, port=from_sql.port, user=from_sql.user, password=from_sql.password)
    try:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{from_sql.database}`")
            cursor.execute(f"CREATE DATABASE `{from_sql.database}` CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{from_sql.database}`")
            for _ in range(2):  # running it twice changes nothing
                for statement in schema_sql_statements():
                    cursor.execute(statement)
        server.commit()
        sql_shape, model_shape = mysql_shape(from_sql), mysql_shape(from_models)
        assert sql_shape == model_shape, f"schema.sql and the models differ: {differences(sql_shape, model_shape)}"
        assert ensure_schema(open_database(from_sql)) == []
        repository = StateRepository.open(from_sql)
        repository.save("vol_15m", {"a": 1})
        assert repository.load("vol_15m") == {"a": 1}
        repository.close()
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{from_sql.database}`")
        server.close()


def differences(left: dict, right: dict) -> dict:
    return {key: sorted(set(left[key]) ^ set(right[key])) for key in left if left[key] != right[key]}
