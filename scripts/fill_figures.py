"""The fill figures of issue 23 on the sample market: vnpy's crossing against the quote-aware model.

    .venv/bin/python scripts/fill_figures.py [--override-config config/timeframe/15m.yaml]
                                            [--start 2026-01-05 --end 2026-02-06] [--cost]

Runs the same backtest twice in this process through vnpy_portfoliostrategy's BacktestingEngine
(created when missing, in the configured database): ``--fills vnpy`` (the former crossing, with the
liquidity filter's former zero defaults and the strike chosen by level, as at the issue's branch point)
and the default now (the fill model on bars, the strike by delta), both measured against the
sample's true quotes (``--sample-quotes check``), and prints one JSON line per run: net P&L, fills,
fills at or beyond the far touch, fills on minutes without a print, spread paid, partial fills,
orders short of a print. ``--cost``: what the sample's quote table costs, the generation of the
5-week sample with and without it, median of 3, in the same process.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.backtesting.config import BacktestConfig  # noqa: E402
from src.backtesting.runner import BacktestRunner  # noqa: E402
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config  # noqa: E402
from src.core.database_factory import create_database, database_settings_from_environment  # noqa: E402
from src.datafeed.sample_market import (  # noqa: E402
    DEFAULT_END,
    DEFAULT_START,
    ensure_sample_market,
    generate_sample_market,
)

KEYS = ("total_net_pnl", "option_trade_count", "future_trade_count", "fills_on_quotes", "fills_on_bars",
        "far_touch_fills", "fills_checked_against_quotes", "fills_on_no_print_minutes",
        "average_spread_paid_ticks", "average_spread_paid_vs_quotes_ticks", "spread_cost", "partial_fills",
        "orders_unfilled_for_want_of_print", "lots_on_bars", "lots_on_quotes", "total_commission",
        "total_slippage", "risk_breach_count",
        "hedge_trade_count")


def cost() -> None:
    timings: dict[bool, list[float]] = {False: [], True: []}
    cells = 0
    for _ in range(3):
        for quotes in (False, True):
            started = time.perf_counter()
            market = generate_sample_market(DEFAULT_START, DEFAULT_END, quotes=quotes)
            timings[quotes].append(time.perf_counter() - started)
            if quotes:
                cells = sum(len(series) for series in market.quotes.values())
    print(json.dumps({"generation_without_quotes_s": round(statistics.median(timings[False]), 2),
                      "generation_with_quotes_s": round(statistics.median(timings[True]), 2),
                      "quotes": cells, "quote_table_mib": round(cells * 5 * 8 / 2 ** 20, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    parser.add_argument("--cost", action="store_true")
    args = parser.parse_args()
    if args.cost:
        cost()
        return
    database = create_database(database_settings_from_environment())
    ensure_sample_market(database)
    for label, fills, zero_filters in (("vnpy crossing", "vnpy", True), ("fill model", "quotes", False)):
        # "before" is the branch point: vnpy's crossing, the liquidity filter's zero defaults, the strike by level
        config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, args.override_config,
                                      assignments={"strategies[0].setting.min_volume": 0,
                                                   "strategies[0].setting.min_open_interest": 0,
                                                   "strategies[0].setting.strike_selection": "strike_level"}
                                      if zero_filters else None)
        runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=args.start, end=args.end), database,
                                DEFAULT_STRATEGY_CONFIG, args.override_config, fills=fills, sample_quotes="check")
        with tempfile.TemporaryDirectory() as folder:
            summary = runner.run(Path(folder)).summary
        print(json.dumps({"run": label, **{key: summary.get(key) for key in KEYS}}), flush=True)


if __name__ == "__main__":
    main()
