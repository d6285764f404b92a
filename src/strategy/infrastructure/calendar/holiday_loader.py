"""The mainland exchanges' calendar: closures from ``exchange_calendars``' XSHG calendar, plus a local override.

SSE (XSHG), SZSE, CFFEX and the commodity exchanges share their closures (the
State Council's holiday notices); ``exchange_calendars`` maintains them (checked:
XSHG equals the hand-made ``cn_holidays.csv`` on every weekday 2015-2026, see
tests). ``cn_closures_override.csv`` adds closures the package does not know yet
(an exceptional closure, a new year announced before a package release).

The package records holidays up to a last year only (2026 in 4.13.2): the
calendar's ``known_until`` is its last session, and every later day is
*provisional* (``TradingCalendar.is_provisional``): weekdays count as trading
days without any holiday. ``calendar_edge_warning`` says so, for the processes
to log at start.

A closure file (``path``) is still read as before: one closure per line,
``YYYY-MM-DD,name``, after a ``date,holiday`` header, ``#`` comments.
"""
from __future__ import annotations

import csv
import logging
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from src.strategy.domain.value_object.trading_calendar import TradingCalendar

logger = logging.getLogger(__name__)

CN_HOLIDAYS_FILE = Path(__file__).with_name("cn_holidays.csv")  # the former hand-made list (reference, tests)
CN_OVERRIDE_FILE = Path(__file__).with_name("cn_closures_override.csv")
XSHG = "XSHG"
CALENDAR_START = date(2015, 1, 1)


def read_holidays(path: Path) -> list[date]:
    """Closure dates of a holiday file; raises ValueError naming the file and line of a bad row."""
    days: list[date] = []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(line for line in handle if line.strip() and not line.lstrip().startswith("#"))
        header = next(rows, None)
        if header is None or [cell.strip() for cell in header[:1]] != ["date"]:
            raise ValueError(f"{path}: expected a 'date,holiday' header, got {header!r}")
        for number, row in enumerate(rows, start=2):
            try:
                days.append(date.fromisoformat(row[0].strip()))
            except (IndexError, ValueError) as error:
                raise ValueError(f"{path}: data row {number}: {row!r} is not 'YYYY-MM-DD,name'") from error
    return days


def xshg_closures(start: date = CALENDAR_START) -> tuple[list[date], date]:
    """Weekday closures of exchange_calendars' XSHG calendar from ``start``, and its last session."""
    import warnings

    import exchange_calendars

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's own pandas deprecation notices
        calendar = exchange_calendars.get_calendar(XSHG, start=start.isoformat())
        sessions = {stamp.date() for stamp in calendar.sessions}
    last = calendar.last_session.date()
    closures = []
    day = start
    while day <= last:
        if day.weekday() < 5 and day not in sessions:
            closures.append(day)
        day += timedelta(days=1)
    return closures, last


@lru_cache(maxsize=None)
def _load(path: Path | None) -> TradingCalendar:
    if path is not None:
        return TradingCalendar(read_holidays(path))
    closures, last = xshg_closures()
    return TradingCalendar([*closures, *read_holidays(CN_OVERRIDE_FILE)], known_until=last)


def load_cn_calendar(path: Path | None = None) -> TradingCalendar:
    """The mainland exchanges' calendar (SSE/SZSE/CFFEX and the commodity exchanges share closures):
    XSHG's closures plus the local override; with ``path``, that closure file's instead."""
    return _load(Path(path) if path is not None else None)


def calendar_edge_warning(calendar: TradingCalendar, day: date) -> str | None:
    """One line for the log when ``day`` is past the last day whose closures are known."""
    if not calendar.is_provisional(day):
        return None
    return (f"the exchange calendar knows closures only up to {calendar.known_until} "
            f"(exchange_calendars {XSHG}, plus {CN_OVERRIDE_FILE.name}); {day} is past it: its trading days and "
            f"any expiry after {calendar.known_until} are provisional (no holiday counted). Update "
            f"exchange_calendars or add the closures to {CN_OVERRIDE_FILE}")
