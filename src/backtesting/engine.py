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
    """``stream_days``: bars are read from the database that many days at a time during the replay and
    only that window is held (None: vnpy's way, every bar of the range loaded before the replay)."""

    def __init__(self, progress=None, stream_days: int | None = 1, database=None) -> None:
        super().__init__()
        self.progress = progress
        self.strategy_failure: str | None = None
        self.stream_days = stream_days
        self.database = database
        self.replayed_bars = 0  # bars read during a streamed replay
        self._reader = None

    # ------------------------------------------------------------------ streaming
    def load_data(self) -> None:
        """Streamed: only the replay's minutes are read now (``dts``); the bars come window by window."""
        if self.stream_days is None:
            super().load_data()
            return
        if self.start >= self.end:
            self.output("the start must be before the end")
            return
        from vnpy.trader.database import get_database

        from src.backtesting.bar_stream import BulkBarReader

        self.history_data.clear()
        self._reader = BulkBarReader(self.database or get_database(), self.vt_symbols, self.interval)
        self.dts = set(self._reader.minutes(self.start, self.end))
        self.output(f"{len(self.dts)} minutes of {len(self.vt_symbols)} contracts to replay, "
                    f"read {self.stream_days} day(s) at a time")

    def _streamed_minutes(self):
        """The replay's minutes in order, with ``history_data`` holding the bars of the current window."""
        from src.backtesting.bar_stream import day_windows

        minutes = sorted(self.dts)
        by_day: dict = {}
        for dt in minutes:
            by_day.setdefault(dt.date(), []).append(dt)
        for start, end in day_windows(by_day, self.stream_days):
            self.history_data = {}
            for bar in self._reader.bars(start, end):
                self.history_data[(bar.datetime, bar.vt_symbol)] = bar
                self.replayed_bars += 1
            for day in sorted(d for d in by_day if start.date() <= d <= end.date()):
                yield from by_day[day]
        self.history_data = {}

    def run_backtesting(self) -> None:
        """vnpy's replay (warm-up days, then trading), the same steps on the same minutes, over streamed bars."""
        if self.stream_days is None or self._reader is None:
            super().run_backtesting()
            return
        self.strategy.on_init()
        minutes = self._streamed_minutes()
        day_count = 0
        resume_at = None
        last = None
        for dt in minutes:
            last = dt
            if self.datetime and dt.day != self.datetime.day:
                day_count += 1
                if day_count >= self.days:
                    resume_at = dt
                    break
            if not self._replay(dt):
                return
        else:
            # vnpy replays the last minute of the warm-up a second time when the warm-up used every minute
            resume_at = last
        self.strategy.inited = True
        self.output("strategy initialised")
        self.strategy.on_start()
        self.strategy.trading = True
        self.output("replaying history")
        if resume_at is not None and not self._replay(resume_at):
            return
        for dt in minutes:
            if not self._replay(dt):
                return
        self.output("replay finished")

    def _replay(self, dt: datetime) -> bool:
        try:
            self.new_bars(dt)
        except Exception:  # noqa: BLE001 - vnpy's behaviour: stop the replay, report the traceback
            import traceback
            self.output("exception raised, backtest stopped")
            self.output(traceback.format_exc())
            return False
        return True

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
