"""Keeps the portfolio delta within ``target_delta ± hedging_band`` by trading the underlying future.

Deltas are in futures-lot-equivalent units (``portfolio_delta``). On each
evaluation (once per bar):

- inside the band (``|delta - target| <= band``): nothing is traded;
- outside it: a ``DeltaOutsideBandEvent``, then an order for the whole lots that
  bring the delta back to the target, ``round(target - delta)`` (halves toward
  zero: of two equally close results, the smaller trade), capped at
  ``max_hedge_lots`` when configured. Rounding leaves the delta within half a
  lot of the target, so within the band whenever the band is at least 0.5; a
  deviation that rounds to no lot is refused with its reason.

``pending_lots`` (signed lots of hedge orders still working) count as already
filled, so a hedge order that has not filled yet is not sent a second time.

The skeleton (and offsets, events, the lot rounding) is ``hedging_core.HedgingCore``;
this engine is that core with the ``DeltaBandTrigger`` policy.
"""
from __future__ import annotations

from src.strategy.domain.domain_service.hedging_core import (  # noqa: F401 (kept importable from here)
    ENGINE_DELTA_HEDGING,
    DeltaBandTrigger,
    HedgingCore,
    check_hedge_inputs,
    hedge_instruction,
    whole_hedge_lots,
)
from src.strategy.domain.domain_service.portfolio_delta import is_outside_band
from src.strategy.domain.value_object.hedging_config import HedgingConfig


class DeltaHedgingEngine(HedgingCore):
    def __init__(self, settings: HedgingConfig) -> None:
        super().__init__(settings, DeltaBandTrigger())

    @property
    def hedge_order_count(self) -> int:
        """Hedge instructions returned since construction."""
        return self._order_count

    def is_outside_band(self, portfolio_delta: float) -> bool:
        return is_outside_band(portfolio_delta, self._settings.target_delta, self._settings.hedging_band)
