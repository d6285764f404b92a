"""Portfolio delta in futures-lot-equivalent units, and how it behaved over the bars.

Unit
    One unit is the delta of one lot of the hedge future: the number of futures
    lots whose value moves like the portfolio's when the underlying moves.

        delta_lots = Σ option_lots_i × option_delta_i × option_multiplier_i / future_multiplier
                     + future_lots

    ``option_lots`` are signed (long > 0, short < 0), ``option_delta`` is the
    per-unit delta with respect to the futures price (``GreeksCalculator`` with
    the Black-76 model on the futures price), the multipliers are the contracts'
    (IO 100, IF 300: 10 short IO puts of delta -0.3 are +10 × 0.3 × 100 / 300 =
    +1.0 IF lot). CFFEX index options settle on the spot index, not on the
    future; pricing them on the future's price treats the basis as constant,
    which is the usual desk convention for hedging with the future.

An option whose delta could not be computed (NaN from the calculator) makes
the total NaN: the engines refuse to hedge on an unknown delta rather than
hedge a part of the book.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from src.strategy.domain.value_object.validation import (
    require_int,
    require_non_negative,
    require_positive,
    require_real,
)


def futures_equivalent_delta(lots: ArrayLike, unit_delta: ArrayLike, multiplier: ArrayLike,
                             future_multiplier: float) -> np.ndarray:
    """Each position's delta in lots of the hedge future (arrays broadcast together)."""
    future_multiplier = require_positive("futures_equivalent_delta", "future_multiplier", future_multiplier)
    lots = np.asarray(lots, dtype=np.float64)
    unit_delta = np.asarray(unit_delta, dtype=np.float64)
    multiplier = np.asarray(multiplier, dtype=np.float64)
    if np.any(multiplier <= 0):
        raise ValueError("futures_equivalent_delta: every multiplier must be > 0")
    return lots * unit_delta * multiplier / future_multiplier


def portfolio_delta_lots(option_lots: ArrayLike, option_deltas: ArrayLike, option_multipliers: ArrayLike,
                         future_multiplier: float, future_lots: float = 0.0) -> float:
    """The whole book's delta in lots of the hedge future: options plus net futures lots (long - short)."""
    future_lots = require_real("portfolio_delta_lots", "future_lots", future_lots)
    per_option = futures_equivalent_delta(option_lots, option_deltas, option_multipliers, future_multiplier)
    return float(np.sum(per_option)) + future_lots


@dataclass(eq=False)
class DeltaBandTracker:
    """Counts, bar by bar, how the portfolio delta sat against ``target ± band``.

    ``observe`` once per bar (before any hedge of that bar): ``share_outside_band``
    is the share of observed bars whose delta was strictly outside the band,
    ``max_abs_delta`` the largest |delta| seen.
    """

    target: float
    band: float
    observations: int = 0
    outside: int = 0
    max_abs_delta: float = 0.0

    def __post_init__(self) -> None:
        owner = "DeltaBandTracker"
        self.target = require_real(owner, "target", self.target)
        self.band = require_non_negative(owner, "band", self.band)
        self.observations = require_int(owner, "observations", self.observations, 0)
        self.outside = require_int(owner, "outside", self.outside, 0)
        self.max_abs_delta = require_non_negative(owner, "max_abs_delta", self.max_abs_delta)

    def observe(self, portfolio_delta: float) -> bool:
        """Records one bar's delta; returns whether it was outside the band. A NaN delta is not counted."""
        if math.isnan(portfolio_delta):
            return False
        delta = require_real("DeltaBandTracker.observe", "portfolio_delta", portfolio_delta)
        self.observations += 1
        self.max_abs_delta = max(self.max_abs_delta, abs(delta))
        outside = is_outside_band(delta, self.target, self.band)
        self.outside += outside
        return outside

    @property
    def share_outside_band(self) -> float:
        return self.outside / self.observations if self.observations else 0.0

    def to_dict(self) -> dict:
        return {"target": self.target, "band": self.band, "observations": self.observations,
                "outside": self.outside, "max_abs_delta": self.max_abs_delta}

    @classmethod
    def from_dict(cls, data: Mapping) -> DeltaBandTracker:
        return cls(data["target"], data["band"], data["observations"], data["outside"], data["max_abs_delta"])


def is_outside_band(delta: float, target: float, band: float) -> bool:
    # A tolerance keeps a delta that sits on the edge up to rounding (0.1 + 0.2) inside.
    deviation = abs(delta - target)
    return deviation > band and not np.isclose(deviation, band, rtol=1e-12, atol=1e-12)
