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
