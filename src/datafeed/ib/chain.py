"""Option chain structure and contracts, the cheap way.

The seed builds the chain with ``reqSecDefOptParams`` then ``qualifyContracts`` on every
(expiry x strike x right) combination. ``qualifyContracts`` sends one ``reqContractDetails`` per
contract, the very traffic the seed forbids (about 20,000 requests for SPX), and many combinations
do not exist. Here:

1. ``reqContractDetails`` on the underlying (its conId);
2. ``reqSecDefOptParams(symbol, "", secType, conId)``: ``futFopExchange`` is "" for stock and index
   options (a named exchange returns no chains); only ``exchange == "SMART"`` is kept (TWS also lists
   every option exchange);
3. one ``reqContractDetails`` per expiry with an incomplete ``Option(symbol, expiry, "SMART")``,
   keeping the details whose ``underConId`` is the underlying's. Never a request without an expiry
   (that one can return every contract of the symbol at once).

``ChainMaintainer`` keeps the contract cache up to date: new expiries, new strikes after the
underlying moved more than ``strike_move_threshold`` since the last check (re-listing the cached
expiries), at most one check per ``check_interval`` (2 h) unless forced, and purge after expiry.
"""
from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ib_async import IB, Contract, Index, Option, Stock

from src.datafeed.ib.contracts import OptionRecord, exchange_date, record_from_details
from src.datafeed.ib.governor import RateGovernor

LOG = logging.getLogger(__name__)

# Index underlyings and their listing exchange; everything else is a stock or ETF on SMART.
INDEX_EXCHANGES = {"SPX": "CBOE", "NDX": "NASDAQ", "RUT": "RUSSELL", "VIX": "CBOE", "XSP": "CBOE", "OEX": "CBOE",
                   "DJX": "CBOE"}


class ChainError(Exception):
    """The chain of an underlying cannot be built (unknown symbol, no SMART chain, timeout)."""


@dataclass(frozen=True)
class ChainStructure:
    underlying: str
    underlying_con_id: int
    sec_type: str
    trading_classes: tuple[str, ...]
    expiries: tuple[str, ...]
    strikes: tuple[float, ...]


@dataclass(frozen=True)
class ChainBuild:
    structure: ChainStructure
    records: tuple[OptionRecord, ...]
    requests: int                  # requests sent for this build (underlying + secdef + one per expiry)
    foreign_details: int           # details dropped because their underConId was another underlying


def underlying_contract(symbol: str) -> Contract:
    symbol = symbol.strip().upper()
    if symbol in INDEX_EXCHANGES:
        return Index(symbol, INDEX_EXCHANGES[symbol], "USD")
    return Stock(symbol, "SMART", "USD")


