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

logger = logging.getLogger("backtesting")

_VNPY_ABORT_MARK = "Traceback (most recent call last)"


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

    def new_bars(self, dt: datetime) -> None:
        super().new_bars(dt)
        if self.progress is not None:
            self.progress.update(1)
