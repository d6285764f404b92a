"""Position changes the strategy did not make itself (manual intervention)."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.market import Direction


@dataclass(frozen=True)
class ManualOpenDetectedEvent(DomainEvent):
    """``direction`` is the side of the position that grew, ``volume`` by how much."""

    vt_symbol: str
    direction: Direction
    volume: int
    detail: str


@dataclass(frozen=True)
class ManualCloseDetectedEvent(DomainEvent):
    """``direction`` is the side of the position that shrank, ``volume`` by how much."""

    vt_symbol: str
    direction: Direction
    volume: int
    detail: str


@dataclass(frozen=True)
class PositionSettledEvent(DomainEvent):
    """A position left the book at its contract's expiry, at the settlement value.

    ``direction``/``volume``: the position settled; ``settlement_price``: the price per unit
    it was closed at (an option's intrinsic value, a future's final settlement price);
    ``underlying_price``: the underlying's settlement price used (a future's own price);
    ``realized_pnl``: what the settlement realized; ``detail``: where the price came from.
    """

    vt_symbol: str
    direction: Direction
    volume: int
    settlement_price: float
    underlying_price: float
    realized_pnl: float
    detail: str
