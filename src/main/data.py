"""``python -m src.main.data``: bring your own history into the database, and read it back.

  import-ticks --file F --symbol IF2101 --exchange CFFEX [--save-ticks]
      Reads a CTP-style tick CSV (plain or .gz), builds session-aware 1-minute bars
      with BarPipeline and saves them (and, with --save-ticks, the ticks) to the
      configured database. Bad rows are counted by reason and reported at the end;
      they never stop the import. Importing the same file twice leaves the same bars.

  import-bars --file F --symbol IF888 --exchange CFFEX [--layout L.yaml] [--bar-minutes 5 --label end ...]
      Reads a vendor bar CSV (1-minute, N-minute, hourly or daily) with a column
      mapping from a YAML layout and/or flags, moves end-labelled bars to their
      start, checks each bar against the product's sessions and saves the good
      ones. Bad rows are counted by reason; re-importing rewrites the same bars.

  download --source tushare|akshare --symbols IO2602-C-4600.CFFEX,... --start D --end D [--interval d|1m]
      Bars from a vendor through vnpy's datafeed interface, in date chunks written
      whole and remembered in a journal (a second run resumes); a vendor error is
      one line naming the contract and the dates, exit 2.

  export-bars --symbol IF2101 --exchange CFFEX --window 15 [--interval MINUTE|HOUR]
              [--start D] [--end D] --out F.csv
      Writes the bars BarPipeline builds from the stored 1-minute bars:
      datetime,open,high,low,close,volume,turnover,open_interest (datetime in
      exchange local time, ISO 8601 with its offset).
"""
from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from src.main import bar_import, download_command
from src.main.csv_import import BatchSaver, RowAccounting, check_input_file, progress_bar, unreadable_file
from src.core.cli import OneLineArgumentParser, iso_date, positive_int, run_cli
from src.core.config.errors import UserInputError

if TYPE_CHECKING:  # imported when needed: flags are checked before vnpy and the database load
    from vnpy.trader.constant import Exchange, Interval
    from vnpy.trader.object import BarData, TickData

PROG = "python -m src.main.data"
EXPORT_COLUMNS = ("datetime", "open", "high", "low", "close", "volume", "turnover", "open_interest")
EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 1, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description="Import ticks or bars and export bars.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    importer = commands.add_parser("import-ticks", help="tick CSV -> 1-minute bars in the database")
    importer.add_argument("--file", type=Path, required=True)
    importer.add_argument("--symbol", required=True)
    importer.add_argument("--exchange", type=exchange_argument, required=True)
    importer.add_argument("--save-ticks", action="store_true", help="also store the ticks themselves")
    importer.add_argument("--no-progress", action="store_true")

    bar_importer = commands.add_parser("import-bars", help="vendor bar CSV -> bars in the database")
    bar_import.add_arguments(bar_importer, exchange_argument)

    downloader = commands.add_parser("download", help="bars from Tushare or AKShare (vnpy datafeed)")
    download_command.add_arguments(downloader)

    exporter = commands.add_parser("export-bars", help="stored 1-minute bars -> N-minute/hour bars CSV")
    exporter.add_argument("--symbol", required=True)
    exporter.add_argument("--exchange", type=exchange_argument, required=True)
    exporter.add_argument("--window", type=positive_int, default=1)
    exporter.add_argument("--interval", choices=("MINUTE", "HOUR"), default="MINUTE")
    exporter.add_argument("--start", type=iso_date, default=EARLIEST)
    exporter.add_argument("--end", type=iso_date, default=LATEST)
    exporter.add_argument("--out", type=Path, required=True)

    args = parser.parse_args(argv)
    from vnpy.trader.constant import Interval

    if args.command == "import-ticks":
        return import_ticks(args.file, args.symbol, args.exchange, args.save_ticks, not args.no_progress)
    if args.command == "import-bars":
        layout = bar_import.layout_from_arguments(args)
        check_input_file(args.file)
        from src.core.database_factory import create_database, database_settings_from_environment

        settings = database_settings_from_environment()
        return bar_import.import_bars(args.file, args.symbol, args.exchange, layout, create_database(settings),
                                      settings.describe(), not args.no_progress, args.main_contract_roll)
    if args.command == "download":
        def open_database():
            from src.core.database_factory import create_database, database_settings_from_environment

            settings = database_settings_from_environment()
            return create_database(settings), settings.describe()
        return download_command.run(args, open_database)
    return export_bars(args.symbol, args.exchange, args.window, Interval[args.interval],
                       args.start, args.end, args.out)


