"""``python -m src.backtesting.cli``: run the strategy over history and write the report.

Writes under data/backtesting/<run-id>/ (or --output-dir): summary.json, trades.csv,
chart.html and backtest.log, and prints the statistics table.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestFailedError, BacktestRunner
from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START, ensure_sample_market
from src.core.database_factory import create_database, database_settings_from_environment
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, DEFAULT_TRADING_TARGET, load_strategy_config
from src.core.contract.trading_targets import load_tradable_targets
from src.core.cli import OneLineArgumentParser, iso_date, positive_number, run_cli
from src.core.config.errors import UserInputError
from src.core.logging_setup import configure_logging
from src.paths import DATA_DIR

PROG = "python -m src.backtesting.cli"
EXIT_FAILED = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_STRATEGY_CONFIG)
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--trading-target", type=Path, default=DEFAULT_TRADING_TARGET)
    parser.add_argument("--start", type=iso_date, default=DEFAULT_START,
                        help=f"first trading day (default {DEFAULT_START}, the sample market's first)")
    parser.add_argument("--end", type=iso_date, default=DEFAULT_END, help=f"last trading day (default {DEFAULT_END})")
    parser.add_argument("--capital", type=positive_number, default=1_000_000.0)
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--sample-market", action="store_true",
                        help="create the synthetic sample market first when the database has none for the dates")
    parser.add_argument("--futures-only", action="store_true",
                        help="run without options (real futures history): signals and roll run, openings are refused")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    started = time.monotonic()
    strategy_config = load_strategy_config(args.config, args.override_config)
    products = load_tradable_targets(args.trading_target)
    backtest = BacktestConfig(start=args.start, end=args.end, capital=args.capital)
    definition = strategy_config.strategies[0]
    output_dir = args.output_dir or DATA_DIR / "backtesting" / \
        f"{datetime.now():%Y%m%d-%H%M%S}-{definition.strategy_name}"
    prepare_output_dir(output_dir)
    configure_logging("INFO", log_file=output_dir / "backtest.log", console=False)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    logging.getLogger().addHandler(console)

    settings = database_settings_from_environment()
    database = create_database(settings)
    if args.sample_market:
        print(f"Checking the sample market in {settings.describe()} ...", flush=True)
        if ensure_sample_market(database, args.start, args.end, where=settings.describe()):
            print(f"Created the synthetic sample market ({args.start} to {args.end}) "
                  f"in {time.monotonic() - started:.0f} s", flush=True)

    runner = BacktestRunner(strategy_config, products, backtest, database, args.config, args.override_config,
                            futures_only=args.futures_only)
    try:
        result = runner.run(output_dir, progress_factory=None if args.no_progress else _progress_bar)
    except BacktestFailedError as exc:
        print(f"{PROG}: backtest failed: {exc}", file=sys.stderr)
        return EXIT_FAILED

    print(f"Data: {result.data_source}")
    print(f"Period: {args.start} to {args.end} (vnpy's daily results below also cover the warm-up days)")
    print(result.statistics_table)
    print(f"\nReport: {result.output_dir}  (summary.json, trades.csv, chart.html, backtest.log)")
    print(f"Run time: {time.monotonic() - started:.1f} s")
    return 0


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


def _progress_bar(total: int):
    from tqdm import tqdm
    return tqdm(total=total, unit="min", desc="backtest", disable=None, mininterval=0.5)


if __name__ == "__main__":
    run_cli(main, prog=PROG)
