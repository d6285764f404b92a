"""Where a replay's market data comes from: the configured database, or the synthetic sample market.

Both sources answer the same three questions: which contracts have 1-minute
bars over which dates (``get_bar_overview``, vnpy's own overview type, so
``OptionDiscoveryService`` works on either), the bars of some contracts in a
time range, and the ticks stored for them (the database only: the sample
market has none). A source may also answer ``quotes_between(vt_symbol, start,
end)`` and ``quote_at(vt_symbol, minute)``: the sample market's quote table,
which the replay then puts on the ticks it rebuilds from bars instead of an
estimated quote, adding one quote tick in each listed minute without a print.

``SampleMarketReplaySource`` generates the market in memory and never writes
it: the data recorder's end-to-end test replays it into an empty database and
compares what was recorded with what was generated.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Protocol

from vnpy.trader.constant import Interval
from vnpy.trader.database import BarOverview, BaseDatabase
from vnpy.trader.object import BarData, TickData
from vnpy.trader.utility import extract_vt_symbol

from src.datafeed.sample_market import SAMPLE_PRODUCTS, SampleMarket, generate_sample_market
from src.strategy.domain.domain_service.fill_model import Quote
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE


class ReplaySource(Protocol):
    def describe(self) -> str: ...

    def get_bar_overview(self) -> list[BarOverview]: ...

    def tick_overview(self) -> dict[str, tuple[datetime, datetime]]: ...

    def load_bars(self, vt_symbol: str, start: datetime, end: datetime) -> list[BarData]: ...

    def load_ticks(self, vt_symbol: str, start: datetime, end: datetime) -> list[TickData]: ...


def _naive_local(moment: datetime) -> datetime:
    """vnpy's drivers compare naive exchange-local datetimes (an aware one would compare as text)."""
    return moment.astimezone(EXCHANGE_TIMEZONE).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=EXCHANGE_TIMEZONE) if moment.tzinfo is None else moment


class DatabaseReplaySource:
    """Bars and ticks from the configured vnpy database (SQLite or MySQL)."""

    def __init__(self, database: BaseDatabase, description: str) -> None:
        self.database = database
        self.description = description

    def describe(self) -> str:
        return self.description

    def get_bar_overview(self) -> list[BarOverview]:
        return self.database.get_bar_overview()

    def tick_overview(self) -> dict[str, tuple[datetime, datetime]]:
        found: dict[str, tuple[datetime, datetime]] = {}
        for overview in self.database.get_tick_overview():
            if overview.exchange is None or overview.start is None or overview.end is None:
                continue
            found[f"{overview.symbol}.{overview.exchange.value}"] = (_aware(overview.start), _aware(overview.end))
        return found

    def load_bars(self, vt_symbol: str, start: datetime, end: datetime) -> list[BarData]:
        symbol, exchange = extract_vt_symbol(vt_symbol)
        return self.database.load_bar_data(symbol, exchange, Interval.MINUTE, _naive_local(start), _naive_local(end))

    def load_ticks(self, vt_symbol: str, start: datetime, end: datetime) -> list[TickData]:
        symbol, exchange = extract_vt_symbol(vt_symbol)
        return self.database.load_tick_data(symbol, exchange, _naive_local(start), _naive_local(end))


class SampleMarketReplaySource:
    """The synthetic sample market of ``src.datafeed.sample_market``, generated in memory; with ``quotes`` its
    quote table too (``quote_at``), so replayed ticks carry the sample's true bid, ask and sizes."""

    def __init__(self, start: date, end: date, products: Sequence[str] = SAMPLE_PRODUCTS,
                 quotes: bool = False) -> None:
        self.market = generate_sample_market(start, end, products=tuple(products), quotes=quotes)
        self._bars: dict[str, list[BarData]] = {}
        self._times: dict[str, list[datetime]] = {}

    def describe(self) -> str:
        return f"the synthetic sample market {self.market.start} to {self.market.end} (in memory)"

    def get_bar_overview(self) -> list[BarOverview]:
        overviews = []
        for vt_symbol, count in self.market.bar_counts().items():
            if not count:
                continue
            symbol, exchange = extract_vt_symbol(vt_symbol)
            times = self._series(vt_symbol)[1]
            overviews.append(BarOverview(symbol=symbol, exchange=exchange, interval=Interval.MINUTE, count=count,
                                         start=times[0], end=times[-1]))
        return overviews

    def tick_overview(self) -> dict[str, tuple[datetime, datetime]]:
        return {}

    def load_bars(self, vt_symbol: str, start: datetime, end: datetime) -> list[BarData]:
        if vt_symbol not in self.market.bar_counts():
            return []
        bars, times = self._series(vt_symbol)
        first = bisect.bisect_left(times, _aware(start))
        last = bisect.bisect_right(times, _aware(end))
        return bars[first:last]

    def load_ticks(self, vt_symbol: str, start: datetime, end: datetime) -> list[TickData]:
        return []

    def quote_at(self, vt_symbol: str, minute: datetime) -> Quote | None:
        return self.market.quote_at(vt_symbol, minute)

    def quotes_between(self, vt_symbol: str, start: datetime, end: datetime) -> list[tuple[datetime, Quote]]:
        if self.market.quotes is None:
            return []
        return self.market.quotes_between(vt_symbol, _aware(start), _aware(end))

    def _series(self, vt_symbol: str) -> tuple[list[BarData], list[datetime]]:
        if vt_symbol not in self._bars:
            bars = self.market.bars[vt_symbol]
            self._bars[vt_symbol] = bars
            self._times[vt_symbol] = [bar.datetime for bar in bars]
        return self._bars[vt_symbol], self._times[vt_symbol]

    def all_bars(self, vt_symbols: Iterable[str]) -> dict[str, list[BarData]]:
        """Every generated bar of these contracts (what a recorder fed by this source should store)."""
        return {vt_symbol: list(self._series(vt_symbol)[0]) for vt_symbol in vt_symbols
                if vt_symbol in self.market.bar_counts()}


class QuotedReplaySource:
    """Another source's bars and ticks, with the quote table of the sample generation that wrote them
    (``regenerate_with_quotes``): the replay of the database's sample on its true quotes."""

    def __init__(self, source: ReplaySource, market: SampleMarket) -> None:
        self.source = source
        self.market = market

    def describe(self) -> str:
        return f"{self.source.describe()} with the sample's quote table"

    def get_bar_overview(self) -> list[BarOverview]:
        return self.source.get_bar_overview()

    def tick_overview(self) -> dict[str, tuple[datetime, datetime]]:
        return self.source.tick_overview()

    def load_bars(self, vt_symbol: str, start: datetime, end: datetime) -> list[BarData]:
        return self.source.load_bars(vt_symbol, start, end)

    def load_ticks(self, vt_symbol: str, start: datetime, end: datetime) -> list[TickData]:
        return self.source.load_ticks(vt_symbol, start, end)

    def quote_at(self, vt_symbol: str, minute: datetime) -> Quote | None:
        return self.market.quote_at(vt_symbol, minute)

    def quotes_between(self, vt_symbol: str, start: datetime, end: datetime) -> list[tuple[datetime, Quote]]:
        return self.market.quotes_between(vt_symbol, _aware(start), _aware(end))


__all__ = ["DatabaseReplaySource", "QuotedReplaySource", "ReplaySource", "SampleMarketReplaySource"]
