"""One month of IO daily bars from the local Tushare Pro server and from the local Sina (AKShare) server.

    .venv/bin/python scripts/measure_downloads.py [--data-dir ../shared/data]

Both go through the same path as ``python -m src.main.data download --chain IO2602``: the chain is
listed by the vendor, every contract is mapped to its vendor code and back, fetched in date chunks
through the vnpy datafeed and written to a throwaway SQLite database. The Tushare server is set to
allow 20 calls per 2-second "minute" while the client starts at 200, so the per-minute limit error
comes back and is waited out; the figures printed are the ones the README quotes.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="measure-downloads-"))
    os.environ["VNPY_DATABASE_DRIVER"] = "sqlite"
    os.environ["VNPY_DATABASE_DATABASE"] = str(folder / "bars.db")

    from src.datafeed.cn.akshare_feed import AkshareDatafeed
    from src.datafeed.cn.download import DownloadJournal, download
    from src.datafeed.cn.tushare_feed import TushareDatafeed
    from src.core.database_factory import create_database, database_settings_from_environment
    from src.core.config.secret_value import Secret
    from tests.datafeed_servers.sina import SinaServer
    from tests.datafeed_servers.tushare_pro import TushareProServer
    from vnpy.trader.constant import Interval

    database = create_database(database_settings_from_environment())
    start, end = date(2026, 1, 5), date(2026, 2, 4)

    with TushareProServer(args.data_dir, tokens=("measure-token",)) as server:
        server.calls_per_window, server.window_seconds = 20, 2.0
        feed = TushareDatafeed(token=Secret("measure-token"), url=server.url, calls_per_minute=200,
                               window_seconds=2.0)
        began = time.monotonic()
        contracts = feed.list_options("IO2602", start, end)
        report = download(feed, database, contracts, Interval.DAILY, start, end, 31, "tushare", "measure",
                          DownloadJournal(None))
        took = time.monotonic() - began
        print(f"tushare: {len(contracts)} IO2602 contracts mapped ({contracts[0].vt_symbol} <-> "
              f"{contracts[0].symbol}.CFX ...), {report.bars_written} daily bars written, {feed.calls} calls, "
              f"{feed.rate_limit_retries} retries after the per-minute limit (server cap 20 per 2 s, client paced "
              f"down to {feed.pacer.calls}), {took:.1f} s")

    with SinaServer(args.data_dir) as sina:
        os.environ.update(sina.environment())
        feed = AkshareDatafeed()
        began = time.monotonic()
        contracts = feed.list_options("IO2602", start, end)
        report = download(feed, database, contracts, Interval.DAILY, start, end, 31, "akshare", "measure",
                          DownloadJournal(None))
        took = time.monotonic() - began
        print(f"akshare: {len(contracts)} IO2602 contracts mapped (io2602C4200 <-> {contracts[0].vt_symbol} ...), "
              f"{report.bars_written} daily bars written, {feed.calls} calls, {feed.retries} retries, {took:.1f} s "
              f"(through the loopback TLS proxy; refused hosts: {sina.proxy.refused or 'none'})")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
