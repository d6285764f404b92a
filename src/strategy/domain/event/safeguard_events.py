"""The pre-trade gate's refusals and warnings, reduce-only mode and the kill switch."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from src.strategy.domain.event.base import DomainEvent


@dataclass(frozen=True)
class PreTradeRefusedEvent(DomainEvent):
    """An order the pre-trade gate refused: ``rule`` names the rule, ``figures`` the numbers it compared,
    ``level`` is ``order`` (refused before the executor worked it) or ``attempt`` (one send of it)."""

    rule: str
    vt_symbol: str
    product: str
    direction: str
    offset: str
    volume: int
    price: float
    purpose: str
    reason: str
    figures: Mapping[str, float | int | str | None] = field(default_factory=dict, hash=False)
    level: str = "order"

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", MappingProxyType(dict(self.figures)))


@dataclass(frozen=True)
class OrderBudgetWarningEvent(DomainEvent):
    """A product's order or cancel count for the day reached the warning level (openings stop) or the
    budget itself (``level`` ``stop``: only closing orders pass)."""

    product: str
    kind: str          # "orders" or "cancels"
    count: int
    warning_at: int
    budget: int
    level: str         # "warning" or "stop"
    trading_day: str


@dataclass(frozen=True)
class ReduceOnlyChangedEvent(DomainEvent):
    """Reduce-only mode entered (``active``) or left; ``reason`` is what changed, ``reasons`` all that hold now."""

    active: bool
    reason: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class KillSwitchEvent(DomainEvent):
    """A control command took effect: ``flatten`` (close everything, stay stopped), ``stop`` (reduce-only)
    or ``resume``; ``requested_at`` is when it was written."""

    command: str
    requested_at: str
    detail: str


@dataclass(frozen=True)
class HedgeRedirectedEvent(DomainEvent):
    """A hedge whose contract is locked at its price limit went to another month of the product."""

    from_vt_symbol: str
    to_vt_symbol: str
    direction: str
    volume: int
    reason: str
