"""Translation between vnpy's objects and the domain's values, at the boundary and nowhere else."""
from __future__ import annotations

from datetime import datetime

from vnpy.trader.constant import Direction as VnpyDirection
from vnpy.trader.constant import Offset as VnpyOffset
from vnpy.trader.constant import Status
from vnpy.trader.object import BarData, PositionData, TickData, TradeData

from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset
from src.strategy.domain.value_object.market_input import BarPrint, TopOfBook, TradeFill
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot

_DIRECTION_TO_VNPY = {Direction.LONG: VnpyDirection.LONG, Direction.SHORT: VnpyDirection.SHORT}
_DIRECTION_FROM_VNPY = {value: key for key, value in _DIRECTION_TO_VNPY.items()}
_OFFSET_TO_VNPY = {Offset.OPEN: VnpyOffset.OPEN, Offset.CLOSE: VnpyOffset.CLOSE}
_OFFSET_FROM_VNPY = {
    VnpyOffset.OPEN: Offset.OPEN,
    VnpyOffset.CLOSE: Offset.CLOSE,
    # SHFE/INE split closes into today's and yesterday's lots; the domain only needs "close".
    VnpyOffset.CLOSETODAY: Offset.CLOSE,
    VnpyOffset.CLOSEYESTERDAY: Offset.CLOSE,
}
_STATUS_FROM_VNPY = {
    Status.SUBMITTING: OrderStatus.SUBMITTING,
    Status.NOTTRADED: OrderStatus.NOT_TRADED,
    Status.PARTTRADED: OrderStatus.PART_TRADED,
    Status.ALLTRADED: OrderStatus.ALL_TRADED,
    Status.CANCELLED: OrderStatus.CANCELLED,
    Status.REJECTED: OrderStatus.REJECTED,
}


def to_vnpy_direction(direction: Direction) -> VnpyDirection:
    return _DIRECTION_TO_VNPY[direction]


def to_vnpy_offset(offset: Offset) -> VnpyOffset:
    return _OFFSET_TO_VNPY[offset]


def from_vnpy_direction(direction: VnpyDirection) -> Direction:
    try:
        return _DIRECTION_FROM_VNPY[direction]
    except KeyError:
        raise ValueError(f"vnpy direction {direction!r} has no domain meaning for orders") from None


def from_vnpy_offset(offset: VnpyOffset) -> Offset:
    try:
        return _OFFSET_FROM_VNPY[offset]
    except KeyError:
        raise ValueError(f"vnpy offset {offset!r} cannot be traded by the strategy") from None


def from_vnpy_status(status: Status) -> OrderStatus:
    return _STATUS_FROM_VNPY[status]


def to_bar_snapshot(bar: BarData) -> BarSnapshot:
    return BarSnapshot(
        vt_symbol=bar.vt_symbol,
        datetime=bar.datetime,
        open=bar.open_price,
        high=bar.high_price,
        low=bar.low_price,
        close=bar.close_price,
        volume=bar.volume,
        turnover=bar.turnover,
        open_interest=bar.open_interest,
    )


def to_position_snapshot(position: PositionData) -> PositionSnapshot | None:
    """A gateway's position as the domain compares it; None for an empty one.

    CTP reports long and short separately; a NET position's sign gives its direction.
    """
    volume = int(position.volume)
    if volume == 0:
        return None
    if position.direction is VnpyDirection.NET:
        direction = Direction.LONG if volume > 0 else Direction.SHORT
    else:
        direction = from_vnpy_direction(position.direction)
    return PositionSnapshot(position.vt_symbol, direction, abs(volume), float(position.price))


def to_bar_print(bar: BarData) -> BarPrint:
    return BarPrint(bar.close_price, bar.volume, bar.open_interest)


def to_top_of_book(tick: TickData) -> TopOfBook:
    """The platform's zeros (no quote, no limit) pass through: the executor reads them as missing."""
    return TopOfBook(tick.vt_symbol, tick.bid_price_1, tick.ask_price_1, tick.last_price, tick.limit_up,
                     tick.limit_down, tick.bid_volume_1, tick.ask_volume_1, tick.volume, tick.open_interest)


def to_trade_fill(trade: TradeData, fallback_time: datetime) -> TradeFill:
    """``fallback_time`` stands in for a trade the gateway stamped with no time."""
    return TradeFill(vt_orderid=trade.vt_orderid, vt_tradeid=trade.vt_tradeid, vt_symbol=trade.vt_symbol,
                     direction=from_vnpy_direction(trade.direction), offset=from_vnpy_offset(trade.offset),
                     price=trade.price, volume=int(trade.volume), at=trade.datetime or fallback_time)
