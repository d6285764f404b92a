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


@dataclass(frozen=True)
class OrderOverfilledEvent(DomainEvent):
    """More was filled than asked for: a fill arrived on an order already reported finished
    (a cancel that raced a fill) after its remainder had been sent again.

    ``order_id`` is the ``SmartOrderExecutor`` execution id or the ``AdvancedOrderScheduler``
    order id; the caller corrects the ``excess`` lots (e.g. closes them).
    """

    order_id: str
    vt_symbol: str
    direction: str
    offset: str
    volume: int
    filled: int
    excess: int


@dataclass(frozen=True)
class AdvancedOrderFinishedEvent(DomainEvent):
    """An iceberg or TWAP order ended: ``status`` COMPLETED, CANCELLED or INCOMPLETE, ``reason`` why."""

    order_id: str
    kind: str
    vt_symbol: str
    volume: int
    filled: int
    status: str
    reason: str
