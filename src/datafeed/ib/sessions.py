"""The four session plans of the seed, chosen by the exchange calendar, not the wall clock.

US equity and index options follow the NYSE calendar (``exchange_calendars`` ``XNYS``: holidays,
early closes at 13:00). For a moment ``now`` (timezone-aware):

- ``pre``: a trading day before the open. Frozen data (type 2): chain structure update, open
  interest pass (short streams: OI cannot ride on a snapshot), full-chain snapshot of the frozen
  closes.
- ``open``: between the open and the close. Live data (type 1): full-chain snapshot every
  ``snapshot_interval`` (30 min), streaming only for a short configured list (within the line
  budget, never mixed with the snapshot batches), chain change checks (at most every 2 h, or when
  the underlying moved beyond the threshold).
- ``post``: a trading day after the close. Frozen closes for up to 500 underlyings, their previous
  close from historical data (daily TRADES bars), chain structure update.
- ``weekend``: any day that is not a trading day (weekends and holidays). Scanner for active
  options (its code validated against ``reqScannerParameters`` first), contract library maintenance
  (a forced refresh), purge of expired contracts. No OI (it does not change), no streaming.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from functools import lru_cache

import pandas as pd

CALENDAR_NAME = "XNYS"
MAX_POST_UNDERLYINGS = 500


class Session(Enum):
    PRE = "pre"
    OPEN = "open"
    POST = "post"
    WEEKEND = "weekend"


class Task(Enum):
    CHAIN_UPDATE = "chain structure update"
    OPEN_INTEREST = "open interest pass"
    SNAPSHOT = "full-chain snapshot"
    STREAM = "streaming short list"
    CHAIN_CHECK = "chain change check"
    PREVIOUS_CLOSE = "previous close from historical data"
    SCANNER = "active options scanner"
    MAINTENANCE = "contract library maintenance and purge"


@dataclass(frozen=True)
class SessionPlan:
    session: Session
    market_data_type: int
    tasks: tuple[Task, ...]
    snapshot_interval: timedelta | None     # repeat the snapshot within the session; None = once


PLANS = {
    Session.PRE: SessionPlan(Session.PRE, 2, (Task.CHAIN_UPDATE, Task.OPEN_INTEREST, Task.SNAPSHOT), None),
    Session.OPEN: SessionPlan(Session.OPEN, 1, (Task.CHAIN_CHECK, Task.STREAM, Task.SNAPSHOT), timedelta(minutes=30)),
    Session.POST: SessionPlan(Session.POST, 2, (Task.CHAIN_UPDATE, Task.PREVIOUS_CLOSE, Task.SNAPSHOT), None),
    Session.WEEKEND: SessionPlan(Session.WEEKEND, 2, (Task.SCANNER, Task.MAINTENANCE, Task.SNAPSHOT), None),
}


@lru_cache(maxsize=2)
def exchange_calendar(name: str = CALENDAR_NAME):
    import exchange_calendars

    return exchange_calendars.get_calendar(name)


@dataclass(frozen=True)
class SessionWindow:
    """Where ``now`` falls: the session, its trading day (or the day for weekends), and its bounds."""

    session: Session
    day: date
    starts: datetime
    ends: datetime

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}:{self.session.value}"


def session_window(now: datetime, calendar=None) -> SessionWindow:
    if now.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    calendar = calendar or exchange_calendar()
    stamp = pd.Timestamp(now).tz_convert("UTC")
    local_day = stamp.tz_convert("America/New_York").date()
    day = pd.Timestamp(local_day)
    if calendar.is_session(day):
        opens = calendar.session_open(day).to_pydatetime()
        closes = calendar.session_close(day).to_pydatetime()
        midnight = pd.Timestamp(local_day, tz="America/New_York")
        if stamp < opens:
            return SessionWindow(Session.PRE, local_day, midnight.tz_convert("UTC").to_pydatetime(), opens)
        if stamp < closes:
            return SessionWindow(Session.OPEN, local_day, opens, closes)
        next_midnight = (midnight + pd.Timedelta(days=1)).tz_convert("UTC").to_pydatetime()
        return SessionWindow(Session.POST, local_day, closes, next_midnight)
    previous_close = calendar.previous_close(stamp).to_pydatetime()
    next_open = calendar.next_open(stamp).to_pydatetime()
    starts = (pd.Timestamp(previous_close).tz_convert("America/New_York").normalize() + pd.Timedelta(days=1))
    ends = pd.Timestamp(next_open).tz_convert("America/New_York").normalize()
    return SessionWindow(Session.WEEKEND, local_day, starts.tz_convert("UTC").to_pydatetime(),
                         ends.tz_convert("UTC").to_pydatetime())


def plan_for(now: datetime, calendar=None) -> tuple[SessionWindow, SessionPlan]:
    window = session_window(now, calendar)
    return window, PLANS[window.session]


def parse_session(text: str, now: datetime, calendar=None) -> tuple[SessionWindow, SessionPlan]:
    """``auto`` (from the calendar) or a forced ``pre|open|post|weekend`` for the CLI."""
    window = session_window(now, calendar)
    if text == "auto":
        return window, PLANS[window.session]
    try:
        session = Session(text)
    except ValueError:
        raise ValueError(f"--session must be auto, pre, open, post or weekend, got {text!r}") from None
    return SessionWindow(session, window.day, window.starts, window.ends), PLANS[session]


def last_close_before(now: datetime, calendar=None) -> datetime:
    """The close of the last session that ended at or before ``now`` (when frozen data was struck)."""
    calendar = calendar or exchange_calendar()
    stamp = pd.Timestamp(now).tz_convert("UTC")
    close = calendar.previous_close(stamp + pd.Timedelta(minutes=1))   # the calendar works in whole minutes
    if close > stamp:
        close = calendar.previous_close(stamp)
    return close.to_pydatetime()


def snapshot_due(plan: SessionPlan, window: SessionWindow, last_run: datetime | None, now: datetime) -> bool:
    """True when the session's snapshot should run now: once per session, or every interval when open."""
    if last_run is None or last_run < window.starts:
        return True
    if plan.snapshot_interval is None:
        return False
    return now - last_run >= plan.snapshot_interval


def next_wakeup(plan: SessionPlan, window: SessionWindow, last_run: datetime | None, now: datetime,
                *, ceiling: timedelta = timedelta(minutes=5)) -> datetime:
    """When the scheduler should look again: the next snapshot due or the session's end, at most ``ceiling``."""
    candidates = [window.ends, now + ceiling]
    if plan.snapshot_interval is not None and last_run is not None and last_run >= window.starts:
        candidates.append(last_run + plan.snapshot_interval)
    return max(now, min(candidates))
