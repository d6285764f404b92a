"""Where the backtest's quotes come from: recorded ticks in the database, or the sample market's quote table.

``quotes(vt_symbol, minute)`` answers the quotes of a contract during the 1-minute bar that starts at
``minute`` (the minute an order resting since the previous bar meets the market), in time order;
nothing when none are known, and the engine then falls back to the bar (the quotes
``FillModel.bar_quotes`` estimates around its prints).

- ``TickQuoteBook``: the ticks stored in the database (the recorder's, or ``import-ticks --save-ticks``),
  read one contract-day at a time when first asked, for the contracts the tick overview lists.
- ``SampleQuoteBook``: the synthetic sample market's quote at the start of each listed minute,
  regenerated in memory from the generation recorded in the database (same dates, same seed), so
  nothing more is written; ``sample_quote_book`` builds it.
- ``QuoteBooks``: the first of several that knows a contract.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Protocol

from vnpy.trader.database import BaseDatabase
from vnpy.trader.utility import extract_vt_symbol

from src.datafeed.sample_market import SampleMarket, regenerate_with_quotes
from src.strategy.domain.domain_service.fill_model import Quote
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

logger = logging.getLogger("backtesting")


class QuoteBook(Protocol):
    def describe(self) -> str: ...

    def quotes(self, vt_symbol: str, minute: datetime) -> Sequence[Quote]: ...


def _minute_key(moment: datetime) -> datetime:
    local = moment.astimezone(EXCHANGE_TIMEZONE) if moment.tzinfo else moment.replace(tzinfo=EXCHANGE_TIMEZONE)
    return local.replace(second=0, microsecond=0)


class TickQuoteBook:
    """Recorded ticks: every tick of the minute with a bid or an ask, as a ``Quote``."""

    def __init__(self, database: BaseDatabase, vt_symbols: Sequence[str]) -> None:
        self.database = database
        wanted = set(vt_symbols)
        self.spans: dict[str, tuple[date, date]] = {}
        for overview in database.get_tick_overview():
            if overview.exchange is None or overview.start is None or overview.end is None:
                continue
            vt_symbol = f"{overview.symbol}.{overview.exchange.value}"
            if vt_symbol in wanted:
                self.spans[vt_symbol] = (overview.start.date(), overview.end.date())
        self._day: date | None = None
        self._cache: dict[str, dict[datetime, list[Quote]]] = {}

    def __bool__(self) -> bool:
        return bool(self.spans)

    def describe(self) -> str:
        return f"recorded ticks of {len(self.spans)} contracts"

    def quotes(self, vt_symbol: str, minute: datetime) -> Sequence[Quote]:
        span = self.spans.get(vt_symbol)
        if span is None:
            return ()
        key = _minute_key(minute)
        day = key.date()
        if not span[0] <= day <= span[1]:
            return ()
        if day != self._day:
            self._day, self._cache = day, {}
        by_minute = self._cache.get(vt_symbol)
        if by_minute is None:
            by_minute = self._cache[vt_symbol] = self._load(vt_symbol, day)
        return by_minute.get(key, ())

    def _load(self, vt_symbol: str, day: date) -> dict[datetime, list[Quote]]:
        symbol, exchange = extract_vt_symbol(vt_symbol)
        start = datetime.combine(day - timedelta(days=1), time(18, 0))
        end = datetime.combine(day, time(17, 59, 59))
        by_minute: dict[datetime, list[Quote]] = defaultdict(list)
        skipped = 0
        for tick in self.database.load_tick_data(symbol, exchange, start, end):
            bid, ask = tick.bid_price_1 or 0.0, tick.ask_price_1 or 0.0
            if bid <= 0 and ask <= 0:
                continue
            try:
                quote = Quote(max(bid, 0.0), max(ask, 0.0), max(tick.bid_volume_1 or 0.0, 0.0),
                              max(tick.ask_volume_1 or 0.0, 0.0))
            except ValueError:  # a crossed or broken record: skipped, counted
                skipped += 1
                continue
            by_minute[_minute_key(tick.datetime)].append(quote)
        if skipped:
            logger.warning("quotes: %d invalid ticks of %s on %s skipped", skipped, vt_symbol, day)
        return dict(by_minute)


class SampleQuoteBook:
    """The sample market's quote table: one quote per contract and listed minute."""

    def __init__(self, market: SampleMarket) -> None:
        if market.quotes is None:
            raise ValueError("SampleQuoteBook needs a market generated with quotes=True")
        self.market = market

    def describe(self) -> str:
        return (f"the sample market's quote table ({self.market.start} to {self.market.end}, seed "
                f"{self.market.seed}, {len(self.market.quotes)} contracts)")

    def quotes(self, vt_symbol: str, minute: datetime) -> Sequence[Quote]:
        quote = self.market.quote_at(vt_symbol, minute)
        return () if quote is None else (quote,)


class QuoteBooks:
    def __init__(self, books: Sequence[QuoteBook]) -> None:
        self.books = [book for book in books if book]

    def __bool__(self) -> bool:
        return bool(self.books)

    def describe(self) -> str:
        return " + ".join(book.describe() for book in self.books) or "none"

    def quotes(self, vt_symbol: str, minute: datetime) -> Sequence[Quote]:
        for book in self.books:
            found = book.quotes(vt_symbol, minute)
            if found:
                return found
        return ()


def sample_quote_book(database: BaseDatabase, first: date, last: date) -> SampleQuoteBook | None:
    """The quote table of the sample generation that wrote ``[first, last]`` in this database, regenerated in
    memory (same window, same seed: the same bars, plus their quotes); None when no generation covers it."""
    market = regenerate_with_quotes(database, first, last)
    return None if market is None else SampleQuoteBook(market)


__all__ = ["QuoteBook", "QuoteBooks", "SampleQuoteBook", "TickQuoteBook", "sample_quote_book"]
