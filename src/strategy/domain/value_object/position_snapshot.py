"""One position as the gateway reports it: the account's truth for reconciliation."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.validation import require_enum, require_int, require_non_negative, require_text


@dataclass(frozen=True)
class PositionSnapshot:
    vt_symbol: str
    direction: Direction
    volume: int
    avg_price: float

    def __post_init__(self) -> None:
        owner = f"PositionSnapshot({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_enum(owner, "direction", self.direction, Direction)
        object.__setattr__(self, "volume", require_int(owner, "volume", self.volume, 0))
        object.__setattr__(self, "avg_price", require_non_negative(owner, "avg_price", self.avg_price))
