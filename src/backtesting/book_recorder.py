"""The book over a backtest, for the report: Greeks, P&L, margin and the underlying, sampled in bar time.

The cycle hands its view of the book to a snapshot recorder after each window
bar (live, the monitor stores them); a backtest keeps one sample per
``every_minutes`` of bar time in memory for ``chart.html``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BookSample:
    at: datetime
    delta: float
    gamma: float
    vega: float
    theta: float
    pnl: float
    balance: float
    margin: float
    underlying: dict[str, float | None] = field(default_factory=dict)


class BookRecorder:
    def __init__(self, every_minutes: int = 15) -> None:
        self.every = timedelta(minutes=every_minutes)
        self.samples: list[BookSample] = []
        self._next: datetime | None = None

    def due(self, at: datetime) -> bool:
        return self._next is None or at >= self._next

    def record_snapshot(self, strategy_name: str, snapshot: dict, at: datetime) -> None:
        if not self.due(at):
            return
        self._next = at + self.every
        greeks, account = snapshot["greeks"], snapshot.get("account", {})
        self.samples.append(BookSample(at, greeks["delta"], greeks["gamma"], greeks["vega"], greeks["theta"],
                                       snapshot["pnl"]["total"], account.get("balance", float("nan")),
                                       account.get("margin", float("nan")), dict(snapshot.get("underlying", {}))))
