"""``python -m src.main.data download``: bars from Tushare or AKShare through vnpy's datafeed interface.

The source is ``--source`` or, without it, vnpy's ``datafeed.name`` setting (``tushare`` or
``akshare``), as vnpy users set it in ``vt_setting.json``. The Tushare token is
``TUSHARE_TOKEN`` (environment or ``.env``), else vnpy's ``datafeed.password``;
``TUSHARE_API_URL`` points the Tushare client at another server (the tests' local one);
AKShare has no such setting and goes wherever ``HTTPS_PROXY`` sends ``requests``. A vendor error is one line naming the contract and the dates, exit 2.
"""
from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from src.datafeed.cn.errors import VendorError
from src.datafeed.cn.symbols import Contract, UnknownSymbolError, parse_vt_symbol
from src.core.config.errors import UserInputError
from src.core.config.secret_value import Secret
from src.core.cli import iso_date, positive_int
from src.paths import PROJECT_ROOT
from vnpy.trader.constant import Interval

SOURCES = ("tushare", "akshare")
INTERVALS = {"d": Interval.DAILY, "1m": Interval.MINUTE}
DEFAULT_CHUNK_DAYS = {Interval.DAILY: 31, Interval.MINUTE: 5}
DEFAULT_JOURNAL = PROJECT_ROOT / "data" / "downloads" / "journal.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=SOURCES, help="vendor (default: vnpy's datafeed.name setting)")
    parser.add_argument("--symbols", default="", help="comma-separated vnpy symbols: IF2602.CFFEX,IO2602-C-4600.CFFEX")
    parser.add_argument("--symbols-file", type=Path, help="a file with one vnpy symbol a line")
    parser.add_argument("--chain", help="all options of a series the vendor lists, e.g. IO2602")
    parser.add_argument("--interval", choices=tuple(INTERVALS), default="d")
    parser.add_argument("--start", type=iso_date, required=True)
    parser.add_argument("--end", type=iso_date, required=True)
    parser.add_argument("--chunk-days", type=positive_int, help="days per request (default 31 daily, 5 minute)")
    parser.add_argument("--calls-per-minute", type=positive_int, default=200,
                        help="stay under this many calls a minute (Tushare: your points level's cap; "
                             "AKShare: at most 60)")
    parser.add_argument("--retry-wait", type=float, default=5.0,
                        help="AKShare: seconds to wait before trying a failed call again (twice)")
    parser.add_argument("--journal", type=Path, default=DEFAULT_JOURNAL, help="where finished chunks are remembered")
    parser.add_argument("--fresh", action="store_true", help="ignore the journal: fetch every chunk again")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace, open_database) -> int:
    """``open_database()`` -> (database, its description); called only once the request is known to be good."""
    from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home

    ensure_vnpy_home()  # vnpy's settings (datafeed.name) from the project's data/.vntrader, never the home folder
    from vnpy.trader.setting import SETTINGS

    if args.start > args.end:
        raise UserInputError(f"--start {args.start} is after --end {args.end}")
    source = args.source or (SETTINGS.get("datafeed.name") or "").strip().lower()
    if source not in SOURCES:
        raise UserInputError(f"no source: give --source tushare|akshare or set datafeed.name in vt_setting.json"
                             + (f" (it is {source!r})" if source else ""))
    # vnpy's datafeed module brings vnpy's utility (pandas, TA-Lib): imported once the flags are good.
    from src.datafeed.cn.download import DownloadJournal, download

    interval = INTERVALS[args.interval]
    datafeed = make_datafeed(source, args.calls_per_minute, args.retry_wait)
    contracts = contracts_from_arguments(args, datafeed)
    progress = _progress_factory(f"{source} {args.start}..{args.end}", not args.no_progress)
    journal = DownloadJournal(args.journal)
    database, database_name = open_database()
    try:
        report = download(datafeed, database, contracts, interval, args.start, args.end,
                          args.chunk_days or DEFAULT_CHUNK_DAYS[interval], source, database_name, journal,
                          progress=progress, fresh=args.fresh)
    except VendorError as error:
        raise UserInputError(str(error)) from None
    if source == "tushare":
        retries = f"{datafeed.rate_limit_retries} retries after the per-minute limit"
    else:
        retries = f"{datafeed.retries} retries after failed calls"
    print(f"{source}: {report.contracts} contracts, {report.bars_written} {interval.value} bars written "
          f"({report.chunks_fetched} chunks fetched, {report.chunks_skipped} already done), {datafeed.calls} "
          f"calls, {retries}; database: {database_name}")
    return 0


def make_datafeed(source: str, calls_per_minute: int, retry_wait: float = 5.0):
    if source == "tushare":
        from src.datafeed.cn.tushare_feed import TushareDatafeed
        from vnpy.trader.setting import SETTINGS

        token = os.environ.get("TUSHARE_TOKEN", "").strip() or (SETTINGS.get("datafeed.password") or "")
        if not token:
            raise UserInputError("tushare: no token: set TUSHARE_TOKEN in .env (or datafeed.password in "
                                 "vt_setting.json)")
        return TushareDatafeed(token=Secret(token), url=os.environ.get("TUSHARE_API_URL") or None,
                               calls_per_minute=calls_per_minute)
    from src.datafeed.cn.akshare_feed import AkshareDatafeed

    return AkshareDatafeed(calls_per_minute=min(calls_per_minute, 60), retry_wait=max(retry_wait, 0.0))


def contracts_from_arguments(args: argparse.Namespace, datafeed) -> list[Contract]:
    names = [name.strip() for name in args.symbols.split(",") if name.strip()]
    if args.symbols_file is not None:
        if not args.symbols_file.is_file():
            raise UserInputError(f"{args.symbols_file}: file not found")
        names += [line.strip() for line in args.symbols_file.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.startswith("#")]
    contracts: list[Contract] = []
    for name in names:
        try:
            contracts.append(parse_vt_symbol(name))
        except UnknownSymbolError as error:
            raise UserInputError(str(error)) from None
    if args.chain:
        try:
            contracts += datafeed.list_options(args.chain.strip(), args.start, args.end)
        except VendorError as error:
            raise UserInputError(str(error)) from None
    if not contracts:
        raise UserInputError("nothing to download: give --symbols, --symbols-file or --chain")
    unique = {contract.vt_symbol: contract for contract in contracts}
    return list(unique.values())


def _progress_factory(description: str, enabled: bool):
    """A tqdm bar on a terminal; elsewhere a line on stdout every 30 s; nothing with --no-progress."""
    def factory(total: int):
        import sys

        from tqdm import tqdm

        if enabled and not sys.stderr.isatty():
            return _PeriodicLines(description, total)
        return tqdm(total=total, unit="chunk", desc=description, disable=None if enabled else True)
    return factory


class _PeriodicLines:
    def __init__(self, description: str, total: int, every_seconds: float = 30.0) -> None:
        import time

        self._clock = time.monotonic
        self.description = description
        self.total = total
        self.done = 0
        self.every_seconds = every_seconds
        self._last = self._clock()

    def update(self, count: int) -> None:
        self.done += count
        now = self._clock()
        if now - self._last >= self.every_seconds:
            self._last = now
            print(f"{self.description}: {self.done}/{self.total} chunks", flush=True)

    def close(self) -> None:
        pass
