"""Cboe's daily put/call volume files (totalpc.csv, equitypc.csv, indexpc.csv).

Layout: optional preamble lines (a disclaimer, ``PRODUCT: ...``), then a header starting with
``DATE`` and rows ``M/D/YYYY, calls, puts, total, ratio`` (later rows have a space after each comma).
Rows that do not parse are counted by reason and skipped, never guessed.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

# Where each file lands in the statistics table (market key, data type).
CBOE_FILES = {"totalpc.csv": "CBOE_TOTAL", "equitypc.csv": "CBOE_EQUITY", "indexpc.csv": "CBOE_INDEX"}


@dataclass(frozen=True)
class CboePutCallRow:
    trade_date: date
    call_value: int
    put_value: int
    total_value: int
    ratio: float | None


@dataclass(frozen=True)
class CboePutCallFile:
    market: str
    rows: tuple[CboePutCallRow, ...]
    rejected: dict[str, int]


def read_cboe_putcall(path: Path) -> CboePutCallFile:
    """The rows of one Cboe file, ascending by date; duplicates and unparsable rows counted in ``rejected``."""
    path = Path(path)
    market = CBOE_FILES.get(path.name, "CBOE_" + path.stem.upper())
    rejected: Counter[str] = Counter()
    rows: dict[date, CboePutCallRow] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header_seen = False
        for record in reader:
            cells = [cell.strip() for cell in record]
            if not header_seen:
                header_seen = bool(cells) and cells[0].upper() == "DATE"
                continue
            if not any(cells):
                continue
            if len(cells) < 4:
                rejected["short row"] += 1
                continue
            try:
                trade_date = datetime.strptime(cells[0], "%m/%d/%Y").date()
            except ValueError:
                rejected["bad date"] += 1
                continue
            try:
                call_value, put_value, total_value = int(cells[1]), int(cells[2]), int(cells[3])
            except ValueError:
                rejected["bad number"] += 1
                continue
            if call_value < 0 or put_value < 0:
                rejected["negative volume"] += 1
                continue
            if trade_date in rows:
                rejected["duplicate date"] += 1
                continue
            ratio = put_value / call_value if call_value else None
            rows[trade_date] = CboePutCallRow(trade_date, call_value, put_value, total_value, ratio)
    if not header_seen:
        raise ValueError(f"{path}: no header line starting with DATE")
    return CboePutCallFile(market, tuple(rows[day] for day in sorted(rows)), dict(rejected))


@dataclass(frozen=True)
class CboeImport:
    path: Path
    market: str
    stored: int
    first: date | None
    last: date | None
    rejected: dict[str, int]


def import_cboe_putcall(repository, paths) -> list[CboeImport]:
    """Stores each file's days as ``<market> VOLUME`` rows (source ``cboe``) through ``repository``
    (an OptionMarketStatisticRepository), replacing days already stored."""
    from src.strategy.infrastructure.persistence.option_market_statistics import StoredStatistic

    results = []
    for path in paths:
        parsed = read_cboe_putcall(Path(path))
        rows = [StoredStatistic(parsed.market, "VOLUME", r.trade_date, r.call_value, r.put_value,
                                r.call_value + r.put_value, r.ratio, "cboe") for r in parsed.rows]
        stored = repository.upsert(rows)
        results.append(CboeImport(Path(path), parsed.market, stored, rows[0].trade_date if rows else None,
                                  rows[-1].trade_date if rows else None, parsed.rejected))
    return results
