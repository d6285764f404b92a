"""The IB tables: the contract cache, snapshot runs and their quotes, and the vol surfaces built from them.

They live in the configured database (the SQLite file or MySQL database of vnpy's bars), opened
through the project's persistence layer (``open_database``), and are created and migrated like the
framework's other tables (``schema.py``): ``create_tables(safe=True)`` in the current shape, then
every migration not yet listed. This feed lists its migrations in its own table,
``ib_schema_migrations``, so its versions never collide with the strategy's ``schema_migrations``.

Tables:

- ``ib_option_contract``: one row per conId: underlying, expiry, strike, right, multiplier, trading
  class, exchange, local symbol, first and last seen;
- ``ib_chain_check``: per underlying, when the chain structure was last checked and the underlying
  price then (the reference for the strike-move threshold);
- ``ib_snapshot_run``: one row per run: start, end, session, market data type, requested, filled,
  errors by code (JSON), status, the conIds requested (JSON, for resuming);
- ``ib_snapshot_quote``: one row per contract and run (unique), prices NULL when missing (TWS sends
  ``nan`` or -1), Greeks with where they came from, the market data type actually delivered;
- ``ib_vol_surface``: the surface built from a completed run (JSON), for the dashboard and replays.

Datetimes are naive in the storage timezone of ``schema.py`` (Asia/Shanghai) like every other
table of the database; expiries are dates.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import peewee

from src.datafeed.ib.contracts import OptionRecord
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database
from src.strategy.infrastructure.persistence.model_base import model_base
from src.strategy.infrastructure.persistence.schema import (
    LongTextField,
    Migration,
    MicrosecondDateTimeField,
    add_column_if_missing,
    from_storage_time,
    storage_time,
)

CONTRACT_TABLE = "ib_option_contract"
CHECK_TABLE = "ib_chain_check"
RUN_TABLE = "ib_snapshot_run"
QUOTE_TABLE = "ib_snapshot_quote"
SURFACE_TABLE = "ib_vol_surface"
MIGRATIONS_TABLE = "ib_schema_migrations"
IB_TABLES = (CONTRACT_TABLE, CHECK_TABLE, RUN_TABLE, QUOTE_TABLE, SURFACE_TABLE, MIGRATIONS_TABLE)

QUOTE_FIELDS = ("bid", "ask", "last", "close", "bid_size", "ask_size", "last_size", "volume", "open_interest",
                "iv", "delta", "gamma", "vega", "theta", "underlying_price")


@dataclass(frozen=True)
class IbTables:
    contract: type[peewee.Model]
    check: type[peewee.Model]
    run: type[peewee.Model]
    quote: type[peewee.Model]
    surface: type[peewee.Model]
    migration: type[peewee.Model]

    @property
    def all(self) -> list[type[peewee.Model]]:
        return [self.contract, self.check, self.run, self.quote, self.surface, self.migration]


def bind_ib_tables(database: peewee.Database) -> IbTables:
    Base = model_base(database)

    class IbOptionContract(Base):
        con_id = peewee.BigIntegerField(primary_key=True)
        underlying = peewee.CharField(max_length=32)
        underlying_con_id = peewee.BigIntegerField()
        expiry = peewee.DateField()
        strike = peewee.DoubleField()
        option_right = peewee.CharField(max_length=1)
        multiplier = peewee.DoubleField()
        trading_class = peewee.CharField(max_length=32)
        exchange = peewee.CharField(max_length=16)
        local_symbol = peewee.CharField(max_length=64)
        currency = peewee.CharField(max_length=8)
        first_seen = MicrosecondDateTimeField()
        last_seen = MicrosecondDateTimeField()

        class Meta:
            table_name = CONTRACT_TABLE
            indexes = ((("underlying", "expiry"), False),)

    class IbChainCheck(Base):
        underlying = peewee.CharField(max_length=32, primary_key=True)
        checked_at = MicrosecondDateTimeField()
        reference_price = peewee.DoubleField(null=True)

        class Meta:
            table_name = CHECK_TABLE

    class IbSnapshotRun(Base):
        id = peewee.BigAutoField()
        session = peewee.CharField(max_length=16)
        market_data_type = peewee.IntegerField()
        underlyings = peewee.CharField(max_length=255)
        started_at = MicrosecondDateTimeField()
        ended_at = MicrosecondDateTimeField(null=True)
        status = peewee.CharField(max_length=16)       # running, completed, interrupted
        requested = peewee.IntegerField()
        filled = peewee.IntegerField(default=0)
        errors = LongTextField()                         # JSON {code: count}
        resumes = peewee.IntegerField(default=0)
        contract_ids = LongTextField()                   # JSON list of the conIds requested

        class Meta:
            table_name = RUN_TABLE

    class IbSnapshotQuote(Base):
        id = peewee.BigAutoField()
        run_id = peewee.BigIntegerField()
        con_id = peewee.BigIntegerField()
        underlying = peewee.CharField(max_length=32)
        expiry = peewee.DateField(null=True)
        strike = peewee.DoubleField(null=True)
        option_right = peewee.CharField(max_length=1, null=True)
        bid = peewee.DoubleField(null=True)
        ask = peewee.DoubleField(null=True)
        last = peewee.DoubleField(null=True)
        close = peewee.DoubleField(null=True)
        bid_size = peewee.DoubleField(null=True)
        ask_size = peewee.DoubleField(null=True)
        last_size = peewee.DoubleField(null=True)
        volume = peewee.DoubleField(null=True)
        open_interest = peewee.DoubleField(null=True)
        iv = peewee.DoubleField(null=True)
        delta = peewee.DoubleField(null=True)
        gamma = peewee.DoubleField(null=True)
        vega = peewee.DoubleField(null=True)
        theta = peewee.DoubleField(null=True)
        underlying_price = peewee.DoubleField(null=True)
        greeks_source = peewee.CharField(max_length=8, null=True)   # model, bid, ask, last
        market_data_type = peewee.IntegerField(null=True)
        error_code = peewee.IntegerField(null=True)
        recorded_at = MicrosecondDateTimeField()

        class Meta:
            table_name = QUOTE_TABLE
            indexes = ((("run_id", "con_id"), True),)

    class IbVolSurface(Base):
        id = peewee.BigAutoField()
        run_id = peewee.BigIntegerField()
        underlying = peewee.CharField(max_length=32)
        valuation_time = MicrosecondDateTimeField()
        built_at = MicrosecondDateTimeField()
        rate = peewee.DoubleField()
        payload = LongTextField()

        class Meta:
            table_name = SURFACE_TABLE
            indexes = ((("underlying", "valuation_time"), False), (("run_id", "underlying"), True))

    class IbSchemaMigration(Base):
        version = peewee.IntegerField(primary_key=True)
        description = peewee.CharField(max_length=200)
        applied_at = MicrosecondDateTimeField()

        class Meta:
            table_name = MIGRATIONS_TABLE

    return IbTables(IbOptionContract, IbChainCheck, IbSnapshotRun, IbSnapshotQuote, IbVolSurface,
                    IbSchemaMigration)


def _add_run_resumes(database: peewee.Database) -> None:
    add_column_if_missing(database, RUN_TABLE, "resumes", peewee.IntegerField(default=0))


BASELINE_VERSION = 1
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "ib_snapshot_run.resumes: how often a run was resumed after a disconnect", _add_run_resumes),
)
LATEST_VERSION = max([BASELINE_VERSION, *(m.version for m in MIGRATIONS)])
_ensure_lock = threading.Lock()


def ensure_ib_schema(database: peewee.Database, tables: IbTables | None = None) -> list[int]:
    """Creates the missing IB tables and applies pending migrations; the versions applied now."""
    tables = tables or bind_ib_tables(database)
    with _ensure_lock:
        database.create_tables(tables.all, safe=True)
        applied = {row.version for row in tables.migration.select(tables.migration.version)}
        newly = []
        for migration in [Migration(BASELINE_VERSION, "baseline: IB contract cache, snapshot runs and quotes, "
                                                      "vol surfaces", lambda _: None), *MIGRATIONS]:
            if migration.version in applied:
                continue
            migration.apply(database)
            tables.migration.insert(version=migration.version, description=migration.description,
                                    applied_at=storage_time(datetime.now().astimezone())) \
                .on_conflict_ignore().execute()
            newly.append(migration.version)
        return newly


@dataclass(frozen=True)
class ChainCheck:
    underlying: str
    checked_at: datetime
    reference_price: float | None


@dataclass(frozen=True)
class RunRow:
    run_id: int
    session: str
    market_data_type: int
    underlyings: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None
    status: str
    requested: int
    filled: int
    errors: dict[int, int]
    resumes: int
    contract_ids: tuple[int, ...]


class IbStore:
    """The contract cache and the snapshot tables on one database."""

    def __init__(self, database: peewee.Database, location: DatabaseLocation | None = None) -> None:
        self.database = database
        self.location = location
        self.tables = bind_ib_tables(database)
        ensure_ib_schema(database, self.tables)

    @classmethod
    def open(cls, location: DatabaseLocation) -> IbStore:
        return cls(open_database(location), location)

    def close(self) -> None:
        if not self.database.is_closed():
            self.database.close()

    # ------------------------------------------------------------------ contract cache

    def upsert_contracts(self, records: Iterable[OptionRecord], *, seen_at: datetime) -> int:
        """Inserts new contracts and refreshes ``last_seen`` of known ones; the number of new ones."""
        model = self.tables.contract
        records = list(records)
        stamp = storage_time(seen_at)
        new = 0
        with self.database.atomic():
            known = set()
            ids = [r.con_id for r in records]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                known.update(row.con_id for row in model.select(model.con_id).where(model.con_id.in_(chunk)))
            fresh = [r for r in records if r.con_id not in known]
            rows = [dict(con_id=r.con_id, underlying=r.underlying, underlying_con_id=r.underlying_con_id,
                         expiry=r.expiry, strike=r.strike, option_right=r.right, multiplier=r.multiplier,
                         trading_class=r.trading_class, exchange=r.exchange, local_symbol=r.local_symbol,
                         currency=r.currency, first_seen=stamp, last_seen=stamp) for r in fresh]
            for start in range(0, len(rows), 200):
                model.insert_many(rows[start:start + 200]).on_conflict_ignore().execute()
            new = len(fresh)
            seen = [r.con_id for r in records if r.con_id in known]
            for start in range(0, len(seen), 500):
                model.update(last_seen=stamp).where(model.con_id.in_(seen[start:start + 500])).execute()
        return new

    def contracts(self, underlying: str | None = None, *, expiries: Sequence[str] | None = None) -> list[OptionRecord]:
        model = self.tables.contract
        query = model.select()
        if underlying:
            query = query.where(model.underlying == underlying.upper())
        if expiries:
            dates = [datetime.strptime(e, "%Y%m%d").date() for e in expiries]
            query = query.where(model.expiry.in_(dates))
        return [_record(row) for row in query.order_by(model.underlying, model.expiry, model.trading_class,
                                                       model.strike, model.option_right)]

    def expiries(self, underlying: str) -> set[str]:
        model = self.tables.contract
        return {_as_date(row.expiry).strftime("%Y%m%d")
                for row in model.select(model.expiry).where(model.underlying == underlying.upper()).distinct()}

    def purge_expired(self, underlying: str | None, today: date) -> int:
        model = self.tables.contract
        query = model.delete().where(model.expiry < today)
        if underlying:
            query = query.where(model.underlying == underlying.upper())
        return query.execute()

    def last_check(self, underlying: str) -> ChainCheck | None:
        model = self.tables.check
        row = model.get_or_none(model.underlying == underlying.upper())
        if row is None:
            return None
        return ChainCheck(row.underlying, from_storage_time(row.checked_at), row.reference_price)

    def mark_checked(self, underlying: str, checked_at: datetime, reference_price: float | None) -> None:
        model = self.tables.check
        model.replace(underlying=underlying.upper(), checked_at=storage_time(checked_at),
                      reference_price=reference_price).execute()

    def summary(self) -> list[dict[str, Any]]:
        model = self.tables.contract
        query = (model.select(model.underlying, peewee.fn.COUNT(model.con_id).alias("contracts"),
                              peewee.fn.COUNT(model.expiry.distinct()).alias("expiries"),
                              peewee.fn.MIN(model.expiry).alias("first_expiry"),
                              peewee.fn.MAX(model.expiry).alias("last_expiry"))
                 .group_by(model.underlying).order_by(model.underlying))
        return [dict(underlying=row.underlying, contracts=row.contracts, expiries=row.expiries,
                     first_expiry=str(row.first_expiry), last_expiry=str(row.last_expiry)) for row in query]

    # ------------------------------------------------------------------ snapshot runs

    def start_run(self, *, session: str, market_data_type: int, underlyings: Sequence[str],
                  contract_ids: Sequence[Any], started_at: datetime) -> int:
        """A new run row; ``contract_ids`` is what is requested, in a JSON-able form (kept for resuming)."""
        row = self.tables.run.create(
            session=session, market_data_type=market_data_type, underlyings=",".join(underlyings)[:255],
            started_at=storage_time(started_at), status="running", requested=len(contract_ids), filled=0,
            errors="{}", resumes=0, contract_ids=json.dumps(list(contract_ids)))
        return int(row.id)

    def run(self, run_id: int) -> RunRow | None:
        row = self.tables.run.get_or_none(self.tables.run.id == run_id)
        return None if row is None else _run_row(row)

    def runs(self, *, status: str | None = None, limit: int = 20) -> list[RunRow]:
        model = self.tables.run
        query = model.select()
        if status:
            query = query.where(model.status == status)
        return [_run_row(row) for row in query.order_by(model.id.desc()).limit(limit)]

    def run_items(self, run_id: int) -> list[Any]:
        """The JSON form of what a run requested."""
        row = self.tables.run.get_or_none(self.tables.run.id == run_id)
        return [] if row is None else json.loads(row.contract_ids or "[]")

    def done_contract_ids(self, run_id: int) -> set[int]:
        model = self.tables.quote
        return {row.con_id for row in model.select(model.con_id).where(model.run_id == run_id)}

    def record_quotes(self, run_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Stores quote rows (one per contract; a repeated contract is ignored); the number stored."""
        if not rows:
            return 0
        model = self.tables.quote
        prepared = []
        for row in rows:
            prepared.append({**row, "run_id": run_id, "recorded_at": storage_time(row["recorded_at"])})
        before = model.select().where(model.run_id == run_id).count()
        with self.database.atomic():
            for start in range(0, len(prepared), 100):
                model.insert_many(prepared[start:start + 100]).on_conflict_ignore().execute()
        return model.select().where(model.run_id == run_id).count() - before

    def update_run(self, run_id: int, *, errors: dict[int, int] | None = None, status: str | None = None,
                   ended_at: datetime | None = None, resumed: bool = False) -> None:
        model = self.tables.run
        quote = self.tables.quote
        filled = (quote.select().where((quote.run_id == run_id) & quote.error_code.is_null()).count())
        changes: dict[Any, Any] = {model.filled: filled}
        if errors is not None:
            changes[model.errors] = json.dumps({str(k): v for k, v in sorted(errors.items())})
        if status is not None:
            changes[model.status] = status
        if ended_at is not None:
            changes[model.ended_at] = storage_time(ended_at)
        if resumed:
            changes[model.resumes] = model.resumes + 1
        model.update(changes).where(model.id == run_id).execute()

    def quotes(self, run_id: int) -> list[dict[str, Any]]:
        model = self.tables.quote
        rows = []
        for row in model.select().where(model.run_id == run_id).order_by(model.con_id).dicts():
            row["recorded_at"] = from_storage_time(row["recorded_at"])
            if row["expiry"] is not None:
                row["expiry"] = _as_date(row["expiry"])
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ surfaces

    def save_surface(self, run_id: int, underlying: str, valuation_time: datetime, rate: float,
                     payload: dict[str, Any], built_at: datetime) -> None:
        model = self.tables.surface
        model.insert(run_id=run_id, underlying=underlying, valuation_time=storage_time(valuation_time),
                     built_at=storage_time(built_at), rate=rate, payload=json.dumps(payload)) \
            .on_conflict_replace().execute()

    def surfaces(self, underlying: str) -> list[dict[str, Any]]:
        model = self.tables.surface
        rows = []
        for row in model.select().where(model.underlying == underlying.upper()).order_by(model.valuation_time):
            rows.append(dict(run_id=row.run_id, underlying=row.underlying,
                             valuation_time=from_storage_time(row.valuation_time), rate=row.rate,
                             payload=json.loads(row.payload)))
        return rows


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _record(row) -> OptionRecord:
    return OptionRecord(con_id=int(row.con_id), underlying=row.underlying, underlying_con_id=int(row.underlying_con_id),
                        expiry=_as_date(row.expiry), strike=float(row.strike), right=row.option_right,
                        multiplier=float(row.multiplier), trading_class=row.trading_class, exchange=row.exchange,
                        local_symbol=row.local_symbol, currency=row.currency)


def _run_row(row) -> RunRow:
    return RunRow(run_id=int(row.id), session=row.session, market_data_type=row.market_data_type,
                  underlyings=tuple(u for u in row.underlyings.split(",") if u),
                  started_at=from_storage_time(row.started_at),
                  ended_at=from_storage_time(row.ended_at) if row.ended_at else None, status=row.status,
                  requested=row.requested, filled=row.filled,
                  errors={int(k): v for k, v in json.loads(row.errors or "{}").items()}, resumes=row.resumes or 0,
                  contract_ids=tuple(int(value[0]) if isinstance(value, list) else int(value)
                                     for value in json.loads(row.contract_ids or "[]")))
