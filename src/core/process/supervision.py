"""The daemon's rules, free of processes and clocks so they can be tested on their own.

``RestartBackoff``: the n-th consecutive restart waits
``min(restart_delay * 2**(n-1), max_restart_delay)`` (5, 10, 20, ... 300 s by
default); after ``max_restart_count`` restarts the next failure means giving
up. A child that ran ``healthy_reset_seconds`` without failing wipes the count,
so a child that crashes once a day is never given up on.

``TradingWindow``: whether the child should run at a moment. Inside one of the
``runtime.trading_periods`` (exchange local time; a period whose end is before
its start is a night period crossing midnight) and, with ``trading_days_only``,
on a trading day of the exchange calendar: a day period on a trading day; a
night period (one starting at or after 18:00) on the evening of a trading day
whose next weekday is a trading day too. That matches the exchanges, which
trade Friday night for Monday but hold no night session before a holiday.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from src.core.config.schema import NIGHT_START_EARLIEST, TradingPeriod
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.trading_calendar import TradingCalendar

LOOKAHEAD_DAYS = 14


class RestartBackoff:
    def __init__(self, restart_delay: float, max_restart_delay: float, max_restart_count: int,
                 healthy_reset_seconds: float) -> None:
        if not 0 < restart_delay <= max_restart_delay:
            raise ValueError(f"need 0 < restart_delay <= max_restart_delay, got {restart_delay}, {max_restart_delay}")
        if max_restart_count < 0:
            raise ValueError(f"max_restart_count must be >= 0, got {max_restart_count}")
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.max_restart_count = max_restart_count
        self.healthy_reset_seconds = healthy_reset_seconds
        self.restarts = 0

    def delay_for(self, restart_number: int) -> float:
        """The wait before the ``restart_number``-th consecutive restart (1-based)."""
        exponent = min(restart_number - 1, 64)  # 2**64 * any delay is past any cap: keeps the float finite
        return min(self.restart_delay * 2.0 ** exponent, self.max_restart_delay)

    def note_running(self, uptime: float) -> bool:
        """A child has been running ``uptime`` seconds: True when that just reset the count."""
        if self.restarts and uptime >= self.healthy_reset_seconds:
            self.restarts = 0
            return True
        return False

    def next_delay(self, uptime: float) -> float | None:
        """A child failed after ``uptime`` seconds: the wait before restarting it, or None to give up."""
        self.note_running(uptime)
        if self.restarts >= self.max_restart_count:
            return None
        self.restarts += 1
        return self.delay_for(self.restarts)


class TradingWindow:
    def __init__(self, periods: Sequence[TradingPeriod], calendar: TradingCalendar | None = None) -> None:
        if not periods:
            raise ValueError("TradingWindow needs at least one period")
        self.periods = tuple(periods)
        self.calendar = calendar

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(EXCHANGE_TIMEZONE)
        clock_time = local.time().replace(tzinfo=None)
        for period in self.periods:
            if not period.contains(clock_time):
                continue
            started_yesterday = period.crosses_midnight and clock_time < period.end
            start_day = local.date() - timedelta(days=1) if started_yesterday else local.date()
            if self._held_on(period, start_day):
                return True
        return False

    def next_open(self, moment: datetime) -> datetime | None:
        """The next moment a period opens, after ``moment`` (None when none within two weeks)."""
        local = moment.astimezone(EXCHANGE_TIMEZONE)
        best: datetime | None = None
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            for period in self.periods:
                start = datetime.combine(day, period.start, EXCHANGE_TIMEZONE)
                if start > local and self._held_on(period, day) and (best is None or start < best):
                    best = start
            if best is not None:
                return best
        return None

    def previous_close(self, moment: datetime) -> datetime | None:
        """The latest moment at or before ``moment`` a held period ended (None when none within two weeks)."""
        local = moment.astimezone(EXCHANGE_TIMEZONE)
        best: datetime | None = None
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = local.date() - timedelta(days=offset)
            for period in self.periods:
                end_day = day + timedelta(days=1) if period.crosses_midnight else day
                end = datetime.combine(end_day, period.end, EXCHANGE_TIMEZONE)
                if end <= local and self._held_on(period, day) and (best is None or end > best):
                    best = end
        return best

    def _held_on(self, period: TradingPeriod, start_day: date) -> bool:
        if self.calendar is None:
            return True
        if not self.calendar.is_trading_day(start_day):
            return False
        if period.start >= NIGHT_START_EARLIEST:
            return self.calendar.is_trading_day(_next_weekday(start_day))
        return True

    def describe(self) -> str:
        periods = ", ".join(f"{p.start:%H:%M}-{p.end:%H:%M}" for p in self.periods)
        return periods + (" on trading days" if self.calendar is not None else " every day")


def _next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
