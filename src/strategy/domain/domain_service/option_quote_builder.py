"""Builds each option's ``OptionQuote`` from its bars and, live and in the replay, from its ticks.

- ``volume`` is the day's volume so far: the sum of the option's 1-minute bars since the trading day
  began (a tick's cumulative volume when a tick says more), so ``min_volume`` means "lots traded today",
  whatever the bar length;
- ``bid``/``ask`` and the sizes shown there are the option's latest tick (an empty side, 0 from the
  platform, is None); a bar keeps them, since live a bar is built from the same ticks; a new trading
  day forgets them. A bar backtest has no ticks: with the quote-aware fills each bar brings the quote
  its fills are modelled on (``note_touch``), the one the replay's rebuilt ticks carry; with vnpy's
  crossing both stay None and the liquidity filter's spread check is skipped, as before.

So the selector sees the real market where there is one (a one-sided option is refused, a wide one too:
``OptionSelectorSettings.max_spread_ratio``) and the close rules mark at the mid when both sides are
known (``OptionQuote.mark_price``).
"""
from __future__ import annotations

from src.strategy.domain.value_object.market import OptionQuote
from src.strategy.domain.value_object.market_input import BarPrint, TopOfBook
from src.strategy.domain.value_object.option_contract import OptionContract


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


class OptionQuoteBuilder:
    def __init__(self) -> None:
        self._day_volume: dict[str, float] = {}
        self._touch: dict[str, TopOfBook] = {}
        self._last: dict[str, OptionQuote] = {}

    def new_day(self) -> None:
        self._day_volume.clear()
        self._touch.clear()

    def note_touch(self, touch: TopOfBook) -> None:
        """The touch a bar leaves in a backtest (its modelled quote), kept as a tick's would be."""
        self._touch[touch.vt_symbol] = touch

    def from_bar(self, option: OptionContract, bar: BarPrint) -> OptionQuote:
        vt_symbol = option.vt_symbol
        volume = self._day_volume.get(vt_symbol, 0.0) + max(bar.volume, 0.0)
        self._day_volume[vt_symbol] = volume
        return self._build(option, bar.close, volume, bar.open_interest, self._touch.get(vt_symbol))

    def from_touch(self, option: OptionContract, touch: TopOfBook) -> OptionQuote | None:
        """The option's quote with this tick's touch; None before the option has any price."""
        vt_symbol = option.vt_symbol
        self._touch[vt_symbol] = touch
        previous = self._last.get(vt_symbol)
        last = _positive(touch.last) or (previous.last_price if previous is not None else None)
        if last is None:
            return None
        volume = max(self._day_volume.get(vt_symbol, 0.0), touch.volume or 0.0)
        interest = touch.open_interest if touch.open_interest else (previous.open_interest if previous else 0.0)
        return self._build(option, last, volume, interest, touch)

    def _build(self, option: OptionContract, last: float, volume: float, interest: float,
               touch: TopOfBook | None) -> OptionQuote:
        bid = ask = bid_size = ask_size = None
        if touch is not None:
            bid, ask = _positive(touch.bid), _positive(touch.ask)
            if bid is not None and ask is not None and bid > ask:
                bid = ask = None  # a crossed book is no market to measure
            bid_size = touch.bid_size if bid is not None and touch.bid_size is not None else None
            ask_size = touch.ask_size if ask is not None and touch.ask_size is not None else None
        quote = OptionQuote(contract=option, last_price=last, volume=volume, open_interest=max(interest, 0.0),
                            bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size)
        self._last[option.vt_symbol] = quote
        return quote


__all__ = ["OptionQuoteBuilder"]
