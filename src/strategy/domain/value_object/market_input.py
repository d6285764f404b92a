"""What the platform tells the cycle about the market and its orders, as domain values.

``BarPrint`` and ``TopOfBook`` arrive for every contract every minute (every
tick live), so they are plain named tuples: the platform's bars and ticks are
already checked where they enter (BarPipeline, the gateways), and a validated
dataclass per print would cost the backtest a fifth of its speed. A fill is
rare and books money, so ``TradeFill`` checks what it is given.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_positive,
    require_text,
)


class BarPrint(NamedTuple):
    """One contract's 1-minute bar, as far as the cycle needs it."""

    close: float
    volume: float
    open_interest: float


class TopOfBook(NamedTuple):
    """A tick's touch and price limits; None (or 0 from the platform) where there is none."""

    vt_symbol: str
    bid: float | None
    ask: float | None
    last: float | None
    limit_up: float | None
    limit_down: float | None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None         # the day's cumulative volume
    open_interest: float | None = None


@dataclass(frozen=True)
class TradeFill:
    vt_orderid: str
    vt_tradeid: str
    vt_symbol: str
    direction: Direction
    offset: Offset
    price: float
    volume: int
    at: datetime

    def __post_init__(self) -> None:
        owner = f"TradeFill({self.vt_tradeid!r})"
        for name in ("vt_orderid", "vt_tradeid", "vt_symbol"):
            require_text(owner, name, getattr(self, name))
        require_enum(owner, "direction", self.direction, Direction)
        require_enum(owner, "offset", self.offset, Offset)
        object.__setattr__(self, "price", require_positive(owner, "price", self.price))
        object.__setattr__(self, "volume", require_int(owner, "volume", self.volume, 1))
        require_aware(owner, "at", self.at)
