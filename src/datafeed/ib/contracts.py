"""IB option contracts as the pipeline keeps them: typed fields parsed once from ``ContractDetails``."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

US_EASTERN = ZoneInfo("America/New_York")
# Index option classes settled on the opening print (AM): the expiry is 09:30 ET, not 16:00 ET.
AM_SETTLED_TRADING_CLASSES = frozenset({"SPX", "NDX", "RUT", "VIX", "OEX", "DJX"})
RIGHTS = ("C", "P")


@dataclass(frozen=True)
class OptionRecord:
    """One listed option of the contract cache, keyed by IB's conId."""

    con_id: int
    underlying: str
    underlying_con_id: int
    expiry: date
    strike: float
    right: str
    multiplier: float
    trading_class: str
    exchange: str
    local_symbol: str
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not (isinstance(self.con_id, int) and self.con_id > 0):
            raise ValueError(f"conId must be a positive integer, got {self.con_id!r}")
        if self.right not in RIGHTS:
            raise ValueError(f"right must be C or P, got {self.right!r} (conId {self.con_id})")
        if not (math.isfinite(self.strike) and self.strike > 0):
            raise ValueError(f"strike must be positive, got {self.strike!r} (conId {self.con_id})")
        if not (math.isfinite(self.multiplier) and self.multiplier > 0):
            raise ValueError(f"multiplier must be positive, got {self.multiplier!r} (conId {self.con_id})")
        if not self.underlying or not self.trading_class:
            raise ValueError(f"underlying and trading class are required (conId {self.con_id})")

    @property
    def expiry_text(self) -> str:
        return self.expiry.strftime("%Y%m%d")

    @property
    def settlement_time(self) -> datetime:
        """When the option settles, in US/Eastern: 09:30 for AM-settled index classes, else 16:00."""
        clock = time(9, 30) if self.trading_class in AM_SETTLED_TRADING_CLASSES else time(16, 0)
        return datetime.combine(self.expiry, clock, tzinfo=US_EASTERN)


def exchange_date(moment: datetime) -> date:
    """The US/Eastern calendar date of an aware moment (what "today" means for US expiries)."""
    if moment.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    return moment.astimezone(US_EASTERN).date()


def record_from_details(details, underlying: str) -> OptionRecord | None:
    """An ``OptionRecord`` from an ib_async ``ContractDetails``; None when it is not a usable option."""
    contract = details.contract
    if contract is None or contract.secType not in ("OPT", "FOP"):
        return None
    text = (contract.lastTradeDateOrContractMonth or "")[:8]
    try:
        expiry = datetime.strptime(text, "%Y%m%d").date()
        multiplier = float(contract.multiplier or 100)
        return OptionRecord(con_id=int(contract.conId), underlying=underlying,
                            underlying_con_id=int(details.underConId or 0), expiry=expiry,
                            strike=float(contract.strike), right=contract.right[:1],
                            multiplier=multiplier, trading_class=contract.tradingClass,
                            exchange=contract.exchange or "SMART", local_symbol=contract.localSymbol,
                            currency=contract.currency or "USD")
    except (ValueError, TypeError):
        return None
