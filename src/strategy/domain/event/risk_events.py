"""Greek limits that were breached (by the book) or would be (by an order).

``scope`` is the position's symbol, or ``"portfolio"`` for the whole book;
``metric`` is "delta", "gamma", "vega" or "theta"; ``value`` the exposure and
``limit`` the bound on its absolute value, in the units of
``src.strategy.domain.value_object.risk`` (the former per-lot limits), or, when
``unit`` is given, in money (``src.strategy.domain.value_object.cash_risk``,
scopes an underlying such as "IF" or "book"). ``level`` is "soft" or "hard" for
the money limits.
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.risk import PORTFOLIO_SCOPE


@dataclass(frozen=True)
class GreeksRiskBreachEvent(DomainEvent):
    """The current positions exceed a limit: recorded once, when the breach begins."""

    scope: str
    metric: str
    value: float
    limit: float
    level: str = "limit"
    unit: str = ""

    @property
    def is_portfolio(self) -> bool:
        return self.scope == PORTFOLIO_SCOPE

    @property
    def message(self) -> str:
        if self.unit:
            return (f"{self.scope} cash {self.metric} {self.value:,.0f} {self.unit} exceeds its {self.level} limit "
                    f"{self.limit:,.0f}")
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
    unit: str = ""

    @property
    def is_portfolio(self) -> bool:
        return self.scope == PORTFOLIO_SCOPE

    @property
    def message(self) -> str:
        if self.unit:
            return (f"order {self.quantity:+d} {self.symbol} refused: {self.scope} cash {self.metric} would be "
                    f"{self.value:,.0f} {self.unit}, soft limit {self.limit:,.0f}")
        return (f"order {self.quantity:+d} {self.symbol} refused: {self.scope} {self.metric} would be "
                f"{self.value:.6g}, limit {self.limit:.6g}")


@dataclass(frozen=True)
class RiskReductionEvent(DomainEvent):
    """A hard money limit is breached: an order to reduce it was sent (``action``: close_largest or hedge).

    ``lots`` is signed (> 0 buys); ``value`` and ``limit`` in ``unit``."""

    scope: str
    metric: str
    value: float
    limit: float
    unit: str
    action: str
    vt_symbol: str
    lots: int

    @property
    def message(self) -> str:
        return (f"{self.scope} cash {self.metric} {self.value:,.0f} {self.unit} over its hard limit "
                f"{self.limit:,.0f}: {self.action} {self.lots:+d} {self.vt_symbol}")
