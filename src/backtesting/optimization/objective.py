"""What a sweep maximises (or minimises) and the constraints a setting must meet, from the command line.

``--objective sharpe_ratio --constraint "max_ddpercent>-10" --constraint "trade_count>=20"``
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from src.core.config.errors import UserInputError

# The keys of summary.json a sweep can rank or constrain on: vnpy's statistics and the runner's counts.
METRICS = (
    "total_days", "profit_days", "loss_days", "end_balance", "max_drawdown", "max_ddpercent",
    "max_drawdown_duration", "total_net_pnl", "daily_net_pnl", "total_commission", "daily_commission",
    "total_slippage", "daily_slippage", "total_turnover", "daily_turnover", "total_trade_count",
    "daily_trade_count", "total_return", "annual_return", "daily_return", "return_std", "sharpe_ratio",
    "return_drawdown_ratio", "trade_count", "option_trade_count", "future_trade_count", "signal_count",
    "order_count", "refusal_count", "risk_breach_count", "hedge_trade_count", "max_abs_portfolio_delta",
    "share_of_bars_outside_band", "hedge_pnl",
)

_OPERATORS = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
_CONSTRAINT = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.eE+-]+)\s*$")


def check_metric(name: str, flag: str) -> str:
    if name not in METRICS:
        raise UserInputError(f"{flag}: unknown metric {name!r} (known: {', '.join(METRICS)})")
    return name


@dataclass(frozen=True)
class Constraint:
    metric: str
    operator: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = _CONSTRAINT.match(text)
        if match is None:
            raise UserInputError(f"--constraint {text!r}: expected METRIC OP NUMBER, e.g. \"max_ddpercent>-10\"")
        metric, operator, number = match.groups()
        check_metric(metric, f"--constraint {text!r}")
        try:
            bound = float(number)
        except ValueError:
            raise UserInputError(f"--constraint {text!r}: {number!r} is not a number") from None
        return cls(metric, operator, bound)

    def holds(self, summary: Mapping[str, Any]) -> bool:
        value = summary.get(self.metric)
        return isinstance(value, (int, float)) and math.isfinite(value) \
            and _OPERATORS[self.operator](value, self.bound)

    def __str__(self) -> str:
        return f"{self.metric}{self.operator}{self.bound:g}"


@dataclass(frozen=True)
class Objective:
    metric: str = "sharpe_ratio"
    maximize: bool = True
    constraints: tuple[Constraint, ...] = ()

    def feasible(self, summary: Mapping[str, Any] | None) -> bool:
        return summary is not None and all(c.holds(summary) for c in self.constraints)

    def value(self, summary: Mapping[str, Any] | None) -> float | None:
        value = None if summary is None else summary.get(self.metric)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def score(self, summary: Mapping[str, Any] | None) -> float:
        """Higher is better; failed, infeasible or undefined settings score -inf."""
        value = self.value(summary)
        if value is None or not self.feasible(summary):
            return -math.inf
        return value if self.maximize else -value

    def describe(self) -> str:
        text = f"{'maximise' if self.maximize else 'minimise'} {self.metric}"
        return text + (f" subject to {', '.join(map(str, self.constraints))}" if self.constraints else "")
