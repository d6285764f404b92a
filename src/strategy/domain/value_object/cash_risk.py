"""Risk in money: cash Greeks per underlying and the limits on them.

Units (CNY), for a position of ``q`` signed lots, multiplier ``m``, on an
underlying at price ``F`` (the option's mapped future, or the future itself),
with per-unit Greeks ``Δ``, ``Γ`` (per index point), vega per vol point and
theta per trading day:

- cash delta, CNY per 1% move of the underlying: ``q m Δ F / 100``
  (a future: ``Δ = 1``);
- cash gamma, CNY of cash delta gained per 1% move: ``q m Γ F² / 10,000``
  (the P&L of a 1% move from gamma alone is half of it);
- cash vega, CNY per vol point: ``q m vega``;
- theta, CNY per trading day: ``q m θ`` (trading time, see ``time_to_expiry``).

An *underlying* is the index a book is on, named by its futures product: the
CSI 300 book is ``IF`` (IF futures and IO options), CSI 1000 ``IM`` (IM and
MO), SSE 50 ``IH`` (IH and HO), CSI 500 ``IC``. The book's figures are the
sums over underlyings (money adds; the correlation between indices is not
taken into account, so the book's limit is the conservative one).

Translating the former per-lot limits (``position_limits``/``portfolio_limits``,
per option lot, no multiplier): delta ``L`` -> ``L x m x F / 100`` CNY per 1%
(IO, F = 4,600: 0.8 -> 3,680); gamma ``L`` -> ``L x m x F² / 10,000``
(0.1 -> 21,160); vega ``L`` -> ``L x m`` CNY per vol point (50 -> 5,000);
theta ``L`` (per calendar day) -> about ``L x m x 365 / 256`` per trading day.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from src.strategy.domain.value_object.validation import require_positive, require_real

BOOK_SCOPE = "book"

UNDERLYING_NAMES = {"IF": "CSI 300", "IM": "CSI 1000", "IH": "SSE 50", "IC": "CSI 500"}

CASH_UNITS = {"delta": "CNY per 1% move", "gamma": "CNY of delta per 1% move", "vega": "CNY per vol point",
              "theta": "CNY per trading day"}


class CashMetric(StrEnum):
    DELTA = "delta"
    GAMMA = "gamma"
    VEGA = "vega"
    THETA = "theta"


class BreachLevel(StrEnum):
    SOFT = "soft"   # openings that increase it are refused
    HARD = "hard"   # reducing orders are sent


class ReductionAction(StrEnum):
    CLOSE_LARGEST = "close_largest"
    HEDGE = "hedge"


_METRIC_NAMES = tuple(metric.value for metric in CashMetric)


@dataclass(frozen=True)
class CashGreeks:
    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0

    def __post_init__(self) -> None:
        for name in _METRIC_NAMES:
            value = getattr(self, name)
            if type(value) is not float or not math.isfinite(value):  # the common case is checked cheaply
                object.__setattr__(self, name, require_real("CashGreeks", name, value))

    def value(self, metric: CashMetric) -> float:
        return getattr(self, CashMetric(metric).value)

    def __add__(self, other: "CashGreeks") -> "CashGreeks":
        if not isinstance(other, CashGreeks):
            return NotImplemented
        return CashGreeks(self.delta + other.delta, self.gamma + other.gamma, self.vega + other.vega,
                          self.theta + other.theta)

    def as_dict(self) -> dict[str, float]:
        return {metric.value: self.value(metric) for metric in CashMetric}

    @classmethod
    def of_option(cls, lots: int, multiplier: float, underlying_price: float, delta: float, gamma: float,
                  vega_per_point: float, theta_per_day: float) -> "CashGreeks":
        scale = lots * multiplier
        return cls(scale * delta * underlying_price / 100.0,
                   scale * gamma * underlying_price * underlying_price / 10_000.0,
                   scale * vega_per_point, scale * theta_per_day)

    @classmethod
    def of_future(cls, lots: int, multiplier: float, price: float) -> "CashGreeks":
        return cls(lots * multiplier * price / 100.0)


@dataclass(frozen=True)
class MoneyLimit:
    """``soft``: openings that take |value| further above it are refused; ``hard`` (>= soft, optional):
    above it, reducing orders are sent."""

    soft: float
    hard: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "soft", require_positive("MoneyLimit", "soft", self.soft))
        if self.hard is not None:
            hard = require_positive("MoneyLimit", "hard", self.hard)
            if hard < self.soft:
                raise ValueError(f"MoneyLimit.hard ({hard}) must be >= soft ({self.soft})")
            object.__setattr__(self, "hard", hard)

    def level(self, value: float) -> BreachLevel | None:
        magnitude = abs(value)
        if self.hard is not None and magnitude > self.hard:
            return BreachLevel.HARD
        if magnitude > self.soft:
            return BreachLevel.SOFT
        return None

    def bound(self, level: BreachLevel) -> float:
        return self.hard if level is BreachLevel.HARD and self.hard is not None else self.soft


@dataclass(frozen=True)
class MoneyLimits:
    """One limit per metric; ``None`` leaves the metric unchecked."""

    delta: MoneyLimit | None = None
    gamma: MoneyLimit | None = None
    vega: MoneyLimit | None = None
    theta: MoneyLimit | None = None

    def __post_init__(self) -> None:
        for metric in CashMetric:
            limit = getattr(self, metric.value)
            if limit is not None and not isinstance(limit, MoneyLimit):
                raise TypeError(f"MoneyLimits.{metric.value} must be a MoneyLimit, got {type(limit).__name__}")

    def limit(self, metric: CashMetric) -> MoneyLimit | None:
        return getattr(self, CashMetric(metric).value)


@dataclass(frozen=True)
class CashRiskLimits:
    per_underlying: MoneyLimits
    book: MoneyLimits
    action: ReductionAction = ReductionAction.CLOSE_LARGEST

    def __post_init__(self) -> None:
        for name in ("per_underlying", "book"):
            if not isinstance(getattr(self, name), MoneyLimits):
                raise TypeError(f"CashRiskLimits.{name} must be MoneyLimits")
        object.__setattr__(self, "action", ReductionAction(self.action))

    def for_scope(self, scope: str) -> MoneyLimits:
        return self.book if scope == BOOK_SCOPE else self.per_underlying


@dataclass(frozen=True)
class CashPosition:
    """One position's contribution to its underlying's cash Greeks."""

    vt_symbol: str
    underlying: str
    lots: int
    is_option: bool
    cash: CashGreeks
