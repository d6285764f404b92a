"""The deltas the option selector reads under ``strike_selection: delta``.

Each option of the signal's side is priced with the bar's one pricing
(``TradingCycle._greeks_at(now)``, a ``BarGreeks``): its implied volatility is
taken from its own price (the mid when both sides are known, else the last
price), so the band is read on a volatility surface rebuilt from the live
chain at each bar, in its simplest form (no smoothing across strikes). An
option without a price or whose price no volatility reproduces gets no delta
and is not a candidate.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from src.strategy.domain.value_object.market import OptionQuote
from src.strategy.domain.value_object.signal_type import SignalType


def chain_deltas(cycle, chain: Iterable[OptionQuote], signal: SignalType, now: datetime) -> dict[str, float]:
    """vt_symbol -> per-lot delta of the chain's options on the signal's side that have a price."""
    side = SignalType(signal).option_type
    quotes = [q for q in chain if q.contract.option_type is side and q.mark_price > 0]
    if not quotes:
        return {}
    priced = cycle._greeks_at(now).per_lot([q.contract for q in quotes], [q.mark_price for q in quotes])
    return {q.vt_symbol: greeks.delta for q, greeks in zip(quotes, priced) if greeks is not None}
