"""The port through which the domain places and cancels orders."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from src.strategy.domain.value_object.order_instruction import OrderInstruction


@runtime_checkable
class ITradeExecutionGateway(Protocol):
    def send_order(self, instruction: OrderInstruction) -> list[str]:
        """Places the order; returns the vt_orderids the gateway assigned (empty if it refused)."""
        ...

    def cancel_order(self, vt_orderid: str) -> None:
        ...
