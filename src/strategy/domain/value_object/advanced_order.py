"""Orders worked over time by ``AdvancedOrderScheduler``: icebergs and TWAPs.

- ICEBERG: the instruction's volume is shown ``batch_size`` lots at a time; the
  next batch goes out once the visible one has filled.
- TWAP: the volume is split into ``slices`` child orders spread evenly over
  ``window_seconds`` of *trading* time (session breaks do not count).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_instruction_codec import (
    instruction_from_dict,
    instruction_to_dict,
    time_from_text,
)
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_positive,
    require_text,
)


class AdvancedOrderKind(StrEnum):
    ICEBERG = "ICEBERG"
    TWAP = "TWAP"


class AdvancedOrderStatus(StrEnum):
    WORKING = "WORKING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    INCOMPLETE = "INCOMPLETE"

    @property
    def is_finished(self) -> bool:
        return self in (AdvancedOrderStatus.COMPLETED, AdvancedOrderStatus.CANCELLED, AdvancedOrderStatus.INCOMPLETE)


@dataclass(frozen=True)
class AdvancedOrderSettings:
    """Defaults for orders that do not set their own (the ``advanced_orders`` configuration section)."""

    default_iceberg_batch_size: int = 5
    default_twap_slices: int = 10
    default_time_window_seconds: float = 300.0

    def __post_init__(self) -> None:
        owner = "AdvancedOrderSettings"
        object.__setattr__(self, "default_iceberg_batch_size",
                           require_int(owner, "default_iceberg_batch_size", self.default_iceberg_batch_size, 1))
        object.__setattr__(self, "default_twap_slices",
                           require_int(owner, "default_twap_slices", self.default_twap_slices, 1))
        object.__setattr__(self, "default_time_window_seconds",
                           require_positive(owner, "default_time_window_seconds", self.default_time_window_seconds))


@dataclass(frozen=True)
class AdvancedOrder:
    """One iceberg or TWAP order. ``batch_size`` is set for icebergs only, ``slices`` and
    ``window_seconds`` for TWAPs only; use ``iceberg`` / ``twap`` to build one."""

    order_id: str
    kind: AdvancedOrderKind
    instruction: OrderInstruction
    created_at: datetime
    batch_size: int | None = None
    slices: int | None = None
    window_seconds: float | None = None

    def __post_init__(self) -> None:
        owner = f"AdvancedOrder({self.order_id!r})"
        require_text(owner, "order_id", self.order_id)
        require_enum(owner, "kind", self.kind, AdvancedOrderKind)
        if not isinstance(self.instruction, OrderInstruction):
            raise TypeError(f"{owner}.instruction must be an OrderInstruction, got {type(self.instruction).__name__}")
        require_aware(owner, "created_at", self.created_at)
        if self.kind is AdvancedOrderKind.ICEBERG:
            if self.batch_size is None:
                raise ValueError(f"{owner}: an iceberg needs a batch_size")
            object.__setattr__(self, "batch_size", require_int(owner, "batch_size", self.batch_size, 1))
            if self.slices is not None or self.window_seconds is not None:
                raise ValueError(f"{owner}: slices and window_seconds belong to TWAP orders, not icebergs")
        else:
            if self.slices is None or self.window_seconds is None:
                raise ValueError(f"{owner}: a TWAP needs slices and window_seconds")
            object.__setattr__(self, "slices", require_int(owner, "slices", self.slices, 1))
            object.__setattr__(self, "window_seconds", require_positive(owner, "window_seconds", self.window_seconds))
            if self.batch_size is not None:
                raise ValueError(f"{owner}: batch_size belongs to icebergs, not TWAP orders")

    @classmethod
    def iceberg(cls, order_id: str, instruction: OrderInstruction, batch_size: int,
                created_at: datetime) -> AdvancedOrder:
        return cls(order_id, AdvancedOrderKind.ICEBERG, instruction, created_at, batch_size=batch_size)

    @classmethod
    def twap(cls, order_id: str, instruction: OrderInstruction, slices: int, window_seconds: float,
             created_at: datetime) -> AdvancedOrder:
        return cls(order_id, AdvancedOrderKind.TWAP, instruction, created_at, slices=slices,
                   window_seconds=window_seconds)

    @property
    def volume(self) -> int:
        return self.instruction.volume

    @property
    def vt_symbol(self) -> str:
        return self.instruction.vt_symbol

    def to_dict(self) -> dict:
        return {
            "order_id": self.order_id,
            "kind": self.kind.value,
            "instruction": instruction_to_dict(self.instruction),
            "created_at": self.created_at.isoformat(),
            "batch_size": self.batch_size,
            "slices": self.slices,
            "window_seconds": self.window_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> AdvancedOrder:
        return cls(
            order_id=data["order_id"],
            kind=AdvancedOrderKind(data["kind"]),
            instruction=instruction_from_dict(data["instruction"]),
            created_at=time_from_text(data["created_at"], "AdvancedOrder", "created_at"),
            batch_size=data.get("batch_size"),
            slices=data.get("slices"),
            window_seconds=data.get("window_seconds"),
        )
