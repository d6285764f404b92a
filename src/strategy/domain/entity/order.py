"""An order the strategy placed, tracked through vnpy's status updates."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.signal_type import SignalType
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_positive,
    require_text,
)


@dataclass(eq=False)
class Order:
    vt_orderid: str
    vt_symbol: str
    direction: Direction
    offset: Offset
    price: float
    volume: int
    created_at: datetime
    updated_at: datetime
    traded: int = 0
    status: OrderStatus = OrderStatus.SUBMITTING
    reason: str = ""
    signal: SignalType | None = None

    def __post_init__(self) -> None:
        owner = f"Order({self.vt_orderid!r})"
        require_text(owner, "vt_orderid", self.vt_orderid)
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_enum(owner, "direction", self.direction, Direction)
        require_enum(owner, "offset", self.offset, Offset)
        require_enum(owner, "status", self.status, OrderStatus)
        self.price = require_positive(owner, "price", self.price)
        self.volume = require_int(owner, "volume", self.volume, 1)
        self.traded = require_int(owner, "traded", self.traded, 0)
        if self.traded > self.volume:
            raise ValueError(f"{owner}: traded {self.traded} exceeds volume {self.volume}")
        require_aware(owner, "created_at", self.created_at)
        require_aware(owner, "updated_at", self.updated_at)
        if self.signal is not None:
            require_enum(owner, "signal", self.signal, SignalType)

    @property
    def is_active(self) -> bool:
        return self.status.is_active

    @property
    def remaining(self) -> int:
        return self.volume - self.traded

    def apply_update(self, status: OrderStatus, traded: int, at: datetime) -> bool:
        """Applies a status report; returns False for a stale one, which is ignored.

        Gateways may deliver reports out of order, so a report the status table
        (``ORDER_STATUS_TRANSITIONS``) does not allow, or one with fewer traded
        lots than already known, is stale.
        """
        owner = f"Order({self.vt_orderid!r}).apply_update"
        require_enum(owner, "status", status, OrderStatus)
        traded = require_int(owner, "traded", traded, 0)
        require_aware(owner, "at", at)
        if traded > self.volume:
            raise ValueError(f"{owner}: traded {traded} exceeds volume {self.volume}")
        if traded < self.traded or not self.status.can_move_to(status):
            return False
        self.status, self.traded, self.updated_at = status, traded, at
        return True

    def to_dict(self) -> dict:
        return {
            "vt_orderid": self.vt_orderid,
            "vt_symbol": self.vt_symbol,
            "direction": self.direction.value,
            "offset": self.offset.value,
            "price": self.price,
            "volume": self.volume,
            "traded": self.traded,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "reason": self.reason,
            "signal": self.signal.value if self.signal else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Order:
        return cls(
            vt_orderid=data["vt_orderid"],
            vt_symbol=data["vt_symbol"],
            direction=Direction(data["direction"]),
            offset=Offset(data["offset"]),
            price=data["price"],
            volume=data["volume"],
            traded=data["traded"],
            status=OrderStatus(data["status"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            reason=data["reason"],
            signal=SignalType(data["signal"]) if data["signal"] else None,
        )
