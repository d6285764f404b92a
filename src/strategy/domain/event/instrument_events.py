"""Changes of the contracts a product trades."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent


@dataclass(frozen=True)
class ActiveContractChangedEvent(DomainEvent):
    """The product's active future changed (first selection or rollover)."""

    product: str
    previous_vt_symbol: str | None
    vt_symbol: str
