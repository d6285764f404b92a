"""Our tables (strategy_state, monitor_signal_snapshot, strategy_event, and since migration 3
option_market_statistic with its checkpoints) and their migrations.

The model classes are built per database (``bind_tables``), so an SQLite and a
MySQL connection can live side by side in one process without rebinding shared
classes.

How the schema evolves
----------------------
``ensure_schema`` runs on first use of a database by any of our components:

1. ``create_tables(safe=True)`` creates the missing tables in their current shape
   (the model classes below);
2. every migration of ``MIGRATIONS`` not yet listed in ``schema_migrations`` is
   applied and listed. A migration must be idempotent: on a table just created in
   the current shape it finds its change already there and does nothing.

To add a column later: add the field to the model below (nullable, or with a
default), append a ``Migration(N, ...)`` that adds it with ``add_column_if_missing``
(and backfills it if needed), and add the column and the ``INSERT INTO
schema_migrations`` line of version N to ``deploy/init_data/schema.sql``;
``tests/integration/persistence/test_schema.py`` checks that the SQL file, the
models and the migrations agree. Migration 2 below is a real example.

Datetimes are stored naive, in exchange time (Asia/Shanghai), as vnpy stores bars,
so the dashboard can line snapshots up with bars without converting.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.persistence.model_base import (  # noqa: F401 - re-exported
    LongBlobField,
    LongTextField,
    MicrosecondDateTimeField,
    model_base,
)

STORAGE_TIMEZONE = EXCHANGE_TIMEZONE

STATE_TABLE = "strategy_state"
SNAPSHOT_TABLE = "monitor_signal_snapshot"
EVENT_TABLE = "strategy_event"
MIGRATIONS_TABLE = "schema_migrations"
NAME_LENGTH = 128
EVENT_TYPE_LENGTH = 64
SIGNAL_LENGTH = 64


# The column types and the model base every table of the project's own uses: model_base.py.


@dataclass(frozen=True)
class Tables:
    state: type[peewee.Model]
    snapshot: type[peewee.Model]
    event: type[peewee.Model]
    migration: type[peewee.Model]

    @property
    def all(self) -> list[type[peewee.Model]]:
        return [self.state, self.snapshot, self.event, self.migration]


def bind_tables(database: peewee.Database) -> Tables:
    Base = model_base(database)

    class StrategyState(Base):
        id = peewee.BigAutoField()
        strategy_name = peewee.CharField(max_length=NAME_LENGTH)
        schema_version = peewee.IntegerField()
        saved_at = MicrosecondDateTimeField()
        checksum = peewee.CharField(max_length=64)
        payload = LongBlobField()
        payload_size = peewee.BigIntegerField(null=True)  # migration 2

        class Meta:
            table_name = STATE_TABLE
            indexes = ((("strategy_name", "id"), False),)

    class MonitorSignalSnapshot(Base):
        id = peewee.BigAutoField()
        row_key = peewee.CharField(max_length=32, unique=True)  # makes a retried batch insert idempotent
        strategy_name = peewee.CharField(max_length=NAME_LENGTH)
        bar_time = MicrosecondDateTimeField()
        recorded_at = MicrosecondDateTimeField()
        position_count = peewee.IntegerField(null=True)
        delta = peewee.DoubleField(null=True)
        gamma = peewee.DoubleField(null=True)
        vega = peewee.DoubleField(null=True)
        theta = peewee.DoubleField(null=True)
        pnl = peewee.DoubleField(null=True)
        latest_signal = peewee.CharField(max_length=SIGNAL_LENGTH, null=True)
        payload = LongTextField()

        class Meta:
            table_name = SNAPSHOT_TABLE
            indexes = ((("strategy_name", "bar_time"), False),)

    class StrategyEvent(Base):
        id = peewee.BigAutoField()
        row_key = peewee.CharField(max_length=32, unique=True)
        strategy_name = peewee.CharField(max_length=NAME_LENGTH)
        event_type = peewee.CharField(max_length=EVENT_TYPE_LENGTH)
        occurred_at = MicrosecondDateTimeField()
        recorded_at = MicrosecondDateTimeField()
        payload = LongTextField()

        class Meta:
            table_name = EVENT_TABLE
            indexes = ((("strategy_name", "occurred_at"), False),)

    class SchemaMigrationRecord(Base):
        version = peewee.IntegerField(primary_key=True)
        description = peewee.CharField(max_length=200)
        applied_at = MicrosecondDateTimeField()

        class Meta:
            table_name = MIGRATIONS_TABLE

    return Tables(StrategyState, MonitorSignalSnapshot, StrategyEvent, SchemaMigrationRecord)


STATISTIC_TABLE = "option_market_statistic"
CHECKPOINT_TABLE = "option_market_statistic_checkpoint"
MARKET_LENGTH = 32
DATA_TYPE_LENGTH = 16
SOURCE_LENGTH = 16


@dataclass(frozen=True)
class StatisticTables:
    statistic: type[peewee.Model]
    checkpoint: type[peewee.Model]

    @property
    def all(self) -> list[type[peewee.Model]]:
        return [self.statistic, self.checkpoint]


def bind_statistic_tables(database: peewee.Database) -> StatisticTables:
    Base = model_base(database)

    class OptionMarketStatistic(Base):
        id = peewee.BigAutoField()
        market = peewee.CharField(max_length=MARKET_LENGTH)
        data_type = peewee.CharField(max_length=DATA_TYPE_LENGTH)
        trade_date = peewee.DateField()
        call_value = peewee.BigIntegerField()
        put_value = peewee.BigIntegerField()
        total_value = peewee.BigIntegerField()
        ratio = peewee.DoubleField(null=True)  # put / call; NULL when call is 0
        source = peewee.CharField(max_length=SOURCE_LENGTH)
        fetched_at = MicrosecondDateTimeField()

        class Meta:
            table_name = STATISTIC_TABLE
            indexes = ((("market", "data_type", "trade_date"), True),)

    class OptionMarketStatisticCheckpoint(Base):
        id = peewee.BigAutoField()
        market = peewee.CharField(max_length=MARKET_LENGTH)
        data_type = peewee.CharField(max_length=DATA_TYPE_LENGTH)
        window_start = peewee.DateField()
        window_end = peewee.DateField()
        row_count = peewee.IntegerField()
        completed_at = MicrosecondDateTimeField()

        class Meta:
            table_name = CHECKPOINT_TABLE
            indexes = ((("market", "data_type", "window_start", "window_end"), True),)

    return StatisticTables(OptionMarketStatistic, OptionMarketStatisticCheckpoint)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[peewee.Database], None]


def add_column_if_missing(database: peewee.Database, table: str, column: str, field: peewee.Field) -> bool:
    """Adds ``column`` unless it exists (another process may have just added it); True when added."""
    if _has_column(database, table, column):
        return False
    try:
        migrate(SchemaMigrator.from_database(database).add_column(table, column, field))
    except (peewee.OperationalError, peewee.ProgrammingError):
        if not _has_column(database, table, column):
            raise
        return False
    return True


def _has_column(database: peewee.Database, table: str, column: str) -> bool:
    return any(existing.name == column for existing in database.get_columns(table))


def _add_state_payload_size(database: peewee.Database) -> None:
    add_column_if_missing(database, STATE_TABLE, "payload_size", peewee.BigIntegerField(null=True))
    database.execute_sql(f"UPDATE {STATE_TABLE} SET payload_size = LENGTH(payload) WHERE payload_size IS NULL")


def _create_option_market_statistic_tables(database: peewee.Database) -> None:
    database.create_tables(bind_statistic_tables(database).all, safe=True)


def _create_strategy_control_table(database: peewee.Database) -> None:
    from src.strategy.infrastructure.persistence.control_schema import create_control_table

    create_control_table(database)


def _create_hk_feed_tables(database: peewee.Database) -> None:
    from src.strategy.infrastructure.persistence.hk_tick_schema import create_hk_tables

    create_hk_tables(database)


BASELINE_VERSION = 1
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "strategy_state.payload_size: list snapshot sizes without reading payloads",
              _add_state_payload_size),
    Migration(3, "option_market_statistic and its backfill checkpoints (Futu statistics, Cboe history)",
              _create_option_market_statistic_tables),
    Migration(4, "hk_trade_tick, hk_depth_snapshot, hk_seq_gap, hk_feed_checkpoint: the HK tick feed",
              _create_hk_feed_tables),
    Migration(5, "strategy_control: the kill switch's commands (python -m src.main.control)",
              _create_strategy_control_table),
)
LATEST_VERSION = max([BASELINE_VERSION, *(migration.version for migration in MIGRATIONS)])

_ensure_lock = threading.Lock()


def ensure_schema(database: peewee.Database, tables: Tables | None = None) -> list[int]:
    """Creates missing tables and applies pending migrations; the versions applied now."""
    tables = tables or bind_tables(database)
    with _ensure_lock:
        database.create_tables(tables.all, safe=True)
        applied = {record.version for record in tables.migration.select(tables.migration.version)}
        newly_applied = []
        pending = [Migration(BASELINE_VERSION, "baseline: strategy_state, monitor_signal_snapshot, strategy_event",
                             lambda _: None), *MIGRATIONS]
        for migration in pending:
            if migration.version in applied:
                continue
            migration.apply(database)
            tables.migration.insert(version=migration.version, description=migration.description,
                                    applied_at=storage_time(datetime.now(STORAGE_TIMEZONE))) \
                .on_conflict_ignore().execute()
            newly_applied.append(migration.version)
        return newly_applied


def storage_time(moment: datetime) -> datetime:
    """The naive exchange-time datetime stored for ``moment`` (naive input is taken as exchange time)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(STORAGE_TIMEZONE).replace(tzinfo=None)
    return moment


def from_storage_time(stored: datetime | str) -> datetime:
    """An aware exchange-time datetime from a stored naive one."""
    if isinstance(stored, str):  # SQLite hands back text when a value was written by raw SQL
        stored = datetime.fromisoformat(stored)
    return stored.replace(tzinfo=STORAGE_TIMEZONE)


def validate_strategy_name(strategy_name: str) -> None:
    """ValueError unless the name fits the strategy_name column."""
    if not isinstance(strategy_name, str) or not strategy_name.strip():
        raise ValueError(f"a strategy name must be a non-empty string, got {strategy_name!r}")
    if len(strategy_name) > NAME_LENGTH:
        raise ValueError(f"a strategy name must be at most {NAME_LENGTH} characters, got {len(strategy_name)}")
