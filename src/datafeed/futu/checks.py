"""Checks on the rows of one window before they are stored.

A row is refused, and counted by reason, when its date does not parse, lies outside the window or on a
day the market did not trade, repeats a date already seen in the window (duplicates across pages), has
a missing or negative value, a total other than call + put, or a ratio other than put / call (or a
ratio at all when call is 0). A missing total or ratio is not an error (the proto marks both optional):
we compute them and count a note. The stored ratio is always our own put / call (None when call is 0).

Trading days of the window that did not arrive are listed as gaps, never filled or skipped silently.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from src.datafeed.futu.statistics import RawStatisticRow
from src.strategy.infrastructure.persistence.option_market_statistics import StoredStatistic

RATIO_TOLERANCE = 1e-4  # relative: the ratio may come rounded to a few decimals

BAD_DATE = "bad date"
OUTSIDE_WINDOW = "outside the window"
NOT_TRADING_DAY = "not a trading day"
DUPLICATE = "duplicate date"
MISSING_VALUE = "missing call or put"
NEGATIVE = "negative value"
TOTAL_MISMATCH = "total != call + put"
RATIO_MISMATCH = "ratio != put / call"
RATIO_WITH_ZERO_CALL = "ratio given with call 0"
NOTE_TOTAL_MISSING = "total missing (computed)"
NOTE_RATIO_MISSING = "ratio missing (computed)"


@dataclass
class CheckResult:
    accepted: list[StoredStatistic] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    gaps: list[date] = field(default_factory=list)


def ratio_matches(given: float, put_value: int, call_value: int) -> bool:
    expected = put_value / call_value
    return math.isfinite(given) and abs(given - expected) <= RATIO_TOLERANCE * max(1.0, abs(expected))


def check_window(market: str, data_type: str, begin: date, end: date, rows: Iterable[RawStatisticRow],
                 trading_days: Callable[[date, date], list[date]] | None, source: str = "futu") -> CheckResult:
    """Accepted rows (ascending by date), refusals by reason, and the window's missing trading days."""
    result = CheckResult()
    sessions = set(trading_days(begin, end)) if trading_days is not None else None
    seen: dict[date, StoredStatistic] = {}
    for row in rows:
        try:
            day = date.fromisoformat(row.time.strip()[:10])
        except (ValueError, AttributeError):
            result.rejected[BAD_DATE] += 1
            continue
        if not begin <= day <= end:
            result.rejected[OUTSIDE_WINDOW] += 1
            continue
        if sessions is not None and day not in sessions:
            result.rejected[NOT_TRADING_DAY] += 1
            continue
        if day in seen:
            result.rejected[DUPLICATE] += 1
            continue
        if row.call_value is None or row.put_value is None:
            result.rejected[MISSING_VALUE] += 1
            continue
        if row.call_value < 0 or row.put_value < 0 or (row.total_value is not None and row.total_value < 0):
            result.rejected[NEGATIVE] += 1
            continue
        total = row.call_value + row.put_value
        if row.total_value is None:
            result.notes[NOTE_TOTAL_MISSING] += 1
        elif row.total_value != total:
            result.rejected[TOTAL_MISMATCH] += 1
            continue
        ratio = row.put_value / row.call_value if row.call_value else None
        if row.ratio is None:
            if ratio is not None:
                result.notes[NOTE_RATIO_MISSING] += 1
        elif ratio is None:
            result.rejected[RATIO_WITH_ZERO_CALL] += 1
            continue
        elif not ratio_matches(row.ratio, row.put_value, row.call_value):
            result.rejected[RATIO_MISMATCH] += 1
            continue
        seen[day] = StoredStatistic(market, data_type, day, row.call_value, row.put_value, total, ratio, source)
    result.accepted = [seen[day] for day in sorted(seen)]
    if sessions is not None:
        result.gaps = sorted(sessions - set(seen))
    return result
