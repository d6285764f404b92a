"""Backtest throughput: the full default strategy beside a do-nothing strategy, same data, same run.

    .venv/bin/python scripts/bench_backtest.py [--days-from 2026-01-05 --days-to 2026-01-16] [--window 15]

Creates the synthetic sample market in a temporary SQLite database, prepares two
identical vnpy_portfoliostrategy BacktestingEngines (data loaded, not timed) and
times only the replay. Bars are the (minute, contract) bars the engine replays.
Target: the full strategy at >= 0.25x the do-nothing throughput.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy_portfoliostrategy import StrategyTemplate  # noqa: E402

from src.backtesting.config import BacktestConfig  # noqa: E402
from src.backtesting.runner import BacktestRunner  # noqa: E402
from src.datafeed.sample_market import ensure_sample_market  # noqa: E402
from src.core.database_factory import create_database  # noqa: E402
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config  # noqa: E402
from src.core.config.env_settings import DatabaseSettings  # noqa: E402
from src.paths import CONFIG_DIR  # noqa: E402


class DoNothingStrategy(StrategyTemplate):
    """The engine's own cost: receives every bar and does nothing with it."""

    def on_init(self) -> None:
        self.load_bars(1)

    def on_bars(self, bars) -> None:
        return


def replay_seconds(runner: BacktestRunner, strategy_class=None, setting=None) -> tuple[float, int]:
    engine = runner.prepare_engine(strategy_class, setting)
    bars = len(engine.history_data)
    started = time.perf_counter()
    engine.run_backtesting()
    elapsed = time.perf_counter() - started
    if engine.strategy_failure:
        raise SystemExit(f"strategy failed:\n{engine.strategy_failure}")
    return elapsed, bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days-from", type=date.fromisoformat, default=date(2026, 1, 5))
    parser.add_argument("--days-to", type=date.fromisoformat, default=date(2026, 1, 16))
    parser.add_argument("--override-config", type=Path, default=CONFIG_DIR / "timeframe" / "15m.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    folder = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "b.db")}))
    started = time.perf_counter()
    ensure_sample_market(database, args.days_from, args.days_to)
    print(f"sample market {args.days_from}..{args.days_to} created in {time.perf_counter() - started:.1f} s")

    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, args.override_config)
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=args.days_from, end=args.days_to),
                            database, DEFAULT_STRATEGY_CONFIG, args.override_config)
    full, nothing = [], []
    bars = 0
    for _ in range(args.repeat):
        seconds, bars = replay_seconds(runner, DoNothingStrategy, {})
        nothing.append(seconds)
        seconds, bars = replay_seconds(runner)
        full.append(seconds)
    full_rate = bars / statistics.median(full)
    nothing_rate = bars / statistics.median(nothing)
    print(f"bars replayed per run: {bars:,} ({len(runner.last_engine.dts):,} minutes x "
          f"{len(runner.last_engine.vt_symbols)} contracts, median of {args.repeat} runs, one core)")
    print(f"{'strategy':<28}{'seconds':>10}{'bars/s':>14}")
    print(f"{'do-nothing StrategyTemplate':<28}{statistics.median(nothing):>10.2f}{nothing_rate:>14,.0f}")
    print(f"{'StrategyEntry (default)':<28}{statistics.median(full):>10.2f}{full_rate:>14,.0f}")
    ratio = full_rate / nothing_rate
    print(f"full / do-nothing throughput: {ratio:.2f}x (target >= 0.25x: {'met' if ratio >= 0.25 else 'NOT met'})")


if __name__ == "__main__":
    main()
