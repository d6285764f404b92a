"""Aggregates position Greeks and checks them against ``RiskThresholds``.

Exposures are ``quantity x multiplier x per-unit Greek`` summed per symbol and
over the book (units in ``src.strategy.domain.value_object.risk``). Time is
passed in by the caller and only stamps the events.

- ``evaluate`` reports every limit the current book breaches, as
  ``GreeksRiskBreachEvent``s (per position, then portfolio).
- ``check_open`` decides on a candidate order: it is refused when, after the
  trade, a metric of the candidate's position or of the portfolio would be
  above its limit *and* further from zero than before the trade. An order that
  reduces an exposure already over its limit is therefore approved: refusing
  it would keep the book in breach.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Iterable, Mapping

from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent, RiskLimitExceededEvent
from src.strategy.domain.value_object.risk import (
    PORTFOLIO_SCOPE,
    GreeksExposure,
    GreeksLimits,
    PositionGreeks,
    RiskMetric,
    RiskThresholds,
    exceeds,
)
from src.strategy.domain.value_object.validation import require_aware


@dataclass(frozen=True)
class PortfolioGreeks:
    total: GreeksExposure
    by_symbol: Mapping[str, GreeksExposure] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_symbol", MappingProxyType(dict(self.by_symbol)))

    def __hash__(self) -> int:
        return hash((self.total, tuple(sorted(self.by_symbol.items()))))


@dataclass(frozen=True)
class LimitBreach:
    scope: str
    metric: RiskMetric
    value: float
    limit: float

    def describe(self) -> str:
        return f"{self.scope} {self.metric.value} {self.value:.6g} exceeds limit {self.limit:.6g}"


@dataclass(frozen=True)
class OpenDecision:
    """Whether a candidate order may be sent; when refused, the breaches are the reason."""

    approved: bool
    breaches: tuple[LimitBreach, ...]
    events: tuple[RiskLimitExceededEvent, ...]
    portfolio_after: GreeksExposure

    @property
    def reason(self) -> str | None:
        if self.approved:
            return None
        return "; ".join(breach.describe() for breach in self.breaches)


class PortfolioRiskAggregator:
    def __init__(self, thresholds: RiskThresholds):
        if not isinstance(thresholds, RiskThresholds):
            raise TypeError(f"thresholds must be RiskThresholds, got {type(thresholds).__name__}")
        self.thresholds = thresholds

    def aggregate(self, positions: Iterable[PositionGreeks]) -> PortfolioGreeks:
        by_symbol: dict[str, GreeksExposure] = {}
        for position in positions:
            by_symbol[position.symbol] = by_symbol.get(position.symbol, GreeksExposure()) + position.exposure()
        total = GreeksExposure()
        for exposure in by_symbol.values():
            total = total + exposure
        return PortfolioGreeks(total, by_symbol)

    def breaches(self, portfolio: PortfolioGreeks) -> list[LimitBreach]:
        found = []
        for symbol, exposure in portfolio.by_symbol.items():
            found.extend(_breaches(symbol, exposure, self.thresholds.position))
        found.extend(_breaches(PORTFOLIO_SCOPE, portfolio.total, self.thresholds.portfolio))
        return found

    def evaluate(self, positions: Iterable[PositionGreeks], now: datetime
                 ) -> tuple[PortfolioGreeks, list[GreeksRiskBreachEvent]]:
        require_aware("PortfolioRiskAggregator.evaluate", "now", now)
        portfolio = self.aggregate(positions)
        events = [GreeksRiskBreachEvent(now, b.scope, b.metric.value, b.value, b.limit)
                  for b in self.breaches(portfolio)]
        return portfolio, events

    def check_open(self, positions: Iterable[PositionGreeks], candidate: PositionGreeks, now: datetime
                   ) -> OpenDecision:
        require_aware("PortfolioRiskAggregator.check_open", "now", now)
        positions = list(positions)
        before = self.aggregate(positions)
        after = self.aggregate(positions + [candidate])
        symbol = candidate.symbol
        refused = [b for b in _breaches(symbol, after.by_symbol[symbol], self.thresholds.position)
                   if abs(b.value) > abs(before.by_symbol.get(symbol, GreeksExposure()).value(b.metric))]
        refused += [b for b in _breaches(PORTFOLIO_SCOPE, after.total, self.thresholds.portfolio)
                    if abs(b.value) > abs(before.total.value(b.metric))]
        events = tuple(RiskLimitExceededEvent(now, b.scope, b.metric.value, b.value, b.limit, symbol,
                                              candidate.quantity) for b in refused)
        return OpenDecision(not refused, tuple(refused), events, after.total)


def _breaches(scope: str, exposure: GreeksExposure, limits: GreeksLimits) -> list[LimitBreach]:
    found = []
    for metric in RiskMetric:
        limit = limits.limit(metric)
        value = exposure.value(metric)
        if exceeds(value, limit):
            found.append(LimitBreach(scope, metric, value, limit))
    return found
