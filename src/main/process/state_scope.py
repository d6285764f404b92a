"""Which saved state a strategy process reads and writes: live, paper and replay never share one.

``StrategyEntry`` saves its state (and the dashboard's snapshots) under its
strategy name. Live trading, paper trading on live data and offline replays
of the same configuration run strategies of the same name, often against the
same database, so the child gives each mode its own keys:

- live: the strategy name itself (``volatility_strategy``); restored at start;
- paper on live market data: ``volatility_strategy@paper``; restored at start;
- replay: ``volatility_strategy@replay``; never restored: a replay starts
  from an empty book like a backtest (restoring the last replay's positions,
  stamped at later market times, would corrupt the run); its saves are kept
  so a replay's end state can be inspected (``python -m src.main.state show``).
"""
from __future__ import annotations

from typing import Any

LIVE, PAPER, REPLAY = "live", "paper", "replay"


def state_key(strategy_name: str, mode: str) -> str:
    return strategy_name if mode == LIVE else f"{strategy_name}@{mode}"


class ScopedStateRepository:
    """A StateRepository seen through a mode's keys (see the module doc)."""

    def __init__(self, repository: Any, mode: str) -> None:
        self.repository = repository
        self.mode = mode

    def load(self, strategy_name: str) -> dict | None:
        if self.mode == REPLAY:
            return None
        return self.repository.load(state_key(strategy_name, self.mode))

    def save(self, strategy_name: str, state: dict) -> None:
        self.repository.save(state_key(strategy_name, self.mode), state)

    def prepare(self, state: dict):
        return self.repository.prepare(state)

    def save_prepared(self, strategy_name: str, prepared) -> None:
        self.repository.save_prepared(state_key(strategy_name, self.mode), prepared)

    def pop_events(self) -> list:
        return self.repository.pop_events()

    def close(self) -> None:
        self.repository.close()


class ScopedMonitor:
    """A StrategyMonitor writing a mode's snapshots and events under its keys."""

    def __init__(self, monitor: Any, mode: str) -> None:
        self.monitor = monitor
        self.mode = mode

    def record_snapshot(self, strategy_name: str, payload: dict, at) -> None:
        self.monitor.record_snapshot(state_key(strategy_name, self.mode), payload, at)

    def record_events(self, strategy_name: str, events) -> None:
        self.monitor.record_events(state_key(strategy_name, self.mode), events)

    def flush(self, timeout: float = 5.0) -> bool:
        return self.monitor.flush(timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.monitor.close(timeout=timeout)


class ScopedControl:
    """The kill switch's commands of a mode's keys (``python -m src.main.control ... --strategy name@paper``)."""

    def __init__(self, repository: Any, mode: str) -> None:
        self.repository = repository
        self.mode = mode

    def latest(self, strategy_name: str):
        return self.repository.latest(state_key(strategy_name, self.mode))

    def close(self) -> None:
        self.repository.close()
