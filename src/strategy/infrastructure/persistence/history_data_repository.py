"""Recent 1-minute bars from vnpy's database, for warming a strategy up by replaying them.

The lookback is counted in trading time, not calendar time: ``minutes=N`` gives
each symbol's last N one-minute bars (a bar exists only for a traded minute), and
``days=N`` gives the bars of each symbol's last N trading days that have bars
(the day in progress counts; a night session belongs to the next trading day, as
``trading_day_of`` assigns it). The bars come back merged in time order (ties in
the order of the symbols given), or grouped per minute as ``on_bars`` takes them.

The calendar window queried starts from a guess and doubles until it holds enough
bars or reaches the first stored bar (from vnpy's bar overview), or ``max_calendar_days``.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.database import BaseDatabase
from vnpy.trader.object import BarData

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE, TRADING_MINUTES_PER_DAY
from src.strategy.domain.value_object.trading_session import trading_day_of

# The shortest trading day (index futures and options: 4 hours) gives the widest first guess.
MIN_TRADING_MINUTES_PER_DAY = TRADING_MINUTES_PER_DAY
DEFAULT_MAX_CALENDAR_DAYS = 3660


class HistoryDataRepository:
    def __init__(self, database: BaseDatabase, max_calendar_days: int = DEFAULT_MAX_CALENDAR_DAYS) -> None:
        self._database = database
        self._max_calendar_days = max_calendar_days

    def load_recent_bars(self, vt_symbols: Iterable[str], end: datetime, *, minutes: int | None = None,
                         days: int | None = None) -> list[BarData]:
        """1-minute bars at or before ``end`` of each symbol's lookback, merged in time order."""
        symbols = [_parse_vt_symbol(vt_symbol) for vt_symbol in _unique(vt_symbols)]
        if not isinstance(end, datetime):
            raise TypeError(f"end must be a datetime, got {type(end).__name__}")
        if (minutes is None) == (days is None):
            raise ValueError("give the lookback as exactly one of minutes=N or days=N")
        count = minutes if minutes is not None else days
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"the lookback must be an int >= 1, got {count!r}")
        first_bars = self._first_bar_times()
        per_symbol = []
        for symbol, exchange in symbols:
            first = first_bars.get((symbol, exchange.value))
            if minutes is not None:
                bars = self._last_minutes(symbol, exchange, end, minutes, first)
            else:
                bars = self._last_trading_days(symbol, exchange, end, days, first)
            per_symbol.append(bars)
        return list(heapq.merge(*per_symbol, key=lambda bar: bar.datetime))

    def load_bar_slices(self, vt_symbols: Iterable[str], end: datetime, *, minutes: int | None = None,
                        days: int | None = None) -> list[tuple[datetime, dict[str, BarData]]]:
        """The same bars grouped per minute: ``[(datetime, {vt_symbol: bar}), ...]`` in time order."""
        bars = self.load_recent_bars(vt_symbols, end, minutes=minutes, days=days)
        return [(moment, {bar.vt_symbol: bar for bar in group})
                for moment, group in groupby(bars, key=lambda bar: bar.datetime)]

    def _last_minutes(self, symbol: str, exchange: Exchange, end: datetime, minutes: int,
                      first: datetime | None) -> list[BarData]:
        span = timedelta(days=math.ceil(minutes / MIN_TRADING_MINUTES_PER_DAY) * 7 / 5 + 3)
        while True:
            bars = self._load(symbol, exchange, end - span, end)
            if len(bars) >= minutes or self._reached_start(end - span, span, first):
                return bars[-minutes:]
            span *= 2

    def _last_trading_days(self, symbol: str, exchange: Exchange, end: datetime, days: int,
                           first: datetime | None) -> list[BarData]:
        span = timedelta(days=days * 7 / 5 + 4)
        while True:
            bars = self._load(symbol, exchange, end - span, end)
            trading_days = sorted({trading_day_of(bar.datetime) for bar in bars})
            # The oldest day of the window may be cut off, so it only counts once the window holds more days.
            if len(trading_days) > days or self._reached_start(end - span, span, first):
                kept = set(trading_days[-days:])
                return [bar for bar in bars if trading_day_of(bar.datetime) in kept]
            span *= 2

    def _reached_start(self, start: datetime, span: timedelta, first: datetime | None) -> bool:
        if span.days >= self._max_calendar_days:
            return True
        return first is not None and _comparable(start) <= _comparable(first)

    def _load(self, symbol: str, exchange: Exchange, start: datetime, end: datetime) -> list[BarData]:
        # vnpy's drivers compare the stored naive exchange times with the bounds as given, so pass them naive too.
        bars = self._database.load_bar_data(symbol, exchange, Interval.MINUTE, _comparable(start), _comparable(end))
        return sorted(bars, key=lambda bar: bar.datetime)

    def _first_bar_times(self) -> dict[tuple[str, str], datetime]:
        return {(overview.symbol, overview.exchange.value): overview.start
                for overview in self._database.get_bar_overview()
                if overview.interval == Interval.MINUTE and overview.start is not None}


def _comparable(moment: datetime) -> datetime:
    """Naive exchange time, whatever the input (vnpy hands back aware bars; callers may pass naive times)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(EXCHANGE_TIMEZONE).replace(tzinfo=None)


def _unique(vt_symbols: Iterable[str]) -> list[str]:
    if isinstance(vt_symbols, str):
        raise TypeError("vt_symbols must be a collection of 'SYMBOL.EXCHANGE' strings, not one string")
    return list(dict.fromkeys(vt_symbols))


def _parse_vt_symbol(vt_symbol: str) -> tuple[str, Exchange]:
    if not isinstance(vt_symbol, str) or "." not in vt_symbol:
        raise ValueError(f"expected a vt_symbol like 'IF2101.CFFEX', got {vt_symbol!r}")
    symbol, _, exchange_code = vt_symbol.rpartition(".")
    try:
        exchange = Exchange(exchange_code)
    except ValueError:
        raise ValueError(f"unknown exchange {exchange_code!r} in vt_symbol {vt_symbol!r}") from None
    if not symbol:
        raise ValueError(f"expected a vt_symbol like 'IF2101.CFFEX', got {vt_symbol!r}")
    return symbol, exchange
