"""The life cycle of an order, as vnpy reports it, and the one table of the moves a status report may make."""
from __future__ import annotations

from enum import Enum
from types import MappingProxyType


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

    @property
    def is_final(self) -> bool:
        return not self.is_active

    def can_move_to(self, reported: OrderStatus) -> bool:
        """Whether a report of ``reported`` may replace this status (``ORDER_STATUS_TRANSITIONS``)."""
        return reported in ORDER_STATUS_TRANSITIONS[self]


_ACTIVE = frozenset({OrderStatus.SUBMITTING, OrderStatus.NOT_TRADED, OrderStatus.PART_TRADED})
_ACKNOWLEDGED = frozenset(OrderStatus) - {OrderStatus.SUBMITTING}

# Gateways may deliver reports out of order, so a report that does not fit is stale and ignored, never an error:
# - a final status (ALL_TRADED, CANCELLED, REJECTED) stays;
# - once the exchange acknowledged the order, SUBMITTING is stale;
# - otherwise any report moves the order (a repeat of the same status included).
# ``Order.apply_update`` and ``SmartOrderExecutor.on_order_update`` both read this table; lots traded are checked
# separately (they never decrease).
ORDER_STATUS_TRANSITIONS = MappingProxyType({
    OrderStatus.SUBMITTING: frozenset(OrderStatus),
    OrderStatus.NOT_TRADED: _ACKNOWLEDGED,
    OrderStatus.PART_TRADED: _ACKNOWLEDGED,
    OrderStatus.ALL_TRADED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
})
