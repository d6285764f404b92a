"""Backfill and daily update of option market statistics.

A span is walked in windows of at most one year (the seed says a span may not exceed a year, the
proto says longer spans page by themselves: windows of a year are right under both readings). Each
window is paged to exhaustion; the first page goes through the rate governor, later pages are free.
A failed call (``ret != RET_OK``: rate limit, timeout, dropped connection...) restarts the window
from its first page after a backoff with jitter, since a page key may not survive a reconnect; after
``max_attempts`` the backfill stops with one error naming the call's arguments. A window's checked
rows and its checkpoint are written in one transaction, so an interrupted run resumes at the first
window without a checkpoint.
"""
from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from src.datafeed.futu.checks import check_window
from src.datafeed.futu.governor import Backoff, RateGovernor
from src.datafeed.futu.market_calendar import calendar_covers, last_published_day, trading_days
from src.datafeed.futu.statistics import RawStatisticRow, StatisticsSource
from src.strategy.infrastructure.persistence.option_market_statistics import (
    Checkpoint,
    OptionMarketStatisticRepository,
)

LOG = logging.getLogger(__name__)
MAX_PAGES_PER_WINDOW = 200


class FetchFailedError(Exception):
    """A window could not be fetched after every attempt; the message names the call's arguments."""


def one_year_after(day: date) -> date:
    """The last day of a window of at most one year starting on ``day``."""
    try:
        return day.replace(year=day.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1) - timedelta(days=1)


