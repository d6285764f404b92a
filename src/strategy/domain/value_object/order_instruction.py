"""An order the domain asks the trade-execution gateway to place."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.signal_type import SignalType
from src.strategy.domain.value_object.validation import (
    require_enum,
    require_int,
    require_positive,
    require_text,
)


def align_price(price: float, pricetick: float, direction: Direction | None = None) -> float:
    """``price`` on the pricetick grid.

    Without a direction it rounds to the nearest tick. With one it rounds to the
    side that never makes the limit worse than asked: down for a buy (LONG), up
    for a sell (SHORT). Decimal arithmetic keeps 3.2 from becoming 3.2000000000000006.
    """
    price = require_positive("align_price", "price", price)
    tick = Decimal(repr(require_positive("align_price", "pricetick", pricetick)))
    rounding = {None: ROUND_HALF_UP, Direction.LONG: ROUND_FLOOR, Direction.SHORT: ROUND_CEILING}[direction]
    ticks = (Decimal(repr(price)) / tick).to_integral_value(rounding=rounding)
    aligned = float(ticks * tick)
    if aligned <= 0:
        # A price under half a tick rounds to zero, which no exchange accepts.
        aligned = float(tick)
    return aligned


class OrderPurpose(str, Enum):
    """Which book an order belongs to.

    The hedge book (futures lots bought or sold to keep the options' delta in
    band) is counted apart from the strategy's own positions; a correction closes
    what a cancel lost to a fill left over.
    """

    SIGNAL = "signal"
    HEDGE = "hedge"
    CORRECTION = "correction"


@dataclass(frozen=True)
class OrderInstruction:
    """``reason`` says why the order exists (for logs and the monitor), e.g. "open SELL_PUT"
    or "close PROFIT_TARGET"; ``signal`` is the opening signal, None for closes; ``purpose``
    the book the order belongs to."""

    vt_symbol: str
    direction: Direction
    offset: Offset
    volume: int
    price: float
    reason: str
    signal: SignalType | None = None
    purpose: OrderPurpose = OrderPurpose.SIGNAL

    def __post_init__(self) -> None:
        owner = f"OrderInstruction({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_enum(owner, "direction", self.direction, Direction)
        require_enum(owner, "offset", self.offset, Offset)
        object.__setattr__(self, "volume", require_int(owner, "volume", self.volume, 1))
        object.__setattr__(self, "price", require_positive(owner, "price", self.price))
        require_text(owner, "reason", self.reason)
        if self.signal is not None:
            require_enum(owner, "signal", self.signal, SignalType)
        require_enum(owner, "purpose", self.purpose, OrderPurpose)

    @property
    def is_hedge(self) -> bool:
        return self.purpose is OrderPurpose.HEDGE

    def is_on_tick(self, pricetick: float) -> bool:
        return align_price(self.price, pricetick) == self.price
