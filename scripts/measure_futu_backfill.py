"""Figures for the Futu option-statistics pipeline, against the local OpenD with the real futu-api client.

1. A 3-year backfill of two markets x two data types: requests, pages, time, the governor's peak rate
   against Futu's limit, limit errors.
2. The governor under pressure (4 markets x 2 types x 12 years = 96 first pages, the real 60 per 30 s),
   beside the same backfill without the governor in the same process (reference).
3. Resumption after kill -9: the CLI killed mid-backfill, run again; gaps and duplicates counted.
4. The checks' counts on a deliberately corrupted page.

    .venv/bin/python scripts/measure_futu_backfill.py [--folder ../shared/data/cboe_putcall_ratios] [--skip-pressure]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
FUTU_HOME = Path(tempfile.mkdtemp(prefix="futu-measure-home-"))
_home = os.environ.get("HOME")
os.environ["HOME"] = str(FUTU_HOME)  # futu-api picks its log folder when imported
import futu  # noqa: E402,F401

if _home is not None:
    os.environ["HOME"] = _home

from src.datafeed.futu.backfill import StatisticsBackfill  # noqa: E402
from src.datafeed.futu.client import FutuConnectionSettings, FutuStatisticsClient  # noqa: E402
from src.datafeed.futu.governor import Backoff, RateGovernor  # noqa: E402
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation  # noqa: E402
from src.strategy.infrastructure.persistence.option_market_statistics import (  # noqa: E402
    OptionMarketStatisticRepository,
)
from tests.integration.datafeed.futu.cboe_series import cboe_series  # noqa: E402
from tests.integration.datafeed.futu.local_opend import CORRUPTIONS, LocalOpenD  # noqa: E402

TYPES = ("VOLUME", "OPEN_INTEREST")
CODES = {"US_SECURITY": 1, "US_INDEX": 2, "HK_SECURITY": 3, "HK_INDEX": 4, "VOLUME": 0, "OPEN_INTEREST": 1}
START, END = date(2016, 1, 1), date(2018, 12, 31)


def expected_days(series, markets, start, end) -> int:
    return sum(1 for m in markets for t in TYPES for p in series[(CODES[m], CODES[t])] if start <= p.trade_date <= end)


def client(port: int) -> FutuStatisticsClient:
    return FutuStatisticsClient(FutuConnectionSettings(port=port, connect_timeout_seconds=5,
                                                       request_timeout_seconds=12, reconnect_interval_seconds=1))


def backfill_run(series, folder: Path, markets, start, end, governor, label, backoff=None, page_size=60):
    repository = OptionMarketStatisticRepository.open(DatabaseLocation.sqlite(folder / f"{label}.db"))
    with LocalOpenD(series, page_size=page_size) as opend, client(opend.port) as futu_client:
        service = StatisticsBackfill(futu_client, repository, governor, backoff or Backoff(), max_attempts=20,
                                     progress=False)
        started = time.perf_counter()
        report = service.backfill(markets, TYPES, start, end)
        elapsed = time.perf_counter() - started
    duplicates = repository.duplicate_keys()
    repository.close()
    return report, elapsed, opend, duplicates


def section_backfill(series, folder: Path) -> None:
    markets = ("US_INDEX", "HK_INDEX")
    governor = RateGovernor()
    report, elapsed, opend, duplicates = backfill_run(series, folder, markets, START, END, governor, "three_years")
    print(f"\n1. backfill {START}..{END}, {' + '.join(markets)} x {' + '.join(TYPES)} (pages of 60 rows)")
    print(f"   requests sent {report.requests} = {report.first_pages} first pages + "
          f"{report.requests - report.first_pages} later pages; pages answered {report.pages}; "
          f"windows {report.windows_fetched}")
    print(f"   rows stored {report.rows_stored} (expected {expected_days(series, markets, START, END)}), "
          f"duplicates {duplicates}, refused {sum(report.rejected.values())}")
    print(f"   time {elapsed:.2f} s ({report.requests / elapsed:.0f} requests/s)")
    print(f"   governor peak {governor.peak_in_window} first pages in {governor.window_seconds:g} s "
          f"(allowed {governor.allowed}, Futu limit {governor.limit}); server saw at most "
          f"{opend.first_pages_in_any_window()} in any 30 s; limit errors {opend.stats.limit_errors}")


def section_pressure(series, folder: Path) -> None:
    markets = ("US_SECURITY", "US_INDEX", "HK_SECURITY", "HK_INDEX")
    start, end = date(2007, 1, 1), date(2018, 12, 31)
    print(f"\n2. pressure: {len(markets)} markets x 2 types x 12 years = 96 first pages, Futu's 60 per 30 s "
          f"(pages of 300 rows)")
    for label, governor in (("governed (ours)", RateGovernor()),
                            ("reference, no governor", RateGovernor(limit=10 ** 6, margin=0))):
        report, elapsed, opend, duplicates = backfill_run(
            series, folder, markets, start, end, governor, label.split()[0].strip(","), page_size=300)
        print(f"   {label:<24} time {elapsed:6.1f} s; first pages accepted {opend.stats.first_pages}, "
              f"limit errors {opend.stats.limit_errors}, window retries {report.retries}; server peak "
              f"{opend.first_pages_in_any_window()} in any 30 s; governor waited {governor.waited_seconds:.1f} s; "
              f"rows {report.rows_stored}, duplicates {duplicates}")


def checkpoints(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM option_market_statistic_checkpoint").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def cli(port: int, database: Path, markets) -> list[str]:
    return [sys.executable, "-m", "src.datafeed.futu", "stats", "backfill", "--market", ",".join(markets),
            "--type", ",".join(TYPES), "--start", START.isoformat(), "--end", END.isoformat()]


def section_kill(series, folder: Path) -> None:
    markets = ("US_INDEX", "HK_INDEX")
    database = folder / "killed.db"
    with LocalOpenD(series, page_size=60) as opend:
        opend.knobs.reply_delay_seconds = 0.05
        env = {**os.environ, "HOME": str(FUTU_HOME), "PYTHONPATH": str(PROJECT_ROOT), "FUTU_HOST": "127.0.0.1",
               "FUTU_PORT": str(opend.port), "VNPY_DATABASE_DRIVER": "sqlite", "VNPY_DATABASE_DATABASE": str(database)}
        process = subprocess.Popen(cli(opend.port, database, markets), cwd=PROJECT_ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while checkpoints(database) < 5 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        time.sleep(0.12)  # into the next window's pages
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        at_kill = checkpoints(database)
        repository = OptionMarketStatisticRepository.open(DatabaseLocation.sqlite(database))
        rows_at_kill = repository.count()
        repository.close()
        opend.knobs.reply_delay_seconds = 0.0
        rerun = subprocess.run(cli(opend.port, database, markets), cwd=PROJECT_ROOT, env=env, capture_output=True,
                               text=True, timeout=300)
    repository = OptionMarketStatisticRepository.open(DatabaseLocation.sqlite(database))
    missing = 0
    for market in markets:
        for data_type in TYPES:
            stored = {row.trade_date for row in repository.statistics(market, data_type)}
            served = {p.trade_date for p in series[(CODES[market], CODES[data_type])] if START <= p.trade_date <= END}
            missing += len(served - stored)
    total, duplicates, done = repository.count(), repository.duplicate_keys(), checkpoints(database)
    repository.close()
    windows = re.search(r"windows: (\d+) fetched, (\d+) already done", rerun.stdout)
    print(f"\n3. kill -9 of `python -m src.datafeed.futu stats backfill` mid-run ({' + '.join(markets)} x 2 types, "
          f"{START}..{END}, 50 ms per page)")
    print(f"   at the kill: {at_kill} of 12 windows checkpointed, {rows_at_kill} rows stored")
    print(f"   rerun exit {rerun.returncode}: {windows.group(1) if windows else '?'} windows fetched, "
          f"{windows.group(2) if windows else '?'} skipped as done")
    print(f"   after: {total} rows (expected {expected_days(series, markets, START, END)}), missing days {missing}, "
          f"duplicates {duplicates}, checkpoints {done}")


def section_corrupted(series, folder: Path) -> None:
    repository = OptionMarketStatisticRepository.open(DatabaseLocation.sqlite(folder / "corrupted.db"))
    with LocalOpenD(series, page_size=60) as opend, client(opend.port) as futu_client:
        opend.knobs.corrupt_next_page = CORRUPTIONS
        report = StatisticsBackfill(futu_client, repository, progress=False).backfill(
            ["HK_INDEX"], ["VOLUME"], date(2018, 1, 1), date(2018, 12, 31))
    repository.close()
    print(f"\n4. one page of 60 rows corrupted ({', '.join(CORRUPTIONS)}), HK_INDEX VOLUME 2018")
    for line in report.lines()[2:]:
        print(f"   {line.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path,
                        default=PROJECT_ROOT.parent / "shared" / "data" / "cboe_putcall_ratios")
    parser.add_argument("--skip-pressure", action="store_true", help="skip section 2 (about 1.5 minutes)")
    args = parser.parse_args()
    if not (args.folder / "equitypc.csv").is_file():
        print(f"Cboe files not found in {args.folder} (--folder)", file=sys.stderr)
        return 2
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    series = cboe_series(args.folder)
    with tempfile.TemporaryDirectory(prefix="futu-measure-") as folder:
        section_backfill(series, Path(folder))
        if not args.skip_pressure:
            section_pressure(series, Path(folder))
        section_kill(series, Path(folder))
        section_corrupted(series, Path(folder))
    print("\nload:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
