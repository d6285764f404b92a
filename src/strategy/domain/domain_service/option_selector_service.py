"""Chooses the option to sell for a signal.

1. Keep puts for ``SELL_PUT``, calls for ``SELL_CALL``.
2. Keep expiries with ``min_days_to_expiry`` to ``max_days_to_expiry`` calendar
   days left (both inclusive) and take the nearest of them.
3. Order that expiry's out-of-the-money strikes away from the money (puts:
   strikes below the underlying, highest first; calls: above it, lowest first;
   the at-the-money strike is not out of the money) and take the
   ``strike_level``-th (1 = the first OTM strike). If two contracts share a
   strike, the one with more volume counts.
4. Check that option's liquidity. It is refused, never swapped for a
   neighbour, so ``strike_level`` keeps its meaning:
   - it must have a price (last price > 0);
   - volume >= ``min_volume`` (lots traded today) and open interest >=
     ``min_open_interest`` (defaults 10 and 100, ``strategies[].setting``);
   - the spread is checked only when bid and ask are both known: in a bar
     backtest neither is and the check is skipped; a one-sided live market
     (only a bid or only an ask) is refused since it cannot be measured;
     ``max_spread_ratio`` (default 0.1: the spread at most a tenth of the mid)
     None switches the spread check off.

With ``strike_selection="delta"`` step 3 changes: among that expiry's
options of the side (one per strike, the one with more volume) that pass the
liquidity check of step 4, take the one whose absolute per-lot delta is
inside [``target_delta_min``, ``target_delta_max``] and closest to the
band's middle (ties: more volume, then the symbol). The deltas are given by
the caller as a mapping vt_symbol -> delta (the cycle prices them on the
bar, each option's implied volatility from its own price); an option with no
delta is not a candidate, and no option in the band is a refusal with its
reason. The default stays ``strike_level``.

The underlying price is the price of the future the product trades (the
options' index is not quoted separately).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
import math

from src.strategy.domain.value_object.market import OptionQuote
from src.strategy.domain.value_object.selection_result import SelectionResult
from src.strategy.domain.value_object.signal_type import SignalType
from src.strategy.domain.value_object.validation import require_int, require_non_negative, require_positive


STRIKE_SELECTIONS = ("strike_level", "delta")


@dataclass(frozen=True)
class OptionSelectorSettings:
    strike_level: int = 4
    min_days_to_expiry: int = 7
    max_days_to_expiry: int = 60
    min_volume: float = 10.0          # lots traded today (OptionQuote.volume)
    min_open_interest: float = 100.0
    max_spread_ratio: float | None = 0.1
    strike_selection: str = "strike_level"   # or "delta"; the configuration defaults to delta (StrategySetting)
    target_delta_min: float = 0.15           # absolute per-lot delta band (delta mode only)
    target_delta_max: float = 0.25

    def __post_init__(self) -> None:
        owner = "OptionSelectorSettings"
        if self.strike_selection not in STRIKE_SELECTIONS:
            raise ValueError(f"{owner}: strike_selection {self.strike_selection!r} is not one of {STRIKE_SELECTIONS}")
        for name in ("target_delta_min", "target_delta_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise ValueError(f"{owner}: {name} must be a number in (0, 1), got {value!r}")
        if self.target_delta_min > self.target_delta_max:
            raise ValueError(f"{owner}: target_delta_min {self.target_delta_min} is above "
                             f"target_delta_max {self.target_delta_max}")
        require_int(owner, "strike_level", self.strike_level, 1)
        require_int(owner, "min_days_to_expiry", self.min_days_to_expiry, 0)
        require_int(owner, "max_days_to_expiry", self.max_days_to_expiry, 0)
        if self.min_days_to_expiry > self.max_days_to_expiry:
            raise ValueError(f"{owner}: min_days_to_expiry {self.min_days_to_expiry} is above "
                             f"max_days_to_expiry {self.max_days_to_expiry}")
        require_non_negative(owner, "min_volume", self.min_volume)
        require_non_negative(owner, "min_open_interest", self.min_open_interest)
        if self.max_spread_ratio is not None:
            require_positive(owner, "max_spread_ratio", self.max_spread_ratio)


class OptionSelectorService:
    def __init__(self, settings: OptionSelectorSettings = OptionSelectorSettings()) -> None:
        self.settings = settings

    @property
    def by_delta(self) -> bool:
        return self.settings.strike_selection == "delta"

    def select_option(self, chain: Iterable[OptionQuote], signal: SignalType, underlying_price: float,
                      today: date, deltas: Mapping[str, float] | None = None) -> SelectionResult:
        """``deltas`` (vt_symbol -> per-lot delta) is read only with ``strike_selection="delta"``."""
        s = self.settings
        signal = SignalType(signal)
        underlying_price = require_positive("OptionSelectorService", "underlying_price", underlying_price)
        kind = signal.option_type.value.lower()
        candidates = [quote for quote in chain if quote.contract.option_type is signal.option_type]
        if not candidates:
            return SelectionResult.refused(f"{signal}: no {kind} options in the chain")

        in_window = sorted({quote.contract.expiry for quote in candidates
                            if s.min_days_to_expiry <= quote.contract.days_to_expiry(today) <= s.max_days_to_expiry})
        if not in_window:
            available = sorted({quote.contract.days_to_expiry(today) for quote in candidates})
            return SelectionResult.refused(
                f"{signal}: no {kind} expiry with {s.min_days_to_expiry}-{s.max_days_to_expiry} days left "
                f"(days left in the chain: {available})")
        expiry = in_window[0]
        if self.by_delta:
            return self._select_by_delta(candidates, signal, expiry, today, deltas)

        by_strike: dict[float, OptionQuote] = {}
        for quote in candidates:
            if quote.contract.expiry == expiry and quote.contract.is_out_of_the_money(underlying_price):
                known = by_strike.get(quote.contract.strike)
                if known is None or quote.volume > known.volume:
                    by_strike[quote.contract.strike] = quote
        ordered = sorted(by_strike.values(), key=lambda quote: quote.contract.otm_amount(underlying_price))
        if len(ordered) < s.strike_level:
            return SelectionResult.refused(
                f"{signal}: only {len(ordered)} out-of-the-money {kind} strikes expiring {expiry.isoformat()} "
                f"at underlying {underlying_price}, strike_level is {s.strike_level}")
        quote = ordered[s.strike_level - 1]

        problem = self._liquidity_problem(quote)
        if problem:
            return SelectionResult.refused(f"{signal}: {quote.vt_symbol} (strike {quote.contract.strike}) {problem}")
        return SelectionResult.chosen(
            quote, f"{signal}: {quote.vt_symbol}, OTM {kind} level {s.strike_level}, strike {quote.contract.strike}, "
                   f"expiry {expiry.isoformat()} ({quote.contract.days_to_expiry(today)} days)")

    def _select_by_delta(self, candidates: list[OptionQuote], signal: SignalType, expiry: date, today: date,
                         deltas: Mapping[str, float] | None) -> SelectionResult:
        s = self.settings
        kind = signal.option_type.value.lower()
        band = f"|delta| {s.target_delta_min:g}-{s.target_delta_max:g}"
        if deltas is None:
            return SelectionResult.refused(f"{signal}: strike_selection is delta but no deltas were given")
        by_strike: dict[float, OptionQuote] = {}
        for quote in candidates:
            if quote.contract.expiry == expiry:
                known = by_strike.get(quote.contract.strike)
                if known is None or quote.volume > known.volume:
                    by_strike[quote.contract.strike] = quote
        liquid = [quote for quote in by_strike.values() if self._liquidity_problem(quote) is None]
        if not liquid:
            return SelectionResult.refused(
                f"{signal}: none of the {len(by_strike)} {kind} strikes expiring {expiry.isoformat()} "
                f"passes the liquidity filter")
        priced = [(abs(float(deltas[q.vt_symbol])), q) for q in liquid
                  if q.vt_symbol in deltas and math.isfinite(float(deltas[q.vt_symbol]))]
        inside = [(size, q) for size, q in priced if s.target_delta_min <= size <= s.target_delta_max]
        if not inside:
            seen = ", ".join(f"{size:.3f}" for size in sorted(size for size, _ in priced)) or "none"
            return SelectionResult.refused(
                f"{signal}: no liquid {kind} expiring {expiry.isoformat()} with {band} "
                f"({len(liquid)} liquid, {len(priced)} with a delta; their |delta|: {seen})")
        middle = (s.target_delta_min + s.target_delta_max) / 2.0
        size, quote = min(inside, key=lambda pair: (abs(pair[0] - middle), -pair[1].volume, pair[1].vt_symbol))
        days = quote.contract.days_to_expiry(today)
        return SelectionResult.chosen(
            quote, f"{signal}: {quote.vt_symbol}, {kind} |delta| {size:.3f} in {band}, strike "
                   f"{quote.contract.strike}, expiry {expiry.isoformat()} ({days} days)")

    def _liquidity_problem(self, quote: OptionQuote) -> str | None:
        s = self.settings
        if quote.last_price <= 0:
            return "has no price"
        if quote.volume < s.min_volume:
            return f"volume {quote.volume:g} is below min_volume {s.min_volume:g}"
        if quote.open_interest < s.min_open_interest:
            return f"open interest {quote.open_interest:g} is below min_open_interest {s.min_open_interest:g}"
        if s.max_spread_ratio is not None:
            if (quote.bid is None) != (quote.ask is None):
                return f"has a one-sided market (bid {quote.bid}, ask {quote.ask})"
            spread = quote.spread_ratio
            if spread is not None and spread > s.max_spread_ratio:
                return f"spread {spread:.1%} is above max_spread_ratio {s.max_spread_ratio:.1%}"
        return None
