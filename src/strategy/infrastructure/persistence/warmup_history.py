"""Warm-up bars from the database, with the minutes the recorder missed fetched from the gateway or a datafeed.

Live, a strategy warms its indicators up on the last trading days of 1-minute
bars the recorder wrote. When the recorder was not running, those bars have
holes and the strategy starts cold. ``WarmupHistory`` (the same
``load_bar_slices`` as ``HistoryDataRepository``) looks at every symbol it is
told to fill (the futures whose bars drive the indicators; options trade too
sparsely for a missing minute to mean a hole) and:

1. lists the trading minutes of the window: the sessions of the symbol's
   product (``TradingClock``: the 10:15-10:30 break, lunch, night sessions and
   the calendar's holidays are no minutes), over the last ``days`` trading
   days up to ``end``, each minute complete by ``end``;
2. reads the database's bars of the window; a run of at least
   ``min_gap_minutes`` missing minutes is a gap;
3. asks each source in turn for the gaps of one calendar day at a time (one
   request each) and keeps only the bars of minutes still missing, never
   replacing a database bar: the gateway's history (vnpy's
   ``MainEngine.query_history``, for contracts whose gateway says
   ``history_data``; CTP does not), then a vnpy datafeed
   (``BaseDatafeed.query_bar_history``: Tushare, AKShare);
4. logs which sources it used and how many bars came from each, and what is
   still missing. Nothing is written to the database.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Protocol

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData, HistoryRequest

from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.trading_session import trading_day_of

logger = logging.getLogger(__name__)

DATABASE = "database"
MINUTE = timedelta(minutes=1)


class BarSource(Protocol):
    """Where missing minutes can come from. ``query`` returns None when it cannot answer for the symbol."""

    name: str

    def query(self, symbol: str, exchange: Exchange, start: datetime, end: datetime) -> list[BarData] | None: ...


class GatewayHistorySource:
    """The gateway's own history, through vnpy's ``MainEngine.query_history``, where the contract's gateway
    offers it (``ContractData.history_data``)."""

    def __init__(self, main_engine) -> None:
        self.main_engine = main_engine
        self.name = "gateway"

    def query(self, symbol: str, exchange: Exchange, start: datetime, end: datetime) -> list[BarData] | None:
        contract = self.main_engine.get_contract(f"{symbol}.{exchange.value}")
        if contract is None or not contract.history_data:
            return None
        request = HistoryRequest(symbol=symbol, exchange=exchange, start=start, end=end, interval=Interval.MINUTE)
        return self.main_engine.query_history(request, contract.gateway_name)


class DatafeedHistorySource:
    """A vnpy datafeed's history (``BaseDatafeed.query_bar_history``); its failure message is logged."""

    def __init__(self, datafeed, name: str) -> None:
        self.datafeed = datafeed
        self.name = f"datafeed {name}"

    def query(self, symbol: str, exchange: Exchange, start: datetime, end: datetime) -> list[BarData] | None:
        request = HistoryRequest(symbol=symbol, exchange=exchange, start=start, end=end, interval=Interval.MINUTE)
        messages: list[str] = []
        bars = self.datafeed.query_bar_history(request, output=messages.append)
        if bars is None and messages:
            logger.warning("warm-up: %s could not fill %s.%s %s..%s: %s", self.name, symbol, exchange.value,
                           f"{start:%Y-%m-%d %H:%M}", f"{end:%H:%M}", messages[-1])
        return bars


@dataclass
class WarmupReport:
    """Bars per source, the gaps found (symbol, first missing minute, minutes) and the minutes still missing."""

    bars_by_source: Counter = field(default_factory=Counter)
    gaps: list[tuple[str, datetime, int]] = field(default_factory=list)
    still_missing: int = 0
    trading_days: tuple[date, ...] = ()

    def describe(self) -> str:
        sources = ", ".join(f"{count} from the {name}" for name, count in self.bars_by_source.items()) or "no bars"
        days = (f" over {len(self.trading_days)} trading days {self.trading_days[0]}..{self.trading_days[-1]}"
                if self.trading_days else "")
        gaps = (f"; {len(self.gaps)} gaps of missing minutes ({sum(g[2] for g in self.gaps)} minutes), "
                f"{self.still_missing} minutes still missing" if self.gaps else "; no gap in the database")
        return f"warm-up bars{days}: {sources}{gaps}"


