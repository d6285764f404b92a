"""Exchange trading days and the year fractions used for time to expiry.

``TradingCalendar`` knows only weekends and the exchange closures it is given
(the infrastructure loads the mainland exchanges' list from a file; the domain
reads no files). A trading day is a weekday that is not a closure.

Year fractions (both documented choices, pick one per use and keep it):

- ``act365_year_fraction(valuation, expiry)``: calendar time, ACT/365 to the
  second, ``(expiry - valuation).total_seconds() / (365 * 86400)``. This is the
  convention of the Greeks (theta is per year of calendar time) and of vendor
  IVs such as Cboe's; weekends and holidays count like any other day, so
  implied vols carry the weekend variance.
- ``TradingCalendar.trading_year_fraction(valuation, expiry)``: trading time,
  ``trading_days_between(valuation, expiry) / 244``. 244 is the typical number
  of trading days of a mainland year (242-245 between 2015 and 2025); counting
  trading days treats weekends and holidays as carrying no variance, which is
  how Chinese desks usually quote time to expiry. The valuation day itself is
  not counted and the expiry day is: valued after the close, an option expiring
  the next trading day has 1/244 left.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

SECONDS_PER_YEAR_ACT365 = 365.0 * 86400.0
TRADING_DAYS_PER_YEAR = 244


def act365_year_fraction(valuation: datetime, expiry: datetime) -> float:
    """Calendar years from ``valuation`` to ``expiry`` (negative once expired).

    Both must be naive or both timezone-aware (aware ones are compared in
    absolute time, so a daylight-saving change is counted as it happened).
    """
    if (valuation.tzinfo is None) != (expiry.tzinfo is None):
        raise ValueError("valuation and expiry must both be naive or both be timezone-aware")
    if valuation.tzinfo is not None:
        # Python subtracts two datetimes of the same zone by wall clock; elapsed time needs UTC.
        valuation, expiry = valuation.astimezone(timezone.utc), expiry.astimezone(timezone.utc)
    return (expiry - valuation).total_seconds() / SECONDS_PER_YEAR_ACT365


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class TradingCalendar:
    """Weekdays minus the given closures. ``holidays`` may hold weekend dates; they change nothing."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    known_until: date | None = None  # the last day whose closures are known; later days are provisional
    _sorted: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __init__(self, holidays: Iterable[date] = (), known_until: date | None = None):
        if known_until is not None and (isinstance(known_until, datetime) or not isinstance(known_until, date)):
            raise TypeError(f"known_until must be a datetime.date, got {known_until!r}")
        object.__setattr__(self, "known_until", known_until)
        closures = []
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"holidays must be datetime.date values, got {day!r}")
            closures.append(day)
        object.__setattr__(self, "holidays", frozenset(closures))
        object.__setattr__(self, "_sorted", tuple(sorted(d for d in closures if d.weekday() < 5)))

    def __repr__(self) -> str:
        if not self._sorted:
            return "TradingCalendar(no weekday closures)"
        return f"TradingCalendar({len(self._sorted)} weekday closures, {self._sorted[0]} .. {self._sorted[-1]})"

    def is_provisional(self, day: date | datetime) -> bool:
        """True past the last day whose closures are known: a closure announced later is missing."""
        return self.known_until is not None and _as_date(day) > self.known_until

    def is_trading_day(self, day: date | datetime) -> bool:
        day = _as_date(day)
        return day.weekday() < 5 and day not in self.holidays

    def next_trading_day(self, day: date | datetime) -> date:
        """The first trading day strictly after ``day``."""
        current = _as_date(day) + timedelta(days=1)
        while not self.is_trading_day(current):
            current += timedelta(days=1)
        return current

    def previous_trading_day(self, day: date | datetime) -> date:
        """The last trading day strictly before ``day``."""
        current = _as_date(day) - timedelta(days=1)
        while not self.is_trading_day(current):
            current -= timedelta(days=1)
        return current

    def trading_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """Trading days d with start < d <= end; the negative count when end is before start."""
        first, last = _as_date(start), _as_date(end)
        if last < first:
            return -self.trading_days_between(last, first)
        weekdays = _weekdays_through(last) - _weekdays_through(first)
        closures = bisect.bisect_right(self._sorted, last) - bisect.bisect_right(self._sorted, first)
        return weekdays - closures

    def trading_year_fraction(self, valuation: date | datetime, expiry: date | datetime,
                              days_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
        """Trading days to expiry (valuation day excluded, expiry day included) over ``days_per_year``."""
        if days_per_year <= 0:
            raise ValueError("days_per_year must be positive")
        return self.trading_days_between(valuation, expiry) / days_per_year


def _weekdays_through(day: date) -> int:
    """Number of weekdays from a fixed Monday epoch up to and including ``day``."""
    ordinal = day.toordinal() - date(1, 1, 1).toordinal()  # 0001-01-01 is a Monday
    weeks, extra = divmod(ordinal + 1, 7)
    return weeks * 5 + min(extra, 5)
