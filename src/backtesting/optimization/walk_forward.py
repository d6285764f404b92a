"""Walk-forward: optimise on a window of trading days, test the chosen setting on the days after it, roll.

Windows by trading days of the exchange calendar: in-sample ``in_days``, out-of-sample the next
``out_days``; the next window starts ``out_days`` later, so the out-of-sample periods follow one
another without overlap and never overlap their own in-sample period. The out-of-sample daily net
PnL of the chosen settings, stitched, is the equity a user would have had.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.core.config.errors import UserInputError


@dataclass(frozen=True)
class Window:
    number: int
    in_start: date
    in_end: date
    out_start: date
    out_end: date


def trading_days(calendar, start: date, end: date) -> list[date]:
    days = []
    day = start if calendar.is_trading_day(start) else calendar.next_trading_day(start)
    while day <= end:
        days.append(day)
        day = calendar.next_trading_day(day)
    return days


def walk_forward_windows(days: list[date], in_days: int, out_days: int) -> list[Window]:
    if in_days < 1 or out_days < 1:
        raise UserInputError("--walk-forward: in-sample and out-of-sample days must be >= 1")
    windows = []
    first = 0
    while first + in_days + out_days <= len(days):
        in_sample = days[first:first + in_days]
        out_sample = days[first + in_days:first + in_days + out_days]
        windows.append(Window(len(windows) + 1, in_sample[0], in_sample[-1], out_sample[0], out_sample[-1]))
        first += out_days
    if not windows:
        raise UserInputError(f"--walk-forward {in_days}:{out_days}: the dates hold {len(days)} trading days, "
                             f"fewer than one window ({in_days + out_days})")
    return windows


def parse_walk_forward(text: str) -> tuple[int, int]:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise UserInputError(f"--walk-forward {text!r}: expected IN_DAYS:OUT_DAYS, e.g. 10:5")
    return int(parts[0]), int(parts[1])
