"""What the exchange and the broker charge per fill: a fixed part per lot plus a share of turnover.

CFFEX charges index options per lot (open, close, exercise) and index futures on
turnover, with a higher rate for a position closed on the day it was opened
(close-today). The broker adds its own amount per lot on every fill.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from src.strategy.domain.value_object.validation import require_non_negative, require_text


@dataclass(frozen=True)
class ProductFees:
    """CNY per lot and fractions of turnover (price x multiplier x lots) for one product."""

    product: str
    open_per_lot: float = 0.0
    close_per_lot: float = 0.0
    close_today_per_lot: float = 0.0
    exercise_per_lot: float = 0.0
    open_rate: float = 0.0
    close_rate: float = 0.0
    close_today_rate: float = 0.0

    def __post_init__(self) -> None:
        owner = f"ProductFees({self.product!r})"
        require_text(owner, "product", self.product)
        for name in ("open_per_lot", "close_per_lot", "close_today_per_lot", "exercise_per_lot", "open_rate",
                     "close_rate", "close_today_rate"):
            object.__setattr__(self, name, require_non_negative(owner, name, getattr(self, name)))


@dataclass(frozen=True)
class FeeSchedule:
    products: Mapping[str, ProductFees] = field(default_factory=dict)
    broker_per_lot: float = 0.0

    def __post_init__(self) -> None:
        for product, fees in self.products.items():
            if not isinstance(fees, ProductFees) or fees.product != product:
                raise ValueError(f"FeeSchedule: products[{product!r}] must be the ProductFees of {product}")
        object.__setattr__(self, "products", MappingProxyType(dict(self.products)))
        object.__setattr__(self, "broker_per_lot",
                           require_non_negative("FeeSchedule", "broker_per_lot", self.broker_per_lot))

    def covers(self, product: str) -> bool:
        return product in self.products
