"""The data rows of a CSV reader, as the tick and bar file readers take them."""
from __future__ import annotations

import csv
from collections.abc import Iterator


def data_rows(reader, width: int, skip_blank: bool = False) -> Iterator[tuple[int, list[str] | str]]:
    """Each row with its line number, or instead the reason it is not a data row: unreadable (a broken
    quote, bytes that are not text) or of another width than the header. A bad row never ends the file."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as error:
            yield reader.line_num, f"unreadable row: {error}"
            continue
        if skip_blank and (not row or (len(row) == 1 and not row[0].strip())):
            continue
        if len(row) != width:
            yield reader.line_num, f"expected {width} fields, found {len(row)}"
            continue
        yield reader.line_num, row
