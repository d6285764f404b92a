"""``python -m src.datafeed.futu stats backfill|update|show|import-cboe``.

- backfill: fetch [--start, --end] in windows of at most a year, resuming after the last checkpoint;
- update: fetch, per market and type, what is missing up to the last published day (HK after 16:30
  HKT, US after 17:00 ET), for a scheduler or the daemon;
- show: print the last rows and write an offline plotly chart;
- import-cboe: load Cboe's put/call history files into the same table (market CBOE_TOTAL/EQUITY/INDEX).

Exit codes: 0 done, 1 OpenD or the database could not be used or a window kept failing (one line on
stderr), 2 bad input, 130 interrupted. Contexts are closed on every path.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from src.core.cli import OneLineArgumentParser, iso_date, positive_int, run_cli
from src.core.config.env_settings import load_dotenv_file
from src.core.config.errors import UserInputError
from src.datafeed.futu.connection import FutuConnectionError
from src.datafeed.futu.statistics import DATA_TYPES, MARKETS, parse_choice
from src.paths import DATA_DIR
from src.strategy.infrastructure.persistence.database_connection import DatabaseConnectionError
from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository

PROG = "python -m src.datafeed.futu"
EXIT_FAILED = 1
LOG = logging.getLogger("src.datafeed.futu")


def _choices(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> tuple[str, ...]:
        import argparse

        try:
            return parse_choice(text, allowed, what)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description="Futu option market statistics.")
    groups = parser.add_subparsers(dest="group", required=True, parser_class=OneLineArgumentParser)
    stats = groups.add_parser("stats", help="option market statistics (get_option_market_statistic)")
    commands = stats.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    def selection(command, several_markets: bool = True) -> None:
        command.add_argument("--market", required=True, type=_choices(MARKETS, "market"),
                             help=f"comma-separated: {', '.join(MARKETS)}" if several_markets else
                             f"one of {', '.join(MARKETS)} (or a stored key such as CBOE_EQUITY)")
        command.add_argument("--type", dest="data_types", default=DATA_TYPES, type=_choices(DATA_TYPES, "type"),
                             help=f"comma-separated: {', '.join(DATA_TYPES)} (default: both)")

    def fetching(command) -> None:
        command.add_argument("--margin", type=int, default=6,
                             help="first pages kept below Futu's 60 per 30 s (default 6, so at most 54)")
        command.add_argument("--max-attempts", type=positive_int, default=5,
                             help="tries of a window before the run stops (default 5)")

    backfill = commands.add_parser("backfill", help="fetch a span in windows of at most one year (resumable)")
    selection(backfill)
    backfill.add_argument("--start", required=True, type=iso_date, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", type=iso_date, help="last day (default: the last published day)")
    fetching(backfill)

    update = commands.add_parser("update", help="fetch what is missing up to the last published day")
    selection(update)
    update.add_argument("--start-if-empty", type=iso_date,
                        help="where to begin when nothing is stored yet (default: one year back)")
    fetching(update)

    show = commands.add_parser("show", help="print the stored rows and write an offline chart")
    show.add_argument("--market", required=True, help="a stored market key: US_INDEX, HK_INDEX, CBOE_EQUITY, ...")
    show.add_argument("--type", dest="data_type", default="VOLUME", type=str.upper,
                      help="VOLUME or OPEN_INTEREST (default VOLUME)")
    show.add_argument("--start", type=iso_date)
    show.add_argument("--end", type=iso_date)
    show.add_argument("--rows", type=positive_int, default=20, help="rows printed, newest first (default 20)")
    show.add_argument("--html", type=Path, help="chart file (default data/futu/<market>_<type>.html)")
    show.add_argument("--no-html", action="store_true", help="print the table only")

    cboe = commands.add_parser("import-cboe", help="load Cboe put/call history (totalpc/equitypc/indexpc.csv)")
    cboe.add_argument("files", nargs="+", type=Path, help="Cboe CSV files")
    return parser


def main(argv: Sequence[str] | None = None, now: datetime | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_dotenv_file()
    from src.datafeed.futu.settings import database_location_from_environment

    location = database_location_from_environment()
    try:
        with OptionMarketStatisticRepository.open(location) as repository:
            if args.command == "show":
                return _show(args, repository)
            if args.command == "import-cboe":
                return _import_cboe(args, repository)
            return _fetch(args, repository, now or datetime.now(ZoneInfo("UTC")))
    except (FutuConnectionError, DatabaseConnectionError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILED


def _fetch(args, repository: OptionMarketStatisticRepository, now: datetime) -> int:
    from src.datafeed.futu.backfill import BackfillReport, FetchFailedError, StatisticsBackfill
    from src.datafeed.futu.client import FutuStatisticsClient
    from src.datafeed.futu.governor import RateGovernor
    from src.datafeed.futu.market_calendar import last_published_day
    from src.datafeed.futu.settings import futu_settings_from_environment

    if not 0 <= args.margin < 60:
        raise UserInputError(f"--margin must be 0-59, got {args.margin}")
    settings = futu_settings_from_environment()
    try:
        ends = {market: getattr(args, "end", None) or last_published_day(market, now) for market in args.market}
    except ValueError as error:  # now outside the trading calendar
        raise UserInputError(str(error)) from None
    if args.command == "backfill":
        for market, end in ends.items():
            if end < args.start:
                raise UserInputError(f"--end {end} is before --start {args.start} for {market}")
    report = BackfillReport()
    with FutuStatisticsClient(settings) as client:
        service = StatisticsBackfill(client, repository, RateGovernor(margin=args.margin),
                                     max_attempts=args.max_attempts)
        try:
            if args.command == "backfill":
                for market, end in ends.items():
                    service.backfill([market], args.data_types, args.start, end, report)
            else:
                start_if_empty = args.start_if_empty or (now.date() - timedelta(days=365))
                report = service.update(args.market, args.data_types, now, start_if_empty)
        except FetchFailedError as error:
            _print_report(report, service)
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return EXIT_FAILED
    _print_report(report, service)
    return 0


def _print_report(report, service) -> None:
    for line in report.lines():
        print(line)
    governor = service.governor
    print(f"rate: peak {governor.peak_in_window} first pages in {governor.window_seconds:g} s "
          f"(limit {governor.limit}, allowed {governor.allowed}); waited {governor.waited_seconds:.1f} s")


def _show(args, repository: OptionMarketStatisticRepository) -> int:
    if args.start and args.end and args.end < args.start:
        raise UserInputError(f"--end {args.end} is before --start {args.start}")
    market, data_type = args.market.strip().upper(), args.data_type
    rows = repository.statistics(market, data_type, args.start, args.end)
    if not rows:
        known = ", ".join(f"{m} {t}" for m, t in repository.series_keys()) or "none"
        raise UserInputError(f"nothing stored for {market} {data_type} in that span (stored: {known})")
    from src.datafeed.futu.show import format_table, write_chart

    print(f"{market} {data_type}: {len(rows)} days, {rows[0].trade_date} .. {rows[-1].trade_date}")
    for line in format_table(rows, args.rows):
        print(line)
    if not args.no_html:
        path = args.html or DATA_DIR / "futu" / f"{market.lower()}_{data_type.lower()}.html"
        print(f"chart: {write_chart(rows, path, f'{market} {data_type} option statistics')}")
    return 0


def _import_cboe(args, repository: OptionMarketStatisticRepository) -> int:
    from src.datafeed.cboe_putcall import import_cboe_putcall

    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        raise UserInputError(f"no such file {', '.join(missing)}")
    try:
        results = import_cboe_putcall(repository, args.files)
    except ValueError as error:
        raise UserInputError(str(error)) from None
    for result in results:
        refused = ", ".join(f"{reason}: {count}" for reason, count in sorted(result.rejected.items())) or "none"
        print(f"{result.path.name}: {result.stored} days stored as {result.market} VOLUME "
              f"({result.first} .. {result.last}); refused {refused}")
    return 0


def run(argv: Sequence[str] | None = None) -> None:
    run_cli(main, argv, prog=PROG)


if __name__ == "__main__":
    run()
