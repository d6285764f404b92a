"""Stream CTP-style tick snapshots from a CSV file (plain or .gz) as vnpy TickData.

Expected columns (the layout of ``cn_futures_ticks/CFFEX_IF2101_tick_*.csv.gz``):

- required: ``timestamp`` (ISO 8601; with an offset it is converted to
  Asia/Shanghai, without one it is taken as Asia/Shanghai), ``price`` (last
  price), ``total_volume`` (cumulative lots of the trading day);
- optional, 0 when absent or empty: ``total_turnover``, ``open_interest``,
  ``open``, ``high``, ``low``, ``pre_close``, ``upper_limit``, ``lower_limit``,
  ``volume`` (lots since the previous snapshot), ``bid_price1``, ``ask_price1``,
  ``bid_qty1``, ``ask_qty1``;
- ``code``: when present and not empty it must equal the requested symbol.

TickData.volume and TickData.turnover receive the *cumulative* fields, as CTP
gateways fill them; ``last_volume`` receives the per-snapshot ``volume``.

The reader only parses: a row that cannot be parsed is reported with a reason
and reading goes on. Plausibility (positive prices, ordering, sessions) is the
BarPipeline's business.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from vnpy.trader.constant import Exchange
from vnpy.trader.object import TickData

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE as CHINA_TZ

REQUIRED_COLUMNS = ("timestamp", "price", "total_volume")

# TickData field <- CSV column, for the optional numeric columns.
_OPTIONAL_FIELDS = (
    ("turnover", "total_turnover"),
    ("open_interest", "open_interest"),
    ("last_volume", "volume"),
    ("open_price", "open"),
    ("high_price", "high"),
    ("low_price", "low"),
    ("pre_close", "pre_close"),
    ("limit_up", "upper_limit"),
    ("limit_down", "lower_limit"),
    ("bid_price_1", "bid_price1"),
    ("ask_price_1", "ask_price1"),
    ("bid_volume_1", "bid_qty1"),
    ("ask_volume_1", "ask_qty1"),
)

TickRow = tuple[int, TickData | str]


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA_TZ)
    return moment.astimezone(CHINA_TZ)


def read_ctp_tick_csv(
    path: str | Path, symbol: str, exchange: Exchange, *, gateway_name: str = "CSV"
) -> Iterator[TickRow]:
    """Yield ``(line_number, TickData)`` per parsed row or ``(line_number, reason)`` per bad row.

    ``line_number`` is the row's line in the file (the header is line 1). A header
    without the required columns yields one reason for line 1 and nothing else.
    Opening the file is the only thing that raises (missing file, unreadable gzip).
    """
    if not isinstance(exchange, Exchange):
        raise TypeError(f"exchange must be a vnpy Exchange, got {exchange!r}")
    path = Path(path)
    with _open_text(path) as stream:
        reader = csv.reader(stream)
        try:
            header = next(reader)
        except StopIteration:
            yield 1, "empty file: no header"
            return
        except (csv.Error, UnicodeDecodeError) as error:
            yield 1, f"unreadable header: {error}"
            return
        columns = {name.strip(): index for index, name in enumerate(header)}
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            yield 1, f"missing required column(s): {', '.join(missing)}"
            return
        timestamp_at = columns["timestamp"]
        price_at = columns["price"]
        total_volume_at = columns["total_volume"]
        code_at = columns.get("code")
        optional = tuple(
            (field, columns[column], column) for field, column in _OPTIONAL_FIELDS if column in columns
        )
        width = len(header)

        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                yield reader.line_num, f"unreadable row: {error}"
                continue
            line = reader.line_num
            if len(row) != width:
                yield line, f"expected {width} fields, found {len(row)}"
                continue
            if code_at is not None and row[code_at] and row[code_at] != symbol:
                yield line, f"code {row[code_at]!r} is not the requested symbol {symbol!r}"
                continue
            try:
                moment = _parse_timestamp(row[timestamp_at])
            except ValueError:
                yield line, f"unparsable timestamp {row[timestamp_at]!r}"
                continue
            try:
                last_price = float(row[price_at])
            except ValueError:
                yield line, f"unparsable number in 'price': {row[price_at]!r}"
                continue
            try:
                total_volume = float(row[total_volume_at])
            except ValueError:
                yield line, f"unparsable number in 'total_volume': {row[total_volume_at]!r}"
                continue
            values: dict[str, float] = {}
            bad_column = None
            for field, index, column in optional:
                text = row[index]
                if not text:
                    continue
                try:
                    values[field] = float(text)
                except ValueError:
                    bad_column = column
                    break
            if bad_column is not None:
                yield line, f"unparsable number in {bad_column!r}: {row[columns[bad_column]]!r}"
                continue
            yield (
                line,
                TickData(
                    gateway_name=gateway_name,
                    symbol=symbol,
                    exchange=exchange,
                    datetime=moment,
                    last_price=last_price,
                    volume=total_volume,
                    **values,
                ),
            )
