"""vnpy objects become domain values at the boundary."""
from __future__ import annotations

from vnpy.trader.constant import Direction as VnpyDirection
from vnpy.trader.constant import Exchange
from vnpy.trader.object import PositionData

from src.strategy.domain.value_object.market import Direction
from src.strategy.infrastructure.gateway.vnpy_converters import to_position_snapshot


def position(direction: VnpyDirection, volume: float, price: float = 12.4) -> PositionData:
    return PositionData(gateway_name="CTP", symbol="IO2602-P-4500", exchange=Exchange.CFFEX, direction=direction,
                        volume=volume, price=price)


def test_long_short_and_net_positions():
    short = to_position_snapshot(position(VnpyDirection.SHORT, 3))
    assert (short.vt_symbol, short.direction, short.volume, short.avg_price) == (
        "IO2602-P-4500.CFFEX", Direction.SHORT, 3, 12.4)
    assert to_position_snapshot(position(VnpyDirection.LONG, 2)).direction is Direction.LONG
    net_short = to_position_snapshot(position(VnpyDirection.NET, -4))
    assert (net_short.direction, net_short.volume) == (Direction.SHORT, 4)
    assert to_position_snapshot(position(VnpyDirection.SHORT, 0)) is None


def test_a_ticks_touch_carries_its_sizes_volume_and_open_interest():
    from datetime import datetime

    from vnpy.trader.object import TickData

    from src.strategy.infrastructure.gateway.vnpy_converters import to_top_of_book

    tick = TickData(gateway_name="CTP", symbol="IO2602-P-4500", exchange=Exchange.CFFEX,
                    datetime=datetime(2026, 2, 2, 10, 0), last_price=12.4, volume=321, open_interest=1500,
                    bid_price_1=12.2, ask_price_1=12.6, bid_volume_1=7, ask_volume_1=3)
    touch = to_top_of_book(tick)
    assert (touch.bid, touch.ask, touch.last, touch.bid_size, touch.ask_size, touch.volume,
            touch.open_interest) == (12.2, 12.6, 12.4, 7, 3, 321, 1500)
