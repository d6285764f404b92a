"""One position of the strategy: a contract held on one side."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_non_negative,
    require_positive,
    require_real,
    require_text,
)


@dataclass(eq=False)
class Position:
    """Identity is (vt_symbol, direction); a flat position keeps its realized PnL.

    Fills follow vnpy's convention: an opening fill has the position's direction,
    a closing fill the opposite one (a LONG CLOSE fill buys back a SHORT position).
    """

    vt_symbol: str
    direction: Direction
    multiplier: float
    volume: int = 0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    opened_at: datetime | None = None

    def __post_init__(self) -> None:
        owner = f"Position({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_enum(owner, "direction", self.direction, Direction)
        self.multiplier = require_positive(owner, "multiplier", self.multiplier)
        self.volume = require_int(owner, "volume", self.volume, 0)
        self.avg_price = require_non_negative(owner, "avg_price", self.avg_price)
        self.realized_pnl = require_real(owner, "realized_pnl", self.realized_pnl)
        if self.opened_at is not None:
            require_aware(owner, "opened_at", self.opened_at)

    @property
    def is_flat(self) -> bool:
        return self.volume == 0

    def apply_fill(self, direction: Direction, offset: Offset, volume: int, price: float, at: datetime) -> float:
        """Applies one fill and returns the PnL it realized (0 for an opening fill)."""
        owner = f"Position({self.vt_symbol!r}).apply_fill"
        require_enum(owner, "direction", direction, Direction)
        require_enum(owner, "offset", offset, Offset)
        volume = require_int(owner, "volume", volume, 1)
        price = require_positive(owner, "price", price)
        require_aware(owner, "at", at)
        if offset is Offset.OPEN:
            if direction is not self.direction:
                raise ValueError(f"{owner}: an opening {direction.value} fill cannot add to a {self.direction.value} position")
            if self.is_flat:
                self.opened_at = at
            total = self.volume + volume
            self.avg_price = (self.avg_price * self.volume + price * volume) / total
            self.volume = total
            return 0.0
        if direction is self.direction:
            raise ValueError(f"{owner}: a closing fill of a {self.direction.value} position must be "
                             f"{self.direction.opposite.value}, got {direction.value}")
        if volume > self.volume:
            raise ValueError(f"{owner}: cannot close {volume}, only {self.volume} held")
        pnl = (price - self.avg_price) * volume * self.multiplier * self.direction.sign
        self.realized_pnl += pnl
        self.volume -= volume
        if self.is_flat:
            self.avg_price = 0.0
            self.opened_at = None
        return pnl

    def settle(self, price: float, at: datetime) -> float:
        """The whole position leaves at its contract's settlement ``price`` (0 for an option that
        expires out of the money); returns the PnL realized."""
        owner = f"Position({self.vt_symbol!r}).settle"
        price = require_non_negative(owner, "price", price)
        require_aware(owner, "at", at)
        pnl = (price - self.avg_price) * self.volume * self.multiplier * self.direction.sign
        self.realized_pnl += pnl
        self.volume, self.avg_price, self.opened_at = 0, 0.0, None
        return pnl

    def adopt(self, volume: int, avg_price: float, at: datetime) -> None:
        """Takes volume and average price from the account's report (reconciliation); PnL is left as it was."""
        owner = f"Position({self.vt_symbol!r}).adopt"
        volume = require_int(owner, "volume", volume, 0)
        avg_price = require_non_negative(owner, "avg_price", avg_price)
        require_aware(owner, "at", at)
        if volume == 0:
            self.volume, self.avg_price, self.opened_at = 0, 0.0, None
            return
        if self.is_flat:
            self.opened_at = at
        self.volume, self.avg_price = volume, avg_price

    def unrealized_pnl(self, mark_price: float) -> float:
        mark_price = require_non_negative(f"Position({self.vt_symbol!r})", "mark_price", mark_price)
        return (mark_price - self.avg_price) * self.volume * self.multiplier * self.direction.sign

    def to_dict(self) -> dict:
        return {
            "vt_symbol": self.vt_symbol,
            "direction": self.direction.value,
            "multiplier": self.multiplier,
            "volume": self.volume,
            "avg_price": self.avg_price,
            "realized_pnl": self.realized_pnl,
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Position:
        return cls(
            vt_symbol=data["vt_symbol"],
            direction=Direction(data["direction"]),
            multiplier=data["multiplier"],
            volume=data["volume"],
            avg_price=data["avg_price"],
            realized_pnl=data["realized_pnl"],
            opened_at=datetime.fromisoformat(data["opened_at"]) if data["opened_at"] else None,
        )
