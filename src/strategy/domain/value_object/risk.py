"""Greek limits and the positions they are checked against.

Units of exposure (``GreeksExposure``), the sum over positions of
``quantity (signed lots) x contract multiplier x per-unit Greek``:

- delta: underlying-equivalent units, i.e. currency gained per 1.0 rise of the
  underlying's price (an IO call with delta 0.5, multiplier 100, 2 lots long:
  +100, the same exposure as 100 units of the index);
- gamma: change of that delta per 1.0 rise of the underlying's price;
- vega: currency gained per 1.00 (100 vol points) rise of implied volatility;
  divide by 100 for per vol point;
- theta: currency gained per year of calendar time passing; divide by 365 for
  per day.

Limits are bounds on the absolute value of those exposures, per position (all
lots of one symbol together) and for the whole portfolio. Per-unit Greeks come
from ``GreeksCalculator`` (vega per 1.00 of vol, theta per year).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from src.strategy.domain.value_object.greeks import GreeksResult
from src.strategy.domain.value_object.validation import (
    require_int,
    require_non_negative,
    require_positive,
    require_real,
    require_text,
)


class RiskMetric(Enum):
    DELTA = "delta"
    GAMMA = "gamma"
    VEGA = "vega"
    THETA = "theta"


PORTFOLIO_SCOPE = "portfolio"


@dataclass(frozen=True)
class GreeksLimits:
    """Largest allowed absolute exposure per metric; ``theta=None`` leaves theta unchecked."""

    delta: float
    gamma: float
    vega: float
    theta: float | None = None

    def __post_init__(self) -> None:
        for metric in ("delta", "gamma", "vega"):
            object.__setattr__(self, metric, require_non_negative("GreeksLimits", metric, getattr(self, metric)))
        if self.theta is not None:
            object.__setattr__(self, "theta", require_non_negative("GreeksLimits", "theta", self.theta))

    def limit(self, metric: RiskMetric) -> float | None:
        return getattr(self, metric.value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> "GreeksLimits":
        unknown = set(values) - {m.value for m in RiskMetric}
        if unknown:
            raise ValueError(f"unknown Greek limit(s): {sorted(unknown)}")
        missing = {"delta", "gamma", "vega"} - set(values)
        if missing:
            raise ValueError(f"missing Greek limit(s): {sorted(missing)}")
        return cls(values["delta"], values["gamma"], values["vega"], values.get("theta"))


@dataclass(frozen=True)
class RiskThresholds:
    position: GreeksLimits
    portfolio: GreeksLimits

    def __post_init__(self) -> None:
        for name in ("position", "portfolio"):
            if not isinstance(getattr(self, name), GreeksLimits):
                raise TypeError(f"RiskThresholds.{name} must be GreeksLimits, got {type(getattr(self, name)).__name__}")

    @classmethod
    def from_mapping(cls, position_limits: Mapping[str, float], portfolio_limits: Mapping[str, float]) -> "RiskThresholds":
        return cls(GreeksLimits.from_mapping(position_limits), GreeksLimits.from_mapping(portfolio_limits))


@dataclass(frozen=True)
class GreeksExposure:
    """Greek exposures in the units of the module docstring."""

    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0

    def __post_init__(self) -> None:
        for metric in RiskMetric:
            object.__setattr__(self, metric.value, require_real("GreeksExposure", metric.value,
                                                               getattr(self, metric.value)))

    def value(self, metric: RiskMetric) -> float:
        return getattr(self, metric.value)

    def __add__(self, other: "GreeksExposure") -> "GreeksExposure":
        if not isinstance(other, GreeksExposure):
            return NotImplemented
        return GreeksExposure(self.delta + other.delta, self.gamma + other.gamma, self.vega + other.vega,
                              self.theta + other.theta)


@dataclass(frozen=True)
class PositionGreeks:
    """One position: signed lots (long > 0, short < 0), contract multiplier and per-unit Greeks."""

    symbol: str
    quantity: int
    multiplier: float
    delta: float
    gamma: float
    vega: float
    theta: float

    def __post_init__(self) -> None:
        owner = f"PositionGreeks({self.symbol!r})"
        require_text(owner, "symbol", self.symbol)
        object.__setattr__(self, "quantity", require_int(owner, "quantity", self.quantity, -(2 ** 63)))
        object.__setattr__(self, "multiplier", require_positive(owner, "multiplier", self.multiplier))
        for metric in RiskMetric:
            object.__setattr__(self, metric.value, require_real(owner, metric.value, getattr(self, metric.value)))

    @classmethod
    def from_greeks(cls, symbol: str, quantity: int, multiplier: float, greeks: GreeksResult) -> "PositionGreeks":
        return cls(symbol, quantity, multiplier, greeks.delta, greeks.gamma, greeks.vega, greeks.theta)

    def exposure(self) -> GreeksExposure:
        scale = self.quantity * self.multiplier
        return GreeksExposure(scale * self.delta, scale * self.gamma, scale * self.vega, scale * self.theta)


def exceeds(value: float, limit: float | None) -> bool:
    """A limit is breached when the absolute exposure is strictly above it."""
    return limit is not None and abs(value) > limit and not math.isclose(abs(value), limit, rel_tol=1e-12)