class WarmupHistory:
    def __init__(self, database, sources: Sequence[BarSource], clocks: TradingClocks,
                 fill: Callable[[str], bool], min_gap_minutes: int = 5) -> None:
        if min_gap_minutes < 1:
            raise ValueError(f"min_gap_minutes must be >= 1, got {min_gap_minutes}")
        self.database = database
        self.sources = list(sources)
        self.clocks = clocks
        self.fill = fill
        self.min_gap_minutes = min_gap_minutes
        self.last_report: WarmupReport | None = None

    def load_bar_slices(self, vt_symbols: Iterable[str], end: datetime, *, days: int,
                        minutes: int | None = None) -> list[tuple[datetime, dict[str, BarData]]]:
        """The window's bars grouped per minute, ``[(datetime, {vt_symbol: bar}), ...]`` in time order."""
        if minutes is not None:
            raise ValueError("WarmupHistory counts its window in trading days only")
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        end = _aware(end)
        report = WarmupReport()
        bars: list[BarData] = []
        for vt_symbol in dict.fromkeys(vt_symbols):
            bars.extend(self._symbol_bars(vt_symbol, end, days, report))
        self.last_report = report
        logger.info("%s", report.describe())
        bars.sort(key=lambda bar: bar.datetime)
        return [(moment, {bar.vt_symbol: bar for bar in group})
                for moment, group in groupby(bars, key=lambda bar: bar.datetime)]

    # ------------------------------------------------------------------ one symbol
    def _symbol_bars(self, vt_symbol: str, end: datetime, days: int, report: WarmupReport) -> list[BarData]:
        symbol, _, exchange_code = vt_symbol.rpartition(".")
        exchange = Exchange(exchange_code)
        try:
            expected = self._expected_minutes(vt_symbol, end, days, report)
        except ValueError as error:  # no schedule known for the product: its stored bars as they are
            logger.warning("warm-up: %s: %s; its stored bars are used as they are", vt_symbol, error)
            expected = []
        start = expected[0] if expected else end - timedelta(days=days * 7 / 5 + 4)
        stored = self.database.load_bar_data(symbol, exchange, Interval.MINUTE, _naive(start), _naive(end))
        by_minute = {_minute_of(bar.datetime): _stamped(bar) for bar in stored if _minute_of(bar.datetime) <= end}
        report.bars_by_source[DATABASE] += len(by_minute)
        if not expected or not self.fill(vt_symbol):
            return list(by_minute.values())
        gaps = self._gaps([m not in by_minute for m in expected])
        wanted: set[datetime] = set()
        for first, length in gaps:
            report.gaps.append((vt_symbol, expected[first], length))
            wanted.update(expected[first:first + length])
        for day, day_minutes in groupby(sorted(wanted), key=lambda m: m.date()):
            still = set(day_minutes)
            for source in self.sources:
                if not still:
                    break
                answer = source.query(symbol, exchange, min(still), max(still) + MINUTE)
                for bar in answer or ():
                    minute = _minute_of(bar.datetime)
                    if minute in still and bar.symbol == symbol and bar.exchange == exchange:
                        by_minute[minute] = _stamped(bar, minute)
                        still.discard(minute)
                        report.bars_by_source[source.name] += 1
            report.still_missing += len(still)
        return list(by_minute.values())

    def _expected_minutes(self, vt_symbol: str, end: datetime, days: int, report: WarmupReport) -> list[datetime]:
        """The trading minutes of the last ``days`` trading days that are complete by ``end``."""
        clock = self.clocks.for_symbol(vt_symbol)
        search_from = end - timedelta(days=days * 7 / 5 + 12)  # room for a week-long holiday
        sessions: list[tuple[datetime, datetime]] = []
        for start, stop in clock.sessions_from(search_from):
            if start + MINUTE > end:
                break
            sessions.append((start, min(stop, end)))
        kept_days = sorted({trading_day_of(start) for start, _ in sessions})[-days:]
        if len(kept_days) > len(report.trading_days):
            report.trading_days = tuple(kept_days)
        minutes = []
        for start, stop in sessions:
            if trading_day_of(start) not in kept_days:
                continue
            moment = start
            while moment + MINUTE <= stop:
                minutes.append(moment)
                moment += MINUTE
        return minutes

    def _gaps(self, missing: list[bool]) -> list[tuple[int, int]]:
        """Runs of missing trading minutes at least ``min_gap_minutes`` long, as (index of the first, length).
        Consecutive in trading time: a break between sessions does not end a run."""
        runs: list[tuple[int, int]] = []
        start = None
        for index, absent in enumerate([*missing, False]):
            if absent and start is None:
                start = index
            elif not absent and start is not None:
                if index - start >= self.min_gap_minutes:
                    runs.append((start, index - start))
                start = None
        return runs


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=EXCHANGE_TIMEZONE)
    return moment.astimezone(EXCHANGE_TIMEZONE)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(EXCHANGE_TIMEZONE).replace(tzinfo=None)


def _minute_of(moment: datetime) -> datetime:
    return _aware(moment).replace(second=0, microsecond=0)


def _stamped(bar: BarData, minute: datetime | None = None) -> BarData:
    """The bar with an exchange-time aware datetime (databases and vendors differ), so bars of all sources sort."""
    bar.datetime = minute or _minute_of(bar.datetime)
    return bar
