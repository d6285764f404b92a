"""Market values the domain reasons about: trade sides, bars and option quotes.

``Direction`` and ``Offset`` follow vnpy's meaning, so the entry layer maps them
one to one: a trade that closes a short position has direction LONG and offset
CLOSE. Both are string-valued (``StrEnum``): a member equals its value
(``Offset.OPEN == "OPEN"``), formats as it and is written to JSON as it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from src.strategy.domain.value_object.option_contract import OptionContract
from src.strategy.domain.value_object.validation import (
    is_plain_non_negative,
    require_aware,
    require_non_negative,
    require_positive,
    require_text,
)


class Direction(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.LONG else -1

    @property
    def opposite(self) -> Direction:
        return Direction.SHORT if self is Direction.LONG else Direction.LONG


class Offset(StrEnum):
    OPEN = "OPEN"
    CLOSE = "CLOSE"


@dataclass(frozen=True)
class BarSnapshot:
    """One bar of the configured window; ``datetime`` is the start of the window."""

    vt_symbol: str
    datetime: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float = 0.0
    open_interest: float = 0.0

    def __post_init__(self) -> None:
        owner = "BarSnapshot"
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_aware(owner, "datetime", self.datetime)
        for name in ("open", "high", "low", "close"):
            object.__setattr__(self, name, require_positive(owner, name, getattr(self, name)))
        for name in ("volume", "turnover", "open_interest"):
            object.__setattr__(self, name, require_non_negative(owner, name, getattr(self, name)))
        if not self.low <= min(self.open, self.close) or not max(self.open, self.close) <= self.high:
            raise ValueError(
                f"BarSnapshot {self.vt_symbol} {self.datetime.isoformat()}: needs low <= open, close <= high, "
                f"got open={self.open} high={self.high} low={self.low} close={self.close}")


def _plain_touch(bid: object, ask: object, bid_size: object, ask_size: object) -> bool:
    """Sides and sizes the checks of ``OptionQuote`` would keep unchanged: each None or a plain float
    (positive prices, non-negative sizes), and the bid not above the ask."""
    for price in (bid, ask):
        if price is not None and not (is_plain_non_negative(price) and price > 0.0):
            return False
    for size in (bid_size, ask_size):
        if size is not None and not is_plain_non_negative(size):
            return False
    return bid is None or ask is None or bid <= ask


@dataclass(frozen=True)
class OptionQuote:
    """The latest known market of one option.

    ``bid`` and ``ask`` (and the sizes shown there) are None when only bars are
    known (bar backtests); a side without a resting order is None too.
    ``volume`` is the day's volume so far (``OptionQuoteBuilder``: the sum of
    the day's 1-minute bars, or the tick's cumulative volume).
    """

    contract: OptionContract
    last_price: float
    volume: float
    open_interest: float
    bid: float | None = None
    ask: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None

    def __post_init__(self) -> None:
        if (type(self.contract) is OptionContract and is_plain_non_negative(self.last_price)
                and is_plain_non_negative(self.volume) and is_plain_non_negative(self.open_interest)
                and _plain_touch(self.bid, self.ask, self.bid_size, self.ask_size)):
            return  # a bar's quote (once per option and bar), already what the checks below would make of it
        owner = f"OptionQuote({getattr(self.contract, 'vt_symbol', '?')})"
        if not isinstance(self.contract, OptionContract):
            raise TypeError(f"{owner}.contract must be an OptionContract, got {type(self.contract).__name__}")
        object.__setattr__(self, "last_price", require_non_negative(owner, "last_price", self.last_price))
        object.__setattr__(self, "volume", require_non_negative(owner, "volume", self.volume))
        object.__setattr__(self, "open_interest", require_non_negative(owner, "open_interest", self.open_interest))
        for name in ("bid", "ask"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_positive(owner, name, value))
        for name in ("bid_size", "ask_size"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_non_negative(owner, name, value))
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise ValueError(f"{owner}: bid {self.bid} is above ask {self.ask}")

    @property
    def vt_symbol(self) -> str:
        return self.contract.vt_symbol

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def mark_price(self) -> float:
        """The mid when both sides are known, else the last price."""
        mid = self.mid
        return mid if mid is not None else self.last_price

    @property
    def spread_ratio(self) -> float | None:
        """(ask - bid) / mid, or None unless both sides are known."""
        mid = self.mid
        if mid is None:
            return None
        return (self.ask - self.bid) / mid
