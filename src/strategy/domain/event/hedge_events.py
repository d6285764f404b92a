"""What the hedging engines saw and did.

Deltas are in futures-lot-equivalent units (``domain_service.portfolio_delta``);
``engine`` is "delta_hedging" or "gamma_scalping".
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.event.base import DomainEvent, coerce_enum
from src.strategy.domain.value_object.market import Offset


@dataclass(frozen=True)
class DeltaOutsideBandEvent(DomainEvent):
    """The portfolio delta left ``target_delta ± hedging_band`` (delta hedging) or drifted more
    than the rebalance threshold from its level at the last rebalance (gamma scalping);
    ``reference`` is the target or that level, ``tolerance`` the band or the threshold."""

    engine: str
    hedge_symbol: str
    portfolio_delta: float
    reference: float
    tolerance: float


@dataclass(frozen=True)
class HedgeOrderEvent(DomainEvent):
    """A hedge order was decided: ``lots`` signed (> 0 buy, < 0 sell), ``expected_delta`` the
    portfolio delta once it fills."""

    engine: str
    vt_symbol: str
    lots: int
    offset: Offset           # a str-valued enum: equals and serializes as "OPEN" / "CLOSE"
    portfolio_delta: float
    expected_delta: float
    reason: str

    def __post_init__(self) -> None:
        coerce_enum(self, "offset", Offset)


@dataclass(frozen=True)
class HedgeRefusedEvent(DomainEvent):
    """A hedge was due but not ordered, and why (the deviation rounds to no whole lot, the
    delta is unknown, a hedge order is still working, ...)."""

    engine: str
    hedge_symbol: str
    portfolio_delta: float
    reason: str
