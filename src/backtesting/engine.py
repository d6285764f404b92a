"""vnpy_portfoliostrategy's BacktestingEngine, with its chatter sent to the run log.

vnpy prints progress lines and, when the strategy raises, prints the traceback
and silently stops replaying. Here both go to the ``backtesting`` logger, a
progress bar follows the replay, and a strategy exception is remembered so the
runner can fail loudly instead of reporting a truncated backtest as a result.
"""
from __future__ import annotations

import logging
from datetime import datetime

from vnpy_portfoliostrategy import BacktestingEngine
from vnpy_portfoliostrategy.template import StrategyTemplate

from src.core.config.errors import UserInputError

logger = logging.getLogger("backtesting")

_VNPY_ABORT_MARK = "Traceback (most recent call last)"

SWEEP_COMMAND = "python -m src.backtesting.sweep --grid GRID.yaml (scripts/run_sweep.sh)"


class OptimiserRefusedError(UserInputError):
    """vnpy's optimiser cannot run our strategy; the sweep command does."""


def _refuse_optimiser(name: str) -> OptimiserRefusedError:
    return OptimiserRefusedError(
        f"OptionBacktestingEngine.{name} is not supported: vnpy's optimiser workers would not set up our "
        f"database and configuration and would report zeros; use {SWEEP_COMMAND}")


class OptionBacktestingEngine(BacktestingEngine):
    def __init__(self, progress=None) -> None:
        super().__init__()
        self.progress = progress
        self.strategy_failure: str | None = None

    def output(self, msg: str) -> None:
        text = str(msg)
        if _VNPY_ABORT_MARK in text:
            self.strategy_failure = text
            logger.error("strategy raised, backtest stopped:\n%s", text)
        else:
            logger.info("%s", text)

    def write_log(self, msg: str, strategy: StrategyTemplate | None = None) -> None:
        logger.info("%s %s", self.datetime, msg)

    # vnpy's optimiser runs each setting in a spawned worker that rebuilds a plain engine from a copy of
    # this one: our database set-up, configuration tree and failure handling never reach it, so every
    # setting "succeeds" with zero bars (and vnpy's default database is created in the home folder).
    def run_bf_optimization(self, *args, **kwargs):
        raise _refuse_optimiser("run_bf_optimization")

    run_optimization = run_bf_optimization

    def run_ga_optimization(self, *args, **kwargs):
        raise _refuse_optimiser("run_ga_optimization")

    def new_bars(self, dt: datetime) -> None:
        super().new_bars(dt)
        if self.progress is not None:
            self.progress.update(1)
