"""Orders that did not complete as planned."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent


@dataclass(frozen=True)
class OrderTimeoutEvent(DomainEvent):
    """An order stayed active longer than ``timeout_seconds`` and is being cancelled."""

    vt_orderid: str
    vt_symbol: str
    timeout_seconds: float


@dataclass(frozen=True)
class OrderRetryExhaustedEvent(DomainEvent):
    """An instruction was sent ``attempts`` times without completing; it is given up."""

    vt_symbol: str
    attempts: int
    last_vt_orderid: str | None
    reason: str
