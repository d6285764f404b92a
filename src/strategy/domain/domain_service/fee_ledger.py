"""Fees of each fill from the ``FeeSchedule``, telling a close-today from a close of older lots.

A close takes the position's lots opened on earlier days first, then today's
(CFFEX closes the historical position first); the lots of today it takes pay
the close-today fees. The lots opened are kept per (contract, side) and trading
day; time is passed in (a fill's exchange time: its date is the trading day, as
CFFEX has no night session).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from src.strategy.domain.value_object.fee_schedule import FeeSchedule
from src.strategy.domain.value_object.market import Direction, Offset


class FeeLedger:
    def __init__(self, schedule: FeeSchedule) -> None:
        self.schedule = schedule
        self._lots: dict[tuple[str, Direction], list[list]] = defaultdict(list)  # [[day, lots], ...] oldest first
        self.total = 0.0
        self.close_today_total = 0.0

    def covers(self, product: str) -> bool:
        return self.schedule.covers(product)

    def charge(self, vt_symbol: str, product: str, direction: Direction, offset: Offset, price: float,
               volume: int, multiplier: float, at: datetime) -> float:
        """The fee of one fill (``direction``/``offset`` as vnpy's: a LONG CLOSE buys back a short)."""
        fees = self.schedule.products.get(product)
        if fees is None or volume <= 0:
            return 0.0
        turnover = price * multiplier * volume
        day = at.date()
        if offset is Offset.OPEN:
            self._add(vt_symbol, direction, day, volume)
            fee = fees.open_per_lot * volume + fees.open_rate * turnover
        else:
            today = self._take(vt_symbol, direction.opposite, day, volume)
            older = volume - today
            share = today / volume
            close_today = fees.close_today_per_lot * today + fees.close_today_rate * turnover * share
            fee = fees.close_per_lot * older + fees.close_rate * turnover * (1 - share) + close_today
            self.close_today_total += close_today
        fee += self.schedule.broker_per_lot * volume
        self.total += fee
        return fee

    def settle(self, vt_symbol: str, product: str, side: Direction, volume: int, exercised: bool) -> float:
        """An expiry settlement of ``volume`` lots of the ``side`` position: the lots leave the
        ledger; an option settled in the money pays the exercise fee (and the broker's add-on)."""
        self._lots.pop((vt_symbol, side), None)
        fees = self.schedule.products.get(product)
        if fees is None or not exercised or volume <= 0:
            return 0.0
        fee = (fees.exercise_per_lot + self.schedule.broker_per_lot) * volume
        self.total += fee
        return fee

    def _add(self, vt_symbol: str, side: Direction, day: date, volume: int) -> None:
        lots = self._lots[(vt_symbol, side)]
        if lots and lots[-1][0] == day:
            lots[-1][1] += volume
        else:
            lots.append([day, volume])

    def _take(self, vt_symbol: str, side: Direction, day: date, volume: int) -> int:
        """Removes ``volume`` lots (older days first); returns how many were opened on ``day``."""
        lots = self._lots.get((vt_symbol, side), [])
        today = 0
        remaining = volume
        while remaining and lots:
            lot_day, held = lots[0]
            taken = min(held, remaining)
            if lot_day == day:
                today += taken
            remaining -= taken
            if taken == held:
                lots.pop(0)
            else:
                lots[0][1] = held - taken
        return today

    def to_dict(self) -> dict:
        return {"total": self.total, "close_today_total": self.close_today_total,
                "lots": [[vt, side.value, [[d.isoformat(), n] for d, n in lots]]
                         for (vt, side), lots in self._lots.items() if lots]}

    def restore(self, data: dict) -> None:
        self.total = float(data.get("total", 0.0))
        self.close_today_total = float(data.get("close_today_total", 0.0))
        self._lots.clear()
        for vt_symbol, side, lots in data.get("lots", []):
            self._lots[(vt_symbol, Direction(side))] = [[date.fromisoformat(d), int(n)] for d, n in lots]
