"""Greek limits that were breached (by the book) or would be (by an order).

``scope`` is the position's symbol, or ``"portfolio"`` for the whole book;
``metric`` is "delta", "gamma", "vega" or "theta"; ``value`` the exposure and
``limit`` the bound on its absolute value, in the units of
``src.strategy.domain.value_object.risk``.
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.risk import PORTFOLIO_SCOPE


@dataclass(frozen=True)
class GreeksRiskBreachEvent(DomainEvent):
    """The current positions exceed a limit (found by ``PortfolioRiskAggregator.evaluate``)."""

    scope: str
    metric: str
    value: float
    limit: float

    @property
    def is_portfolio(self) -> bool:
        return self.scope == PORTFOLIO_SCOPE

    @property
    def message(self) -> str:
        return f"{self.scope} {self.metric} {self.value:.6g} exceeds limit {self.limit:.6g}"


@dataclass(frozen=True)
class RiskLimitExceededEvent(DomainEvent):
    """An order was refused because it would take ``scope``'s ``metric`` past its limit.

    ``symbol`` and ``quantity`` (signed lots) describe the refused order.
    """

    scope: str
    metric: str
    value: float
    limit: float
    symbol: str
    quantity: int

    @property
    def is_portfolio(self) -> bool:
        return self.scope == PORTFOLIO_SCOPE

    @property
    def message(self) -> str:
        return (f"order {self.quantity:+d} {self.symbol} refused: {self.scope} {self.metric} would be "
                f"{self.value:.6g}, limit {self.limit:.6g}")