def exchange_argument(text: str) -> Exchange:
    from vnpy.trader.constant import Exchange

    try:
        return Exchange(text.upper())
    except ValueError:
        import argparse
        known = ", ".join(e.value for e in (Exchange.CFFEX, Exchange.SHFE, Exchange.DCE, Exchange.CZCE,
                                            Exchange.INE, Exchange.GFEX, Exchange.SSE, Exchange.SZSE))
        raise argparse.ArgumentTypeError(f"unknown exchange {text!r} (for example: {known})") from None


def import_ticks(file: Path, symbol: str, exchange: Exchange, save_ticks: bool, progress: bool) -> int:
    check_input_file(file)
    from vnpy.trader.constant import Interval

    from src.core.database_factory import create_database, database_settings_from_environment
    from src.strategy.infrastructure.bar_pipeline import BarPipeline
    from src.strategy.infrastructure.tick_csv import read_ctp_tick_csv

    settings = database_settings_from_environment()
    database = create_database(settings)
    pipeline = BarPipeline(window=1, interval=Interval.MINUTE)
    rows: RowAccounting[TickData] = RowAccounting(file)
    bars = BatchSaver(database.save_bar_data)
    ticks = BatchSaver(database.save_tick_data)

    with unreadable_file(file, lambda: f"{bars.written} 1-minute bars"), progress_bar(file, progress) as shown:
        for line, item in read_ctp_tick_csv(file, symbol, exchange, gateway_name="IMPORT"):
            shown.update(1)
            tick = rows.take(line, item)
            if tick is None:
                continue
            bars.add(pipeline.update_tick(tick))
            if save_ticks:
                ticks.add((tick,))
        bars.add(pipeline.flush())
        bars.flush()
        ticks.flush()

    for reason, count in pipeline.stats.ticks_discarded.items():
        rows.reject(reason.value.replace("_", " "), count)
    rows.print_first_rejected()
    tick_part = f", {ticks.written} ticks written" if save_ticks else ""
    print(f"{symbol}.{exchange.value} from {file}: {rows.rows_read} rows read, {bars.written} 1-minute bars "
          f"written{tick_part}, {rows.rejected_summary()}; database: {settings.describe()}")
    return 0


def export_bars(symbol: str, exchange: Exchange, window: int, interval: Interval,
                start: date, end: date, out: Path) -> int:
    if start > end:
        raise UserInputError(f"--start {start} is after --end {end}")
    check_output_file(out)
    from vnpy.trader.constant import Interval

    from src.core.database_factory import create_database, database_settings_from_environment
    from src.strategy.infrastructure.bar_pipeline import BarPipeline

    settings = database_settings_from_environment()
    database = create_database(settings)
    minute_bars = database.load_bar_data(symbol, exchange, Interval.MINUTE,
                                         datetime.combine(start, time.min), datetime.combine(end, time.max))
    if not minute_bars:
        raise UserInputError(
            f"no 1-minute bars of {symbol}.{exchange.value} between {start} and {end} in {settings.describe()}; "
            f"import them with: {PROG} import-ticks --file F --symbol {symbol} --exchange {exchange.value}")
    pipeline = BarPipeline(window=window, interval=interval)
    window_bars: list[BarData] = []
    for bar in minute_bars:
        window_bars.extend(pipeline.update_bar(bar))
    window_bars.extend(pipeline.flush())
    try:
        with out.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(EXPORT_COLUMNS)
            for bar in window_bars:
                writer.writerow((bar.datetime.isoformat(), bar.open_price, bar.high_price, bar.low_price,
                                 bar.close_price, bar.volume, bar.turnover, bar.open_interest))
    except OSError as exc:  # the disk filled up, the folder went away
        raise UserInputError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    unit = "minute" if interval == Interval.MINUTE else "hour"
    discarded = pipeline.stats.bars_discarded_total
    print(f"{symbol}.{exchange.value}: {len(window_bars)} {window}-{unit} bars from {len(minute_bars)} "
          f"1-minute bars written to {out}" + (f" ({discarded} 1-minute bars discarded)" if discarded else ""))
    return 0


def check_output_file(out: Path) -> None:
    """``--out`` can be written: its folder exists or can be made, and it is not a folder itself."""
    if out.is_dir():
        raise UserInputError(f"--out {out}: is a folder; give a file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise UserInputError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None


if __name__ == "__main__":
    run_cli(main, prog=PROG)
