"""Settings of the dynamic hedging engines (the ``hedging`` section of the configuration).

Every delta here is in futures-lot-equivalent units: the number of lots of the
hedge future whose price sensitivity equals the portfolio's (see
``domain_service.portfolio_delta``). ``hedging_band`` 0.5 therefore means "half
a futures lot either side of the target".
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.value_object.validation import (
    require_int,
    require_non_negative,
    require_positive,
    require_real,
)


@dataclass(frozen=True)
class HedgingConfig:
    """``target_delta`` and ``hedging_band`` drive ``DeltaHedgingEngine`` (no trade while
    ``|delta - target| <= band``); ``rebalance_threshold`` drives ``GammaScalpingEngine``
    (rebalance once the delta drifted more than this since the last rebalance).
    ``max_hedge_lots`` caps one hedge order (None: no cap). At most one engine may be
    enabled, since two engines trading the same future would undo each other's orders."""

    target_delta: float = 0.0
    hedging_band: float = 0.5
    rebalance_threshold: float = 0.3
    delta_hedging_enabled: bool = False
    gamma_scalping_enabled: bool = False
    max_hedge_lots: int | None = None
    # Less churn (see domain_service.hedge_band): the band is never narrower than min_band_lots (one lot of
    # the hedge future: a narrower band makes a whole-lot hedge overshoot to the other side and back);
    # band_model "whalley_wilmott" widens it with the book's gamma and the cost of trading (cost_rate, a
    # share of notional per trade) against the risk aversion (per CNY); hedge_month "options" hedges in the
    # future of the options' month where it trades (else the dominant month), "dominant" always there.
    min_band_lots: float = 1.0
    band_model: str = "fixed"
    cost_rate: float = 0.0001
    risk_aversion: float = 1e-6
    hedge_month: str = "options"

    def __post_init__(self) -> None:
        owner = "HedgingConfig"
        object.__setattr__(self, "target_delta", require_real(owner, "target_delta", self.target_delta))
        object.__setattr__(self, "hedging_band", require_non_negative(owner, "hedging_band", self.hedging_band))
        object.__setattr__(self, "rebalance_threshold",
                           require_positive(owner, "rebalance_threshold", self.rebalance_threshold))
        for name in ("delta_hedging_enabled", "gamma_scalping_enabled"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{owner}.{name} must be a bool, got {type(getattr(self, name)).__name__}")
        if self.delta_hedging_enabled and self.gamma_scalping_enabled:
            raise ValueError(f"{owner}: enable delta hedging or gamma scalping, not both: "
                             f"both trade the same future and would undo each other's orders")
        object.__setattr__(self, "min_band_lots", require_non_negative(owner, "min_band_lots", self.min_band_lots))
        object.__setattr__(self, "cost_rate", require_non_negative(owner, "cost_rate", self.cost_rate))
        object.__setattr__(self, "risk_aversion", require_positive(owner, "risk_aversion", self.risk_aversion))
        if self.band_model not in ("fixed", "whalley_wilmott"):
            raise ValueError(f"{owner}.band_model must be 'fixed' or 'whalley_wilmott', got {self.band_model!r}")
        if self.hedge_month not in ("options", "dominant"):
            raise ValueError(f"{owner}.hedge_month must be 'options' or 'dominant', got {self.hedge_month!r}")
        if self.max_hedge_lots is not None:
            object.__setattr__(self, "max_hedge_lots", require_int(owner, "max_hedge_lots", self.max_hedge_lots, 1))

    @property
    def any_enabled(self) -> bool:
        return self.delta_hedging_enabled or self.gamma_scalping_enabled
