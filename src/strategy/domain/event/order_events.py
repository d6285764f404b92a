"""Orders that did not complete as planned.

``direction``, ``offset``, ``kind`` and ``status`` are string-valued enums
(``StrEnum``): they equal, format as and serialize to the same text as the
strings these fields held before. A string is accepted and converted.
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent, coerce_enum
from src.strategy.domain.value_object.advanced_order import AdvancedOrderKind, AdvancedOrderStatus
from src.strategy.domain.value_object.market import Direction, Offset


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
    direction: Direction
    offset: Offset
    volume: int
    filled: int
    excess: int

    def __post_init__(self) -> None:
        coerce_enum(self, "direction", Direction)
        coerce_enum(self, "offset", Offset)


@dataclass(frozen=True)
class AdvancedOrderFinishedEvent(DomainEvent):
    """An iceberg or TWAP order ended: ``status`` COMPLETED, CANCELLED or INCOMPLETE, ``reason`` why."""

    order_id: str
    kind: AdvancedOrderKind
    vt_symbol: str
    volume: int
    filled: int
    status: AdvancedOrderStatus
    reason: str

    def __post_init__(self) -> None:
        coerce_enum(self, "kind", AdvancedOrderKind)
        coerce_enum(self, "status", AdvancedOrderStatus)


@dataclass(frozen=True)
class CloseEscalatedEvent(DomainEvent):
    """A closing order that did not fill is sent again more aggressively (``SmartOrderExecutor``).

    ``step`` 1 is re-priced at the far touch (``stage`` "far touch"), later steps are marketable
    limits further through it ("marketable limit"); ``price`` the new limit, ``ticks`` how many ticks
    through ``reference`` (the far touch, else the last price: ``reference_source``), kept inside
    the day's price limits when they are known; ``volume`` the lots still to close.
    """

    FAR_TOUCH = "far touch"
    MARKETABLE = "marketable limit"

    execution_id: str
    vt_symbol: str
    direction: Direction
    volume: int
    step: int
    stage: str
    price: float
    reference: float
    reference_source: str
    ticks: int
    detail: str

    def __post_init__(self) -> None:
        coerce_enum(self, "direction", Direction)
