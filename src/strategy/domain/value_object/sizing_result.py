"""What ``PositionSizingService`` answers: how many lots, or why none."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.value_object.validation import require_int, require_positive, require_text


@dataclass(frozen=True)
class SizingResult:
    """``volume`` lots (>= 1) or None when refused; ``margin_per_lot`` once it could be computed."""

    volume: int | None
    reason: str
    margin_per_lot: float | None = None

    def __post_init__(self) -> None:
        require_text("SizingResult", "reason", self.reason)
        if self.volume is not None:
            object.__setattr__(self, "volume", require_int("SizingResult", "volume", self.volume, 1))
        if self.margin_per_lot is not None:
            object.__setattr__(self, "margin_per_lot",
                               require_positive("SizingResult", "margin_per_lot", self.margin_per_lot))

    @property
    def is_sized(self) -> bool:
        return self.volume is not None
