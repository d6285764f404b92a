"""Gamma scalping: re-hedge a long-gamma book whenever its delta drifts, and book the hedges' PnL.

Deltas are in futures-lot-equivalent units (``portfolio_delta``). The engine
remembers the delta the book was left at by its last rebalance (the *anchor*;
``target_delta`` before the first one). On each evaluation, once per bar:

- drift = delta - anchor (working hedge orders, ``pending_lots``, count as filled);
- ``|drift| <= rebalance_threshold``: nothing is traded;
- beyond it: a ``DeltaOutsideBandEvent``, then an order for ``round(target - delta)``
  whole lots (capped at ``max_hedge_lots``) and the anchor moves to the delta
  that order leaves. When no whole lot brings the delta closer to the target
  the anchor moves to the current delta instead (refused, with the reason), so
  the same sub-lot drift is not reported again on every bar.

A long-gamma book sells the future after a rise and buys it back after a fall:
those round trips are the scalping PnL. ``record_fill`` takes every fill of the
hedge orders and matches it first-in first-out against the open hedge lots of
the same contract; ``scalping_pnl`` is the PnL realized by those matches.

The skeleton is ``hedging_core.HedgingCore``; this engine is that core with the
``GammaScalpingTrigger`` policy (which holds the anchor), plus the ledger.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from src.strategy.domain.domain_service.hedging_core import (  # noqa: F401 (kept importable from here)
    ENGINE_GAMMA_SCALPING,
    GammaScalpingTrigger,
    HedgingCore,
)
from src.strategy.domain.value_object.hedging_config import HedgingConfig
from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_positive,
    require_text,
)


class HedgeTradeLedger:
    """Open hedge lots per contract, first in first out, and the PnL their closing realized."""

    def __init__(self) -> None:
        self._open: dict[str, list[list[float]]] = {}  # vt_symbol -> [[signed lots, price], ...], one sign
        self._multipliers: dict[str, float] = {}
        self._trade_ids: set[str] = set()
        self._realized = 0.0

    def record(self, vt_tradeid: str, vt_symbol: str, direction: Direction, volume: int, price: float,
               multiplier: float) -> float | None:
        """Applies one fill; returns the PnL it realized, or None for a vt_tradeid already recorded."""
        owner = "HedgeTradeLedger.record"
        require_text(owner, "vt_tradeid", vt_tradeid)
        require_text(owner, "vt_symbol", vt_symbol)
        require_enum(owner, "direction", direction, Direction)
        volume = require_int(owner, "volume", volume, 1)
        price = require_positive(owner, "price", price)
        multiplier = require_positive(owner, "multiplier", multiplier)
        known = self._multipliers.setdefault(vt_symbol, multiplier)
        if known != multiplier:
            raise ValueError(f"{owner}: {vt_symbol} was recorded with multiplier {known}, now {multiplier}")
        if vt_tradeid in self._trade_ids:
            return None
        self._trade_ids.add(vt_tradeid)
        lots_open = self._open.setdefault(vt_symbol, [])
        remaining = direction.sign * volume
        realized = 0.0
        while remaining and lots_open and (lots_open[0][0] > 0) != (remaining > 0):
            entry = lots_open[0]
            matched = min(abs(remaining), abs(entry[0]))
            entry_sign = 1 if entry[0] > 0 else -1
            realized += (price - entry[1]) * matched * multiplier * entry_sign
            entry[0] -= entry_sign * matched
            remaining += entry_sign * matched
            if entry[0] == 0:
                lots_open.pop(0)
        if remaining:
            lots_open.append([remaining, price])
        self._realized += realized
        return realized

    @property
    def realized_pnl(self) -> float:
        return self._realized

    @property
    def trade_count(self) -> int:
        return len(self._trade_ids)

    def open_lots(self, vt_symbol: str) -> int:
        """Signed hedge lots not yet matched (long > 0)."""
        return int(sum(lots for lots, _ in self._open.get(vt_symbol, [])))

    def unrealized_pnl(self, vt_symbol: str, mark_price: float) -> float:
        mark_price = require_positive("HedgeTradeLedger.unrealized_pnl", "mark_price", mark_price)
        multiplier = self._multipliers.get(vt_symbol, 0.0)
        return sum((mark_price - price) * lots * multiplier for lots, price in self._open.get(vt_symbol, []))

    def to_dict(self) -> dict:
        return {"open": {symbol: [list(entry) for entry in entries] for symbol, entries in self._open.items()},
                "multipliers": dict(self._multipliers), "trade_ids": sorted(self._trade_ids),
                "realized": self._realized}

    @classmethod
    def from_dict(cls, data: Mapping) -> HedgeTradeLedger:
        ledger = cls()
        ledger._open = {symbol: [[int(lots), float(price)] for lots, price in entries]
                        for symbol, entries in data["open"].items()}
        ledger._multipliers = {symbol: float(value) for symbol, value in data["multipliers"].items()}
        ledger._trade_ids = set(data["trade_ids"])
        ledger._realized = float(data["realized"])
        return ledger


class GammaScalpingEngine(HedgingCore):
    STATE_VERSION = 1

    def __init__(self, settings: HedgingConfig) -> None:
        self._trigger = GammaScalpingTrigger()
        super().__init__(settings, self._trigger)
        self._ledger = HedgeTradeLedger()

    @property
    def anchor_delta(self) -> float:
        """The delta the last rebalance left the book at (the target before the first one)."""
        return self._trigger.anchor_delta(self._settings)

    @property
    def rebalance_count(self) -> int:
        return self._order_count

    @property
    def scalping_pnl(self) -> float:
        return self._ledger.realized_pnl

    @property
    def hedge_trade_count(self) -> int:
        return self._ledger.trade_count

    @property
    def ledger(self) -> HedgeTradeLedger:
        return self._ledger

    def record_fill(self, vt_tradeid: str, vt_symbol: str, direction: Direction, volume: int, price: float,
                    multiplier: float, at: datetime) -> float | None:
        """Books one fill of a hedge order; returns the PnL it realized (None for a repeated vt_tradeid)."""
        require_aware("GammaScalpingEngine.record_fill", "at", at)
        return self._ledger.record(vt_tradeid, vt_symbol, direction, volume, price, multiplier)

    def to_dict(self) -> dict:
        return {"version": self.STATE_VERSION, "anchor": self._trigger.anchor, "rebalance_count": self._order_count,
                "ledger": self._ledger.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping, settings: HedgingConfig) -> GammaScalpingEngine:
        version = data.get("version")
        if version != cls.STATE_VERSION:
            raise ValueError(f"GammaScalpingEngine state version {version!r} is not {cls.STATE_VERSION}; "
                             f"migrate it first")
        engine = cls(settings)
        engine._trigger.anchor = None if data["anchor"] is None else float(data["anchor"])
        engine._order_count = int(data["rebalance_count"])
        engine._ledger = HedgeTradeLedger.from_dict(data["ledger"])
        return engine
