"""What the tick and bar CSV importers share: the checks on the file, the accounting of rows (read,
rejected by reason, the first bad lines shown), batched per-symbol saves, a damaged file met half-way,
and the progress bar.

Both readers yield ``(line, record-or-reason)``: a reason on line 1 is the header's, and stops the import;
anywhere else it is one bad row, counted and skipped.
"""
from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from src.core.config.errors import UserInputError

SAVE_BATCH = 20_000
SHOWN_BAD_ROWS = 5

Record = TypeVar("Record")


def check_input_file(file: Path) -> None:
    """A readable file (a readable gzip stream when it ends in .gz), or one line saying what it is instead."""
    if file.is_dir():
        raise UserInputError(f"--file {file}: is a folder, not a file")
    if not file.exists():
        raise UserInputError(f"--file {file}: file not found")
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as stream:
                stream.read(1)
        else:
            with file.open("rb") as stream:
                stream.read(1)
    except (gzip.BadGzipFile, EOFError) as exc:
        raise UserInputError(f"--file {file}: not a readable gzip file ({exc})") from None
    except OSError as exc:
        raise UserInputError(f"--file {file}: cannot read: {exc.strerror or exc}") from None


def reason_kind(reason: str) -> str:
    """Group bad rows by what is wrong, not by the offending value: drop trailing quoted values."""
    kind, removed = re.subn(r":\s*'[^']*'$", "", reason)
    if not removed:
        kind = re.sub(r" '[^']*'$", "", kind)
    return re.sub(r"\d+", "N", kind)


class RowAccounting(Generic[Record]):
    """Rows read, rows rejected by kind of reason, and the first few bad lines to show."""

    def __init__(self, file: Path, shown: int = SHOWN_BAD_ROWS) -> None:
        self.file = file
        self.shown = shown
        self.rows_read = 0
        self.rejected: Counter[str] = Counter()
        self.first_bad_rows: list[str] = []

    def take(self, line: int, item: Record | str) -> Record | None:
        """The record, or None for a bad row (counted). A bad header is the whole file's problem."""
        if line == 1 and isinstance(item, str):
            raise UserInputError(f"{self.file}: {item}")
        self.rows_read += 1
        if isinstance(item, str):
            self.rejected[reason_kind(item)] += 1
            if len(self.first_bad_rows) < self.shown:
                self.first_bad_rows.append(f"line {line}: {item}")
            return None
        return item

    def reject(self, reason: str, count: int) -> None:
        """Rows refused after reading (e.g. ticks outside the sessions, dropped by the bar pipeline)."""
        if count:
            self.rejected[reason] += count

    def print_first_rejected(self) -> None:
        for detail in self.first_bad_rows:
            print(f"  rejected {detail}")

    def rejected_summary(self) -> str:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.rejected.items())) or "none"
        return f"{sum(self.rejected.values())} rows rejected ({reasons})"


class BatchSaver(Generic[Record]):
    """Saves records in batches, one call per symbol: vnpy's database drivers update their overview (the
    bar count and range per symbol) from the first record of each call."""

    def __init__(self, save: Callable[[list[Record]], object], batch: int = SAVE_BATCH) -> None:
        self._save = save
        self._batch = batch
        self._pending: list[Record] = []
        self.written = 0

    def add(self, records) -> None:
        self._pending.extend(records)
        if len(self._pending) >= self._batch:
            self.flush()

    def flush(self) -> None:
        by_symbol: dict[str, list[Record]] = {}
        for record in self._pending:
            by_symbol.setdefault(record.symbol, []).append(record)
        for group in by_symbol.values():
            self._save(group)
            self.written += len(group)
        self._pending.clear()


class unreadable_file:
    """A file that turns out damaged half-way (a truncated .gz): one line, saying what was already saved."""

    def __init__(self, file: Path, saved_so_far: Callable[[], str]) -> None:
        self._file = file
        self._saved_so_far = saved_so_far

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _traceback) -> bool:
        if isinstance(error, (gzip.BadGzipFile, EOFError, OSError)):
            raise UserInputError(f"--file {self._file}: cannot read on: {error}; {self._saved_so_far()} "
                                 f"were saved before") from None
        return False


class progress_bar:
    """A progress bar over the file's rows, on a terminal only (tqdm disables itself elsewhere)."""

    def __init__(self, file: Path, enabled: bool) -> None:
        from tqdm import tqdm
        total = count_rows(file) if enabled else None
        self._bar = tqdm(total=total, unit="rows", desc=file.name, disable=None if enabled else True)

    def __enter__(self):
        return self._bar

    def __exit__(self, *exc_info) -> None:
        self._bar.close()


def count_rows(file: Path) -> int:
    """Data rows (lines after the header), read in 1 MiB chunks."""
    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "rb") as stream:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b"")) - 1, 0)
