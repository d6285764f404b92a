"""Which bars of a database are synthetic: the sample market's own record of what it wrote.

The sample market writes its bars under real contract names (IF2601,
IO2602-C-4600), so nothing in vnpy's bar tables tells them from recorded or
imported history. Each generation therefore leaves a row in
``synthetic_market`` beside vnpy's tables (products, first and last day, seed,
time written). The backtest and the paper replay read it and say SYNTHETIC;
the generator refuses to write into a database that holds real bars of its
products, so synthetic and real data never share one.

A database filled by a version of the framework older than this record has
sample bars with no row: they are taken for real data, and the refusal says
how to start afresh.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import peewee
from vnpy.trader.constant import Exchange
from vnpy.trader.database import BaseDatabase

from src.core.config.errors import UserInputError
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.trading_session import product_code

TABLE_NAME = "synthetic_market"


class SyntheticDataError(UserInputError):
    """Synthetic bars would be mixed with real ones."""


@dataclass(frozen=True)
class SyntheticWindow:
    codes: frozenset[str]  # the futures and option products written (IF, IM, IO, MO)
    vt_symbols: frozenset[str]  # every contract written
    start: date
    end: date
    seed: int
    written_at: datetime

    def covers(self, vt_symbol: str, first: date, last: date) -> bool:
        """A series inside the window of a contract the generation wrote. (A real bar saved into such a
        series afterwards cannot be told apart: vnpy keeps no provenance per bar.)"""
        return vt_symbol in self.vt_symbols and self.start <= first and last <= self.end

    def describe(self) -> str:
        return (f"SYNTHETIC sample market {self.start} to {self.end} (seed {self.seed}, "
                f"written {self.written_at:%Y-%m-%d %H:%M})")


@dataclass(frozen=True)
class BarHoldings:
    """The bar series of some products in a database, split by where they came from."""

    synthetic: tuple[str, ...]  # vt_symbols
    real: tuple[str, ...]


def _model(database: peewee.Database) -> type[peewee.Model]:
    class SyntheticMarket(peewee.Model):
        codes = peewee.CharField(max_length=64)
        vt_symbols = peewee.TextField()
        start = peewee.DateField()
        end = peewee.DateField()
        seed = peewee.BigIntegerField()
        written_at = peewee.DateTimeField()

        class Meta:
            table_name = TABLE_NAME

    SyntheticMarket.bind(database)
    return SyntheticMarket


def _peewee_of(database: BaseDatabase) -> peewee.Database:
    connection = getattr(database, "db", None)
    if not isinstance(connection, peewee.Database):
        raise SyntheticDataError(f"cannot record synthetic data in a {type(database).__name__}: "
                                 "use vnpy_sqlite or vnpy_mysql")
    return connection


def record_generation(database: BaseDatabase, codes: Iterable[str], vt_symbols: Iterable[str], start: date,
                      end: date, seed: int, written_at: datetime) -> None:
    model = _model(_peewee_of(database))
    model.create_table(safe=True)
    model.create(codes=",".join(sorted(set(codes))), vt_symbols=",".join(sorted(set(vt_symbols))), start=start,
                 end=end, seed=seed,
                 written_at=written_at.astimezone(EXCHANGE_TIMEZONE).replace(tzinfo=None))


def synthetic_windows(database: BaseDatabase) -> list[SyntheticWindow]:
    connection = _peewee_of(database)
    model = _model(connection)
    if not model.table_exists():
        return []
    return [SyntheticWindow(frozenset(row.codes.split(",")), frozenset(row.vt_symbols.split(",")), row.start,
                            row.end, row.seed, row.written_at)
            for row in model.select().order_by(model.id)]


def bar_holdings(database: BaseDatabase, codes: Iterable[str], first: date | None = None,
                 last: date | None = None) -> BarHoldings:
    """The CFFEX bar series of these products (within ``[first, last]`` when given), synthetic or real."""
    codes = set(codes)
    windows = synthetic_windows(database)
    synthetic, real = [], []
    for overview in database.get_bar_overview():
        if overview.exchange is not Exchange.CFFEX or overview.start is None or overview.end is None:
            continue
        code = product_code(overview.symbol)
        if code not in codes:
            continue
        begins, ends = _local_date(overview.start), _local_date(overview.end)
        if first is not None and last is not None and (ends < first or begins > last):
            continue
        vt_symbol = f"{overview.symbol}.{overview.exchange.value}"
        if any(window.covers(vt_symbol, begins, ends) for window in windows):
            synthetic.append(vt_symbol)
        else:
            real.append(vt_symbol)
    return BarHoldings(tuple(sorted(set(synthetic))), tuple(sorted(set(real))))


def refuse_if_real(database: BaseDatabase, codes: Sequence[str], where: str) -> None:
    """Synthetic bars go only into a database that holds no real bars of their products."""
    real = bar_holdings(database, codes).real
    if real:
        shown = ", ".join(real[:4]) + (f" and {len(real) - 4} more" if len(real) > 4 else "")
        raise SyntheticDataError(
            f"refusing to write the synthetic sample market into {where}: it holds real bars of "
            f"{', '.join(sorted(codes))} ({shown}); give the sample a database of its own, e.g. "
            f"VNPY_DATABASE_DATABASE=data/sample.db (bars written by a version without the synthetic "
            f"record count as real: delete that database to start afresh)")


def synthetic_description(database: BaseDatabase, codes: Sequence[str], first: date, last: date) -> str | None:
    """What to print when the bars of ``[first, last]`` are (partly) synthetic; None when all are real."""
    holdings = bar_holdings(database, codes, first, last)
    if not holdings.synthetic:
        return None
    windows = [w for w in synthetic_windows(database) if w.start <= last and w.end >= first]
    described = "; ".join(window.describe() for window in windows)
    if holdings.real:
        return f"{described}, mixed with real bars of {', '.join(holdings.real[:4])}"
    return described


def _local_date(moment: datetime) -> date:
    # vnpy's drivers return naive datetimes in the database timezone (Asia/Shanghai here).
    return (moment.astimezone(EXCHANGE_TIMEZONE) if moment.tzinfo else moment).date()
