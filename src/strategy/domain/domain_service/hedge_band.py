"""The delta hedge's band and contract, with less churn.

Band (in lots of the hedge future, around ``target_delta``):

- never narrower than ``min_band_lots`` (1 by default): a hedge trades whole
  lots, so with a band of half a lot a delta of +0.6 is hedged to -0.4, and a
  small move back takes it to +0.6 again: round trips within the day for
  nothing (one IF lot is the delta of 3 IO lots at delta 1, so an option book's
  delta moves that much quickly);
- ``fixed``: ``max(hedging_band, min_band_lots)``;
- ``whalley_wilmott``: the no-transaction band of Whalley & Wilmott (1997) for
  proportional costs, ``H = (3 λ F Γ² / (2 γ))^(1/3)`` index units either side,
  with ``λ`` the cost of trading as a share of notional (``cost_rate``), ``F``
  the future's price, ``Γ`` the book's gamma in index units per point
  (``Σ lots x multiplier x gamma``), ``γ`` the risk aversion per CNY; in lots,
  ``H / future multiplier``, and never under the floor. A book with more gamma
  (more to re-hedge) or dearer trading gets a wider band; the interest-rate
  discount factor of the formula is taken as 1 (days to expiry).

Contract: ``hedge_month = "options"`` hedges in the future of the month the
options' delta is in (IO2602 puts -> IF2602) when that future trades today, so
hedge and options expire and settle together on the same average; otherwise the
dominant month, and the basis between the two (points) is stated.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from src.strategy.domain.value_object.hedging_config import HedgingConfig


def whalley_wilmott_band_lots(gamma_units: float, price: float, cost_rate: float, risk_aversion: float,
                              future_multiplier: float) -> float:
    """The half-width of the Whalley-Wilmott no-transaction band, in lots of the hedge future."""
    if not (math.isfinite(gamma_units) and price > 0 and future_multiplier > 0 and risk_aversion > 0):
        return 0.0
    width = (3.0 * cost_rate * price * gamma_units * gamma_units / (2.0 * risk_aversion)) ** (1.0 / 3.0)
    return width / future_multiplier


def effective_band(settings: HedgingConfig, gamma_units: float = 0.0, price: float = 0.0,
                   future_multiplier: float = 1.0) -> float:
    if settings.band_model == "whalley_wilmott":
        base = whalley_wilmott_band_lots(gamma_units, price, settings.cost_rate, settings.risk_aversion,
                                         future_multiplier)
    else:
        base = settings.hedging_band
    return max(base, settings.min_band_lots)


@dataclass(frozen=True)
class HedgeContract:
    vt_symbol: str
    note: str | None = None   # why not the options' month, with the basis


def choose_hedge_contract(settings: HedgingConfig, dominant: str, option_delta_by_future: Mapping[str, float],
                          trading: Mapping[str, bool], prices: Mapping[str, float]) -> HedgeContract:
    """The future to hedge a product's options with.

    ``option_delta_by_future``: the options' delta (lots of the future, any sign) per mapped future;
    ``trading``: whether each future traded today; ``prices``: the futures' last prices."""
    if settings.hedge_month == "dominant" or not option_delta_by_future:
        return HedgeContract(dominant)
    month = max(sorted(option_delta_by_future), key=lambda vt: abs(option_delta_by_future[vt]))
    if month == dominant:
        return HedgeContract(dominant)
    if trading.get(month) and month in prices:
        return HedgeContract(month)
    basis = prices.get(month, float("nan")) - prices.get(dominant, float("nan"))
    return HedgeContract(dominant, f"the options' month {month} does not trade today: hedged in {dominant}, "
                                   f"basis {month} - {dominant} {basis:+.1f} points")
