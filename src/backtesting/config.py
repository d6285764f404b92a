"""Backtest settings (dates, capital, costs) and product specifications.

Product specifications are CFFEX's: contract multiplier, minimum price tick and
the exchange's minimum margin ratio (brokers add a few points on top). The
commission is a fraction of turnover because that is the only form vnpy's
BacktestingEngine takes: index futures pay 0.23/10000 of turnover to open;
index options pay a fixed fee per lot (about 15 CNY for IO), expressed here as
a fraction of the turnover of a typical near-the-money lot (premium ~100 x 100).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from zoneinfo import ZoneInfo

from vnpy.trader.constant import Interval

from src.main.config.errors import UserInputError

EXCHANGE_TIMEZONE = ZoneInfo("Asia/Shanghai")
SUPPORTED_INTERVALS = (Interval.MINUTE,)


class BacktestConfigError(UserInputError):
    """An invalid backtest setting; the message names the setting."""


def _positive_number(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BacktestConfigError(f"{owner}: {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise BacktestConfigError(f"{owner}: {name} must be a positive number, got {value!r}")
    return number


def _non_negative_number(owner: str, name: str, value: object, upper: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BacktestConfigError(f"{owner}: {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < upper:
        bound = f"in [0, {upper:g})" if math.isfinite(upper) else "zero or positive"
        raise BacktestConfigError(f"{owner}: {name} must be {bound}, got {value!r}")
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
            raise BacktestConfigError(f"product spec: product must be a letters-only code, got {self.product!r}")
        owner = f"product spec {self.product}"
        object.__setattr__(self, "multiplier", _positive_number(owner, "multiplier", self.multiplier))
        object.__setattr__(self, "pricetick", _positive_number(owner, "pricetick", self.pricetick))
        margin = _positive_number(owner, "margin_ratio", self.margin_ratio)
        if margin > 1:
            raise BacktestConfigError(f"{owner}: margin_ratio must be at most 1, got {self.margin_ratio!r}")
        object.__setattr__(self, "margin_ratio", margin)
        object.__setattr__(self, "commission_rate",
                           _non_negative_number(owner, "commission_rate", self.commission_rate, 0.01))


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


def _frozen_mapping(owner: str, name: str, value: object, check) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise BacktestConfigError(f"{owner}: {name} must be a mapping of product -> number, got {value!r}")
    return MappingProxyType({str(product): check(owner, f"{name}[{product}]", number)
                             for product, number in value.items()})


@dataclass(frozen=True)
class BacktestConfig:
    """What one backtest runs over: dates (inclusive), capital, costs per product, bar interval.

    ``rates`` (commission, fraction of turnover) and ``slippages`` (price units)
    override the per-product defaults: the spec's commission rate and one price tick.
    """

    start: date
    end: date
    capital: float = 1_000_000.0
    rates: Mapping[str, float] = field(default_factory=dict)
    slippages: Mapping[str, float] = field(default_factory=dict)
    product_specs: Mapping[str, ProductSpec] = field(default_factory=lambda: DEFAULT_PRODUCT_SPECS)
    interval: Interval = Interval.MINUTE
    risk_free: float = 0.0
    annual_days: int = 240

    def __post_init__(self) -> None:
        owner = "backtest"
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, datetime) or not isinstance(value, date):
                raise BacktestConfigError(f"{owner}: {name} must be a date (YYYY-MM-DD), got {value!r}")
        if self.start > self.end:
            raise BacktestConfigError(f"{owner}: start {self.start} is after end {self.end}")
        object.__setattr__(self, "capital", _positive_number(owner, "capital", self.capital))
        if not isinstance(self.product_specs, Mapping) or not self.product_specs:
            raise BacktestConfigError(f"{owner}: product_specs must be a non-empty mapping of product -> ProductSpec")
        for product, spec in self.product_specs.items():
            if not isinstance(spec, ProductSpec) or spec.product != product:
                raise BacktestConfigError(f"{owner}: product_specs[{product}] must be the ProductSpec of {product}")
        object.__setattr__(self, "product_specs", MappingProxyType(dict(self.product_specs)))
        rates = _frozen_mapping(owner, "rates", self.rates,
                                lambda o, n, v: _non_negative_number(o, n, v, 0.01))
        slippages = _frozen_mapping(owner, "slippages", self.slippages, _non_negative_number)
        for name, values in (("rates", rates), ("slippages", slippages)):
            unknown = sorted(set(values) - set(self.product_specs))
            if unknown:
                raise BacktestConfigError(f"{owner}: {name} has products without a spec: {', '.join(unknown)}")
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "slippages", slippages)
        if isinstance(self.interval, str):
            try:
                object.__setattr__(self, "interval", Interval(self.interval))
            except ValueError:
                raise BacktestConfigError(f"{owner}: interval {self.interval!r} is not a vnpy interval") from None
        if self.interval not in SUPPORTED_INTERVALS:
            raise BacktestConfigError(f"{owner}: interval must be 1m (bars are aggregated by the strategy), "
                                      f"got {self.interval.value}")
        object.__setattr__(self, "risk_free", _non_negative_number(owner, "risk_free", self.risk_free, 1.0))
        if isinstance(self.annual_days, bool) or not isinstance(self.annual_days, int) \
                or not 1 <= self.annual_days <= 366:
            raise BacktestConfigError(f"{owner}: annual_days must be an integer in 1-366, got {self.annual_days!r}")

    def spec(self, product: str) -> ProductSpec:
        spec = self.product_specs.get(product)
        if spec is None:
            raise BacktestConfigError(
                f"backtest: no product spec for {product!r} (known: {', '.join(sorted(self.product_specs))})")
        return spec

    def rate(self, product: str) -> float:
        return self.rates.get(product, self.spec(product).commission_rate)

    def slippage(self, product: str) -> float:
        return self.slippages.get(product, self.spec(product).pricetick)

    @property
    def start_datetime(self) -> datetime:
        return datetime.combine(self.start, time(0, 0), EXCHANGE_TIMEZONE)

    @property
    def end_datetime(self) -> datetime:
        return datetime.combine(self.end, time(23, 59, 59), EXCHANGE_TIMEZONE)
