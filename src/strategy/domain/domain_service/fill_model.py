"""Quote-aware fills: the one matcher of the backtest engine and of the paper replay.

An order that reaches the market is filled only when it is marketable against a
quote, at that quote's touch (a buy at the ask, a sell at the bid), never better,
and for no more lots than the market can give it in a minute:

- **On quotes** (recorded ticks, or the sample market's quote table): a buy limit
  fills when the ask is at or below it, at the ask; a sell when the bid is at or
  above it, at the bid; a market order at the touch. A missing side (bid or ask
  0) fills nothing on that side.
- **On bars** (no quote known): a minute without a print of the contract (no bar,
  or a bar of volume 0, as vnpy's forward-filled bars are) fills nothing: the
  order stays working. On a minute with a print the market is the bar's path of
  prints (``bar_path``: open, then low and high in the order a path from open to
  close most plausibly takes them, then close), each with a quote *estimated*
  around it with ``SpreadRule``: ``bid = print - floor(n/2) ticks``, ``ask = bid + n
  ticks``, n the estimated spread in ticks; so a buy pays at least half the
  estimated spread above the print, a sell receives at least half below it. vnpy
  instead filled at the open, i.e. at whichever side the print happened to be on
  (the far touch half of the time). The paper replay rebuilds the same path as
  ticks carrying the same quotes, so an order working through a minute meets the
  same market in both.
- **Size**: per contract and minute, all orders together take at most
  ``participation`` of what is available (the touch size of a quote; the bar's
  volume on bars), rounded down, but at least ``min_lots`` when anything is
  available, and never more than is available. What is not filled stays working
  for the next minute (partial fills).

``SpreadRule`` is the documented estimator of a contract's spread in ticks:
``min_ticks + floor(relative * price / tick)``, clipped to ``max_ticks``. The
defaults for options (2 ticks plus 0.4 % of the premium, at most 20) follow how
CFFEX IO/MO are quoted near the money (and how the sample market quotes them).
Futures (IF/IM) quote one tick wide, but a print's side is unknown, so they get two
ticks: one either side of the print, which can never be beyond the far touch of a
one-tick market. With at least two ticks the estimate is strictly inside: a sell
gets at least one tick below the print, a buy pays at least one above, so a fill on
bars is never at or beyond the true far touch, whichever side the print was on.
Calibrate the rules from recorded ticks for other products.

Pure: prices, sizes and sides in, a ``FillDecision`` out; the caller keeps the
per-minute usage and the orders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.validation import (
    require_int,
    require_non_negative,
    require_positive,
    require_real,
)

_EPSILON = 1e-9


class FillSource(StrEnum):
    QUOTE = "quote"   # a recorded (or generated) bid/ask
    BAR = "bar"       # a quote estimated around one of a bar's prints


class NoFill(StrEnum):
    """Why a matchable order got nothing this time."""

    NO_PRINT = "no_print"              # bars only, and the contract did not trade this minute
    NO_TOUCH = "no_touch"              # the side the order needs is empty
    NOT_MARKETABLE = "not_marketable"  # the limit does not reach the touch
    CAPACITY_USED = "capacity_used"    # this minute's participation cap is used up


@dataclass(frozen=True)
class SpreadRule:
    """Estimated spread of a contract in ticks: ``min_ticks + floor(relative * price / tick)``, at most
    ``max_ticks``."""

    min_ticks: int = 2
    relative: float = 0.004
    max_ticks: int = 20

    def __post_init__(self) -> None:
        owner = "SpreadRule"
        require_int(owner, "min_ticks", self.min_ticks, 1)
        object.__setattr__(self, "relative", require_non_negative(owner, "relative", self.relative))
        require_int(owner, "max_ticks", self.max_ticks, self.min_ticks)

    def ticks(self, price: float, tick: float) -> int:
        extra = math.floor(self.relative * price / tick + _EPSILON) if price > 0 else 0
        return int(min(self.max_ticks, self.min_ticks + extra))


OPTION_SPREAD = SpreadRule(2, 0.004, 20)
FUTURE_SPREAD = SpreadRule(2, 0.0, 2)


@dataclass(frozen=True)
class FillSettings:
    participation: float = 0.25
    min_lots: int = 1
    option_spread: SpreadRule = field(default=OPTION_SPREAD)
    future_spread: SpreadRule = field(default=FUTURE_SPREAD)

    def __post_init__(self) -> None:
        owner = "FillSettings"
        participation = require_positive(owner, "participation", self.participation)
        if participation > 1:
            raise ValueError(f"{owner}.participation must be <= 1, got {participation}")
        object.__setattr__(self, "participation", participation)
        require_int(owner, "min_lots", self.min_lots, 0)
        for name in ("option_spread", "future_spread"):
            if not isinstance(getattr(self, name), SpreadRule):
                raise TypeError(f"{owner}.{name} must be a SpreadRule")


@dataclass(frozen=True)
class Quote:
    """A touch: prices (0 = that side is empty) and the sizes shown there; ``source`` says whether it was
    recorded or estimated from a print."""

    bid: float
    ask: float
    bid_size: float
    ask_size: float
    source: FillSource = FillSource.QUOTE

    def __post_init__(self) -> None:
        owner = "Quote"
        for name in ("bid", "ask", "bid_size", "ask_size"):
            object.__setattr__(self, name, require_non_negative(owner, name, getattr(self, name)))
        if self.bid > 0 and self.ask > 0 and self.bid > self.ask + _EPSILON:
            raise ValueError(f"{owner}: bid {self.bid} is above ask {self.ask}")
        object.__setattr__(self, "source", FillSource(self.source))

    @property
    def two_sided(self) -> bool:
        return self.bid > 0 and self.ask > 0

    @property
    def mid(self) -> float | None:
        return (self.bid + self.ask) / 2 if self.two_sided else None

    def touch(self, side: Direction) -> tuple[float, float]:
        """(price, size) an order of ``side`` takes: the ask for a buy, the bid for a sell."""
        return (self.ask, self.ask_size) if side is Direction.LONG else (self.bid, self.bid_size)


@dataclass(frozen=True)
class FillDecision:
    volume: int
    price: float | None = None
    source: FillSource | None = None
    quote: Quote | None = None
    no_fill: NoFill | None = None

    @property
    def filled(self) -> bool:
        return self.volume > 0

    @staticmethod
    def none(reason: NoFill, quote: Quote | None = None) -> FillDecision:
        return FillDecision(0, no_fill=reason, quote=quote)


def is_at_or_beyond_far_touch(side: Direction, price: float, quote: Quote) -> bool:
    """A buy at or below the bid, a sell at or above the ask: what a real account would not get by
    crossing (it would have had to be first in the queue on the other side)."""
    if side is Direction.LONG:
        return quote.bid > 0 and price <= quote.bid + _EPSILON
    return quote.ask > 0 and price >= quote.ask - _EPSILON


def bar_path(open_price: float, high: float, low: float, close: float) -> tuple[float, ...]:
    """A minute's prints in the order a path from open to close most plausibly takes them: a bar closing
    up dips first (open, low, high, close), one closing down peaks first (open, high, low, close); a price
    repeated by the next is given once. The backtest matches against these prints, and the replay's
    ticks rebuilt from a bar are these prints."""
    path = (open_price, low, high, close) if close >= open_price else (open_price, high, low, close)
    prints = [path[0]]
    for price in path[1:]:
        if price != prints[-1]:
            prints.append(price)
    return tuple(prints)


def _to_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 10)


class FillModel:
    def __init__(self, settings: FillSettings = FillSettings()) -> None:
        if not isinstance(settings, FillSettings):
            raise TypeError(f"FillModel needs FillSettings, got {type(settings).__name__}")
        self.settings = settings

    # ----------------------------------------------------------------- size
    def capacity(self, available: float) -> int:
        """Lots one contract may fill in one minute when ``available`` lots are shown (or traded)."""
        shown = math.floor(available + _EPSILON) if available > 0 else 0
        if shown <= 0:
            return 0
        share = math.floor(self.settings.participation * shown + _EPSILON)
        return int(min(shown, max(self.settings.min_lots, share)))

    # ----------------------------------------------------------------- quotes
    def spread_rule(self, is_option: bool) -> SpreadRule:
        return self.settings.option_spread if is_option else self.settings.future_spread

    def estimated_quote(self, print_price: float, tick: float, traded: float, is_option: bool = True) -> Quote:
        """The quote estimated around a print: ``bid = print - floor(n/2) ticks``, ``ask = bid + n ticks``
        (no bid below one tick); both sides show ``traded`` lots."""
        require_positive("FillModel.estimated_quote", "print_price", print_price)
        require_positive("FillModel.estimated_quote", "tick", tick)
        bid, ask = self.estimated_touch(print_price, tick, is_option)
        return Quote(bid, ask, traded if bid > 0 else 0.0, traded, FillSource.BAR)

    def estimated_touch(self, print_price: float, tick: float, is_option: bool = True) -> tuple[float, float]:
        """``estimated_quote``'s bid and ask alone (bid 0.0: none), for a caller that checked its inputs and
        asks once per bar and contract (the backtest's touch for the strategy)."""
        ticks = self.spread_rule(is_option).ticks(print_price, tick)
        bid = _to_tick(print_price - (ticks // 2) * tick, tick)
        ask = _to_tick(bid + ticks * tick, tick)
        return (0.0 if bid < tick - _EPSILON else bid), ask

    # ----------------------------------------------------------------- matching
    def match(self, side: Direction, limit: float | None, remaining: int, quote: Quote, used: int = 0) -> FillDecision:
        """Fill of an order of ``side`` with ``remaining`` lots against ``quote`` (``limit`` None: a market
        order), when the contract already filled ``used`` lots this minute."""
        side = Direction(side)
        remaining = require_int("FillModel.match", "remaining", remaining, 0)
        used = require_int("FillModel.match", "used", used, 0)
        if limit is not None:
            limit = require_real("FillModel.match", "limit", limit)
        price, size = quote.touch(side)
        if price <= 0:
            return FillDecision.none(NoFill.NO_TOUCH, quote)
        if limit is not None:
            marketable = limit >= price - _EPSILON if side is Direction.LONG else limit <= price + _EPSILON
            if not marketable:
                return FillDecision.none(NoFill.NOT_MARKETABLE, quote)
        room = self.capacity(size) - used
        if room <= 0 or remaining <= 0:
            return FillDecision.none(NoFill.CAPACITY_USED, quote)
        return FillDecision(min(remaining, room), price, quote.source, quote)

    def match_bar(self, side: Direction, limit: float | None, remaining: int, print_price: float | None,
                  traded: float, tick: float, used: int = 0, is_option: bool = True) -> FillDecision:
        """One print (a bar of one price): nothing on a minute without a print (``print_price`` None or
        ``traded`` 0), else ``match`` against the quote estimated around it, as ``bar_quotes`` gives it."""
        quotes = () if print_price is None else self.bar_quotes(print_price, print_price, print_price, print_price,
                                                                traded, tick, is_option)
        if not quotes:
            return FillDecision.none(NoFill.NO_PRINT)
        return self.match(side, limit, remaining, quotes[0], used)

    def bar_quotes(self, open_price: float, high: float, low: float, close: float, traded: float, tick: float,
                   is_option: bool = True) -> tuple[Quote, ...]:
        """Bars only: the quotes estimated around the minute's prints (``bar_path``), each showing the
        minute's volume (the participation cap is per minute: ``used`` carries over between them); none
        on a minute without a print (``traded`` 0)."""
        if not traded > 0:
            return ()
        return tuple(self.estimated_quote(price, tick, traded, is_option)
                     for price in bar_path(open_price, high, low, close) if price > 0)


__all__ = ["FUTURE_SPREAD", "OPTION_SPREAD", "FillDecision", "FillModel", "FillSettings", "FillSource", "NoFill",
           "Quote", "SpreadRule", "bar_path", "is_at_or_beyond_far_touch"]
