"""Stream CTP-style tick snapshots from a CSV file (plain or .gz) as vnpy TickData.

Two layouts are read, told apart by their header.

The CTP snapshot layout of vnpy's old CSV samples (``cn_futures_ticks/RM705-2017-03-20.csv``):
``symbol,date,time,lastPrice`` (``date`` YYYYMMDD, ``time`` HH:MM:SS[.f], Asia/Shanghai),
``lastVolume`` (lots since the previous snapshot: the cumulative volume is their running
sum, unless a cumulative ``volume`` column is present), and when present ``bidPrice1``,
``askPrice1``, ``bidVolume1``, ``askVolume1``, ``openInterest``, ``turnover``,
``openPrice``, ``highPrice``, ``lowPrice``, ``preClosePrice``, ``upperLimit``,
``lowerLimit``. A ``symbol`` other than the requested one is a bad row.

The timestamp layout (``cn_futures_ticks/CFFEX_IF2101_tick_*.csv.gz``):

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

from src.strategy.infrastructure.csv_rows import data_rows
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE as CHINA_TZ

REQUIRED_COLUMNS = ("timestamp", "price", "total_volume")
SNAPSHOT_REQUIRED_COLUMNS = ("date", "time", "lastPrice")

# TickData field <- CSV column, for the optional numeric columns of the snapshot layout.
_SNAPSHOT_OPTIONAL_FIELDS = (
    ("turnover", "turnover"),
    ("open_interest", "openInterest"),
    ("open_price", "openPrice"),
    ("high_price", "highPrice"),
    ("low_price", "lowPrice"),
    ("pre_close", "preClosePrice"),
    ("limit_up", "upperLimit"),
    ("limit_down", "lowerLimit"),
    ("bid_price_1", "bidPrice1"),
    ("ask_price_1", "askPrice1"),
    ("bid_volume_1", "bidVolume1"),
    ("ask_volume_1", "askVolume1"),
)

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
        if all(name in columns for name in SNAPSHOT_REQUIRED_COLUMNS) and "timestamp" not in columns:
            yield from _snapshot_rows(reader, columns, len(header), symbol, exchange, gateway_name)
            return
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            yield 1, (f"missing required column(s): {', '.join(missing)} (or, for the CTP snapshot layout: "
                      f"{', '.join(SNAPSHOT_REQUIRED_COLUMNS)})")
            return
        timestamp_at = columns["timestamp"]
        price_at = columns["price"]
        total_volume_at = columns["total_volume"]
        code_at = columns.get("code")
        optional = tuple(
            (field, columns[column], column) for field, column in _OPTIONAL_FIELDS if column in columns
        )
        width = len(header)

        for line, row in data_rows(reader, width):
            if isinstance(row, str):
                yield line, row
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


def _parse_date_time(day: str, clock: str) -> datetime:
    """``20170320`` and ``09:00:00.5`` (fraction optional) in exchange time."""
    day, clock = day.strip(), clock.strip()
    whole, _, fraction = clock.partition(".")
    if len(day) != 8 or not day.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 6:
        raise ValueError(f"{day} {clock}")
    moment = datetime.strptime(f"{day} {whole}", "%Y%m%d %H:%M:%S")
    return moment.replace(microsecond=int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=CHINA_TZ)


def _snapshot_rows(reader, columns: dict[str, int], width: int, symbol: str, exchange: Exchange,
                   gateway_name: str) -> Iterator[TickRow]:
    date_at, time_at, price_at = columns["date"], columns["time"], columns["lastPrice"]
    symbol_at = columns.get("symbol")
    last_volume_at = columns.get("lastVolume")
    cumulative_at = columns.get("volume")
    optional = tuple((field, columns[column], column) for field, column in _SNAPSHOT_OPTIONAL_FIELDS
                     if column in columns)
    running_volume = 0.0
    for line, row in data_rows(reader, width):
        if isinstance(row, str):
            yield line, row
            continue
        if symbol_at is not None and row[symbol_at] and row[symbol_at] != symbol:
            yield line, f"symbol {row[symbol_at]!r} is not the requested symbol {symbol!r}"
            continue
        try:
            moment = _parse_date_time(row[date_at], row[time_at])
        except ValueError:
            yield line, f"unparsable date and time {row[date_at]!r} {row[time_at]!r}"
            continue
        values: dict[str, float] = {}
        bad_column = None
        for field, index, column in (("last_price", price_at, "lastPrice"),
                                     *((("last_volume", last_volume_at, "lastVolume"),) if last_volume_at is not None
                                       else ()),
                                     *((("volume", cumulative_at, "volume"),) if cumulative_at is not None else ()),
                                     *optional):
            text = row[index]
            if not text and field not in ("last_price",):
                continue
            try:
                values[field] = float(text)
            except ValueError:
                bad_column = column
                break
        if bad_column is not None:
            yield line, f"unparsable number in {bad_column!r}: {row[columns[bad_column]]!r}"
            continue
        if "volume" not in values:  # the cumulative volume is the running sum of the per-snapshot lots
            running_volume += values.get("last_volume", 0.0)
            values["volume"] = running_volume
        yield line, TickData(gateway_name=gateway_name, symbol=symbol, exchange=exchange, datetime=moment, **values)
