"""Backtest settings: dates, capital, costs per product, bar interval.

The product specifications themselves (multiplier, tick, margin, commission)
are in ``src.core.contract.product_spec``: the live processes use them too.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType

from vnpy.trader.constant import Interval

from src.core.contract.product_spec import (
    DEFAULT_PRODUCT_SPECS,
    ProductSpec,
    ProductSpecError,
    non_negative_number,
    positive_number,
)
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

SUPPORTED_INTERVALS = (Interval.MINUTE,)

# One error type for every invalid setting of a backtest, product terms included.
BacktestConfigError = ProductSpecError


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
        object.__setattr__(self, "capital", positive_number(owner, "capital", self.capital))
        if not isinstance(self.product_specs, Mapping) or not self.product_specs:
            raise BacktestConfigError(f"{owner}: product_specs must be a non-empty mapping of product -> ProductSpec")
        for product, spec in self.product_specs.items():
            if not isinstance(spec, ProductSpec) or spec.product != product:
                raise BacktestConfigError(f"{owner}: product_specs[{product}] must be the ProductSpec of {product}")
        object.__setattr__(self, "product_specs", MappingProxyType(dict(self.product_specs)))
        rates = _frozen_mapping(owner, "rates", self.rates,
                                lambda o, n, v: non_negative_number(o, n, v, 0.01))
        slippages = _frozen_mapping(owner, "slippages", self.slippages, non_negative_number)
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
        object.__setattr__(self, "risk_free", non_negative_number(owner, "risk_free", self.risk_free, 1.0))
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
