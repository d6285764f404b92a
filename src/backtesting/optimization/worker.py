"""One sweep task: a full backtest of one setting, set up entirely inside the worker process.

The worker reads its own database settings (``VNPY_DATABASE_*`` / ``.env``, as the backtest command
does: a pool's workers inherit the parent's environment, a Dask node uses its own), loads the
configuration files with the task's assignments through the typed builder, and runs
``BacktestRunner``. Its return value is plain data (picklable, small): the whole summary and the
daily net PnL, or the error.
"""
from __future__ import annotations

import logging
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

_DATABASES: dict[tuple, Any] = {}


@dataclass(frozen=True)
class SweepTask:
    """What one backtest of a sweep runs: the files, the assignments over them, the dates and the capital."""

    index: int
    assignments: tuple[tuple[str, Any], ...]
    config_file: str
    override_file: str | None
    sweep_file: str
    trading_target: str
    start: date
    end: date
    capital: float
    futures_only: bool = False
    tag: str = ""  # e.g. the walk-forward window and phase

    @property
    def setting(self) -> dict[str, Any]:
        return dict(self.assignments)


@dataclass(frozen=True)
class TaskResult:
    index: int
    assignments: tuple[tuple[str, Any], ...]
    tag: str
    summary: dict[str, Any] | None
    daily_net_pnl: tuple[tuple[str, float], ...] = field(default=())
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def run_task(task: SweepTask) -> TaskResult:
    """Run one backtest; any exception becomes the result's one-line error, never a lost task."""
    started = time.monotonic()
    try:
        summary, daily = _backtest(task)
    except Exception as exc:  # noqa: BLE001 - reported with the setting, the sweep goes on
        detail = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {detail[0] if detail else 'no detail'}"
        logging.getLogger("sweep").debug("task %d failed:\n%s", task.index, traceback.format_exc())
        return TaskResult(task.index, task.assignments, task.tag, None, (), error, time.monotonic() - started)
    return TaskResult(task.index, task.assignments, task.tag, summary, daily, None, time.monotonic() - started)


def _backtest(task: SweepTask) -> tuple[dict[str, Any], tuple[tuple[str, float], ...]]:
    # Imported here: the package __init__ of src.backtesting points vnpy at data/ before vnpy loads.
    from src.backtesting.config import BacktestConfig
    from src.backtesting.runner import BacktestFailedError, BacktestRunner
    from src.core.config.config_loader import load_strategy_config
    from src.core.contract.trading_targets import load_tradable_targets

    _quiet_logging()
    config_file = Path(task.config_file)
    override = Path(task.override_file) if task.override_file else None
    strategy_config = load_strategy_config(config_file, override, dict(task.assignments), task.sweep_file)
    products = load_tradable_targets(task.trading_target)
    backtest = BacktestConfig(start=task.start, end=task.end, capital=task.capital)
    runner = BacktestRunner(strategy_config, products, backtest, _database(), config_file, override,
                            futures_only=task.futures_only)
    with tempfile.TemporaryDirectory(prefix="sweep-task-") as folder:
        try:
            result = runner.run(Path(folder))
        except BacktestFailedError:
            failure = (runner.last_engine.strategy_failure or "").strip().splitlines()
            raise BacktestFailedError(f"the strategy raised: {failure[-1] if failure else 'no detail'}") from None
    daily_df = runner.last_engine.daily_df if runner.last_engine is not None else None
    daily: tuple[tuple[str, float], ...] = ()
    if daily_df is not None and not daily_df.empty:
        daily = tuple((str(day), float(pnl)) for day, pnl in zip(daily_df.index, daily_df["net_pnl"])
                      if task.start <= day <= task.end)
    return result.summary, daily


def _database():
    """One vnpy database per worker process and settings (create_database re-binds vnpy's driver)."""
    from src.core.database_factory import create_database, database_settings_from_environment

    settings = database_settings_from_environment()
    key = (settings.driver, settings.database, settings.host, settings.port, settings.user)
    if key not in _DATABASES:
        _DATABASES.clear()
        _DATABASES[key] = create_database(settings)
    return _DATABASES[key]


def _quiet_logging() -> None:
    """The run log of a task goes nowhere (the sweep keeps summaries); warnings reach the worker's stderr."""
    root = logging.getLogger()
    if not getattr(root, "_sweep_quiet", False):
        root.setLevel(logging.WARNING)
        root._sweep_quiet = True  # type: ignore[attr-defined]


def worker_initializer() -> None:
    """Pool workers leave Ctrl-C to the parent, which cancels the sweep and ends them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import src.backtesting  # noqa: F401 - vnpy's folder under data/, before anything imports vnpy
