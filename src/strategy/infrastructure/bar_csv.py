"""Stream vendor bar CSVs (1-minute, N-minute, hourly, daily; plain or .gz) as vnpy BarData.

Vendors disagree on almost everything, so a ``BarCsvLayout`` says how to read a file:

- where the time is: one ``datetime`` column, or a ``date`` and a ``time`` column,
  each with a ``strptime`` format (ISO 8601 when no format is given);
- which column holds open, high, low, close, volume and, optionally, turnover and
  open interest (header names are compared after stripping blanks and ``<>``, so
  ``<Open>`` matches ``open``);
- how wide a bar is (``bar_minutes``; 0 for daily bars);
- whether a bar is labelled by its start (vnpy's convention) or by its end
  (most Chinese vendors: the 09:35 bar covers 09:30-09:35); end-labelled bars are
  moved to their start;
- the timezone of the times in the file (converted to Asia/Shanghai);
- a price scale: prices in the file divided by it (10000 for integer prices in
  ten-thousandths).

Every row is checked: unparsable fields, non-positive or non-finite prices, high
below the body or low above it, negative volume, a bar that does not lie inside
one trading session of the product (``trading_session.py``), and a second bar
for a time already read are reported with a reason, and reading goes on.

vnpy knows only 1-minute, 1-hour and daily intervals. N-minute bars of another
width are stored under ``Interval.MINUTE`` at their start time: keep them under
their own symbol (for example ``IF888`` for a 5-minute main-contract series), never
mixed with 1-minute bars of the same symbol.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData

from src.strategy.infrastructure.csv_rows import data_rows
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE, EXCHANGE_TIMEZONE_NAME
from src.strategy.domain.value_object.trading_session import CHINA_TRADING_SESSIONS, SessionPhase

LABELS = ("start", "end")
PRICE_FIELDS = ("open", "high", "low", "close")
REQUIRED_FIELDS = (*PRICE_FIELDS, "volume")
OPTIONAL_FIELDS = ("turnover", "open_interest")

BarRow = tuple[int, BarData | str]


class LayoutError(ValueError):
    """The layout itself is wrong (unknown key, bad value): the user's mistake, one line."""


