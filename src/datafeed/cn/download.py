"""Download bars through any vnpy ``BaseDatafeed``, in date chunks that are written whole and remembered.

- The dates are cut into chunks (``chunk_days``); each chunk of each contract is one
  ``query_bar_history`` call, and its bars are written in one ``save_bar_data`` call
  once the chunk is complete. A failing chunk writes nothing.
- A journal (a small JSON file) records the chunks written per source, database, contract
  and interval; a second run skips them, so an interrupted or failed download resumes
  where it stopped. ``fresh=True`` ignores the journal.
- A vendor failure (the datafeed returned ``None``, vnpy's way of saying it failed,
  with its message given to ``output``) stops the run with a ``VendorError`` naming the
  source, the contract and the chunk's dates. A contract for which the whole range
  returned no bar at all is a ``VendorError`` too ("empty result").
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from vnpy.trader.constant import Interval
from vnpy.trader.datafeed import BaseDatafeed
from vnpy.trader.object import BarData, HistoryRequest

from src.datafeed.cn.errors import VendorError
from src.datafeed.cn.symbols import Contract
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE


def date_chunks(start: date, end: date, days: int) -> list[tuple[date, date]]:
    if days < 1:
        raise ValueError(f"chunk_days must be >= 1, got {days}")
    chunks = []
    first = start
    while first <= end:
        last = min(first + timedelta(days=days - 1), end)
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks


class DownloadJournal:
    """Chunks already written, per key; saved atomically (temporary file + rename) after each chunk."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._done: dict[str, list[str]] = {}
        if path is not None and path.is_file():
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                content = {}
            if isinstance(content, dict):
                self._done = {str(k): [str(x) for x in v] for k, v in content.items() if isinstance(v, list)}

    @staticmethod
    def key(source: str, database: str, vt_symbol: str, interval: Interval) -> str:
        return f"{source}|{database}|{vt_symbol}|{interval.value}"

    def done(self, key: str, chunk: tuple[date, date]) -> bool:
        return f"{chunk[0]}..{chunk[1]}" in self._done.get(key, ())

    def mark(self, key: str, chunk: tuple[date, date]) -> None:
        self._done.setdefault(key, []).append(f"{chunk[0]}..{chunk[1]}")
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=self.path.name, dir=self.path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(self._done, stream, indent=1, sort_keys=True)
        os.replace(temporary, self.path)


@dataclass
class DownloadReport:
    contracts: int = 0
    chunks_fetched: int = 0
    chunks_skipped: int = 0
    bars_written: int = 0
    bars_per_contract: dict[str, int] = field(default_factory=dict)


def download(datafeed: BaseDatafeed, database, contracts: Sequence[Contract], interval: Interval, start: date,
             end: date, chunk_days: int, source: str, database_name: str, journal: DownloadJournal,
             progress: Callable[[int], object] | None = None, fresh: bool = False) -> DownloadReport:
    """Fetch and write every chunk of every contract; raises ``VendorError`` on the first failure."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    chunks = date_chunks(start, end, chunk_days)
    report = DownloadReport(contracts=len(contracts))
    bar = progress(len(chunks) * len(contracts)) if progress is not None else None
    try:
        for contract in contracts:
            key = DownloadJournal.key(source, database_name, contract.vt_symbol, interval)
            written = 0
            skipped = 0
            for chunk in chunks:
                if not fresh and journal.done(key, chunk):
                    skipped += 1
                    report.chunks_skipped += 1
                    if bar is not None:
                        bar.update(1)
                    continue
                messages: list[str] = []
                request = HistoryRequest(
                    symbol=contract.symbol, exchange=contract.exchange, interval=interval,
                    start=datetime.combine(chunk[0], time.min, tzinfo=EXCHANGE_TIMEZONE),
                    end=datetime.combine(chunk[1], time(23, 59, 59), tzinfo=EXCHANGE_TIMEZONE))
                bars = datafeed.query_bar_history(request, output=messages.append)
                if bars is None:
                    problem = messages[-1] if messages else "the datafeed returned no answer"
                    prefix = f"{source}: {contract.vt_symbol} "
                    if problem.startswith(prefix):  # our datafeeds already name it: keep the vendor's part
                        problem = problem.split(": ", 2)[-1]
                    raise VendorError(source, contract.vt_symbol, chunk[0], chunk[1], problem)
                kept = _inside(bars, contract, interval, chunk)
                if kept:
                    database.save_bar_data(kept)
                written += len(kept)
                report.chunks_fetched += 1
                if kept:  # an empty chunk is asked again next time: the vendor may have it by then
                    journal.mark(key, chunk)
                if bar is not None:
                    bar.update(1)
            report.bars_per_contract[contract.vt_symbol] = written
            report.bars_written += written
            if written == 0 and skipped == 0:
                raise VendorError(source, contract.vt_symbol, start, end,
                                  "empty result: the vendor has no bars for these dates")
    finally:
        if bar is not None:
            bar.close()
    return report


def _inside(bars: list[BarData], contract: Contract, interval: Interval, chunk: tuple[date, date]) -> list[BarData]:
    """The chunk's bars of the asked contract (a vendor answering with more is cut back to what was asked)."""
    first = datetime.combine(chunk[0], time.min, tzinfo=EXCHANGE_TIMEZONE)
    last = datetime.combine(chunk[1], time(23, 59, 59), tzinfo=EXCHANGE_TIMEZONE)
    return [b for b in bars if b.symbol == contract.symbol and b.exchange == contract.exchange
            and b.interval == interval and first <= b.datetime <= last]
