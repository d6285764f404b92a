"""The domain's trade-execution port on top of a vnpy portfolio strategy.

Orders go through the strategy's own ``send_order`` so vnpy's engines (live,
paper or backtest) see them as the strategy's, with their usual bookkeeping.
"""
from __future__ import annotations

from typing import Protocol

from vnpy.trader.constant import Direction as VnpyDirection
from vnpy.trader.constant import Offset as VnpyOffset

from src.strategy.domain.interface.trade_execution_gateway import ITradeExecutionGateway
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.infrastructure.gateway.vnpy_converters import to_vnpy_direction, to_vnpy_offset


class _OrderSender(Protocol):
    def send_order(self, vt_symbol: str, direction: VnpyDirection, offset: VnpyOffset, price: float,
                   volume: float, lock: bool = False, net: bool = False) -> list[str]: ...

    def cancel_order(self, vt_orderid: str) -> None: ...


class VnpyTradeExecutionGateway(ITradeExecutionGateway):
    def __init__(self, strategy: _OrderSender) -> None:
        self._strategy = strategy

    def send_order(self, instruction: OrderInstruction) -> list[str]:
        return list(self._strategy.send_order(
            instruction.vt_symbol,
            to_vnpy_direction(instruction.direction),
            to_vnpy_offset(instruction.offset),
            instruction.price,
            float(instruction.volume),
        ))

    def cancel_order(self, vt_orderid: str) -> None:
        self._strategy.cancel_order(vt_orderid)
