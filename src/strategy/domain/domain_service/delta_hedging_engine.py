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

Offsets: a buy closes short futures when ``short_lots`` covers the whole hedge,
otherwise it opens (and a sell likewise with ``long_lots``). One instruction
always moves the whole amount; the price is a reference (the future's latest
price) for ``SmartOrderExecutor``, which sets the limit.
"""
from __future__ import annotations

import math
from datetime import datetime

from src.strategy.domain.domain_service.portfolio_delta import is_outside_band
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.hedge_events import DeltaOutsideBandEvent, HedgeOrderEvent, HedgeRefusedEvent
from src.strategy.domain.value_object.hedging_config import HedgingConfig
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_int,
    require_positive,
    require_real,
    require_text,
)

ENGINE_DELTA_HEDGING = "delta_hedging"


def whole_hedge_lots(deviation: float, max_lots: int | None = None) -> int:
    """The signed whole lots nearest to ``deviation``, at most ``max_lots`` in size.

    Halves round toward zero: trading 1 lot or 2 against a deviation of 1.5 leaves
    the delta equally far from the target, and the smaller trade costs less.
    """
    deviation = require_real("whole_hedge_lots", "deviation", deviation)
    # The allowance keeps a 0.5 made by floating point (0.1 + 0.2 + 0.2) a half.
    lots = max(math.ceil(abs(deviation) - 0.5 - 1e-9), 0)
    if max_lots is not None:
        lots = min(lots, max_lots)
    return lots if deviation >= 0 else -lots


def hedge_instruction(vt_symbol: str, lots: int, reference_price: float, long_lots: int, short_lots: int,
                      reason: str) -> OrderInstruction:
    """The order that changes the futures position by ``lots`` (signed), closing when that covers it all."""
    direction = Direction.LONG if lots > 0 else Direction.SHORT
    closable = short_lots if direction is Direction.LONG else long_lots
    offset = Offset.CLOSE if closable >= abs(lots) else Offset.OPEN
    return OrderInstruction(vt_symbol=vt_symbol, direction=direction, offset=offset, volume=abs(lots),
                            price=reference_price, reason=reason)


def check_hedge_inputs(owner: str, hedge_symbol: str, reference_price: float, at: datetime, long_lots: int,
                       short_lots: int, pending_lots: int) -> tuple[float, int, int, int]:
    require_text(owner, "hedge_symbol", hedge_symbol)
    require_aware(owner, "at", at)
    return (require_positive(owner, "reference_price", reference_price),
            require_int(owner, "long_lots", long_lots, 0),
            require_int(owner, "short_lots", short_lots, 0),
            require_int(owner, "pending_lots", pending_lots, -(2 ** 63)))


class DeltaHedgingEngine:
    def __init__(self, settings: HedgingConfig) -> None:
        if not isinstance(settings, HedgingConfig):
            raise TypeError(f"DeltaHedgingEngine.settings must be a HedgingConfig, got {type(settings).__name__}")
        self._settings = settings
        self._events: list[DomainEvent] = []
        self._hedge_order_count = 0

    @property
    def settings(self) -> HedgingConfig:
        return self._settings

    @property
    def enabled(self) -> bool:
        return self._settings.delta_hedging_enabled

    @property
    def hedge_order_count(self) -> int:
        """Hedge instructions returned since construction."""
        return self._hedge_order_count

    def is_outside_band(self, portfolio_delta: float) -> bool:
        return is_outside_band(portfolio_delta, self._settings.target_delta, self._settings.hedging_band)

    def evaluate(self, *, portfolio_delta: float, hedge_symbol: str, reference_price: float, at: datetime,
                 long_lots: int = 0, short_lots: int = 0, pending_lots: int = 0) -> OrderInstruction | None:
        """The hedge order the portfolio needs now, or None.

        ``long_lots`` / ``short_lots``: lots of ``hedge_symbol`` held and not already
        being closed by a working order; ``pending_lots``: signed lots of hedge orders
        still working. A disabled engine returns None and records nothing: the
        feature is off, no decision was refused.
        """
        owner = "DeltaHedgingEngine.evaluate"
        price, long_lots, short_lots, pending_lots = check_hedge_inputs(
            owner, hedge_symbol, reference_price, at, long_lots, short_lots, pending_lots)
        if not self.enabled:
            return None
        settings = self._settings
        if not math.isfinite(portfolio_delta):
            self._events.append(HedgeRefusedEvent(
                at, engine=ENGINE_DELTA_HEDGING, hedge_symbol=hedge_symbol, portfolio_delta=portfolio_delta,
                reason="the portfolio delta is unknown (an option's Greeks could not be computed)"))
            return None
        if not self.is_outside_band(portfolio_delta):
            return None
        self._events.append(DeltaOutsideBandEvent(
            at, engine=ENGINE_DELTA_HEDGING, hedge_symbol=hedge_symbol, portfolio_delta=portfolio_delta,
            reference=settings.target_delta, tolerance=settings.hedging_band))
        effective = portfolio_delta + pending_lots
        if pending_lots and not self.is_outside_band(effective):
            self._refuse(at, hedge_symbol, portfolio_delta,
                         f"hedge orders of {pending_lots:+d} lots still working bring the delta to {effective:+.4g}, "
                         f"inside {settings.target_delta:+.4g} ± {settings.hedging_band:g}")
            return None
        wanted = whole_hedge_lots(settings.target_delta - effective)
        lots = whole_hedge_lots(settings.target_delta - effective, settings.max_hedge_lots)
        if lots == 0:
            self._refuse(at, hedge_symbol, portfolio_delta,
                         f"the deviation {effective - settings.target_delta:+.4g} rounds to no whole lot")
            return None
        reason = (f"delta hedge: portfolio delta {portfolio_delta:+.4g} lots outside "
                  f"{settings.target_delta:+.4g} ± {settings.hedging_band:g}")
        if lots != wanted:
            reason += f"; {wanted:+d} lots needed, capped at max_hedge_lots {settings.max_hedge_lots}"
        instruction = hedge_instruction(hedge_symbol, lots, price, long_lots, short_lots, reason)
        self._hedge_order_count += 1
        self._events.append(HedgeOrderEvent(
            at, engine=ENGINE_DELTA_HEDGING, vt_symbol=hedge_symbol, lots=lots, offset=instruction.offset.value,
            portfolio_delta=portfolio_delta, expected_delta=effective + lots, reason=reason))
        return instruction

    def _refuse(self, at: datetime, hedge_symbol: str, portfolio_delta: float, reason: str) -> None:
        self._events.append(HedgeRefusedEvent(at, engine=ENGINE_DELTA_HEDGING, hedge_symbol=hedge_symbol,
                                              portfolio_delta=portfolio_delta, reason=reason))

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events
