"""The one hedging skeleton behind ``DeltaHedgingEngine`` and ``GammaScalpingEngine``.

Deltas are in futures-lot-equivalent units (``portfolio_delta``). On each
evaluation (once per bar) the core:

1. checks the inputs and does nothing when the engine is disabled;
2. refuses an unknown (non-finite) portfolio delta;
3. asks its *trigger policy* whether the book needs a hedge now; if not, stops;
4. records a ``DeltaOutsideBandEvent`` with the policy's reference and tolerance;
5. lets the policy refuse a hedge that working orders already cover;
6. computes ``round(target - effective)`` whole lots (capped at ``max_hedge_lots``),
   where ``effective = delta + pending_lots`` counts working hedge orders as filled;
   a result of no lot is refused with the policy's reason;
7. returns the instruction, tells the policy where it leaves the book and records
   a ``HedgeOrderEvent``.

The two policies differ only in steps 3, 5, 6's refusal text and 7's bookkeeping:
``DeltaBandTrigger`` hedges when the delta leaves ``target ± hedging_band``;
``GammaScalpingTrigger`` when the delta drifts more than ``rebalance_threshold``
from where the last rebalance left it (the anchor).

Offsets: a buy closes short futures when ``short_lots`` covers the whole hedge,
otherwise it opens (and a sell likewise with ``long_lots``). One instruction
always moves the whole amount; the price is a reference (the future's latest
price) for ``SmartOrderExecutor``, which sets the limit.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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
ENGINE_GAMMA_SCALPING = "gamma_scalping"

UNKNOWN_DELTA = "the portfolio delta is unknown (an option's Greeks could not be computed)"


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


@dataclass(frozen=True)
class Trigger:
    """Why the book needs a hedge: the delta left ``reference ± tolerance``."""

    reference: float
    tolerance: float
    drift: float = 0.0      # effective delta - reference, for the policy's reason text


class HedgeTriggerPolicy(Protocol):
    """What distinguishes one hedging engine from another; the core does the rest."""

    engine: str             # the ``engine`` field of the events

    def enabled(self, settings: HedgingConfig) -> bool: ...

    def trigger(self, settings: HedgingConfig, portfolio_delta: float, effective: float) -> Trigger | None:
        """The band the book has left, or None when no hedge is due."""

    def covered(self, settings: HedgingConfig, effective: float, pending_lots: int) -> str | None:
        """A refusal reason when working hedge orders already bring the book back, else None."""

    def no_lot(self, settings: HedgingConfig, effective: float, trigger: Trigger) -> str:
        """The refusal reason when the deviation rounds to no whole lot (may update the policy's state)."""

    def reason(self, settings: HedgingConfig, portfolio_delta: float, trigger: Trigger) -> str:
        """The instruction's reason."""

    def hedged(self, expected_delta: float) -> None:
        """An instruction was returned that leaves the book at ``expected_delta``."""


class DeltaBandTrigger:
    """Hedge when the delta leaves ``target_delta ± hedging_band``; no state."""

    engine = ENGINE_DELTA_HEDGING

    def enabled(self, settings: HedgingConfig) -> bool:
        return settings.delta_hedging_enabled

    def trigger(self, settings: HedgingConfig, portfolio_delta: float, effective: float) -> Trigger | None:
        if not is_outside_band(portfolio_delta, settings.target_delta, settings.hedging_band):
            return None
        return Trigger(settings.target_delta, settings.hedging_band, effective - settings.target_delta)

    def covered(self, settings: HedgingConfig, effective: float, pending_lots: int) -> str | None:
        if pending_lots and not is_outside_band(effective, settings.target_delta, settings.hedging_band):
            return (f"hedge orders of {pending_lots:+d} lots still working bring the delta to {effective:+.4g}, "
                    f"inside {settings.target_delta:+.4g} ± {settings.hedging_band:g}")
        return None

    def no_lot(self, settings: HedgingConfig, effective: float, trigger: Trigger) -> str:
        return f"the deviation {effective - settings.target_delta:+.4g} rounds to no whole lot"

    def reason(self, settings: HedgingConfig, portfolio_delta: float, trigger: Trigger) -> str:
        return (f"delta hedge: portfolio delta {portfolio_delta:+.4g} lots outside "
                f"{settings.target_delta:+.4g} ± {settings.hedging_band:g}")

    def hedged(self, expected_delta: float) -> None:
        pass


class GammaScalpingTrigger:
    """Hedge when the delta drifts more than ``rebalance_threshold`` from the anchor.

    The anchor is the delta the last rebalance left the book at (``target_delta``
    before the first one). When no whole lot brings the delta closer to the
    target, the anchor moves to the current delta, so the same sub-lot drift is
    not reported again on every bar.
    """

    engine = ENGINE_GAMMA_SCALPING

    def __init__(self, anchor: float | None = None) -> None:
        self.anchor = anchor

    def anchor_delta(self, settings: HedgingConfig) -> float:
        return self.anchor if self.anchor is not None else settings.target_delta

    def enabled(self, settings: HedgingConfig) -> bool:
        return settings.gamma_scalping_enabled

    def trigger(self, settings: HedgingConfig, portfolio_delta: float, effective: float) -> Trigger | None:
        anchor = self.anchor_delta(settings)
        drift = effective - anchor
        threshold = settings.rebalance_threshold
        if abs(drift) <= threshold or math.isclose(abs(drift), threshold, rel_tol=1e-12, abs_tol=1e-12):
            return None
        return Trigger(anchor, threshold, drift)

    def covered(self, settings: HedgingConfig, effective: float, pending_lots: int) -> str | None:
        return None  # working orders are already in the drift

    def no_lot(self, settings: HedgingConfig, effective: float, trigger: Trigger) -> str:
        self.anchor = effective
        return (f"drift {trigger.drift:+.4g} since the last rebalance, but the delta {effective:+.4g} is already "
                f"within half a lot of the target {settings.target_delta:+.4g}; re-anchored there")

    def reason(self, settings: HedgingConfig, portfolio_delta: float, trigger: Trigger) -> str:
        return (f"gamma scalping: delta {portfolio_delta:+.4g} lots drifted {trigger.drift:+.4g} from "
                f"{trigger.reference:+.4g}, beyond {settings.rebalance_threshold:g}")

    def hedged(self, expected_delta: float) -> None:
        self.anchor = expected_delta


class HedgingCore:
    """Runs the hedging skeleton (module notes) with one trigger policy; records events until popped."""

    def __init__(self, settings: HedgingConfig, policy: HedgeTriggerPolicy) -> None:
        if not isinstance(settings, HedgingConfig):
            raise TypeError(f"{type(self).__name__}.settings must be a HedgingConfig, got {type(settings).__name__}")
        self._settings = settings
        self._policy = policy
        self._events: list[DomainEvent] = []
        self._order_count = 0

    @property
    def settings(self) -> HedgingConfig:
        return self._settings

    @property
    def enabled(self) -> bool:
        return self._policy.enabled(self._settings)

    def evaluate(self, *, portfolio_delta: float, hedge_symbol: str, reference_price: float, at: datetime,
                 long_lots: int = 0, short_lots: int = 0, pending_lots: int = 0,
                 band: float | None = None) -> OrderInstruction | None:
        """The hedge order the portfolio needs now, or None.

        ``long_lots`` / ``short_lots``: lots of ``hedge_symbol`` held and not already
        being closed by a working order; ``pending_lots``: signed lots of hedge orders
        still working; ``band``: the band for this evaluation (the configured one when None).
        A disabled engine returns None and records nothing: the
        feature is off, no decision was refused.
        """
        price, long_lots, short_lots, pending_lots = check_hedge_inputs(
            f"{type(self).__name__}.evaluate", hedge_symbol, reference_price, at, long_lots, short_lots,
            pending_lots)
        if not self.enabled:
            return None
        settings, policy = self._settings, self._policy
        if band is not None and band != settings.hedging_band:  # this evaluation's band (domain_service.hedge_band)
            settings = dataclasses.replace(settings, hedging_band=band)
        if not math.isfinite(portfolio_delta):
            self._refuse(at, hedge_symbol, portfolio_delta, UNKNOWN_DELTA)
            return None
        effective = portfolio_delta + pending_lots
        trigger = policy.trigger(settings, portfolio_delta, effective)
        if trigger is None:
            return None
        self._events.append(DeltaOutsideBandEvent(
            at, engine=policy.engine, hedge_symbol=hedge_symbol, portfolio_delta=portfolio_delta,
            reference=trigger.reference, tolerance=trigger.tolerance))
        covered = policy.covered(settings, effective, pending_lots)
        if covered is not None:
            self._refuse(at, hedge_symbol, portfolio_delta, covered)
            return None
        wanted = whole_hedge_lots(settings.target_delta - effective)
        lots = whole_hedge_lots(settings.target_delta - effective, settings.max_hedge_lots)
        if lots == 0:
            self._refuse(at, hedge_symbol, portfolio_delta, policy.no_lot(settings, effective, trigger))
            return None
        reason = policy.reason(settings, portfolio_delta, trigger)
        if lots != wanted:
            reason += f"; {wanted:+d} lots needed, capped at max_hedge_lots {settings.max_hedge_lots}"
        instruction = hedge_instruction(hedge_symbol, lots, price, long_lots, short_lots, reason)
        policy.hedged(effective + lots)
        self._order_count += 1
        self._events.append(HedgeOrderEvent(
            at, engine=policy.engine, vt_symbol=hedge_symbol, lots=lots, offset=instruction.offset,
            portfolio_delta=portfolio_delta, expected_delta=effective + lots, reason=reason))
        return instruction

    def _refuse(self, at: datetime, hedge_symbol: str, portfolio_delta: float, reason: str) -> None:
        self._events.append(HedgeRefusedEvent(at, engine=self._policy.engine, hedge_symbol=hedge_symbol,
                                              portfolio_delta=portfolio_delta, reason=reason))

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events
