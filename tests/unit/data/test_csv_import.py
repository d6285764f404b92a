"""The row accounting and batched saves both CSV importers use."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from src.core.config.errors import UserInputError
from src.main.csv_import import BatchSaver, RowAccounting, reason_kind


@dataclass
class Record:
    symbol: str
    n: int


def test_bad_rows_are_counted_by_kind_and_the_first_ones_kept():
    rows = RowAccounting(Path("f.csv"), shown=2)
    taken = [rows.take(line, item) for line, item in
             ((2, Record("A", 1)), (3, "bad price: 'x'"), (4, "bad price: 'y'"), (5, "line has 3 fields"))]
    assert taken == [Record("A", 1), None, None, None]
    rows.reject("outside the sessions", 4)
    rows.reject("never counted", 0)
    assert rows.rows_read == 4
    assert rows.first_bad_rows == ["line 3: bad price: 'x'", "line 4: bad price: 'y'"]
    assert rows.rejected_summary() == ("7 rows rejected (bad price: 2, line has N fields: 1, "
                                       "outside the sessions: 4)")


def test_a_bad_header_stops_the_file_with_its_name():
    with pytest.raises(UserInputError, match=r"^f.csv: missing columns"):
        RowAccounting(Path("f.csv")).take(1, "missing columns: close")


def test_reason_kind_drops_the_value_and_the_numbers():
    assert reason_kind("bad price: '12.5x'") == "bad price"
    assert reason_kind("row 17 has 4 fields") == "row N has N fields"


def test_saves_come_in_batches_one_call_per_symbol():
    calls: list[list[Record]] = []
    saver = BatchSaver(lambda group: calls.append(list(group)), batch=3)
    saver.add([Record("A", 1), Record("B", 2)])
    assert calls == [] and saver.written == 0
    saver.add([Record("A", 3)])
    assert calls == [[Record("A", 1), Record("A", 3)], [Record("B", 2)]] and saver.written == 3
    saver.add([Record("B", 4)])
    saver.flush()
    saver.flush()
    assert calls[-1] == [Record("B", 4)] and len(calls) == 3 and saver.written == 4
