"""Backtest throughput, load speed and peak memory: the full default strategy beside a do-nothing strategy,
vnpy's whole-range loading beside streaming by day, same data, same run.

    .venv/bin/python scripts/bench_backtest.py [--days-from 2026-01-05 --days-to 2026-01-16 | --days N]
                                               [--database PATH] [--repeat 3] [--modes ...]

Creates the synthetic sample market (IF, IM and their IO/MO options) for the dates in a SQLite
database (a temporary one, or --database PATH, kept and reused: a year takes a while to generate).
Each measurement runs in its own process, pinned to one core, so its peak RSS is its own:

- ``load``: bars/s of vnpy's loader (peewee rows -> BarData, whole range) and of the bulk reader
  (plain tuples, one query per day for all contracts);
- ``replay``: the do-nothing StrategyTemplate and StrategyEntry (15-minute variant), each streamed
  by day (the default) and, with ``--modes ... full-vnpy``, loaded whole the vnpy way; throughput counts
  the replay only (streamed: reading the day's bars included), ``+load s`` the set-up before it
  (universe, and the whole load for vnpy's way), peak RSS (VmHWM) the whole process. Beside the wall
  clock, the replay's CPU time: on a loaded machine a process pinned to one core waits its turn, and
  the CPU time is what the run itself cost.

``--profile F --modes full-stream --repeat 1`` runs that replay under cProfile, writes the stats to F
and prints the top functions (cProfile's clock is the wall clock: profile on a quiet core).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import src.backtesting  # noqa: E402,F401 - vnpy's folder under data/ before vnpy loads

from src.paths import CONFIG_DIR, PROJECT_ROOT  # noqa: E402

MODES = ("load-vnpy", "load-bulk", "nothing-stream", "full-stream", "nothing-vnpy", "full-vnpy")
DEFAULT_MODES = ("load-vnpy", "load-bulk", "nothing-stream", "full-stream")


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would include the parent's peak at fork time on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _runner(args):
    from src.backtesting.config import BacktestConfig
    from src.backtesting.runner import BacktestRunner
    from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
    from src.core.config.env_settings import DatabaseSettings
    from src.core.database_factory import create_database

    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(args.database)}))
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, args.override_config)
    return BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=args.days_from, end=args.days_to),
                          database, DEFAULT_STRATEGY_CONFIG, args.override_config), database


def child(args) -> dict:
    """One measurement in this process; prints a JSON line."""
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    _pin_one_core()
    runner, database = _runner(args)
    mode = args.child
    if mode.startswith("load"):
        registry = runner.universe()
        vt_symbols = sorted(info.vt_symbol for info in registry)
        start = datetime.combine(args.days_from, dtime.min)
        end = datetime.combine(args.days_to, dtime.max)
        started = time.perf_counter()
        if mode == "load-vnpy":
            from vnpy.trader.constant import Interval
            count = 0
            for vt_symbol in vt_symbols:  # what BacktestingEngine.load_data does, minus its 30-day chunks
                symbol, exchange = vt_symbol.rsplit(".", 1)
                from vnpy.trader.constant import Exchange
                count += len(database.load_bar_data(symbol, Exchange(exchange), Interval.MINUTE, start, end))
        else:
            from vnpy.trader.constant import Interval

            from src.backtesting.bar_stream import BulkBarReader, day_windows
            reader = BulkBarReader(database, vt_symbols, Interval.MINUTE)
            minutes = reader.minutes(start, end)
            count = 0
            for window_start, window_end in day_windows({m.date() for m in minutes}, 1):
                for _bar in reader.bars(window_start, window_end):
                    count += 1
        seconds = time.perf_counter() - started
        return {"mode": mode, "bars": count, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}

    strategy, streamed = mode.split("-")
    from vnpy_portfoliostrategy import StrategyTemplate

    class DoNothingStrategy(StrategyTemplate):
        def on_init(self) -> None:
            self.load_bars(1)

        def on_bars(self, bars) -> None:
            return

    stream_days = 1 if streamed == "stream" else None
    runner.stream_days = stream_days
    load_started = time.perf_counter()
    engine = runner.prepare_engine(DoNothingStrategy, {}) if strategy == "nothing" else runner.prepare_engine()
    load_seconds = time.perf_counter() - load_started
    bars_held = len(engine.history_data)
    started = time.perf_counter()
    cpu_started = time.process_time()
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.runcall(engine.run_backtesting)
        profiler.dump_stats(str(args.profile))
    else:
        engine.run_backtesting()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if engine.strategy_failure:
        raise SystemExit(f"strategy failed:\n{engine.strategy_failure}")
    bars = engine.replayed_bars if stream_days else bars_held
    return {"mode": mode, "bars": bars, "minutes": len(engine.dts), "contracts": len(engine.vt_symbols),
            "seconds": seconds, "cpu_seconds": cpu_seconds, "load_seconds": load_seconds,
            "peak_rss_mb": _peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days-from", type=date.fromisoformat, default=date(2026, 1, 5))
    parser.add_argument("--days-to", type=date.fromisoformat, default=date(2026, 1, 16))
    parser.add_argument("--days", type=int, default=None,
                        help="N trading days from --days-from (replaces --days-to), e.g. 243 for a year")
    parser.add_argument("--database", type=Path, default=None, help="SQLite file to create or reuse")
    parser.add_argument("--override-config", type=Path, default=CONFIG_DIR / "timeframe" / "15m.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(DEFAULT_MODES))
    parser.add_argument("--profile", type=Path, default=None,
                        help="run one replay mode (e.g. --modes full-stream) under cProfile, write its stats to "
                             "this file and print the top functions (the throughput then includes the profiler's cost)")
    parser.add_argument("--child", choices=MODES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.days is not None:
        from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
        calendar = load_cn_calendar()
        day = args.days_from if calendar.is_trading_day(args.days_from) else calendar.next_trading_day(args.days_from)
        for _ in range(args.days - 1):
            day = calendar.next_trading_day(day)
        args.days_to = day
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return
    if args.profile and (len(args.modes) != 1 or args.modes[0].startswith("load")):
        parser.error("--profile takes one replay mode, e.g. --modes full-stream")

    if args.database is None:
        args.database = Path(tempfile.mkdtemp(prefix="bench-backtest-")) / "b.db"
    from src.core.config.env_settings import DatabaseSettings
    from src.core.database_factory import create_database
    from src.datafeed.sample_market import ensure_sample_market

    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(args.database)}))
    started = time.perf_counter()
    created = ensure_sample_market(database, args.days_from, args.days_to)
    print(f"sample market {args.days_from}..{args.days_to} in {args.database}: "
          f"{'created in %.1f s' % (time.perf_counter() - started) if created else 'reused'}", flush=True)

    results: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        for mode in args.modes:
            command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--days-from",
                       str(args.days_from), "--days-to", str(args.days_to), "--database", str(args.database),
                       "--override-config", str(args.override_config)]
            if args.profile:
                command += ["--profile", str(args.profile)]
            output = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
            if output.returncode != 0:
                raise SystemExit(f"{mode} failed:\n{output.stderr[-3000:]}")
            results.setdefault(mode, []).append(json.loads(output.stdout.strip().splitlines()[-1]))

    print(f"median of {args.repeat} runs, each in its own process on one core; load {os.getloadavg()[0]:.2f}")
    print(f"{'measurement':<34}{'bars':>12}{'seconds':>10}{'bars/s':>12}{'CPU s':>8}{'bars/CPU s':>12}"
          f"{'+load s':>9}{'peak RSS MB':>13}")
    rates, cpu_rates = {}, {}
    for mode in args.modes:
        runs = results[mode]
        seconds = statistics.median(r["seconds"] for r in runs)
        bars = runs[0]["bars"]
        rates[mode] = bars / seconds if seconds else float("nan")
        cpu = statistics.median(r["cpu_seconds"] for r in runs) if "cpu_seconds" in runs[0] else None
        if cpu:
            cpu_rates[mode] = bars / cpu
        cpu_text = f"{cpu:>8.2f}{bars / cpu:>12,.0f}" if cpu else f"{'':>20}"
        peak = max(r["peak_rss_mb"] for r in runs)
        load = statistics.median(r.get("load_seconds", 0.0) for r in runs)
        load_text = f"{load:>9.2f}" if "load_seconds" in runs[0] else f"{'':>9}"
        print(f"{_LABELS[mode]:<34}{bars:>12,}{seconds:>10.2f}{rates[mode]:>12,.0f}{cpu_text}{load_text}"
              f"{peak:>13,.0f}")
    if args.profile:
        import pstats
        print(f"profile of the last run: {args.profile}")
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    if "load-vnpy" in rates and "load-bulk" in rates:
        print(f"bulk load / vnpy load: {rates['load-bulk'] / rates['load-vnpy']:.2f}x (target >= 3x)")
    for kind in ("stream", "vnpy"):
        if f"full-{kind}" in rates and f"nothing-{kind}" in rates:
            ratio = rates[f"full-{kind}"] / rates[f"nothing-{kind}"]
            line = f"full / do-nothing throughput ({kind}): {ratio:.2f}x"
            if f"full-{kind}" in cpu_rates and f"nothing-{kind}" in cpu_rates:
                line += (f" wall clock, {cpu_rates[f'full-{kind}'] / cpu_rates[f'nothing-{kind}']:.2f}x "
                         f"in CPU time (less sensitive to the machine's load) (target >= 0.5x)")
            print(line)


_LABELS = {
    "load-vnpy": "load: vnpy (peewee rows)",
    "load-bulk": "load: bulk reader, by day",
    "nothing-stream": "replay do-nothing, streamed",
    "full-stream": "replay StrategyEntry, streamed",
    "nothing-vnpy": "replay do-nothing, whole range",
    "full-vnpy": "replay StrategyEntry, whole range",
}


if __name__ == "__main__":
    main()
