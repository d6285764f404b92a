"""``python -m src.backtesting.cli``: run the strategy over history and write the report.

Writes under data/backtesting/<run-id>/ (or --output-dir): summary.json, trades.csv,
chart.html and backtest.log, and prints the statistics table. The run id is the start
time in exchange time (Asia/Shanghai) to the millisecond, then the strategy name.

Flags, the configuration and the report folder are checked before vnpy and the
database are imported, so a mistake is reported in about a second. Ctrl+C stops the
run with exit code 130, an ``interrupted`` line in backtest.log and an
``INTERRUPTED`` file in the report folder.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, DEFAULT_TRADING_TARGET, load_strategy_config
from src.core.contract.trading_targets import load_tradable_targets
from src.core.config.errors import UserInputError
from src.core.cli import OneLineArgumentParser, iso_date, positive_number, run_cli
from src.paths import DATA_DIR

PROG = "python -m src.backtesting.cli"
EXIT_FAILED = 1
RUN_ID_TIMEZONE = ZoneInfo("Asia/Shanghai")
INTERRUPTED_MARK = "INTERRUPTED"
MAX_RUN_ID_SUFFIX = 1000
BAR_SECONDS = 60  # the backtest's time step: one 1-minute bar

logger = logging.getLogger("backtesting")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_STRATEGY_CONFIG)
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--trading-target", type=Path, default=DEFAULT_TRADING_TARGET)
    parser.add_argument("--start", type=iso_date, default=None,
                        help="first trading day (default: the first after the warm-up on the sample market from 2026-01-05)")
    parser.add_argument("--end", type=iso_date, default=None,
                        help="last trading day (default: the sample market's last, 2026-02-06)")
    parser.add_argument("--capital", type=positive_number, default=1_000_000.0)
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--sample-market", action="store_true",
                        help="create the synthetic sample market first when the database has none for the dates")
    parser.add_argument("--futures-only", action="store_true",
                        help="run without options (real futures history): signals and roll run, openings are refused")
    parser.add_argument("--fills", choices=("quotes", "vnpy"), default="quotes",
                        help="quotes: the quote-aware fill model (default); vnpy: vnpy's crossing at the next "
                             "bar's open, for comparison")
    parser.add_argument("--sample-quotes", choices=("fill", "check"), default=None,
                        help="the sample market's quote table (regenerated in memory, about 20 s): fill on it, "
                             "or only check the fills against it (far-touch fills)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    if args.start is not None and args.end is not None and args.start > args.end:
        raise UserInputError(f"--start {args.start} is after --end {args.end}")
    strategy_config = load_strategy_config(args.config, args.override_config)
    products = load_tradable_targets(args.trading_target)
    definition = strategy_config.strategies[0]
    # The database settings too, before a report folder is made for a run that cannot start.
    from src.core.database_location import check_database_settings, database_settings_from_environment

    check_database_settings(database_settings_from_environment())
    if args.output_dir is not None:
        output_dir = args.output_dir
        prepare_output_dir(output_dir)
    else:
        output_dir = new_run_folder(DATA_DIR / "backtesting", definition.strategy_name)

    from src.core.logging_setup import configure_logging

    configure_logging("INFO", log_file=output_dir / "backtest.log", console=False)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    logging.getLogger().addHandler(console)
    try:
        return _run(args, strategy_config, products, output_dir, started)
    except KeyboardInterrupt:
        mark_interrupted(output_dir, time.monotonic() - started)
        raise


def _run(args, strategy_config, products, output_dir: Path, started: float) -> int:
    # The heavy part (vnpy, pandas, plotly, the database drivers), once the input is known to be good.
    from src.backtesting.config import BacktestConfig
    from src.backtesting.runner import BacktestFailedError, BacktestRunner
    from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START, ensure_sample_market
    from src.core.database_factory import create_database, database_settings_from_environment

    start = args.start or DEFAULT_START
    end = args.end or DEFAULT_END
    backtest = BacktestConfig(start=start, end=end, capital=args.capital)
    settings = database_settings_from_environment()
    database = create_database(settings)
    if args.sample_market:
        print(f"Checking the sample market in {settings.describe()} ...", flush=True)
        if ensure_sample_market(database, start, end, where=settings.describe(),
                                report=lambda line: print(line, flush=True)):
            print(f"Created the synthetic sample market ({start} to {end}) "
                  f"in {time.monotonic() - started:.0f} s", flush=True)

    runner = BacktestRunner(strategy_config, products, backtest, database, args.config, args.override_config,
                            futures_only=args.futures_only, fills=args.fills, sample_quotes=args.sample_quotes)
    if args.start is None:  # the sample's first days are its warm-up: trade from the first day after it
        start = runner.first_day_after_warmup(DEFAULT_START)
        runner.backtest = backtest = BacktestConfig(start=start, end=end, capital=args.capital)
    try:
        result = runner.run(output_dir, progress_factory=None if args.no_progress else _progress_bar)
    except BacktestFailedError as exc:
        print(f"{PROG}: backtest failed: {exc}", file=sys.stderr)
        return EXIT_FAILED

    print(f"Data: {result.data_source}")
    warmup = f", after a warm-up from {result.warmup_start} (not traded)" if result.warmup_start else ""
    print(f"Period: {start} to {end}{warmup}")
    if result.trading_from is None:
        print(f"Warning: nothing was traded: the warm-up needs more trading days of bars than the database has "
              f"from {result.warmup_start} to {end}")
    elif result.trading_from > start:
        print(f"Warning: the database has no bars for part of the warm-up, so it used the first days of the "
              f"period and trading started on {result.trading_from}, not {start}")
    timeout = strategy_config.order_execution.timeout_seconds
    if timeout < BAR_SECONDS:
        print(f"Note: order_execution.timeout_seconds is {timeout:g}, shorter than a 1-minute bar: the backtest "
              f"sees no finer time, so each attempt met a whole minute of the market; live and in the paper "
              f"replay an attempt lasts {timeout:g} s and fills less often (README, \"Backtest and replay\")")
    print(result.statistics_table)
    print(f"\nReport: {result.output_dir}  (summary.json, trades.csv, chart.html, backtest.log)")
    print(f"Run time: {time.monotonic() - started:.1f} s")
    return 0


def run_id(strategy_name: str, now: datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-mmm-<strategy>``, the start in exchange time (Asia/Shanghai), to the millisecond."""
    moment = (now or datetime.now(RUN_ID_TIMEZONE)).astimezone(RUN_ID_TIMEZONE)
    return f"{moment:%Y%m%d-%H%M%S}-{moment.microsecond // 1000:03d}-{strategy_name}"