def plan_windows(start: date, end: date) -> list[tuple[date, date]]:
    """Consecutive windows of at most one year covering [start, end] exactly."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    windows, begin = [], start
    while begin <= end:
        last = min(one_year_after(begin), end)
        windows.append((begin, last))
        begin = last + timedelta(days=1)
    return windows


@dataclass
class BackfillReport:
    windows_planned: int = 0
    windows_skipped: int = 0
    windows_fetched: int = 0
    first_pages: int = 0
    pages: int = 0
    requests: int = 0
    failed_requests: int = 0
    retries: int = 0
    rows_received: int = 0
    rows_stored: int = 0
    rejected: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    gaps: dict[tuple[str, str], list[date]] = field(default_factory=dict)
    failure_messages: Counter = field(default_factory=Counter)
    elapsed_seconds: float = 0.0

    def lines(self) -> list[str]:
        lines = [f"windows: {self.windows_fetched} fetched, {self.windows_skipped} already done "
                 f"(of {self.windows_planned})",
                 f"requests: {self.requests} ({self.first_pages} first pages, {self.pages} pages answered, "
                 f"{self.failed_requests} failed, {self.retries} window retries)",
                 f"rows: {self.rows_received} received, {self.rows_stored} stored, "
                 f"{sum(self.rejected.values())} refused in {self.elapsed_seconds:.1f} s"]
        lines += [f"  refused, {reason}: {count}" for reason, count in sorted(self.rejected.items())]
        lines += [f"  note, {reason}: {count}" for reason, count in sorted(self.notes.items())]
        for (market, data_type), days in sorted(self.gaps.items()):
            if days:
                shown = ", ".join(day.isoformat() for day in days[:12]) + (" ..." if len(days) > 12 else "")
                lines.append(f"  gaps {market} {data_type}: {len(days)} trading days missing: {shown}")
        return lines


class _Progress:
    """A tqdm bar on a terminal, a log line per window otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        self._done = 0
        self._total = total
        if enabled and total and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="window", file=sys.stderr)

    def step(self, label: str) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(label)
            self._bar.update(1)
        else:
            LOG.info("window %d/%d done: %s", self._done, self._total, label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class StatisticsBackfill:
    def __init__(self, source: StatisticsSource, repository: OptionMarketStatisticRepository,
                 governor: RateGovernor | None = None, backoff: Backoff | None = None, *,
                 max_attempts: int = 5, sleep: Callable[[float], None] = time.sleep,
                 check_calendar: bool = True, progress: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.source = source
        self.repository = repository
        self.governor = governor or RateGovernor()
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self._sleep = sleep
        self.check_calendar = check_calendar
        self.progress = progress
        self._clock = clock

    # --- public ----------------------------------------------------------------------------------
    def backfill(self, markets: Sequence[str], data_types: Sequence[str], start: date, end: date,
                 report: BackfillReport | None = None) -> BackfillReport:
        report = report or BackfillReport()
        began = self._clock()
        plan = []
        for market in markets:
            for data_type in data_types:
                done = self.repository.completed_windows(market, data_type)
                for window in plan_windows(start, end):
                    report.windows_planned += 1
                    if window in done:
                        report.windows_skipped += 1
                    else:
                        plan.append((market, data_type, window))
        progress = _Progress(len(plan), self.progress)
        try:
            for market, data_type, (begin, last) in plan:
                self._window(market, data_type, begin, last, report)
                progress.step(f"{market} {data_type} {begin}..{last}")
        finally:
            progress.close()
            report.elapsed_seconds += self._clock() - began
        return report

    def update(self, markets: Sequence[str], data_types: Sequence[str], now: datetime,
               start_if_empty: date) -> BackfillReport:
        """Fetches, per market and type, from the day after the last stored one to the last published day."""
        report = BackfillReport()
        for market in markets:
            end = last_published_day(market, now)
            for data_type in data_types:
                latest = self.repository.latest_date(market, data_type)
                start = start_if_empty if latest is None else latest + timedelta(days=1)
                if start > end:
                    LOG.info("%s %s is up to date (last day %s)", market, data_type, latest)
                    continue
                self.backfill([market], [data_type], start, end, report)
        return report

    # --- one window ------------------------------------------------------------------------------
    def _window(self, market: str, data_type: str, begin: date, end: date, report: BackfillReport) -> None:
        rows = self._fetch_window(market, data_type, begin, end, report)
        calendar = None
        if self.check_calendar and calendar_covers(market, begin) and calendar_covers(market, end):
            def calendar(first: date, last: date) -> list[date]:
                return trading_days(market, first, last)
        checked = check_window(market, data_type, begin, end, rows, calendar)
        report.rows_received += len(rows)
        report.rejected.update(checked.rejected)
        report.notes.update(checked.notes)
        report.gaps.setdefault((market, data_type), []).extend(checked.gaps)
        report.rows_stored += self.repository.upsert(
            checked.accepted, Checkpoint(market, data_type, begin, end, len(checked.accepted)))
        report.windows_fetched += 1
        if checked.rejected:
            LOG.warning("%s %s %s..%s: refused %s", market, data_type, begin, end, dict(checked.rejected))

    def _fetch_window(self, market: str, data_type: str, begin: date, end: date,
                      report: BackfillReport) -> list[RawStatisticRow]:
        message, page_number = "", 0
        for attempt in range(1, self.max_attempts + 1):
            rows: list[RawStatisticRow] = []
            key: bytes | None = None
            self.governor.acquire()
            report.first_pages += 1
            for page_number in range(1, MAX_PAGES_PER_WINDOW + 1):
                page = self.source.fetch_page(market, data_type, begin, end, key)
                report.requests += 1
                if not page.ok:
                    report.failed_requests += 1
                    message = page.message or "no message"
                    report.failure_messages[message] += 1
                    break
                report.pages += 1
                rows.extend(page.rows)
                key = page.next_page_key
                if key is None:
                    return rows
            else:
                message = f"still more pages after {MAX_PAGES_PER_WINDOW}"
            if attempt < self.max_attempts:
                delay = self.backoff.delay(attempt)
                LOG.warning("%s %s %s..%s page %d failed (%s): retrying the window in %.1f s (attempt %d of %d)",
                            market, data_type, begin, end, page_number, message, delay, attempt + 1,
                            self.max_attempts)
                report.retries += 1
                self._sleep(delay)
        raise FetchFailedError(
            f"get_option_market_statistic({market}, {data_type}, begin_time={begin}, end_time={end}) failed "
            f"{self.max_attempts} times; last failure on page {page_number}: {message}")
