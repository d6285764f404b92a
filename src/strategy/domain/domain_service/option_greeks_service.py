"""Per-lot Greeks of held or candidate options, in the units of the risk limits.

Volatility is implied from each option's own price on its mapped future
(Black-76). A print below intrinsic value has no implied volatility; then the
option's last good one is used, so one bad print does not blind the risk
check. That cache is part of the strategy's saved state.

Units: delta and gamma per lot in underlying points, vega in points per one
volatility point, theta in points per day of the time basis; times the
contract multiplier they are CNY.

Time to expiry: ``time_to_expiry(contract, now)`` in years, with ``days_per_year``
days in one of those years. The cycle gives ``TradingTimeToExpiry`` (trading
time, see ``time_to_expiry``: theta per trading day); without it, ACT/365 to
15:00 of the expiry day (theta per calendar day), the former convention.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time

import numpy as np

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.value_object.greeks import GreeksResult
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.trading_calendar import act365_year_fraction
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

OPTION_EXPIRY_TIME = time(15, 0)
SHORTEST_YEAR_FRACTION = 1e-6


class OptionGreeksService:
    def __init__(self, calculator: GreeksCalculator, risk_free_rate: float,
                 implied_vols: Mapping[str, float] | None = None,
                 time_to_expiry: Callable[[OptionContract, datetime], float] | None = None,
                 days_per_year: float | None = None) -> None:
        self.calculator = calculator
        self.risk_free_rate = risk_free_rate
        self.implied_vols: dict[str, float] = dict(implied_vols or {})
        self.time_to_expiry = time_to_expiry or _act365_to_close
        if days_per_year is None:
            days_per_year = getattr(time_to_expiry, "days_per_year", 365.0) if time_to_expiry else 365.0
        self.days_per_year = float(days_per_year)

    def year_fraction(self, contract: OptionContract, now: datetime) -> float:
        """The option's time to expiry in the service's years (never below ``SHORTEST_YEAR_FRACTION``)."""
        return max(self.time_to_expiry(contract, now), SHORTEST_YEAR_FRACTION)

    def per_lot(self, contracts: Sequence[OptionContract], prices: Sequence[float],
                underlying_price: Callable[[str], float], now: datetime) -> list[GreeksResult | None]:
        """The Greeks of one lot of each option at its price; None where they are unknown."""
        if not contracts:
            return []
        underlying = np.array([underlying_price(c.underlying_vt_symbol) for c in contracts])
        strikes = np.array([c.strike for c in contracts])
        kinds = np.array([1 if c.option_type is OptionType.CALL else -1 for c in contracts])
        years = np.array([self.year_fraction(c, now) for c in contracts])
        implied = self.calculator.implied_volatility_batch(
            np.array(prices, dtype=float), kinds, underlying, strikes, years, self.risk_free_rate)
        for index, contract in enumerate(contracts):
            if np.isfinite(implied[index]):
                self.implied_vols[contract.vt_symbol] = float(implied[index])
            else:
                implied[index] = self.implied_vols.get(contract.vt_symbol, np.nan)
        greeks = self.calculator.calculate_batch(kinds, underlying, strikes, years, self.risk_free_rate, implied)
        results: list[GreeksResult | None] = []
        for index in range(len(contracts)):
            values = (greeks.delta[index], greeks.gamma[index], greeks.vega[index] / 100.0,
                      greeks.theta[index] / self.days_per_year)
            # The price is the one the volatility was implied from (or the last good volatility priced).
            known = all(math.isfinite(v) for v in values) and math.isfinite(prices[index])
            results.append(GreeksResult(float(prices[index]), *values) if known else None)
        return results


def _act365_to_close(contract: OptionContract, now: datetime) -> float:
    return act365_year_fraction(now, datetime.combine(contract.expiry, OPTION_EXPIRY_TIME, EXCHANGE_TIMEZONE))