class ChainBuilder:
    def __init__(self, ib: IB, governor: RateGovernor, *, timeout: float = 30.0) -> None:
        self.ib = ib
        self.governor = governor
        self.timeout = timeout
        self.requests = 0

    async def _details(self, contract: Contract) -> list:
        await self.governor.message()
        self.requests += 1
        return await asyncio.wait_for(self.ib.reqContractDetailsAsync(contract), self.timeout)

    async def underlying(self, symbol: str) -> Contract:
        details = await self._details(underlying_contract(symbol))
        if len(details) != 1:
            raise ChainError(f"underlying {symbol}: {len(details)} contracts found (expected exactly one)")
        return details[0].contract

    async def structure(self, symbol: str, underlying: Contract | None = None) -> ChainStructure:
        underlying = underlying or await self.underlying(symbol)
        await self.governor.message()
        self.requests += 1
        chains = await asyncio.wait_for(
            self.ib.reqSecDefOptParamsAsync(underlying.symbol, "", underlying.secType, underlying.conId),
            self.timeout)
        smart = [chain for chain in chains if chain.exchange == "SMART"]
        if not smart:
            raise ChainError(f"{symbol}: no SMART option chain (reqSecDefOptParams returned "
                             f"{len(chains)} chains on {sorted({c.exchange for c in chains})})")
        return ChainStructure(
            underlying=underlying.symbol, underlying_con_id=underlying.conId, sec_type=underlying.secType,
            trading_classes=tuple(sorted({chain.tradingClass for chain in smart})),
            expiries=tuple(sorted(set().union(*(chain.expirations for chain in smart)))),
            strikes=tuple(sorted(set().union(*(chain.strikes for chain in smart)))))

    async def contracts_for_expiry(self, structure: ChainStructure, expiry: str) -> tuple[list[OptionRecord], int]:
        """Every option of one expiry (all trading classes) in one request; (records, foreign details)."""
        if not expiry:
            raise ValueError("refusing a contract details request without an expiry")
        details = await self._details(Option(structure.underlying, expiry, exchange="SMART"))
        records, foreign = [], 0
        for detail in details:
            if detail.underConId != structure.underlying_con_id:
                foreign += 1
                continue
            record = record_from_details(detail, structure.underlying)
            if record is not None:
                records.append(record)
        return records, foreign

    async def build(self, symbol: str, *, expiries: list[str] | None = None) -> ChainBuild:
        start = self.requests
        structure = await self.structure(symbol)
        wanted = structure.expiries if expiries is None else [e for e in structure.expiries if e in set(expiries)]
        records: list[OptionRecord] = []
        foreign = 0
        for expiry in wanted:
            found, dropped = await self.contracts_for_expiry(structure, expiry)
            records.extend(found)
            foreign += dropped
        return ChainBuild(structure, tuple(records), self.requests - start, foreign)


@dataclass(frozen=True)
class RefreshReport:
    underlying: str
    checked: bool
    reason: str
    new_expiries: tuple[str, ...] = ()
    relisted_expiries: tuple[str, ...] = ()
    new_contracts: int = 0
    purged: int = 0
    requests: int = 0


class ChainMaintainer:
    """Incremental updates of the contract cache (``store``: a ``ContractCache``)."""

    def __init__(self, builder: ChainBuilder, store, *, strike_move_threshold: float = 0.05,
                 check_interval: timedelta = timedelta(hours=2)) -> None:
        if not 0 < strike_move_threshold < 1:
            raise ValueError(f"strike_move_threshold must be a fraction in (0, 1), got {strike_move_threshold}")
        self.builder = builder
        self.store = store
        self.strike_move_threshold = strike_move_threshold
        self.check_interval = check_interval

    async def refresh(self, symbol: str, *, now: datetime, underlying_price: float | None = None,
                      force: bool = False) -> RefreshReport:
        symbol = symbol.strip().upper()
        today = exchange_date(now)
        purged = self.store.purge_expired(symbol, today)
        check = self.store.last_check(symbol)
        moved = (check is not None and underlying_price is not None and check.reference_price
                 and math.isfinite(underlying_price)
                 and abs(underlying_price / check.reference_price - 1) > self.strike_move_threshold)
        due = check is None or now - check.checked_at >= self.check_interval
        if not (force or due):
            return RefreshReport(symbol, False, "checked less than the interval ago", purged=purged)
        start = self.builder.requests
        structure = await self.builder.structure(symbol)
        cached = self.store.expiries(symbol)
        live = [e for e in structure.expiries if _expiry_date(e) >= today]
        new_expiries = [e for e in live if e not in cached]
        relist = [e for e in live if e in cached] if (moved or check is None) else []
        new_contracts = 0
        for expiry in [*new_expiries, *relist]:
            records, _ = await self.builder.contracts_for_expiry(structure, expiry)
            new_contracts += self.store.upsert_contracts(records, seen_at=now)
        reference = underlying_price if underlying_price is not None else (check.reference_price if check else None)
        self.store.mark_checked(symbol, now, reference)
        reason = "forced" if force else ("first check" if check is None else "interval elapsed")
        if moved:
            reason += f"; underlying moved more than {self.strike_move_threshold:.0%}"
        return RefreshReport(symbol, True, reason, tuple(new_expiries), tuple(relist), new_contracts, purged,
                             self.builder.requests - start)


def _expiry_date(text: str) -> date:
    return datetime.strptime(text[:8], "%Y%m%d").date()
