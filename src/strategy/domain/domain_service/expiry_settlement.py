"""Expiry settlement: positions leave the book at their contract's settlement value.

CFFEX index futures and index options expire on the same day (the third Friday,
moved past holidays) and settle in cash against the same price: the arithmetic
average of the underlying index over the last two hours of trading (13:00-15:00
Beijing time). An index option settles at its intrinsic value against it (calls
``max(S - K, 0)``, puts ``max(K - S, 0)``: European, cash, no delivery), an index
future at it.

What this service uses for ``S``: the strategy sees bars, not the index, so the
settlement price of an underlying is the arithmetic average of the closes of its
1-minute bars stamped 13:00-14:59 on the expiry day. An option's underlying is the
future it is mapped to (``OptionContract.underlying_vt_symbol``, IO2601 -> IF2601,
same month): a future converges to its index in those two hours and CFFEX settles
both on the same average, so the mapped future's average stands in for the index's.
When those bars are missing (a restart in the afternoon, no data), the underlying's
last known price is used and the event's ``detail`` says so; with no price at all
the position is not settled and is reported back as unsettled.

One call settles everything whose expiry close (15:00 of the expiry day) has passed;
it is idempotent (settled positions are flat). Time is passed in.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.event.position_events import PositionSettledEvent
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType

SETTLEMENT_WINDOW_START = time(13, 0)
SESSION_CLOSE = time(15, 0)


def settlement_time(expiry: date) -> datetime:
    """The moment an expiring contract's settlement is known: the expiry day's close."""
    return datetime.combine(expiry, SESSION_CLOSE, EXCHANGE_TIMEZONE)


def is_expired(expiry: date, now: datetime) -> bool:
    """True from the expiry day's close on: the contract no longer trades and must be settled."""
    return now >= settlement_time(expiry)


def intrinsic_value(option: OptionContract, underlying_price: float) -> float:
    if option.option_type is OptionType.CALL:
        return max(underlying_price - option.strike, 0.0)
    return max(option.strike - underlying_price, 0.0)


@dataclass(frozen=True)
class SettlementOutcome:
    settled: tuple[PositionSettledEvent, ...]
    unsettled: tuple[str, ...]  # expired contracts held with no price to settle them at

    @property
    def settled_symbols(self) -> set[str]:
        return {event.vt_symbol for event in self.settled}


class ExpirySettlement:
    def __init__(self, futures_expiry: Mapping[str, date], options: Mapping[str, OptionContract]) -> None:
        """``futures_expiry``: each listed future's expiry day; ``options``: the options traded."""
        self.futures_expiry = dict(futures_expiry)
        self.options = dict(options)
        self._window: dict[str, dict[datetime, float]] = defaultdict(dict)  # vt_symbol -> minute -> close

    def expiry_of(self, vt_symbol: str) -> date | None:
        option = self.options.get(vt_symbol)
        if option is not None:
            return option.expiry
        return self.futures_expiry.get(vt_symbol)

    def record(self, vt_symbol: str, bar_time: datetime, close: float) -> None:
        """One 1-minute bar (stamped with its start) of a future, or one price within a minute (the
        minute's last one counts: its close): kept when it is in the last two hours of the future's
        expiry day."""
        expiry = self.futures_expiry.get(vt_symbol)
        if expiry is None:
            return
        local = bar_time.astimezone(EXCHANGE_TIMEZONE)
        if local.date() == expiry and SETTLEMENT_WINDOW_START <= local.time() < SESSION_CLOSE and close > 0:
            self._window[vt_symbol][local.replace(second=0, microsecond=0)] = float(close)

    def underlying_settlement(self, vt_symbol: str, last_price: float | None) -> tuple[float | None, str]:
        closes = list(self._window.get(vt_symbol, {}).values())
        if closes:
            return sum(closes) / len(closes), (f"{vt_symbol} average of {len(closes)} 1-minute closes "
                                                f"13:00-15:00 on the expiry day")
        if last_price is not None and last_price > 0:
            return float(last_price), f"{vt_symbol} last price (no bars of the last two hours)"
        return None, f"no price of {vt_symbol}"

    def settle(self, positions: PositionAggregate, last_prices: Mapping[str, float],
               now: datetime) -> SettlementOutcome:
        """Settles every held position whose contract's expiry close is at or before ``now``."""
        settled: list[PositionSettledEvent] = []
        unsettled: list[str] = []
        for vt_symbol in sorted({p.vt_symbol for p in positions.positions()}):
            expiry = self.expiry_of(vt_symbol)
            if expiry is None or not is_expired(expiry, now):
                continue
            terms = self.settlement_of(vt_symbol, last_prices)
            if terms is None:
                unsettled.append(vt_symbol)
                continue
            value, price, detail = terms
            settled.extend(positions.settle(vt_symbol, value, price, settlement_time(expiry), detail))
        return SettlementOutcome(tuple(settled), tuple(unsettled))

    def settlement_of(self, vt_symbol: str, last_prices: Mapping[str, float]) -> tuple[float, float, str] | None:
        """(settlement value per unit, underlying settlement price, where it came from) of a
        contract, or None without any price of its underlying."""
        option = self.options.get(vt_symbol)
        underlying = option.underlying_vt_symbol if option is not None else vt_symbol
        price, source = self.underlying_settlement(underlying, last_prices.get(underlying))
        if price is None:
            return None
        value = intrinsic_value(option, price) if option is not None else price
        kind = "cash-settled at intrinsic value" if option is not None else "final settlement"
        return value, price, f"{kind} {value:g} against {price:.4f}: {source}"

    def forget_before(self, today: date) -> None:
        """Drops the recorded bars of futures that expired before ``today`` (their positions are settled)."""
        for vt_symbol in [vt for vt in self._window if self.futures_expiry[vt] < today]:
            del self._window[vt_symbol]
