"""What "refuse selling puts when the put/call percentile is above X" would have done on Cboe's history.

Loads Cboe's daily put/call files (../shared/data/cboe_putcall_ratios by default) into a throwaway
SQLite database through the statistics storage, reads them back through the sentiment adapter (the
path a backtest takes), and replays the filter at 15:00 New York time on every day of the file: the
decision sees the previous day's ratio, never the day's own.

    .venv/bin/python scripts/report_putcall_filter.py [--folder DIR] [--market CBOE_EQUITY]
        [--window 252] [--percentiles 80,90,95]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time as clock
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from src.datafeed.cboe_putcall import import_cboe_putcall  # noqa: E402
from src.strategy.domain.domain_service.put_call_filter_replay import replay_put_filter  # noqa: E402
from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter  # noqa: E402
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation  # noqa: E402
from src.strategy.infrastructure.persistence.option_market_statistics import (  # noqa: E402
    OptionMarketStatisticRepository,
)
from src.strategy.infrastructure.sentiment.stored_put_call_sentiment import StoredPutCallSentiment  # noqa: E402

NY = ZoneInfo("America/New_York")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=PROJECT_ROOT.parent / "shared" / "data" / "cboe_putcall_ratios")
    parser.add_argument("--market", default="CBOE_EQUITY", choices=("CBOE_EQUITY", "CBOE_INDEX", "CBOE_TOTAL"))
    parser.add_argument("--window", type=int, default=252)
    parser.add_argument("--min-observations", type=int, default=60)
    parser.add_argument("--percentiles", default="80,90,95")
    args = parser.parse_args()
    files = [args.folder / name for name in ("totalpc.csv", "equitypc.csv", "indexpc.csv")]
    if not all(path.is_file() for path in files):
        print(f"Cboe files not found in {args.folder}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        repository = OptionMarketStatisticRepository.open(DatabaseLocation.sqlite(Path(folder) / "cboe.db"))
        started = clock.perf_counter()
        for result in import_cboe_putcall(repository, files):
            print(f"loaded {result.path.name}: {result.stored} days as {result.market} ({result.first} .. "
                  f"{result.last}), refused {result.rejected or 'none'}")
        print(f"load through storage: {clock.perf_counter() - started:.2f} s")
        source = StoredPutCallSentiment(repository)
        days = [row.trade_date for row in repository.statistics(args.market, "VOLUME")]
        moments = [datetime.combine(day, time(15, 0), NY) for day in days]
        for text in args.percentiles.split(","):
            threshold = float(text)
            put_filter = PutCallFilter(enabled=True, market=args.market, window=args.window,
                                       min_observations=args.min_observations, max_percentile=threshold)
            started = clock.perf_counter()
            replay = replay_put_filter(source, put_filter, moments)
            elapsed = clock.perf_counter() - started
            print(f"\n{args.market} put/call percentile over {args.window} days > {threshold:g}: refused "
                  f"{replay.refused} of {replay.decisions - replay.without_sentiment} decisions "
                  f"({replay.refused / max(1, replay.decisions - replay.without_sentiment):.1%}); "
                  f"{replay.without_sentiment} days without enough history; every decision used an earlier day's "
                  f"ratio: {replay.lagged_days == replay.decisions - replay.without_sentiment} "
                  f"(replay {elapsed:.2f} s)")
            years = " ".join(f"{year}:{replay.refused_by_year.get(year, 0)}/{count}"
                             for year, count in sorted(replay.decisions_by_year.items()))
            print(f"  by year (refused/decisions): {years}")
            longest = sorted(replay.episodes, key=lambda e: (-e.days, e.first))[:5]
            print(f"  episodes: {len(replay.episodes)}; longest: " + "; ".join(
                f"{e.first}..{e.last} ({e.days} d, peak ratio {e.peak_ratio:.2f})" for e in longest))
        repository.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
