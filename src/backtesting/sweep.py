"""``python -m src.backtesting.sweep``: parameter sweeps, genetic search and walk-forward over full backtests.

    python -m src.backtesting.sweep --grid config/examples/sweep.yaml --objective sharpe_ratio \\
        --constraint "max_ddpercent>-10" [--search genetic] [--walk-forward 10:5] [--workers N | --scheduler tcp://host:8786]

Every setting is a whole backtest (the same runner, engine and configuration checks as
``python -m src.backtesting.cli``) run in a worker that sets itself up. Writes the results CSV (one
row per backtest as it finishes; the same --results file resumes an interrupted sweep) and an
HTML report beside it, and prints the best settings.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from src.backtesting.config import BacktestConfig
from src.backtesting.optimization.execution import Progress, run_batch
from src.backtesting.optimization.executors import ExecutorChoice, default_workers, open_executor
from src.backtesting.optimization.genetic import GeneticSettings, genetic_search
from src.backtesting.optimization.objective import Constraint, Objective, check_metric
from src.backtesting.optimization.plots import write_report
from src.backtesting.optimization.results import ResultsFile, ranked, setting_key, top_table
from src.backtesting.optimization.space import ParameterSpace, load_parameter_space
from src.backtesting.optimization.walk_forward import parse_walk_forward, trading_days, walk_forward_windows
from src.backtesting.optimization.worker import SweepTask, TaskResult
from src.core.cli import EXIT_INTERRUPTED, OneLineArgumentParser, iso_date, positive_int, positive_number, run_cli
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, DEFAULT_TRADING_TARGET
from src.core.contract.trading_targets import load_tradable_targets
from src.core.config.errors import UserInputError
from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START
from src.paths import CONFIG_DIR, DATA_DIR

PROG = "python -m src.backtesting.sweep"
EXIT_ALL_FAILED = 1


DEFAULT_GRID = CONFIG_DIR / "examples" / "sweep.yaml"


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=Path, default=DEFAULT_GRID,
                        help="YAML with parameters: {key path: [values] or {start, stop, step}} "
                             "(default config/examples/sweep.yaml)")
    parser.add_argument("--search", choices=("grid", "genetic"), default="grid")
    parser.add_argument("--population", type=positive_int, default=8, help="genetic: settings per generation")
    parser.add_argument("--generations", type=positive_int, default=4)
    parser.add_argument("--seed", type=int, default=1, help="genetic: random seed")
    parser.add_argument("--objective", default="sharpe_ratio", help="a summary.json key (default sharpe_ratio)")
    parser.add_argument("--minimize", action="store_true", help="minimise the objective instead of maximising")
    parser.add_argument("--constraint", action="append", default=[], metavar="EXPR",
                        help='e.g. "max_ddpercent>-10" (repeatable; every one must hold)')
    parser.add_argument("--walk-forward", default=None, metavar="IN:OUT",
                        help="rolling windows of IN in-sample and OUT out-of-sample trading days")
    parser.add_argument("--config", type=Path, default=DEFAULT_STRATEGY_CONFIG)
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--trading-target", type=Path, default=DEFAULT_TRADING_TARGET)
    parser.add_argument("--start", type=iso_date, default=DEFAULT_START)
    parser.add_argument("--end", type=iso_date, default=DEFAULT_END)
    parser.add_argument("--capital", type=positive_number, default=1_000_000.0)
    parser.add_argument("--futures-only", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help=f"local worker processes (default: the cores, {default_workers()} here)")
    parser.add_argument("--serial", action="store_true", help="run the backtests one by one in this process")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="run the backtests on this Dask scheduler's workers instead of a local pool")
    parser.add_argument("--results", type=Path, default=None,
                        help="results CSV (default data/sweeps/<time>-<grid name>/results.csv); "
                             "an existing one is resumed")
    parser.add_argument("--top", type=positive_int, default=10)
    parser.add_argument("--sample-market", action="store_true",
                        help="create the synthetic sample market first when the database has none for the dates")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    objective = Objective(check_metric(args.objective, "--objective"), not args.minimize,
                          tuple(Constraint.parse(text) for text in args.constraint))
    space = load_parameter_space(args.grid)
    space.check(args.config, args.override_config)
    load_tradable_targets(args.trading_target)
    BacktestConfig(start=args.start, end=args.end, capital=args.capital)
    walk = parse_walk_forward(args.walk_forward) if args.walk_forward else None
    choice = _executor_choice(args)
    results_path = args.results or DATA_DIR / "sweeps" / f"{datetime.now():%Y%m%d-%H%M%S}-{args.grid.stem}" \
        / "results.csv"
    results_file = ResultsFile(results_path, space.keys)
    done = results_file.load_done()

    if args.sample_market:
        _ensure_sample_market(args)

    def task_for(index: int, setting, start, end, tag: str) -> SweepTask:
        return SweepTask(index=index, assignments=tuple(setting), config_file=str(args.config),
                         override_file=str(args.override_config) if args.override_config else None,
                         sweep_file=str(args.grid), trading_target=str(args.trading_target), start=start,
                         end=end, capital=args.capital, futures_only=args.futures_only, tag=tag)

    print(f"{PROG}: {objective.describe()}; {space.size} settings of {', '.join(space.keys)}; "
          f"{choice.describe()}; results {results_path}"
          + (f" ({len(done)} done before, skipped)" if done else ""), flush=True)
    stream, writer = results_file.open_for_append()
    counter = iter(range(10**9))
    everything: list[TaskResult] = []

    def evaluate(executor, settings, start, end, tag: str, label: str) -> list[TaskResult]:
        """Run the settings not in the results file yet; return every setting's result."""
        tasks = [task_for(next(counter), s, start, end, tag) for s in settings]
        todo = [t for t in tasks if setting_key(tag, t.assignments) not in done]
        progress = Progress(len(todo), label)

        def record(result: TaskResult) -> None:
            writer.writerow(results_file.row(result))
            stream.flush()
            if not result.ok:
                print(f"{PROG}: {label}: setting {dict(result.assignments)} failed: {result.error}",
                      file=sys.stderr, flush=True)
        fresh = {r.index: r for r in run_batch(executor, todo, record, progress)} if todo else {}
        progress.close()
        batch = [fresh.get(t.index) or done[setting_key(tag, t.assignments)] for t in tasks]
        everything.extend(batch)
        return batch

    def search(executor, start, end, tag: str, label: str) -> list[TaskResult]:
        if args.search == "grid":
            return evaluate(executor, space.grid(), start, end, tag, label)
        generations = GeneticSettings(population=args.population, generations=args.generations, seed=args.seed)

        def report(generation: int, best: TaskResult | None) -> None:
            value = objective.value(best.summary) if best is not None and best.ok else None
            print(f"{label}: generation {generation + 1}/{args.generations}: best {objective.metric} "
                  f"{'-' if value is None else f'{value:,.4g}'} {dict(best.assignments) if best else ''}",
                  flush=True)
        return genetic_search(space, objective, generations,
                              lambda settings: evaluate(executor, settings, start, end, tag, label), report)

    oos_equity = None
    try:
        with open_executor(choice) as executor:
            if walk is None:
                results = search(executor, args.start, args.end, "", "sweep")
                print(f"\nTop {min(args.top, len(results))} of {len(results)} ({objective.describe()}):")
                print(top_table(results, objective, space.keys, args.top))
            else:
                results, oos_equity = _walk_forward(executor, args, walk, objective, space, search, evaluate)
    except KeyboardInterrupt:
        stream.close()
        print(f"\n{PROG}: interrupted; the finished backtests are in {results_path}: run the same command "
              f"with --results {results_path} to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    stream.close()
    html = results_path.with_suffix(".html")
    shown = results if walk is None else [r for r in everything if not r.tag.endswith("-out")]  # in-sample
    write_report(html, f"Sweep {args.grid.name}: {objective.describe()}", shown, objective, space.keys, oos_equity)
    print(f"\nResults: {results_path}\nReport: {html}\nRun time: {time.monotonic() - started:.1f} s")
    return 0 if any(r.ok for r in everything) else EXIT_ALL_FAILED


def _walk_forward(executor, args, walk, objective: Objective, space: ParameterSpace, search, evaluate):
    from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

    windows = walk_forward_windows(trading_days(load_cn_calendar(), args.start, args.end), *walk)
    rows = []
    equity = args.capital
    oos_equity: list[tuple[str, float]] = []
    for window in windows:
        label = f"window {window.number}/{len(windows)}"
        in_sample = search(executor, window.in_start, window.in_end, f"w{window.number}-in", f"{label} in-sample")
        best = ranked(in_sample, objective)[0] if in_sample else None
        if best is None or not math.isfinite(objective.score(best.summary)):
            rows.append((window, None, None, None))
            print(f"{label}: no feasible in-sample setting; out-of-sample skipped", flush=True)
            continue
        out = evaluate(executor, [best.assignments], window.out_start, window.out_end, f"w{window.number}-out",
                       f"{label} out-of-sample")[0]
        for day, pnl in out.daily_net_pnl:
            equity += pnl
            oos_equity.append((day, equity))
        rows.append((window, best, objective.value(best.summary), out))
    print(f"\nWalk-forward ({objective.describe()}):")
    print(format_walk_forward(rows, objective))
    return [], oos_equity


def format_walk_forward(rows, objective: Objective) -> str:
    lines = [("window", "in-sample", "out-of-sample", "chosen setting", f"IS {objective.metric}",
              f"OOS {objective.metric}", "OOS net PnL")]
    for window, best, in_value, out in rows:
        setting = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in best.assignments) if best else "-"
        out_summary = out.summary if out is not None and out.ok else None
        out_value = objective.value(out_summary)
        lines.append((str(window.number), f"{window.in_start}..{window.in_end}",
                      f"{window.out_start}..{window.out_end}", setting,
                      "-" if in_value is None else f"{in_value:,.3f}",
                      "-" if out_value is None else f"{out_value:,.3f}",
                      "-" if out_summary is None else f"{out_summary.get('total_net_pnl', 0):,.2f}"
                      if out is not None and out.ok else (out.error if out is not None else "-")))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def _executor_choice(args) -> ExecutorChoice:
    if args.scheduler and (args.serial or args.workers):
        raise UserInputError("--scheduler runs on the cluster's workers: drop --serial/--workers")
    if args.scheduler:
        if not args.scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise UserInputError(f"--scheduler {args.scheduler!r}: expected an address such as tcp://host:8786")
        return ExecutorChoice("dask", scheduler=args.scheduler)
    if args.serial:
        return ExecutorChoice("serial")
    return ExecutorChoice("pool", workers=args.workers or default_workers())


def _ensure_sample_market(args) -> None:
    from src.core.database_factory import create_database, database_settings_from_environment
    from src.datafeed.sample_market import ensure_sample_market

    settings = database_settings_from_environment()
    print(f"Checking the sample market in {settings.describe()} ...", flush=True)
    if ensure_sample_market(create_database(settings), args.start, args.end):
        print(f"Created the synthetic sample market ({args.start} to {args.end})", flush=True)


if __name__ == "__main__":
    run_cli(main, prog=PROG)
