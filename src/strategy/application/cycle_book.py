"""The trading cycle's book in numbers: the Greeks of the options held and of a candidate (priced once per
bar), the account (capital, margin, a margin call) and the monitor's view of it all.

A part of ``TradingCycle`` (``trading_cycle.py``), kept apart because it is a concern of its own; its
methods use the cycle's book, prices and services.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from src.strategy.domain.domain_service.account_valuation import value_account
from src.strategy.domain.event.account_events import MarginCallEvent
from src.strategy.domain.domain_service.bar_greeks import BarGreeks
from src.strategy.domain.entity.position import Position
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.option_contract import OptionContract
from src.strategy.domain.value_object.risk import PositionGreeks

MONITOR_SMILE_POINTS = 200  # implied volatilities shown per snapshot, the most recently priced


class CycleBook:
    def _greeks_of(self, held: Sequence[Position], now: datetime):
        contracts = [self.options[p.vt_symbol] for p in held]
        prices = [self.last_prices.get(p.vt_symbol, p.avg_price) for p in held]
        return self._greeks_at(now).per_lot(contracts, prices)

    def _greeks_at(self, now: datetime) -> BarGreeks:
        """The Greeks already priced at ``now`` (see ``BarGreeks``); a new valuation time starts afresh."""
        cache = self._bar_greeks
        if cache is None or cache.now != now or cache.service is not self.services.greeks:
            cache = self._bar_greeks = BarGreeks(self.services.greeks, now, self._underlying_price)
        return cache

    def _underlying_price(self, vt_symbol: str) -> float:
        return self.last_prices.get(vt_symbol, float("nan"))

    def position_greeks(self, now: datetime) -> list[PositionGreeks]:
        held = [p for p in self.positions.positions() if p.vt_symbol in self.options]
        return [PositionGreeks.from_greeks(p.vt_symbol, p.volume * p.direction.sign, 1.0, greeks)
                for p, greeks in zip(held, self._greeks_of(held, now)) if greeks is not None]

    def _candidate_greeks(self, contract: OptionContract, price: float, lots: int,
                          now: datetime) -> PositionGreeks | None:
        (greeks,) = self._greeks_at(now).per_lot([contract], [price])
        return None if greeks is None else PositionGreeks.from_greeks(contract.vt_symbol, lots, 1.0, greeks)

    def account(self, now: datetime) -> AccountSnapshot:
        """One capital source per mode (see ``value_account``): live, the broker's funds (P&L, fees and
        margins already in them); otherwise the capital less the fees paid, plus the book's P&L, less
        the margin of positions and of working opening orders. Both scaled to this strategy's share."""
        funds_of = getattr(self.ports.account, "funds", None)
        return value_account(self.ports.account.capital(), self.positions, self.last_prices, self.options,
                             self.contract_params, self.services.sizing_service, now, fees=self.fees.total,
                             working_orders=self.positions.active_orders(), share=self.capital_share,
                             funds=funds_of() if funds_of is not None else None, previous=self.previous_closes)

    def _check_margin(self, now: datetime) -> None:
        """At each mark: the largest margin held, and a ``MarginCallEvent`` when available funds fall
        below zero (openings are refused meanwhile) or come back."""
        account = self.account(now)
        self.largest_margin = max(self.largest_margin, account.frozen)
        in_call = account.available < 0
        if in_call != self._margin_call:
            self._margin_call = in_call
            self._pending.append(MarginCallEvent(
                now, balance=account.balance, available=account.available, margin=account.frozen,
                detail="available below zero: openings refused" if in_call else "available back above zero"))

    def monitor_view(self, at: datetime) -> dict:
        """What the dashboard shows: positions (with IV and Greeks per option position), portfolio Greeks,
        P&L, latest signals, and the implied volatilities known (the smile)."""
        held = [p for p in self.positions.positions() if p.vt_symbol in self.options]
        per_lot = dict(zip((p.vt_symbol for p in held), self._greeks_of(held, at)))
        implied_vols = self.services.greeks.implied_vols
        positions, unrealized, position_greeks = [], 0.0, []
        for position in self.positions.positions():
            mark = self.last_prices.get(position.vt_symbol, position.avg_price)
            pnl = position.unrealized_pnl(mark)
            unrealized += pnl
            row = {"vt_symbol": position.vt_symbol, "direction": position.direction.value,
                   "volume": position.volume, "avg_price": position.avg_price, "mark": mark,
                   "unrealized_pnl": pnl}
            greeks = per_lot.get(position.vt_symbol)
            if greeks is not None:
                held_greeks = PositionGreeks.from_greeks(position.vt_symbol,
                                                         position.volume * position.direction.sign, 1.0, greeks)
                position_greeks.append(held_greeks)
                exposure = held_greeks.exposure()
                row.update(iv=implied_vols.get(position.vt_symbol), delta=exposure.delta, gamma=exposure.gamma,
                           vega=exposure.vega, theta=exposure.theta)
            elif position.vt_symbol not in self.options:  # a future: delta is its lots
                row.update(delta=float(position.volume * position.direction.sign))
            positions.append(row)
        total = self.services.risk_aggregator.aggregate(position_greeks).total
        realized = self.positions.realized_pnl()
        smile = []
        for vt_symbol, iv in list(implied_vols.items())[-MONITOR_SMILE_POINTS:]:
            contract = self.options.get(vt_symbol)
            if contract is not None and math.isfinite(iv):
                smile.append({"vt_symbol": vt_symbol, "expiry": contract.expiry.isoformat(),
                              "option_type": contract.option_type.value, "strike": contract.strike, "iv": iv})
        return {
            "positions": positions,
            "greeks": {"delta": total.delta, "gamma": total.gamma, "vega": total.vega, "theta": total.theta},
            "pnl": {"realized": realized, "unrealized": unrealized, "total": realized + unrealized},
            "signals": dict(self.latest_signals),
            "active_contracts": dict(self.instruments.active_contracts()),
            "hedging": self.hedging_summary(),
            "counters": self.counters.as_dict(),
            "smile": smile,
            "account": self._account_view(at),
            "underlying": {product: self.last_prices.get(vt_symbol)
                           for product, vt_symbol in self.instruments.active_contracts().items()},
            "safeguards": self.safeguards.view() if self.safeguards is not None else None,
            **({"risk": self.services.book_risk.view(self, at)} if self.services.book_risk is not None else {}),
        }

    def _account_view(self, at: datetime) -> dict:
        account = self.account(at)
        return {"balance": account.balance, "margin": account.frozen, "available": account.available}
