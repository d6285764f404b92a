"""The port for what the broker knows of an order: used when a restarted process resumes its orders."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from src.strategy.domain.value_object.order_status import OrderStatus


@runtime_checkable
class IOrderGateway(Protocol):
    def order_state(self, vt_orderid: str) -> tuple[OrderStatus, int] | None:
        """The order's status and traded lots as the broker reports them; None if it no longer knows it."""
        ...

    def claim(self, vt_orderid: str) -> None:
        """Route the order's later updates to this strategy (a new process starts with no routes)."""
        ...
