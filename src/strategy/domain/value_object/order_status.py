"""The life cycle of an order, as vnpy reports it."""
from __future__ import annotations

from enum import Enum


class OrderStatus(Enum):
    SUBMITTING = "SUBMITTING"
    NOT_TRADED = "NOT_TRADED"
    PART_TRADED = "PART_TRADED"
    ALL_TRADED = "ALL_TRADED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_active(self) -> bool:
        return self in _ACTIVE


_ACTIVE = frozenset({OrderStatus.SUBMITTING, OrderStatus.NOT_TRADED, OrderStatus.PART_TRADED})
