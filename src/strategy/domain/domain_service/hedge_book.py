"""What the hedge future's book holds, net of the orders already working on it.

A hedge decision must not count twice: lots a working close already takes are
no longer available to close, and a hedge still working is already on its way.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.smart_order_executor import ExecutionView
from src.strategy.domain.value_object.market import Direction, Offset


@dataclass(frozen=True)
class HedgeBook:
    """``long_lots``/``short_lots``: lots held that no working close takes; ``pending_lots``: signed
    lots of hedge orders still working."""

    long_lots: int
    short_lots: int
    pending_lots: int


def hedge_book(positions: PositionAggregate, working: Iterable[ExecutionView], hedge_symbol: str) -> HedgeBook:
    long_held = positions.position(hedge_symbol, Direction.LONG)
    short_held = positions.position(hedge_symbol, Direction.SHORT)
    long_lots = long_held.volume if long_held else 0
    short_lots = short_held.volume if short_held else 0
    pending = 0
    for view in working:
        instruction = view.instruction
        if instruction.vt_symbol != hedge_symbol:
            continue
        if instruction.is_hedge:
            pending += view.remaining * instruction.direction.sign
        if instruction.offset is Offset.CLOSE:
            if instruction.direction is Direction.SHORT:
                long_lots -= view.remaining
            else:
                short_lots -= view.remaining
    return HedgeBook(max(long_lots, 0), max(short_lots, 0), pending)
