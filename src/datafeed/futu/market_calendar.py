"""Trading days of the markets whose statistics we fetch (exchange_calendars XNYS, XHKG), and the last
day whose statistics are final at a given moment."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from src.datafeed.futu.statistics import MARKET_HOURS

CALENDAR_START = "2000-01-01"


@lru_cache(maxsize=4)
def _sessions(calendar_name: str) -> tuple[date, ...]:
    import exchange_calendars

    calendar = exchange_calendars.get_calendar(calendar_name, start=CALENDAR_START)
    return tuple(session.date() for session in calendar.sessions)


def trading_days(market: str, start: date, end: date) -> list[date]:
    """The market's sessions in [start, end]."""
    return [day for day in _sessions(MARKET_HOURS[market].exchange_calendar) if start <= day <= end]


def calendar_covers(market: str, day: date) -> bool:
    sessions = _sessions(MARKET_HOURS[market].exchange_calendar)
    return sessions[0] <= day <= sessions[-1]


def last_published_day(market: str, now: datetime) -> date:
    """The last session whose statistics are final at ``now`` (aware): today only after publication time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    hours = MARKET_HOURS[market]
    local = now.astimezone(hours.timezone)
    sessions = trading_days(market, local.date() - timedelta(days=15), local.date())
    for day in reversed(sessions):
        if day < local.date() or local.time() >= hours.published:
            return day
    raise ValueError(f"no {market} session in the 15 days before {local.date()}")
