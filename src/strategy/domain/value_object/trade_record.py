"""One fill, as kept by ``PositionAggregate``; ``manual`` marks a fill of an order the strategy did not place."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_positive,
    require_text,
)


@dataclass(frozen=True)
class TradeRecord:
    vt_tradeid: str
    vt_orderid: str
    vt_symbol: str
    direction: Direction
    offset: Offset
    price: float
    volume: int
    traded_at: datetime
    manual: bool = False

    def __post_init__(self) -> None:
        owner = f"TradeRecord({self.vt_tradeid!r})"
        for name in ("vt_tradeid", "vt_orderid", "vt_symbol"):
            require_text(owner, name, getattr(self, name))
        require_enum(owner, "direction", self.direction, Direction)
        require_enum(owner, "offset", self.offset, Offset)
        object.__setattr__(self, "price", require_positive(owner, "price", self.price))
        object.__setattr__(self, "volume", require_int(owner, "volume", self.volume, 1))
        require_aware(owner, "traded_at", self.traded_at)
        if not isinstance(self.manual, bool):
            raise TypeError(f"{owner}.manual must be a bool, got {type(self.manual).__name__}")
