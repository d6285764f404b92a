"""An option held into its last days is in the money or pinned near its strike."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.market import Direction


@dataclass(frozen=True)
class ExpiryRiskEvent(DomainEvent):
    """A held option, from the last trading day before its expiry until its settlement, is in the
    money (``in_the_money``) or its underlying is within the configured distance of its strike
    (``pinned``): it may settle against the position. Raised once per contract and side per day.

    ``moneyness``: (S - K) / K for a call, (K - S) / K for a put, so positive is in the money;
    ``distance``: |S - K| / K; ``days_left``: trading days to the expiry (0 on the expiry day);
    ``intrinsic``: the value per unit it would settle at now, ``lots`` the lots held on ``direction``.
    """

    vt_symbol: str
    direction: Direction
    lots: int
    underlying_vt_symbol: str
    underlying_price: float
    strike: float
    option_type: str
    moneyness: float
    distance: float
    intrinsic: float
    in_the_money: bool
    pinned: bool
    expiry: date
    days_left: int
    detail: str
