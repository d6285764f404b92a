"""Trading time of one product: which moments trade, and durations that skip session breaks.

A ``TradingClock`` lays a ``TradingSchedule`` over the calendar. On every
trading day D each day session runs on D from its start for its duration; a
night session starts on the evening of D (and may run past midnight) and is
held only when the next trading day directly follows D (no night session on
the evening before a holiday, per the exchanges' rules). Without a
``TradingCalendar`` every weekday is a trading day. The opening call auctions
and the closing grace minute are not trading time: no order is worked there.

Durations are in seconds of trading time: 300 seconds from 11:28 on a CFFEX
index product is 13:03, the lunch break not counting.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.domain.value_object.trading_session import (
    CHINA_TRADING_SESSIONS,
    EXCHANGE_TIMEZONE,
    SessionKind,
    TradingSchedule,
    TradingSessionCatalog,
)
from src.strategy.domain.value_object.validation import require_aware, require_non_negative

Interval = tuple[datetime, datetime]

# A window longer than any holiday break: a search past it means the calendar holds no trading day.
_SEARCH_DAYS = 40


@dataclass(frozen=True)
class TradingClock:
    schedule: TradingSchedule
    calendar: TradingCalendar | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, TradingSchedule):
            raise TypeError(f"TradingClock.schedule must be a TradingSchedule, got {type(self.schedule).__name__}")
        if self.calendar is not None and not isinstance(self.calendar, TradingCalendar):
            raise TypeError(f"TradingClock.calendar must be a TradingCalendar, got {type(self.calendar).__name__}")

    # --- calendar -----------------------------------------------------------

    def _is_trading_day(self, day: date) -> bool:
        if self.calendar is not None:
            return self.calendar.is_trading_day(day)
        return day.weekday() < 5

    def _next_trading_day(self, day: date) -> date:
        if self.calendar is not None:
            return self.calendar.next_trading_day(day)
        following = day + timedelta(days=1)
        while following.weekday() >= 5:
            following += timedelta(days=1)
        return following

    @staticmethod
    def _next_weekday(day: date) -> date:
        following = day + timedelta(days=1)
        while following.weekday() >= 5:
            following += timedelta(days=1)
        return following

    def _sessions_starting_on(self, day: date) -> list[Interval]:
        if not self._is_trading_day(day):
            return []
        night_held = self._next_trading_day(day) == self._next_weekday(day)
        intervals = []
        for session in self.schedule.sessions:
            if session.kind is SessionKind.NIGHT and not night_held:
                continue
            start = datetime.combine(day, session.start, tzinfo=EXCHANGE_TIMEZONE)
            intervals.append((start, start + timedelta(minutes=session.duration_minutes)))
        return sorted(intervals)

    def sessions_from(self, moment: datetime) -> Iterator[Interval]:
        """The session intervals ``[start, end)`` that end after ``moment``, in time order."""
        local = _local(moment, "sessions_from")
        # A night session of the previous evening may still be running after midnight.
        day = local.date() - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            for start, end in self._sessions_starting_on(day):
                if end > local:
                    yield start, end
            day += timedelta(days=1)
        raise ValueError(f"{self.schedule.label}: no trading session within {_SEARCH_DAYS} days after "
                         f"{local.isoformat()}; is the calendar closed for good?")

    # --- queries ------------------------------------------------------------

    def is_trading(self, moment: datetime) -> bool:
        local = _local(moment, "is_trading")
        start, _ = next(self.sessions_from(local))
        return start <= local

    def next_trading_moment(self, moment: datetime) -> datetime:
        """``moment`` itself when it trades, else the start of the next session (exchange time)."""
        local = _local(moment, "next_trading_moment")
        start, _ = next(self.sessions_from(local))
        return max(start, local)

    def add_trading_seconds(self, moment: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of trading time after ``moment``; always a trading moment.

        A result that falls exactly on a session's end (which does not trade) moves to the
        start of the next session.
        """
        local = _local(moment, "add_trading_seconds")
        remaining = timedelta(seconds=require_non_negative("TradingClock", "seconds", seconds))
        for start, end in self.sessions_from(local):
            begin = max(start, local)
            available = end - begin
            if remaining < available:
                return begin + remaining
            remaining -= available
        raise AssertionError("sessions_from ends by raising")

    def trading_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of trading time in ``[start, end)``; 0 when ``end`` is not after ``start``."""
        local_start = _local(start, "trading_seconds_between")
        local_end = _local(end, "trading_seconds_between")
        total = timedelta(0)
        if local_end <= local_start:
            return 0.0
        for session_start, session_end in self.sessions_from(local_start):
            if session_start >= local_end:
                break
            total += min(session_end, local_end) - max(session_start, local_start)
        return total.total_seconds()


class TradingClocks:
    """The ``TradingClock`` of each contract, from its vt_symbol ("IF2501.CFFEX", "IO2501-C-4000.CFFEX")."""

    def __init__(self, catalog: TradingSessionCatalog = CHINA_TRADING_SESSIONS,
                 calendar: TradingCalendar | None = None) -> None:
        if not isinstance(catalog, TradingSessionCatalog):
            raise TypeError(f"TradingClocks.catalog must be a TradingSessionCatalog, got {type(catalog).__name__}")
        self._catalog = catalog
        self._calendar = calendar
        self._clocks: dict[str, TradingClock] = {}

    def for_symbol(self, vt_symbol: str) -> TradingClock:
        clock = self._clocks.get(vt_symbol)
        if clock is None:
            symbol, dot, exchange = vt_symbol.rpartition(".")
            if not dot or not symbol or not exchange:
                raise ValueError(f"TradingClocks: {vt_symbol!r} is not a vt_symbol (symbol.EXCHANGE)")
            clock = TradingClock(self._catalog.schedule_for_symbol(exchange, symbol), self._calendar)
            self._clocks[vt_symbol] = clock
        return clock


def _local(moment: datetime, what: str) -> datetime:
    return require_aware("TradingClock", what, moment).astimezone(EXCHANGE_TIMEZONE)