@dataclass(frozen=True)
class BarCsvLayout:
    """How to read one vendor's bar file. Column names are the file's header names."""

    bar_minutes: int = 1
    label: str = "start"
    timezone: str = EXCHANGE_TIMEZONE_NAME
    price_scale: float = 1.0
    datetime_column: str | None = None
    datetime_format: str | None = None
    date_column: str | None = None
    date_format: str | None = None
    time_column: str | None = None
    time_format: str | None = None
    open: str = "open"
    high: str = "high"
    low: str = "low"
    close: str = "close"
    volume: str = "volume"
    turnover: str | None = None
    open_interest: str | None = None
    delimiter: str = ","
    check_sessions: bool = True
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.bar_minutes, bool) or not isinstance(self.bar_minutes, int) or self.bar_minutes < 0:
            raise LayoutError(f"bar_minutes: expected a whole number >= 0 (0 = daily), got {self.bar_minutes!r}")
        if self.label not in LABELS:
            raise LayoutError(f"label: expected 'start' or 'end', got {self.label!r}")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise LayoutError(f"timezone: unknown timezone {self.timezone!r}") from None
        object.__setattr__(self, "_zone", zone)
        if isinstance(self.price_scale, bool) or not isinstance(self.price_scale, (int, float)) \
                or not math.isfinite(self.price_scale) or self.price_scale <= 0:
            raise LayoutError(f"price_scale: expected a positive number, got {self.price_scale!r}")
        if self.datetime_column is None and self.date_column is None:
            object.__setattr__(self, "datetime_column", "datetime")
        if self.datetime_column is not None and (self.date_column or self.time_column):
            raise LayoutError("give either datetime_column or date_column (+ time_column), not both")
        if self.bar_minutes and self.date_column is not None and self.time_column is None:
            raise LayoutError("time_column: intraday bars need a time column next to date_column")
        if len(self.delimiter) != 1:
            raise LayoutError(f"delimiter: expected one character, got {self.delimiter!r}")

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def interval(self) -> Interval:
        if self.bar_minutes == 0:
            return Interval.DAILY
        if self.bar_minutes == 60:
            return Interval.HOUR
        return Interval.MINUTE

    def describe(self) -> str:
        width = "daily" if self.bar_minutes == 0 else f"{self.bar_minutes}-minute"
        return f"{width} bars labelled by their {self.label}"

    @classmethod
    def from_mapping(cls, values: Mapping[str, object], where: str = "layout") -> "BarCsvLayout":
        """A layout from a mapping (a YAML file's content); unknown keys are refused by name."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LayoutError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        try:
            return cls(**dict(values))
        except LayoutError as error:
            raise LayoutError(f"{where}: {error}") from None
        except TypeError as error:
            raise LayoutError(f"{where}: {error}") from None

    def with_overrides(self, **overrides: object) -> "BarCsvLayout":
        """This layout with the given keys replaced (None values are ignored)."""
        chosen = {key: value for key, value in overrides.items() if value is not None}
        if self.date_column is not None and chosen.get("datetime_column"):
            chosen.setdefault("date_column", None)
            chosen.setdefault("time_column", None)
        if self.datetime_column is not None and chosen.get("date_column"):
            chosen.setdefault("datetime_column", None)
        try:
            return replace(self, **chosen)
        except TypeError as error:
            raise LayoutError(str(error)) from None


def _normalise(name: str) -> str:
    return name.strip().strip("<>").strip().lower()


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _parse_moment(text: str, fmt: str | None) -> datetime:
    text = text.strip()
    if fmt is None:
        return datetime.fromisoformat(text)
    return datetime.strptime(text, fmt)


class _SessionCheck:
    """Whether a bar [start, start + width) lies inside one continuous session of its product."""

    def __init__(self, exchange: Exchange, symbol: str, bar_minutes: int) -> None:
        self.bar_minutes = bar_minutes
        try:
            schedule = CHINA_TRADING_SESSIONS.schedule_for_symbol(exchange.value, symbol)
        except ValueError:
            schedule = None
        self.table = schedule.minute_table if schedule is not None else None

    def inside(self, start: datetime) -> bool:
        if self.table is None or self.bar_minutes == 0:
            return True
        minute = start.hour * 60 + start.minute
        first = self.table[minute]
        if first is None or first.phase is not SessionPhase.CONTINUOUS:
            return False
        last = self.table[(minute + self.bar_minutes - 1) % (24 * 60)]
        return (last is not None and last.phase is SessionPhase.CONTINUOUS
                and last.session_index == first.session_index)


def read_bar_csv(path: str | Path, symbol: str, exchange: Exchange, layout: BarCsvLayout,
                 *, gateway_name: str = "CSV") -> Iterator[BarRow]:
    """Yield ``(line_number, BarData)`` per good row or ``(line_number, reason)`` per bad one.

    The header is line 1. A header without the layout's columns yields one reason
    for line 1 and nothing else. Opening the file is the only thing that raises.
    Bars come out start-labelled, in Asia/Shanghai, prices divided by the scale.
    """
    if not isinstance(exchange, Exchange):
        raise TypeError(f"exchange must be a vnpy Exchange, got {exchange!r}")
    path = Path(path)
    interval = layout.interval
    shift = timedelta(minutes=layout.bar_minutes) if layout.label == "end" else timedelta(0)
    sessions = _SessionCheck(exchange, symbol, layout.bar_minutes) if layout.check_sessions else None
    scale = float(layout.price_scale)
    seen: set[datetime] = set()
    with _open_text(path) as stream:
        reader = csv.reader(stream, delimiter=layout.delimiter, skipinitialspace=True)
        try:
            header = next(reader)
        except StopIteration:
            yield 1, "empty file: no header"
            return
        except (csv.Error, UnicodeDecodeError) as error:
            yield 1, f"unreadable header: {error}"
            return
        columns = {_normalise(name): index for index, name in enumerate(header)}
        wanted: dict[str, str | None] = {
            "datetime": layout.datetime_column, "date": layout.date_column, "time": layout.time_column,
            **{name: getattr(layout, name) for name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)},
        }
        missing = [column for column in wanted.values() if column is not None and _normalise(column) not in columns]
        if missing:
            yield 1, (f"missing column(s): {', '.join(missing)} (the header has: "
                      f"{', '.join(name.strip() for name in header)})")
            return
        at = {key: columns[_normalise(column)] for key, column in wanted.items() if column is not None}
        width = len(header)

        for line, row in data_rows(reader, width, skip_blank=True):
            if isinstance(row, str):
                yield line, row
                continue
            try:
                if "datetime" in at:
                    moment = _parse_moment(row[at["datetime"]], layout.datetime_format)
                else:
                    day = _parse_moment(row[at["date"]], layout.date_format)
                    if "time" in at:
                        clock = _parse_moment(row[at["time"]], layout.time_format or "%H:%M:%S").time()
                        moment = datetime.combine(day.date(), clock)
                    else:
                        moment = day
            except ValueError:
                shown = row[at["datetime"]] if "datetime" in at else " ".join(
                    row[at[key]] for key in ("date", "time") if key in at)
                yield line, f"unparsable time {shown.strip()!r}"
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=layout.zone)
            if interval is Interval.DAILY:
                local = moment.astimezone(layout.zone)
                moment = datetime(local.year, local.month, local.day, tzinfo=EXCHANGE_TIMEZONE)
            else:
                moment = (moment - shift).astimezone(EXCHANGE_TIMEZONE)
                if moment.second or moment.microsecond:
                    yield line, "time not on a whole minute"
                    continue
            values: dict[str, float] = {}
            bad = None
            for name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
                if name not in at:
                    continue
                text = row[at[name]].strip()
                if not text and name in OPTIONAL_FIELDS:
                    continue
                try:
                    values[name] = float(text)
                except ValueError:
                    bad = name
                    break
            if bad is not None:
                yield line, f"unparsable number in {bad!r}: {row[at[bad]].strip()!r}"
                continue
            prices = [values[name] / scale for name in PRICE_FIELDS]
            if not all(math.isfinite(price) and price > 0 for price in prices):
                yield line, "invalid price"
                continue
            open_price, high, low, close = prices
            if high < max(open_price, close, low) or low > min(open_price, close):
                yield line, "inconsistent OHLC"
                continue
            volume = values["volume"]
            turnover = values.get("turnover", 0.0)
            open_interest = values.get("open_interest", 0.0)
            if not all(math.isfinite(v) and v >= 0 for v in (volume, turnover, open_interest)):
                yield line, "negative or non-finite volume"
                continue
            if sessions is not None and not sessions.inside(moment):
                yield line, "outside session"
                continue
            if moment in seen:
                yield line, "duplicate bar time"
                continue
            seen.add(moment)
            yield line, BarData(
                gateway_name=gateway_name, symbol=symbol, exchange=exchange, datetime=moment,
                interval=interval, open_price=open_price, high_price=high, low_price=low, close_price=close,
                volume=volume, turnover=turnover, open_interest=open_interest,
            )
