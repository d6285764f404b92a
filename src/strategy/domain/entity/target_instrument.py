"""The market data of one product: its active future's window bars, indicators and option quotes."""
from __future__ import annotations

from collections import deque
from datetime import date

import numpy as np

from src.strategy.domain.value_object.market import BarSnapshot, OptionQuote
from src.strategy.domain.value_object.validation import require_int, require_text

IndicatorValue = float | int | None


class TargetInstrument:
    """``product`` is the future product ("IF"); ``option_product`` the options on it ("IO").

    Bars are the active future's window bars, oldest first, at most ``max_bars``;
    ``indicators`` holds the latest value of each indicator by name (None while
    the history is too short); ``option_quotes`` the latest quote of each option
    by vt_symbol.
    """

    def __init__(self, product: str, option_product: str | None = None, max_bars: int = 200) -> None:
        self.product = require_text("TargetInstrument", "product", product)
        if option_product is not None:
            require_text("TargetInstrument", "option_product", option_product)
        self.option_product = option_product
        self.max_bars = require_int("TargetInstrument", "max_bars", max_bars, 1)
        self.active_vt_symbol: str | None = None
        self.bars: deque[BarSnapshot] = deque(maxlen=self.max_bars)
        self.indicators: dict[str, IndicatorValue] = {}
        self.option_quotes: dict[str, OptionQuote] = {}

    def __repr__(self) -> str:
        return (f"TargetInstrument({self.product!r}, active={self.active_vt_symbol!r}, "
                f"bars={len(self.bars)}, options={len(self.option_quotes)})")

    @property
    def latest_bar(self) -> BarSnapshot | None:
        return self.bars[-1] if self.bars else None

    @property
    def latest_price(self) -> float | None:
        bar = self.latest_bar
        return bar.close if bar else None

    def set_active_contract(self, vt_symbol: str, keep_history: bool = False) -> None:
        """Switches the future whose bars are kept.

        By default the old contract's bars and indicators are dropped: the
        calendar spread between two months would otherwise show up as a price
        jump inside the indicators' window.
        """
        require_text("TargetInstrument", "vt_symbol", vt_symbol)
        if vt_symbol != self.active_vt_symbol and not keep_history:
            self.bars.clear()
            self.indicators.clear()
        self.active_vt_symbol = vt_symbol

    def append_bar(self, bar: BarSnapshot) -> bool:
        """Adds a bar of the active contract; returns False (bar ignored) unless it is later than the last one."""
        if bar.vt_symbol != self.active_vt_symbol:
            raise ValueError(f"{self.product}: bar of {bar.vt_symbol} but the active contract is {self.active_vt_symbol}")
        if self.bars and bar.datetime <= self.bars[-1].datetime:
            return False
        self.bars.append(bar)
        return True

    def closes(self) -> np.ndarray:
        return np.fromiter((bar.close for bar in self.bars), dtype=np.float64, count=len(self.bars))

    def update_option_quote(self, quote: OptionQuote) -> None:
        if self.option_product is not None and quote.contract.product != self.option_product:
            raise ValueError(f"{self.product}: quote of {quote.vt_symbol} (product {quote.contract.product}) "
                             f"is not an option on {self.product} ({self.option_product})")
        self.option_quotes[quote.vt_symbol] = quote

    def option_quote(self, vt_symbol: str) -> OptionQuote | None:
        return self.option_quotes.get(vt_symbol)

    def prune_expired_options(self, today: date) -> list[str]:
        """Drops quotes of options that expired before ``today``; returns their vt_symbols."""
        expired = [symbol for symbol, quote in self.option_quotes.items() if quote.contract.days_to_expiry(today) < 0]
        for symbol in expired:
            del self.option_quotes[symbol]
        return expired
