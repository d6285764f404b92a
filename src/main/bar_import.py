"""``python -m src.main.data import-bars``: vendor bar CSVs into the configured database.

The column mapping comes from a small YAML file (``--layout``, keys of
``BarCsvLayout``), from flags, or both (flags win). Bad rows are counted by
reason and skipped; importing the same file again rewrites the same bars.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import yaml

from src.core.config.errors import UserInputError
from src.core.cli import non_negative_int, positive_number
from src.main.csv_import import BatchSaver, RowAccounting, progress_bar, unreadable_file
from src.strategy.infrastructure.bar_csv import BarCsvLayout, LayoutError, read_bar_csv
from vnpy.trader.constant import Exchange
from vnpy.trader.object import BarData

LAYOUT_FLAGS = ("bar_minutes", "label", "timezone", "price_scale", "datetime_column", "datetime_format",
                "date_column", "date_format", "time_column", "time_format", "delimiter")
COLUMN_KEYS = ("open", "high", "low", "close", "volume", "turnover", "open_interest")


def add_arguments(parser: argparse.ArgumentParser, exchange_argument) -> None:
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--exchange", type=exchange_argument, required=True)
    parser.add_argument("--layout", type=Path, help="YAML file with the column mapping (keys as the flags below)")
    parser.add_argument("--bar-minutes", type=non_negative_int, help="bar width in minutes; 0 = daily (default 1)")
    parser.add_argument("--label", choices=("start", "end"), help="bars labelled by their start or end time")
    parser.add_argument("--timezone", help="timezone of the times in the file (default Asia/Shanghai)")
    parser.add_argument("--price-scale", type=positive_number, help="prices in the file are divided by this")
    parser.add_argument("--datetime-column")
    parser.add_argument("--datetime-format", help="strptime format, e.g. '%%Y-%%m-%%d %%H:%%M' (default ISO 8601)")
    parser.add_argument("--date-column")
    parser.add_argument("--date-format", help="strptime format, e.g. '%%Y/%%m/%%d'")
    parser.add_argument("--time-column")
    parser.add_argument("--time-format", help="strptime format (default %%H:%%M:%%S)")
    parser.add_argument("--delimiter")
    parser.add_argument("--column", action="append", default=[], metavar="FIELD=NAME",
                        help=f"the file's column for a field ({', '.join(COLUMN_KEYS)}); repeatable")
    parser.add_argument("--main-contract-roll", type=non_negative_int, metavar="DAYS",
                        help="the file is a spliced main-contract series: store each day's bars under the dated "
                             "contract that is the front month with more than DAYS calendar days to expiry, else "
                             "the next month (IF1506, IF1507, ...); --symbol names the product")
    parser.add_argument("--no-session-check", action="store_true",
                        help="accept bars outside the product's trading sessions")
    parser.add_argument("--no-progress", action="store_true")


def layout_from_arguments(args: argparse.Namespace) -> BarCsvLayout:
    values: dict[str, object] = {}
    if args.layout is not None:
        values = load_layout_file(args.layout)
    where = str(args.layout) if args.layout is not None else "import-bars"
    try:
        layout = BarCsvLayout.from_mapping(values, where)
        overrides = {name: getattr(args, name) for name in LAYOUT_FLAGS}
        for item in args.column:
            key, sep, name = item.partition("=")
            key = key.strip()
            if not sep or key not in COLUMN_KEYS or not name.strip():
                raise LayoutError(f"--column {item!r}: expected FIELD=NAME with FIELD one of {', '.join(COLUMN_KEYS)}")
            overrides[key] = name.strip()
        if args.no_session_check:
            overrides["check_sessions"] = False
        return layout.with_overrides(**overrides)
    except LayoutError as error:
        raise UserInputError(str(error)) from None


def load_layout_file(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise UserInputError(f"{path}: layout file not found")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserInputError(f"{path}: not valid YAML{where}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise UserInputError(f"{path}: expected a mapping of layout keys, got {type(content).__name__}")
    return content


class MainContractSplitter:
    """Which dated contract a day of a spliced main-contract series is stored under.

    The front month (CFFEX expiry rules, exchange holidays) while it has more than
    ``roll_days`` calendar days to expiry, else the next month: the same eligibility rule
    as the strategy's BaseFutureSelector (``min_days_to_expiry`` = 5), so the backtest
    rolls on the day the labels change.
    """

    def __init__(self, product: str, roll_days: int) -> None:
        from src.core.contract.expiry_calculator import ExpiryCalculator
        from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

        self.product = product
        self.roll_days = roll_days
        self.expiry = ExpiryCalculator(load_cn_calendar())
        self._by_day: dict = {}

    def symbol(self, day) -> str:
        symbol = self._by_day.get(day)
        if symbol is None:
            from src.core.contract.contract_helper import ContractMonth

            month = self.expiry.front_month(self.product, day)
            if (self.expiry.expiry_date(self.product, month) - day).days <= self.roll_days:
                following = month.month % 12 + 1
                month = ContractMonth(month.year + (month.month == 12), following)
            symbol = self._by_day[day] = f"{self.product}{month.year % 100:02d}{month.month:02d}"
        return symbol


def import_bars(file: Path, symbol: str, exchange: Exchange, layout: BarCsvLayout, database, describe: str,
                progress: bool, main_contract_roll: int | None = None) -> int:
    """``file`` was checked (``check_input_file``) before the database was opened."""
    splitter = None
    if main_contract_roll is not None:
        import re

        product = re.match(r"[A-Za-z]*", symbol).group(0).upper()
        if exchange is not Exchange.CFFEX or product not in ("IF", "IH", "IC", "IM"):
            raise UserInputError(f"--main-contract-roll: only CFFEX index futures (IF, IH, IC, IM) are split, "
                                 f"not {symbol}.{exchange.value}")
        splitter = MainContractSplitter(product, main_contract_roll)
    contracts: set[str] = set()
    rows: RowAccounting[BarData] = RowAccounting(file)
    bars = BatchSaver(database.save_bar_data)
    days: set = set()
    first = last = None
    with unreadable_file(file, lambda: f"{bars.written} bars"), progress_bar(file, progress) as shown:
        for line, item in read_bar_csv(file, symbol, exchange, layout, gateway_name="IMPORT"):
            shown.update(1)
            bar = rows.take(line, item)
            if bar is None:
                continue
            if splitter is not None:
                bar = replace(bar, symbol=splitter.symbol(bar.datetime.date()))
                contracts.add(bar.symbol)
            days.add(bar.datetime.date())
            first = bar.datetime if first is None or bar.datetime < first else first
            last = bar.datetime if last is None or bar.datetime > last else last
            bars.add((bar,))  # after reading its time: vnpy's save makes a bar's datetime naive in place
        bars.flush()

    rows.print_first_rejected()
    if contracts:
        ordered = sorted(contracts, key=lambda name: name[len(name) - 4:])
        span_contracts = f" under {len(contracts)} contracts ({ordered[0]} .. {ordered[-1]})"
    else:
        span_contracts = ""
    span = f"{span_contracts} on {len(days)} days ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M})" if first is not None else ""
    print(f"{symbol}.{exchange.value} from {file}: {rows.rows_read} rows read, {bars.written} bars written{span} "
          f"({layout.describe()}, stored by their start as vnpy {layout.interval.value} bars), "
          f"{rows.rejected_summary()}; database: {describe}")
    return 0
