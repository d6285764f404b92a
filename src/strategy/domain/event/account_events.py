"""The strategy's account crossed into (or out of) a margin call."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent


@dataclass(frozen=True)
class MarginCallEvent(DomainEvent):
    """``available`` fell below zero at a mark: openings are refused until it is back above."""

    balance: float
    available: float
    margin: float
    detail: str