def new_run_folder(parent: Path, strategy_name: str, now: datetime | None = None) -> Path:
    """A folder no other run has: created exclusively, with ``-2``, ``-3``... when two runs share a millisecond."""
    base = run_id(strategy_name, now)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create the report folder {parent}: {exc.strerror or exc}") from None
    for attempt in range(1, MAX_RUN_ID_SUFFIX + 1):
        folder = parent / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserInputError(f"cannot create the report folder {folder}: {exc.strerror or exc}") from None
    raise UserInputError(f"{MAX_RUN_ID_SUFFIX} report folders named {base} already exist in {parent}")


def prepare_output_dir(path: Path) -> None:
    """The report folder, created and proven writable, or one line saying why it cannot be."""
    if path.exists() and not path.is_dir():
        raise UserInputError(f"--output-dir {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UserInputError(f"--output-dir {path}: cannot write there: {exc.strerror or exc}") from None


def mark_interrupted(output_dir: Path, elapsed: float) -> None:
    """Say in the log and in the folder itself that this report is incomplete."""
    logger.warning("interrupted (SIGINT) after %.1f s: the report in %s is incomplete", elapsed, output_dir)
    try:
        (output_dir / INTERRUPTED_MARK).write_text(
            f"interrupted (SIGINT) at {datetime.now(RUN_ID_TIMEZONE).isoformat(timespec='seconds')} after "
            f"{elapsed:.1f} s: the files here are incomplete\n", encoding="utf-8")
    except OSError:
        pass  # the log line above says it


def _progress_bar(total: int):
    from tqdm import tqdm
    return tqdm(total=total, unit="min", desc="backtest", disable=None, mininterval=0.5)


if __name__ == "__main__":
    run_cli(main, prog=PROG)
