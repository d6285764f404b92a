"""What the fills of a run cost and where they came from, for ``summary.json`` and the replay's log.

Both the backtest engine and the replay's matcher feed one ``FillStatistics``:

- ``fills_on_quotes`` / ``fills_on_bars``: fills (and lots) against a recorded quote, against a quote
  estimated around a bar's print;
- ``average_spread_paid``: per lot, what the fill paid over the mid of the quote it filled against
  (a buy: price - mid; a sell: mid - price), in ticks and as a share of the mid; ``spread_cost`` the
  same in money (times the contract's multiplier);
- ``orders_unfilled_for_want_of_print``: orders that were matched at least once on a minute without a
  print of their contract (bars only) and never filled completely; ``no_print_skips`` how many
  (order, minute) matches were skipped so;
- ``fills_on_no_print_minutes``: fills on a minute without a print (0 on bars by construction; on
  quotes a fill against a standing quote is legitimate and counted here too);
- ``far_touch_fills``: fills at or beyond the far touch of a *reference* quote (the recorded quote of
  that minute, when one is known): a buy at or below the bid, a sell at or above the ask. ``None``
  when no fill had a reference quote. ``average_spread_paid_vs_quotes_ticks``: per lot, what the fills paid
  over the mid of that reference quote (negative: they earned the spread, as fills at the far touch do).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from src.strategy.domain.domain_service.fill_model import FillSource, Quote, is_at_or_beyond_far_touch
from src.strategy.domain.value_object.market import Direction


@dataclass
class FillStatistics:
    fills: dict[str, int] = field(default_factory=lambda: {FillSource.QUOTE.value: 0, FillSource.BAR.value: 0})
    lots: dict[str, int] = field(default_factory=lambda: {FillSource.QUOTE.value: 0, FillSource.BAR.value: 0})
    spread_ticks_lots: float = 0.0
    spread_relative_lots: float = 0.0
    spread_lots: int = 0
    spread_cost: float = 0.0
    partial_fills: int = 0
    no_print_skips: int = 0
    fills_on_no_print_minutes: int = 0
    checked_fills: int = 0
    far_touch_fills: int = 0
    reference_ticks_lots: float = 0.0
    reference_lots: int = 0
    _waiting_for_print: set[str] = field(default_factory=set)
    _completed: set[str] = field(default_factory=set)

    def record_fill(self, order_id: str, side: Direction, price: float, volume: int, source: FillSource,
                    quote: Quote | None, tick: float, multiplier: float, *, printed: bool, complete: bool,
                    reference: Quote | None = None) -> None:
        key = FillSource(source).value
        self.fills[key] += 1
        self.lots[key] += volume
        if not complete:
            self.partial_fills += 1
        else:
            self._completed.add(order_id)
        if not printed:
            self.fills_on_no_print_minutes += 1
        mid = quote.mid if quote is not None else None
        if mid:
            paid = (price - mid) * Direction(side).sign
            self.spread_ticks_lots += paid / tick * volume
            self.spread_relative_lots += paid / mid * volume
            self.spread_lots += volume
            self.spread_cost += paid * volume * multiplier
        if reference is not None and reference.two_sided:
            self.checked_fills += 1
            if is_at_or_beyond_far_touch(Direction(side), price, reference):
                self.far_touch_fills += 1
            self.reference_ticks_lots += (price - reference.mid) * Direction(side).sign / tick * volume
            self.reference_lots += volume

    def record_no_print(self, order_id: str) -> None:
        self.no_print_skips += 1
        self._waiting_for_print.add(order_id)

    @property
    def orders_unfilled_for_want_of_print(self) -> int:
        return len(self._waiting_for_print - self._completed)

    def summary(self) -> dict:
        lots = self.spread_lots
        return {
            "fills_on_quotes": self.fills[FillSource.QUOTE.value],
            "fills_on_bars": self.fills[FillSource.BAR.value],
            "lots_on_quotes": self.lots[FillSource.QUOTE.value],
            "lots_on_bars": self.lots[FillSource.BAR.value],
            "partial_fills": self.partial_fills,
            "average_spread_paid_ticks": round(self.spread_ticks_lots / lots, 4) if lots else None,
            "average_spread_paid_relative": round(self.spread_relative_lots / lots, 6) if lots else None,
            "spread_cost": round(self.spread_cost, 2),
            "orders_unfilled_for_want_of_print": self.orders_unfilled_for_want_of_print,
            "no_print_skips": self.no_print_skips,
            "fills_on_no_print_minutes": self.fills_on_no_print_minutes,
            "far_touch_fills": self.far_touch_fills if self.checked_fills else None,
            "fills_checked_against_quotes": self.checked_fills,
            "average_spread_paid_vs_quotes_ticks": (round(self.reference_ticks_lots / self.reference_lots, 4)
                                                    if self.reference_lots else None),
        }


__all__ = ["FillStatistics"]
