"""Product specifications: the trading terms shared by every contract of a product.

They are CFFEX's: contract multiplier, minimum price tick and the exchange's
minimum margin ratio (brokers add a few points on top). The commission is a
fraction of turnover because that is the only form vnpy's BacktestingEngine
takes: index futures pay 0.23/10000 of turnover to open; index options pay a
fixed fee per lot (about 15 CNY for IO), expressed here as a fraction of the
turnover of a typical near-the-money lot (premium ~100 x 100).

They live below both the backtester and the live processes because both size,
margin and register contracts from them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from src.core.config.errors import UserInputError


class ProductSpecError(UserInputError):
    """An invalid product specification or backtest setting; the message names the setting."""


def positive_number(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProductSpecError(f"{owner}: {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ProductSpecError(f"{owner}: {name} must be a positive number, got {value!r}")
    return number


def non_negative_number(owner: str, name: str, value: object, upper: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProductSpecError(f"{owner}: {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < upper:
        bound = f"in [0, {upper:g})" if math.isfinite(upper) else "zero or positive"
        raise ProductSpecError(f"{owner}: {name} must be {bound}, got {value!r}")
    return number


@dataclass(frozen=True)
class ProductSpec:
    """Trading terms of one product (the same for all its contracts)."""

    product: str
    multiplier: float
    pricetick: float
    margin_ratio: float
    commission_rate: float

    def __post_init__(self) -> None:
        if not isinstance(self.product, str) or not self.product.isalpha():
            raise ProductSpecError(f"product spec: product must be a letters-only code, got {self.product!r}")
        owner = f"product spec {self.product}"
        object.__setattr__(self, "multiplier", positive_number(owner, "multiplier", self.multiplier))
        object.__setattr__(self, "pricetick", positive_number(owner, "pricetick", self.pricetick))
        margin = positive_number(owner, "margin_ratio", self.margin_ratio)
        if margin > 1:
            raise ProductSpecError(f"{owner}: margin_ratio must be at most 1, got {self.margin_ratio!r}")
        object.__setattr__(self, "margin_ratio", margin)
        object.__setattr__(self, "commission_rate",
                           non_negative_number(owner, "commission_rate", self.commission_rate, 0.01))


DEFAULT_PRODUCT_SPECS: Mapping[str, ProductSpec] = MappingProxyType({
    spec.product: spec for spec in (
        ProductSpec("IF", multiplier=300, pricetick=0.2, margin_ratio=0.12, commission_rate=0.000023),
        ProductSpec("IH", multiplier=300, pricetick=0.2, margin_ratio=0.12, commission_rate=0.000023),
        ProductSpec("IC", multiplier=200, pricetick=0.2, margin_ratio=0.14, commission_rate=0.000023),
        ProductSpec("IM", multiplier=200, pricetick=0.2, margin_ratio=0.15, commission_rate=0.000023),
        ProductSpec("IO", multiplier=100, pricetick=0.2, margin_ratio=0.10, commission_rate=0.0015),
        ProductSpec("HO", multiplier=100, pricetick=0.2, margin_ratio=0.10, commission_rate=0.0015),
        ProductSpec("MO", multiplier=100, pricetick=0.2, margin_ratio=0.12, commission_rate=0.0015),
    )
})
