"""AllTick trades and order books as vnpy ``TickData`` (exchange ``SEHK``; ``700.HK`` is symbol ``700``).

A tick per trade, with the five levels of the code's last order book; and one per
order book once the code has traded, carrying the last trade. ``volume`` and
``turnover`` are cumulative over the Hong Kong trading day (vnpy's convention,
which BarPipeline differentiates); ``last_volume`` is the trade's own (0 for a
book-driven tick). A book-driven tick carries the last trade's time, so tick
times follow the trades even though the two streams arrive independently.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from vnpy.trader.constant import Exchange
from vnpy.trader.object import TickData

from src.datafeed.hk import protocol as p
from src.datafeed.hk.validation import Depth, Trade

HK_TIMEZONE = ZoneInfo("Asia/Hong_Kong")
LEVELS = 5


def code_of(symbol: str) -> str:
    """vnpy symbol "700" (or "00700") -> AllTick code "700.HK"."""
    return p.normalise_hk_code(f"{symbol}.HK")


def symbol_of(code: str) -> str:
    return code[:-3]


class TickBuilder:
    def __init__(self, gateway_name: str) -> None:
        self.gateway_name = gateway_name
        self._books: dict[str, Depth] = {}
        self._last: dict[str, TickData] = {}
        self._day: dict[str, tuple[date, float, float]] = {}

    def trade(self, trade: Trade) -> TickData:
        moment = datetime.fromtimestamp(trade.tick_time_ms / 1000.0, HK_TIMEZONE)
        day = moment.date()
        previous = self._day.get(trade.code)
        volume, turnover = (previous[1], previous[2]) if previous is not None and previous[0] == day else (0.0, 0.0)
        volume += trade.volume
        turnover += trade.turnover
        self._day[trade.code] = (day, volume, turnover)
        tick = TickData(gateway_name=self.gateway_name, symbol=symbol_of(trade.code), exchange=Exchange.SEHK,
                        datetime=moment, name=trade.code, volume=volume, turnover=turnover,
                        last_price=trade.price, last_volume=trade.volume,
                        localtime=datetime.fromtimestamp(trade.received_at, HK_TIMEZONE))
        book = self._books.get(trade.code)
        if book is not None:
            apply_book(tick, book)
        self._last[trade.code] = tick
        return tick

    def depth(self, depth: Depth) -> TickData | None:
        self._books[depth.code] = depth
        last = self._last.get(depth.code)
        if last is None:
            return None
        tick = TickData(gateway_name=self.gateway_name, symbol=last.symbol, exchange=Exchange.SEHK,
                        datetime=last.datetime, name=last.name, volume=last.volume, turnover=last.turnover,
                        last_price=last.last_price, last_volume=0.0,
                        localtime=datetime.fromtimestamp(depth.received_at, HK_TIMEZONE))
        apply_book(tick, depth)
        self._last[depth.code] = tick
        return tick


def apply_book(tick: TickData, book: Depth) -> None:
    for level, (price, volume) in enumerate(book.bids[:LEVELS], start=1):
        setattr(tick, f"bid_price_{level}", price)
        setattr(tick, f"bid_volume_{level}", volume)
    for level, (price, volume) in enumerate(book.asks[:LEVELS], start=1):
        setattr(tick, f"ask_price_{level}", price)
        setattr(tick, f"ask_volume_{level}", volume)
