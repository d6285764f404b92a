"""Trading parameters of one contract, as the exchange and the broker set them."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.value_object.validation import require_int, require_positive, require_text


@dataclass(frozen=True)
class ContractParams:
    """``margin_ratio`` is the exchange's margin rate (for CFFEX index options the
    "合约保证金调整系数", 10% at the time of writing); ``min_volume`` the smallest
    order size, orders are whole multiples of it."""

    vt_symbol: str
    multiplier: float
    pricetick: float
    margin_ratio: float
    min_volume: int = 1

    def __post_init__(self) -> None:
        owner = f"ContractParams({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        object.__setattr__(self, "multiplier", require_positive(owner, "multiplier", self.multiplier))
        object.__setattr__(self, "pricetick", require_positive(owner, "pricetick", self.pricetick))
        margin_ratio = require_positive(owner, "margin_ratio", self.margin_ratio)
        if margin_ratio > 1:
            raise ValueError(f"{owner}.margin_ratio must be in (0, 1], got {margin_ratio}")
        object.__setattr__(self, "margin_ratio", margin_ratio)
        object.__setattr__(self, "min_volume", require_int(owner, "min_volume", self.min_volume, 1))
