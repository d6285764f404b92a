"""Bars from the database a window of days at a time, read in bulk.

vnpy's loader builds one peewee model object per row, then a ``BarData`` from it, for every contract
over the whole range, and keeps them all (and caches the lists in an ``lru_cache``): memory grows with
the days and about a sixth of a run is spent loading. Here one query per window reads plain tuples
for all the contracts at once (through the same driver's table model, so SQLite and MySQL both work)
and builds the ``BarData`` directly; the engine keeps one window in memory at a time.

The values are the ones vnpy's loader returns: the same columns, the same timezone conversion
(``datetime.fromtimestamp(naive.timestamp(), DB_TZ)``, cached per distinct minute), ``gateway_name="DB"``.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.database import DB_TZ, BaseDatabase
from vnpy.trader.object import BarData


class BulkBarReader:
    def __init__(self, database: BaseDatabase, vt_symbols: Sequence[str], interval: Interval) -> None:
        module = sys.modules[type(database).__module__]
        self.model = getattr(module, "DbBarData", None)
        if self.model is None:
            raise TypeError(f"{type(database).__name__} has no DbBarData table model to read in bulk")
        self.interval = interval
        self.by_exchange: dict[str, list[str]] = defaultdict(list)
        for vt_symbol in vt_symbols:
            symbol, exchange = vt_symbol.rsplit(".", 1)
            self.by_exchange[exchange].append(symbol)
        self._exchanges = {value: Exchange(value) for value in self.by_exchange}
        self._aware: dict[datetime, datetime] = {}

    def _where(self, start: datetime, end: datetime):
        model = self.model
        contracts = None
        for exchange, symbols in self.by_exchange.items():
            clause = (model.exchange == exchange) & (model.symbol.in_(symbols))
            contracts = clause if contracts is None else (contracts | clause)
        return (model.interval == self.interval.value) & (model.datetime >= start) & (model.datetime <= end) \
            & contracts

    def minutes(self, start: datetime, end: datetime) -> list[datetime]:
        """The distinct bar times of the contracts between start and end (inclusive), sorted, as vnpy's."""
        model = self.model
        query = model.select(model.datetime).where(self._where(start, end)).distinct().tuples()
        return sorted(self._to_aware(row[0]) for row in query)

    def bars(self, start: datetime, end: datetime) -> Iterator[BarData]:
        """The bars of the contracts between start and end (inclusive), in no particular order.

        One SQL statement on the driver's connection; each row becomes a ``BarData`` equal, field by
        field, to the one vnpy's loader builds (built without re-running the dataclass machinery)."""
        model = self.model
        meta = model._meta
        database = meta.database
        param = database.param
        opening, closing = database.quote  # `interval` is a reserved word in MySQL

        def name(identifier: str) -> str:
            return f"{opening}{identifier}{closing}"
        contracts = " OR ".join(
            f"({name('exchange')} = {param} AND {name('symbol')} IN ({', '.join([param] * len(symbols))}))"
            for symbols in self.by_exchange.values())
        columns = ", ".join(name(column) for column in (
            "symbol", "exchange", "datetime", "volume", "turnover", "open_interest", "open_price", "high_price",
            "low_price", "close_price"))
        sql = (f"SELECT {columns} FROM {name(meta.table_name)} WHERE {name('interval')} = {param} "
               f"AND {name('datetime')} >= {param} AND {name('datetime')} <= {param} AND ({contracts})")
        params: list = [self.interval.value, start, end]
        for exchange, symbols in self.by_exchange.items():
            params += [exchange, *symbols]
        cursor = database.execute_sql(sql, params)
        exchanges, interval, aware = self._exchanges, self.interval, self._to_aware
        vt_symbols: dict[tuple[str, str], str] = {}
        new = BarData.__new__
        while True:
            rows = cursor.fetchmany(10_000)
            if not rows:
                break
            for symbol, exchange, moment, volume, turnover, interest, open_, high, low, close in rows:
                key = (symbol, exchange)
                vt_symbol = vt_symbols.get(key)
                if vt_symbol is None:
                    vt_symbol = vt_symbols[key] = f"{symbol}.{exchange}"
                bar = new(BarData)
                bar.__dict__ = {"gateway_name": "DB", "symbol": symbol, "exchange": exchanges[exchange],
                                "datetime": aware(moment), "interval": interval, "volume": volume,
                                "turnover": turnover, "open_interest": interest, "open_price": open_,
                                "high_price": high, "low_price": low, "close_price": close,
                                "vt_symbol": vt_symbol}
                yield bar

    def _to_aware(self, stored: datetime | str) -> datetime:
        """vnpy's conversion of a stored naive time (SQLite gives text, MySQL a datetime), cached per minute."""
        aware = self._aware.get(stored)
        if aware is None:
            if len(self._aware) > 100_000:
                self._aware.clear()
            naive = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
            aware = self._aware[stored] = datetime.fromtimestamp(naive.timestamp(), DB_TZ)
        return aware


def day_windows(days: Iterable[date], window_days: int) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive windows of ``window_days`` calendar dates that hold bars: (first 00:00, last 23:59:59.999999)."""
    chunk: list[date] = []
    for day in sorted(set(days)):
        chunk.append(day)
        if len(chunk) == window_days:
            yield datetime.combine(chunk[0], time.min), datetime.combine(chunk[-1], time.max)
            chunk = []
    if chunk:
        yield datetime.combine(chunk[0], time.min), datetime.combine(chunk[-1], time.max)

