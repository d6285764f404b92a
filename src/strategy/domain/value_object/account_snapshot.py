"""The account's funds as the gateway reported them at ``taken_at``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.value_object.validation import require_aware, require_non_negative, require_real


@dataclass(frozen=True)
class AccountSnapshot:
    """``available`` may be negative (a margin call) and is not checked against ``balance``."""

    balance: float
    available: float
    frozen: float
    taken_at: datetime

    def __post_init__(self) -> None:
        owner = "AccountSnapshot"
        object.__setattr__(self, "balance", require_real(owner, "balance", self.balance))
        object.__setattr__(self, "available", require_real(owner, "available", self.available))
        object.__setattr__(self, "frozen", require_non_negative(owner, "frozen", self.frozen))
        require_aware(owner, "taken_at", self.taken_at)
