"""Daily option market statistics (call/put/total per market and data type) and backfill checkpoints.

Two tables of the configured database, defined in ``schema.py`` and created by its migration 3:

- ``option_market_statistic``: one row per (market, data_type, trade_date), upserted, so fetching
  a day again replaces it and never duplicates it. ``market`` is a free key: Futu's ``US_SECURITY``,
  ``HK_INDEX``..., or ``CBOE_EQUITY``... for Cboe's published history; ``source`` says where it came from.
- ``option_market_statistic_checkpoint``: one row per completed backfill window; a window's rows and
  its checkpoint are written in one transaction, so a backfill killed at any point resumes at the
  first window without a checkpoint, with no gap and no duplicate.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import peewee

from src.strategy.infrastructure.persistence.database_connection import (
    CONNECTION_ERRORS,
    DatabaseLocation,
    connection_error,
    open_database,
)
from src.strategy.infrastructure.persistence.schema import (
    DATA_TYPE_LENGTH,
    MARKET_LENGTH,
    bind_statistic_tables,
    ensure_schema,
    storage_time,
)

UPSERT_BATCH = 200


@dataclass(frozen=True)
class StoredStatistic:
    market: str
    data_type: str
    trade_date: date
    call_value: int
    put_value: int
    total_value: int
    ratio: float | None
    source: str = "futu"

    def __post_init__(self) -> None:
        if not self.market or len(self.market) > MARKET_LENGTH:
            raise ValueError(f"market must be 1-{MARKET_LENGTH} characters, got {self.market!r}")
        if not self.data_type or len(self.data_type) > DATA_TYPE_LENGTH:
            raise ValueError(f"data_type must be 1-{DATA_TYPE_LENGTH} characters, got {self.data_type!r}")
        if self.call_value < 0 or self.put_value < 0 or self.total_value < 0:
            raise ValueError(f"negative value in {self}")


@dataclass(frozen=True)
class Checkpoint:
    market: str
    data_type: str
    window_start: date
    window_end: date
    rows: int


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


class OptionMarketStatisticRepository:
    """Reads and writes the two tables; ``open`` brings the schema up to date first."""

    def __init__(self, location: DatabaseLocation, database: peewee.Database) -> None:
        self.location = location
        self._database = database
        self._tables = bind_statistic_tables(database)

    @classmethod
    def open(cls, location: DatabaseLocation) -> OptionMarketStatisticRepository:
        database = open_database(location)
        try:
            ensure_schema(database)
        except CONNECTION_ERRORS as error:
            database.close()
            raise connection_error(location, error, "open") from None
        return cls(location, database)

    def close(self) -> None:
        self._database.close()

    def __enter__(self) -> OptionMarketStatisticRepository:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writes --------------------------------------------------------------------------------
    def upsert(self, rows: Sequence[StoredStatistic], checkpoint: Checkpoint | None = None,
               now: datetime | None = None) -> int:
        """Insert or replace ``rows`` (and record ``checkpoint``) in one transaction; the rows written."""
        fetched_at = storage_time(now or datetime.now(ZoneInfo("UTC")))
        model = self._tables.statistic
        records = [{"market": r.market, "data_type": r.data_type, "trade_date": r.trade_date,
                    "call_value": r.call_value, "put_value": r.put_value, "total_value": r.total_value,
                    "ratio": r.ratio, "source": r.source, "fetched_at": fetched_at} for r in rows]
        updated = [model.call_value, model.put_value, model.total_value, model.ratio, model.source,
                   model.fetched_at]
        with self._database.atomic():
            for start in range(0, len(records), UPSERT_BATCH):
                query = model.insert_many(records[start:start + UPSERT_BATCH])
                if isinstance(self._database, peewee.MySQLDatabase):
                    query = query.on_conflict(preserve=updated)
                else:
                    query = query.on_conflict(conflict_target=[model.market, model.data_type, model.trade_date],
                                              preserve=updated)
                query.execute()
            if checkpoint is not None:
                self._record_checkpoint(checkpoint, fetched_at)
        return len(records)

    def _record_checkpoint(self, checkpoint: Checkpoint, completed_at: datetime) -> None:
        model = self._tables.checkpoint
        query = model.insert(market=checkpoint.market, data_type=checkpoint.data_type,
                             window_start=checkpoint.window_start, window_end=checkpoint.window_end,
                             row_count=checkpoint.rows, completed_at=completed_at)
        preserve = [model.row_count, model.completed_at]
        if isinstance(self._database, peewee.MySQLDatabase):
            query = query.on_conflict(preserve=preserve)
        else:
            query = query.on_conflict(conflict_target=[model.market, model.data_type, model.window_start,
                                                       model.window_end], preserve=preserve)
        query.execute()

    # --- reads ---------------------------------------------------------------------------------
    def completed_windows(self, market: str, data_type: str) -> set[tuple[date, date]]:
        model = self._tables.checkpoint
        query = model.select(model.window_start, model.window_end).where(
            (model.market == market) & (model.data_type == data_type))
        return {(_as_date(row.window_start), _as_date(row.window_end)) for row in query}

    def checkpoints(self, market: str, data_type: str) -> list[Checkpoint]:
        model = self._tables.checkpoint
        query = model.select().where((model.market == market) & (model.data_type == data_type)) \
            .order_by(model.window_start)
        return [Checkpoint(row.market, row.data_type, _as_date(row.window_start), _as_date(row.window_end),
                           row.row_count) for row in query]

    def latest_date(self, market: str, data_type: str) -> date | None:
        model = self._tables.statistic
        value = model.select(peewee.fn.MAX(model.trade_date)).where(
            (model.market == market) & (model.data_type == data_type)).scalar()
        return None if value is None else _as_date(value)

    def statistics(self, market: str, data_type: str, start: date | None = None,
                   end: date | None = None) -> list[StoredStatistic]:
        """Stored rows, ascending by trade date, within [start, end] when given."""
        model = self._tables.statistic
        condition = (model.market == market) & (model.data_type == data_type)
        if start is not None:
            condition &= model.trade_date >= start
        if end is not None:
            condition &= model.trade_date <= end
        query = model.select().where(condition).order_by(model.trade_date)
        return [StoredStatistic(row.market, row.data_type, _as_date(row.trade_date), int(row.call_value),
                                int(row.put_value), int(row.total_value), row.ratio, row.source)
                for row in query]

    def count(self, market: str | None = None, data_type: str | None = None) -> int:
        model = self._tables.statistic
        query = model.select()
        if market is not None:
            query = query.where(model.market == market)
        if data_type is not None:
            query = query.where(model.data_type == data_type)
        return query.count()

    def duplicate_keys(self) -> int:
        """Rows sharing a (market, data_type, trade_date) with another: 0 unless the unique index is gone."""
        model = self._tables.statistic
        groups = model.select(model.market).group_by(model.market, model.data_type, model.trade_date) \
            .having(peewee.fn.COUNT(model.id) > 1)
        return groups.count()

    def series_keys(self) -> list[tuple[str, str]]:
        model = self._tables.statistic
        query = model.select(model.market, model.data_type).distinct().order_by(model.market, model.data_type)
        return [(row.market, row.data_type) for row in query]


def stored_keys(rows: Iterable[StoredStatistic]) -> set[tuple[str, str, date]]:
    return {(row.market, row.data_type, row.trade_date) for row in rows}
