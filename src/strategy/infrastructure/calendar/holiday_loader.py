"""Reads exchange closure lists into the domain's ``TradingCalendar``.

The file format is one closure per line, ``YYYY-MM-DD,name``, after a
``date,holiday`` header; lines starting with ``#`` are comments (the source
of the list is stated there).
"""
from __future__ import annotations

import csv
from datetime import date
from functools import lru_cache
from pathlib import Path

from src.strategy.domain.value_object.trading_calendar import TradingCalendar

CN_HOLIDAYS_FILE = Path(__file__).with_name("cn_holidays.csv")


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


@lru_cache(maxsize=None)
def _load(path: Path) -> TradingCalendar:
    return TradingCalendar(read_holidays(path))


def load_cn_calendar(path: Path | None = None) -> TradingCalendar:
    """The mainland exchanges' calendar (SSE/SZSE/CFFEX and the commodity exchanges share closures)."""
    return _load(Path(path) if path is not None else CN_HOLIDAYS_FILE)
