"""What vnpy's main engine knows of an order, for a restarted process that resumes its orders."""
from __future__ import annotations

from src.strategy.domain.interface.order_gateway import IOrderGateway
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.infrastructure.gateway.vnpy_converters import from_vnpy_status


class VnpyOrderGateway(IOrderGateway):
    """``strategy_engine`` is vnpy_portfoliostrategy's engine (``main_engine`` and
    ``orderid_strategy_map``); ``strategy`` the strategy the orders are routed to."""

    def __init__(self, strategy_engine: object, strategy: object) -> None:
        self._engine = strategy_engine
        self._strategy = strategy

    def order_state(self, vt_orderid: str) -> tuple[OrderStatus, int] | None:
        main_engine = getattr(self._engine, "main_engine", None)
        order = main_engine.get_order(vt_orderid) if main_engine is not None else None
        if order is None:
            return None
        return from_vnpy_status(order.status), int(order.traded)

    def claim(self, vt_orderid: str) -> None:
        routes = getattr(self._engine, "orderid_strategy_map", None)
        if routes is not None:
            routes[vt_orderid] = self._strategy
