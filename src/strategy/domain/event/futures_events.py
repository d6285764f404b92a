"""What the futures side decided: openings, closes and rolls of the product's dominant future.

Recorded when the order is sent (the fills follow as trades); a decision not carried out is a
``DecisionRefusedEvent`` with its reason, as on the option side.
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent, coerce_enum
from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType


@dataclass(frozen=True)
class FuturesOpenedEvent(DomainEvent):
    """``lots`` of ``vt_symbol`` opened on ``direction`` for ``signal`` (SELL_PUT: long, SELL_CALL: short),
    sized at ``margin_per_lot`` against ``budget`` (position_ratio of the balance)."""

    product: str
    vt_symbol: str
    direction: Direction
    lots: int
    price: float
    signal: SignalType
    margin_per_lot: float
    budget: float

    def __post_init__(self) -> None:
        coerce_enum(self, "direction", Direction)
        coerce_enum(self, "signal", SignalType)


@dataclass(frozen=True)
class FuturesClosedEvent(DomainEvent):
    """The position (``direction``, ``lots``) in ``vt_symbol`` closed for ``reason``."""

    product: str
    vt_symbol: str
    direction: Direction
    lots: int
    price: float
    reason: CloseReason

    def __post_init__(self) -> None:
        coerce_enum(self, "direction", Direction)
        coerce_enum(self, "reason", CloseReason)


@dataclass(frozen=True)
class FuturesRolledEvent(DomainEvent):
    """The position (``direction``, ``lots``) moved from ``from_vt_symbol`` to the product's new
    active contract ``to_vt_symbol``: closed at ``close_price``, opened at ``open_price``."""

    product: str
    from_vt_symbol: str
    to_vt_symbol: str
    direction: Direction
    lots: int
    close_price: float
    open_price: float

    def __post_init__(self) -> None:
        coerce_enum(self, "direction", Direction)
