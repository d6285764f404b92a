"""ReplayGateway: a vnpy gateway that replays stored market data into MainEngine, with simulated fills.

Offline paper trading (``--paper --replay``) and the data recorder's tests run
the same engines as live trading, with this gateway in the place of CTP/SOPT.

Market data
-----------
Trading day by trading day (the exchange calendar; a day's data runs from
18:00 of the previous trading day, so night sessions come first), the gateway
streams the subscribed contracts' data in time order:

- contracts with ticks stored in the database for that day: those ticks;
- the others: each 1-minute bar becomes the ticks that rebuild it
  (``TickSynthesizer``): the bar's path of prints, ``fill_model.bar_path`` (open,
  then low and high in the order a path from open to close would most plausibly
  take them, then close; the prints the backtest matches against), at 0.5, 15.5,
  30.5 and 45.5 s into the minute for futures and half a second later for
  options (``OPTION_TICK_OFFSETS`` says why), with the cumulative volume and turnover
  of the trading day and the bar's open interest. Their quote is the source's
  own when it has a quote table (``quote_at``: the sample market's), else the
  quote the backtest's ``FillModel`` estimates around each price (two ticks plus
  0.4 % of the premium wide for options, one tick either side for futures), both
  sides showing the bar's volume. Fed to ``BarPipeline.update_tick`` (what
  ``StrategyEntry.on_tick`` does), these ticks give back the same 1-minute bars;
- after each day's last data, one record per contract 30 minutes after the
  close with unchanged prices and volume, as CFFEX sends around 15:30: it is
  outside the sessions, so it moves no bar, but it tells a bar builder that
  the day's last minute is complete (the 14:59 bar is emitted that day, not at
  the next morning's open).

The warm-up days go as fast as the engines take them; the replay days at
``speed`` times real time (1 = real time, 0 = as fast as possible). Breaks
between sessions and nights are not waited for: a gap counts at most one
minute. The ticks of one timestamp are published together, then the gateway
waits until the event engine has handled them and every event they caused
(``TrackedEventEngine``): an order's acknowledgement and fills reach the
strategy before the next quote, as in a live session, and the replay gives
the same result on a fast machine and a slow one.

Orders and fills (``SimulatedExchange``)
----------------------------------------
Orders sent to this gateway are matched against the replayed quotes of their
contract, in the event engine's thread:

- by the backtest's ``FillModel``: a buy limit fills when the ask is at or
  below its price, at the ask; a sell limit when the bid is at or above its
  price, at the bid; a market order at the touch; per contract and minute at
  most the participation cap of the size shown (a quarter, at least one lot),
  the rest stays working (partial fills); ticks rebuilt from bars exist only
  for minutes with a print, so nothing fills on a minute nobody traded;
  ``SimulatedExchange.fill_stats`` counts the fills as the backtest's summary does;
- an order can only fill on a quote that arrives after it: the gateway's
  matcher is registered with the event engine before the strategy engine
  (``create_engines`` adds gateways first), so on each tick the resting orders
  are matched before the strategy sees the tick and reacts to it;
- no fills outside the trading sessions (the 15:30 records above);
- a close order larger than the open position it closes is rejected, as an
  exchange would; so is an opening order whose margin (short options by the
  CFFEX rule, futures at their rate, long options their premium, all on the
  last prices, times the broker's multiplier) exceeds the balance less the
  margin already held and frozen by working openings; positions, realized PnL,
  fees and the account (``frozen`` = margin) follow the fills.

Orders and trades carry the replayed time, not the machine's.

Why not vnpy_paperaccount for the replay: it stamps orders and trades with the
wall clock, keeps its positions in one JSON file shared by every process in
vnpy's folder (so a previous replay's positions would leak into the next one)
and, with ``instant_trade`` on, fills on the quote already seen. It is used
for paper trading on live market data (``--paper`` without ``--replay``).
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Status
from vnpy.trader.event import EVENT_TICK
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    AccountData,
    BarData,
    CancelRequest,
    ContractData,
    OrderData,
    OrderRequest,
    PositionData,
    SubscribeRequest,
    TickData,
    TradeData,
)

from src.core.contract.contract_registry import ContractFactory, ContractInfo
from src.main.gateway.event_flow import TrackedEventEngine
from src.main.gateway.replay_source import ReplaySource
from src.strategy.application.bootstrap import option_contract_of
from src.strategy.domain.domain_service.expiry_settlement import ExpirySettlement, is_expired, settlement_time
from src.strategy.domain.domain_service.fee_ledger import FeeLedger
from src.strategy.domain.domain_service.fill_model import FillModel, FillSource, Quote, bar_path
from src.strategy.domain.domain_service.fill_statistics import FillStatistics
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService, SizingSettings
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.option_contract import OptionContract
from src.strategy.domain.value_object.fee_schedule import FeeSchedule
from src.strategy.infrastructure.gateway.vnpy_converters import from_vnpy_direction, from_vnpy_offset
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.domain.value_object.trading_session import CHINA_TRADING_SESSIONS, TradingSchedule

logger = logging.getLogger(__name__)

EVENT_REPLAY = "eReplay"
GATEWAY_NAME = "REPLAY"
TICK_OFFSETS = tuple(timedelta(seconds=s) for s in (0.5, 15.5, 30.5, 45.5))
# Options print half a second after the futures. The strategy decides on the futures' bars, and a bar is
# complete on the next minute's first futures tick: the order it sends there then meets the option's first
# print of that minute, as the backtest's order placed on a bar meets the next bar's open. Sharing the
# futures' timestamps, the order of ticks within one timestamp decided instead: an attempt timing out on
# the futures tick was cancelled, and its replacement sent, only after the option's print had passed, so a
# retry never met the open (a flat bar's only print) and the replay filled half as often as the backtest.
OPTION_TICK_OFFSETS = tuple(offset + timedelta(seconds=0.5) for offset in TICK_OFFSETS)
SETTLEMENT_DELAY = timedelta(minutes=30)
DAY_BOUNDARY_HOUR = 18
MAX_PACED_GAP_SECONDS = 60.0


class ReplayPhase(Enum):
    WARMUP_DONE = "warmup_done"  # every warm-up tick has been published; the replay days follow
    FINISHED = "finished"        # the last tick has been published
    FAILED = "failed"            # reading the data failed: see ``message``


@dataclass(frozen=True)
class ReplayProgress:
    """Put on the event queue after the ticks it follows, so a handler sees it once they are processed."""

    phase: ReplayPhase
    ticks_published: int
    message: str = ""


@dataclass(frozen=True)
class ReplayPlan:
    warmup_days: tuple[date, ...]
    replay_days: tuple[date, ...]
    speed: float = 0.0

    def __post_init__(self) -> None:
        if not self.replay_days:
            raise ValueError("a replay needs at least one trading day")
        if not (isinstance(self.speed, (int, float)) and math.isfinite(self.speed) and self.speed >= 0):
            raise ValueError(f"speed must be a number >= 0, got {self.speed!r}")
        days = list(self.warmup_days) + list(self.replay_days)
        if days != sorted(set(days)):
            raise ValueError("warm-up and replay days must be increasing and distinct")


# ------------------------------------------------------------------------------------ bars to ticks
class TickSynthesizer:
    """Turns 1-minute bars into ticks that ``BarPipeline.update_tick`` turns back into the same bars."""

    def __init__(self, priceticks: Mapping[str, float], gateway_name: str = GATEWAY_NAME,
                 options: set[str] | frozenset[str] = frozenset(), fill_model: FillModel | None = None) -> None:
        self.priceticks = dict(priceticks)
        self.gateway_name = gateway_name
        self.options = frozenset(options)
        self.fill_model = fill_model or FillModel()
        self._day: dict[str, list[float]] = {}      # vt_symbol -> [cum volume, cum turnover, open, high, low]
        self._previous_close: dict[str, float] = {}
        self._last: dict[str, TickData] = {}

    def new_trading_day(self) -> None:
        """Cumulative volume and turnover restart at zero, as the exchange's do."""
        for vt_symbol, tick in self._last.items():
            self._previous_close[vt_symbol] = tick.last_price
        self._day.clear()
        self._last.clear()

    def ticks(self, bar: BarData, quote: Quote | None = None) -> list[TickData]:
        """``quote``: the minute's recorded quote (the sample's quote table), put on every tick of the bar;
        without one, each tick gets the quote the fill model estimates around its price."""
        vt_symbol = bar.vt_symbol
        tick_size = self.priceticks.get(vt_symbol, 0.0)
        offsets = self._offsets(vt_symbol)
        prices = bar_path(bar.open_price, bar.high_price, bar.low_price, bar.close_price)
        day = self._day.get(vt_symbol)
        if day is None:
            day = self._day[vt_symbol] = [0.0, 0.0, bar.open_price, bar.open_price, bar.open_price]
        base_volume, base_turnover = day[0], day[1]
        count = len(prices)
        ticks: list[TickData] = []
        for index, price in enumerate(prices):
            if index == count - 1:
                volume, turnover = base_volume + bar.volume, base_turnover + bar.turnover
            else:
                share = (index + 1) / count
                volume = base_volume + math.floor(bar.volume * share)
                turnover = base_turnover + bar.turnover * share
            day[3] = max(day[3], price)
            day[4] = min(day[4], price)
            bid_size = ask_size = bar.volume
            if quote is not None:
                bid, ask, bid_size, ask_size = quote.bid, quote.ask, quote.bid_size, quote.ask_size
            elif tick_size:
                # the quote the fill model estimates around a print (``FillModel.estimated_quote``), showing the
                # bar's volume: the replay's matcher then fills as the backtest does on bars
                estimate = self.fill_model.estimated_quote(price, tick_size, bar.volume, vt_symbol in self.options)
                bid, ask = estimate.bid, estimate.ask
            else:
                bid, ask = price, price
            tick = TickData(
                gateway_name=self.gateway_name, symbol=bar.symbol, exchange=bar.exchange,
                datetime=bar.datetime + offsets[index], name=bar.symbol,
                volume=volume, turnover=turnover, open_interest=bar.open_interest, last_price=price,
                last_volume=volume - (ticks[-1].volume if ticks else base_volume),
                open_price=day[2], high_price=day[3], low_price=day[4],
                pre_close=self._previous_close.get(vt_symbol, 0.0),
                bid_price_1=bid if bid > 0 else 0.0, ask_price_1=ask,
                bid_volume_1=bid_size if bid > 0 else 0.0, ask_volume_1=ask_size if ask > 0 else 0.0,
            )
            ticks.append(tick)
        day[0], day[1] = base_volume + bar.volume, base_turnover + bar.turnover
        self._last[vt_symbol] = ticks[-1]
        return ticks

    def with_quotes(self, bars: Sequence[BarData], quotes: Sequence[tuple[datetime, Quote]]) -> list[TickData]:
        """A contract's bars and its quote table: each bar's ticks carry its minute's quote, and each listed
        minute without a bar gets one quote tick (no volume, the last price unchanged), so orders meet the
        standing quotes as the backtest's quote fills do. No tick before the contract has any price."""
        by_minute = {bar.datetime: bar for bar in bars}
        ticks: list[TickData] = []
        for minute, quote in quotes:
            bar = by_minute.pop(minute, None)
            if bar is not None:
                ticks.extend(self.ticks(bar, quote))
                continue
            tick = self._quote_tick(bars[0] if bars else None, minute, quote)
            if tick is not None:
                ticks.append(tick)
        for bar in by_minute.values():  # a bar outside the quote table: estimated quotes
            ticks.extend(self.ticks(bar))
        ticks.sort(key=lambda tick: tick.datetime)
        return ticks

    def _quote_tick(self, like: BarData | None, minute: datetime, quote: Quote) -> TickData | None:
        if like is None:
            return None
        vt_symbol = like.vt_symbol
        last = self._last.get(vt_symbol)
        price = last.last_price if last is not None else self._previous_close.get(vt_symbol)
        if not price:
            return None
        day = self._day.get(vt_symbol)
        volume, turnover = (day[0], day[1]) if day is not None else (0.0, 0.0)
        return TickData(
            gateway_name=self.gateway_name, symbol=like.symbol, exchange=like.exchange,
            datetime=minute + self._offsets(vt_symbol)[0], name=like.symbol, volume=volume, turnover=turnover,
            open_interest=last.open_interest if last is not None else like.open_interest, last_price=price,
            last_volume=0.0, open_price=day[2] if day else price, high_price=day[3] if day else price,
            low_price=day[4] if day else price, pre_close=self._previous_close.get(vt_symbol, 0.0),
            bid_price_1=quote.bid, ask_price_1=quote.ask,
            bid_volume_1=quote.bid_size if quote.bid > 0 else 0.0,
            ask_volume_1=quote.ask_size if quote.ask > 0 else 0.0)

    def _offsets(self, vt_symbol: str) -> tuple[timedelta, ...]:
        return OPTION_TICK_OFFSETS if vt_symbol in self.options else TICK_OFFSETS

    def remember(self, tick: TickData) -> None:
        """A stored tick was replayed: it is the contract's last tick for the settlement record."""
        self._last[tick.vt_symbol] = tick

    def settlement(self, at: datetime) -> list[TickData]:
        """The after-close records of every contract that traded today (unchanged prices and volume)."""
        records = []
        for tick in self._last.values():
            record = copy(tick)
            record.datetime = at
            record.last_volume = 0.0
            records.append(record)
        return records


def _round_to_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 10)


# ----------------------------------------------------------------------------------- the matcher
@dataclass
class _Holding:
    volume: float = 0.0
    frozen: float = 0.0
    price: float = 0.0


class SimulatedExchange:
    """Order book and positions of the replay; every method runs under the gateway's lock."""

    def __init__(self, gateway_name: str, contracts: Mapping[str, ContractData], capital: float) -> None:
        self.gateway_name = gateway_name
        # Order ids unique across runs (a strategy may remember orders of an earlier run); no "." (vnpy splits on it).
        self.session = f"{datetime.now():%y%m%d%H%M%S}{os.getpid() % 1000:03d}_"
        self.contracts = contracts
        self.capital = capital
        self.realized_pnl = 0.0
        self.fees = FeeLedger(FeeSchedule())  # what the fills cost (the strategy's own schedule)
        self.products: dict[str, str] = {}     # vt_symbol -> product, for the fee schedule
        self._order_count = 0
        self._trade_count = 0
        self._active: dict[str, dict[str, OrderData]] = defaultdict(dict)
        self._holdings: dict[tuple[str, Direction], _Holding] = defaultdict(_Holding)
        self._schedules: dict[str, TradingSchedule | None] = {}
        # The backtest's fill model; ``synthesized``: contracts whose ticks today are rebuilt from bars (their
        # quotes are estimated around the prints); ``_used``: lots filled per contract in its current minute.
        self.fill_model = FillModel()
        self.fill_stats = FillStatistics()
        # Margin: opening orders the account cannot carry are rejected (``_margin_shortfall``); ``marks`` are the
        # last prices the gateway saw, ``margin_multiplier`` the broker's on the exchange's rates.
        self.options: dict[str, OptionContract] = {}
        self.params: dict[str, ContractParams] = {}
        self.marks: Mapping[str, float] = {}
        self.sizing = PositionSizingService()
        self.margin_rejections = 0
        self.synthesized: set[str] = set()
        self._used: dict[str, tuple[datetime | None, int]] = {}

    def accept(self, req: OrderRequest, now: datetime | None) -> tuple[OrderData, str]:
        """The order as the exchange acknowledges it, and why it was rejected ("" when accepted)."""
        self._order_count += 1
        order = req.create_order_data(f"{self.session}{self._order_count}", self.gateway_name)
        order.datetime = now
        reason = self._rejection(req)
        if reason:
            order.status = Status.REJECTED
            return order, reason
        order.status = Status.NOTTRADED
        if order.offset is not Offset.OPEN:
            self._holdings[(order.vt_symbol, _closed_side(order.direction))].frozen += order.volume
        self._active[order.vt_symbol][order.orderid] = order
        return order, ""

    def _rejection(self, req: OrderRequest) -> str:
        if req.vt_symbol not in self.contracts:
            return f"unknown contract {req.vt_symbol}"
        if not req.volume > 0 or req.volume != int(req.volume):
            return f"volume must be a whole number of lots, got {req.volume}"
        if req.type not in (OrderType.LIMIT, OrderType.MARKET):
            return f"order type {req.type.value} is not supported by the replay"
        if req.type is OrderType.LIMIT and not req.price > 0:
            return f"limit price must be positive, got {req.price}"
        if req.offset is not Offset.OPEN:
            holding = self._holdings[(req.vt_symbol, _closed_side(req.direction))]
            available = holding.volume - holding.frozen
            if req.volume > available:
                return f"close {req.volume:g} lots of {req.vt_symbol} but only {available:g} are open and free"
        else:
            shortfall = self._margin_shortfall(req)
            if shortfall:
                self.margin_rejections += 1
                return shortfall
        return ""

    # ------------------------------------------------------------ margin
    def _lot_margin(self, vt_symbol: str, direction: Direction, price: float) -> float:
        """Margin (or, for a long option, the premium) one lot ties up, by the strategy's own rules
        (``PositionSizingService``): short options by the CFFEX rule, futures at their margin ratio."""
        params = self.params.get(vt_symbol)
        if params is None or not price > 0:
            return 0.0
        option = self.options.get(vt_symbol)
        if option is None:
            return self.sizing.future_margin(price, params)
        if direction is Direction.LONG:
            return price * params.multiplier
        underlying = self.marks.get(option.underlying_vt_symbol) or option.strike
        return self.sizing.short_option_margin(option, price, underlying, params)

    def margin_held(self) -> float:
        held = 0.0
        for (vt_symbol, side), holding in self._holdings.items():
            if holding.volume and not (side is Direction.LONG and vt_symbol in self.options):
                held += holding.volume * self._lot_margin(vt_symbol, side, self.marks.get(vt_symbol, holding.price))
        for orders in self._active.values():
            for order in orders.values():
                if order.offset is Offset.OPEN:
                    held += (order.volume - order.traded) * self._lot_margin(
                        order.vt_symbol, order.direction, self.marks.get(order.vt_symbol, order.price))
        return held

    def _margin_shortfall(self, req: OrderRequest) -> str:
        if not self.params:
            return ""
        price = self.marks.get(req.vt_symbol) or req.price
        needed = req.volume * self._lot_margin(req.vt_symbol, req.direction, price)
        available = self.account().balance - self.margin_held()
        if needed > available:
            return (f"insufficient margin to open {req.volume:g} lots of {req.vt_symbol}: needs {needed:,.0f}, "
                    f"available {available:,.0f}")
        return ""

    def cancel(self, req: CancelRequest) -> OrderData | None:
        order = self._active.get(req.vt_symbol, {}).pop(req.orderid, None)
        if order is None:
            return None
        order.status = Status.CANCELLED
        self._release(order)
        return order

    def match(self, tick: TickData) -> list[tuple[OrderData, float, int]]:
        """Fill the resting orders of the tick's contract that its quote crosses, by the ``FillModel`` the
        backtest uses: at the touch, at most the minute's participation cap of the size shown (the bar's
        volume on ticks rebuilt from a bar), the rest left working. Returns (order, price, lots)."""
        active = self._active.get(tick.vt_symbol)
        if not active or not self._in_session(tick):
            return []
        synthesized = tick.vt_symbol in self.synthesized
        try:
            quote = Quote(max(tick.bid_price_1 or 0.0, 0.0), max(tick.ask_price_1 or 0.0, 0.0),
                          max(tick.bid_volume_1 or 0.0, 0.0), max(tick.ask_volume_1 or 0.0, 0.0),
                          FillSource.BAR if synthesized else FillSource.QUOTE)
        except ValueError:
            return []  # a crossed or broken quote fills nothing
        minute = tick.datetime.replace(second=0, microsecond=0)
        used_minute, used = self._used.get(tick.vt_symbol, (None, 0))
        if used_minute != minute:
            used = 0
        contract = self.contracts[tick.vt_symbol]
        fills = []
        for orderid, order in list(active.items()):
            remaining = int(round(order.volume - order.traded))
            limit = None if order.type is OrderType.MARKET else order.price
            decision = self.fill_model.match(from_vnpy_direction(order.direction), limit, remaining, quote, used)
            if not decision.filled:
                continue
            used += decision.volume
            order.traded += decision.volume
            complete = order.traded >= order.volume
            order.status = Status.ALLTRADED if complete else Status.PARTTRADED
            if complete:
                del active[orderid]
            self.fill_stats.record_fill(order.vt_orderid, from_vnpy_direction(order.direction), decision.price,
                                        decision.volume, decision.source, quote, contract.pricetick,
                                        contract.size, printed=synthesized or (tick.last_volume or 0) > 0,
                                        complete=complete, reference=None if synthesized else quote)
            fills.append((order, decision.price, decision.volume))
        self._used[tick.vt_symbol] = (minute, used)
        return fills

    def book_trade(self, order: OrderData, price: float, at: datetime,
                   volume: float | None = None) -> tuple[list[TradeData], list[PositionData]]:
        """One fill of ``volume`` lots (the whole order when None) at ``price``."""
        volume = order.volume if volume is None else volume
        self._trade_count += 1
        trade = TradeData(gateway_name=self.gateway_name, symbol=order.symbol, exchange=order.exchange,
                          orderid=order.orderid, tradeid=f"{self.session}{self._trade_count}",
                          direction=order.direction, offset=order.offset, price=price, volume=volume,
                          datetime=at)
        size = self.contracts[order.vt_symbol].size
        self.fees.charge(order.vt_symbol, self.products.get(order.vt_symbol, ""), from_vnpy_direction(order.direction),
                         from_vnpy_offset(order.offset), price, int(volume), size, at)
        if order.offset is Offset.OPEN:
            holding = self._holdings[(order.vt_symbol, order.direction)]
            cost = holding.volume * holding.price + volume * price
            holding.volume += volume
            holding.price = cost / holding.volume
            touched = [order.direction]
        else:
            side = _closed_side(order.direction)
            holding = self._holdings[(order.vt_symbol, side)]
            sign = 1.0 if side is Direction.LONG else -1.0
            self.realized_pnl += sign * (price - holding.price) * volume * size
            holding.volume -= volume
            holding.frozen = max(holding.frozen - volume, 0.0)
            if not holding.volume:
                holding.price = 0.0
            touched = [side]
        return [trade], [self.position(order.vt_symbol, side) for side in touched]

    def settle(self, vt_symbol: str, value: float) -> tuple[list[OrderData], list[PositionData]]:
        """An expired contract: its working orders are cancelled and every lot held leaves at the
        settlement ``value`` (realized into the account). No trade is reported: the strategy
        settles its own book from the same rule, and a trade it never ordered would look manual."""
        cancelled = []
        for order in self._active.pop(vt_symbol, {}).values():
            order.status = Status.CANCELLED
            cancelled.append(order)
        size = self.contracts[vt_symbol].size
        positions = []
        for side in (Direction.LONG, Direction.SHORT):
            holding = self._holdings.get((vt_symbol, side))
            if holding is None or not (holding.volume or holding.frozen):
                continue
            sign = 1.0 if side is Direction.LONG else -1.0
            self.realized_pnl += sign * (value - holding.price) * holding.volume * size
            self.fees.settle(vt_symbol, self.products.get(vt_symbol, ""), from_vnpy_direction(side),
                             int(holding.volume), exercised=self.contracts[vt_symbol].option_type is not None
                             and value > 0)
            holding.volume, holding.frozen, holding.price = 0.0, 0.0, 0.0
            positions.append(self.position(vt_symbol, side))
        return cancelled, positions

    def held_symbols(self) -> set[str]:
        return {vt_symbol for (vt_symbol, _side), holding in self._holdings.items() if holding.volume}

    def position(self, vt_symbol: str, direction: Direction) -> PositionData:
        holding = self._holdings[(vt_symbol, direction)]
        contract = self.contracts[vt_symbol]
        return PositionData(gateway_name=self.gateway_name, symbol=contract.symbol, exchange=contract.exchange,
                            direction=direction, volume=holding.volume, frozen=holding.frozen, price=holding.price)

    def positions(self) -> list[PositionData]:
        return [self.position(vt_symbol, direction) for (vt_symbol, direction), holding in self._holdings.items()
                if holding.volume or holding.frozen]

    def account(self) -> AccountData:
        return AccountData(gateway_name=self.gateway_name, accountid=self.gateway_name,
                           balance=self.capital + self.realized_pnl - self.fees.total,
                           frozen=self.margin_held() if self.params else 0.0)

    def _release(self, order: OrderData) -> None:
        if order.offset is not Offset.OPEN:
            holding = self._holdings[(order.vt_symbol, _closed_side(order.direction))]
            holding.frozen = max(holding.frozen - (order.volume - order.traded), 0.0)

    def _in_session(self, tick: TickData) -> bool:
        schedule = self._schedules.get(tick.vt_symbol, False)
        if schedule is False:
            try:
                schedule = CHINA_TRADING_SESSIONS.schedule_for_symbol(tick.exchange.value, tick.symbol)
            except (ValueError, KeyError):
                schedule = None  # no session table for this product: every replayed quote counts
            self._schedules[tick.vt_symbol] = schedule
        return schedule is None or schedule.locate(tick.datetime) is not None


def _closed_side(direction: Direction) -> Direction:
    """A buy closes a short position; a sell closes a long one."""
    return Direction.SHORT if direction is Direction.LONG else Direction.LONG


class DayProgress:
    """Periodic log lines inside a replay day, so a log (not only a terminal) shows the replay moving: a day of
    hundreds of contracts can take minutes, and the per-day line comes only at its end."""

    def __init__(self, label: str, total_ticks: int, interval_seconds: float, started: float) -> None:
        self.label = label
        self.total_ticks = total_ticks
        self.interval_seconds = interval_seconds
        self.started = started
        self._next_report = started + interval_seconds

    def report(self, market_time: datetime, published: int, now: float) -> bool:
        """Log one line when the interval has passed since the last one; says whether it did."""
        if now < self._next_report or self.total_ticks == 0:
            return False
        self._next_report = now + self.interval_seconds
        logger.info("%s: at %s, %d of %d ticks (%.0f%%), %.0f s so far", self.label, market_time.strftime("%H:%M"),
                    published, self.total_ticks, 100.0 * published / self.total_ticks, now - self.started)
        return True


# ----------------------------------------------------------------------------------- the gateway
class ReplayGateway(BaseGateway):
    default_name: str = GATEWAY_NAME
    default_setting: dict = {"speed": 0.0}
    exchanges: list[Exchange] = [Exchange.CFFEX, Exchange.SHFE, Exchange.DCE, Exchange.CZCE, Exchange.INE,
                                 Exchange.GFEX, Exchange.SSE, Exchange.SZSE]

    #: Seconds between progress lines inside a replay day (VOL_STRATEGY_REPLAY_PROGRESS_SECONDS overrides it).
    progress_interval_seconds: float = 30.0

    def __init__(self, event_engine: EventEngine, gateway_name: str = GATEWAY_NAME) -> None:
        if not isinstance(event_engine, TrackedEventEngine):
            raise TypeError("ReplayGateway needs a TrackedEventEngine (see src.main.gateway.event_flow)")
        super().__init__(event_engine, gateway_name)
        self.event_engine: TrackedEventEngine = event_engine
        self.contracts: dict[str, ContractData] = {}
        self.subscribed: set[str] = set()
        self.market_time: datetime | None = None
        self.ticks_published = 0
        self.failure: str | None = None
        self._source: ReplaySource | None = None
        self._plan: ReplayPlan | None = None
        self._calendar: TradingCalendar | None = None
        self._exchange = SimulatedExchange(gateway_name, self.contracts, 0.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_stores: dict[str, tuple[datetime, datetime]] = {}
        self._synthesizer = TickSynthesizer({}, gateway_name)
        self._pace_last: datetime | None = None
        self._pace_origin = 0.0
        self._pace_elapsed = 0.0
        self._settlement = ExpirySettlement({}, {})
        self._last_prices: dict[str, float] = {}
        # Registered now, before any strategy engine registers its own handler: see the module doc.
        event_engine.register(EVENT_TICK, self._process_tick_event)

    # --------------------------------------------------------------- set-up
    def prepare(self, source: ReplaySource, contracts: Sequence[ContractInfo], plan: ReplayPlan,
                calendar: TradingCalendar, capital: float, fees: FeeSchedule | None = None,
                margin_multiplier: float = 1.0) -> None:
        """What to replay; call before ``connect``. ``fees``: what fills cost (none without);
        ``margin_multiplier``: the broker's on the exchange's margin rates (opening orders beyond the
        account's available funds are rejected)."""
        self._source = source
        self._plan = plan
        self._calendar = calendar
        for info in contracts:
            contract = ContractFactory.contract_data(info)
            contract.gateway_name = self.gateway_name
            contract.history_data = False
            self.contracts[contract.vt_symbol] = contract
        self._exchange.capital = capital
        self._exchange.fees = FeeLedger(fees or FeeSchedule())
        self._exchange.products = {info.vt_symbol: info.product for info in contracts}
        self._exchange.options = {info.vt_symbol: option_contract_of(info) for info in contracts if info.is_option}
        self._exchange.params = {info.vt_symbol: ContractParams(info.vt_symbol, info.size, info.pricetick,
                                                                info.margin_ratio) for info in contracts}
        self._exchange.marks = self._last_prices
        self._exchange.sizing = PositionSizingService(SizingSettings(broker_margin_multiplier=margin_multiplier))
        self._synthesizer = TickSynthesizer({vt: c.pricetick for vt, c in self.contracts.items()}, self.gateway_name,
                                            {info.vt_symbol for info in contracts if info.is_option},
                                            self._exchange.fill_model)
        self._tick_stores = {vt: span for vt, span in source.tick_overview().items() if vt in self.contracts}
        self._settlement = ExpirySettlement(
            {info.vt_symbol: info.expiry for info in contracts if not info.is_option and info.expiry is not None},
            {info.vt_symbol: option_contract_of(info) for info in contracts if info.is_option})

    def connect(self, setting: dict) -> None:
        if self._plan is None or self._source is None:
            raise RuntimeError("ReplayGateway.prepare() must be called before connect()")
        speed = float(setting.get("speed", self._plan.speed))
        if speed != self._plan.speed:
            self._plan = ReplayPlan(self._plan.warmup_days, self._plan.replay_days, speed)
        for contract in self.contracts.values():
            self.on_contract(contract)
        self.on_account(self._exchange.account())
        plan = self._plan
        self.write_log(
            f"replay of {self._source.describe()}: {len(self.contracts)} contracts, warm-up "
            f"{_days_text(plan.warmup_days)}, replay {_days_text(plan.replay_days)} at "
            f"{'full speed' if plan.speed == 0 else f'{plan.speed:g}x real time'}; "
            f"{len(self._tick_stores)} contracts have stored ticks")

    def subscribe(self, req: SubscribeRequest) -> None:
        if req.vt_symbol in self.contracts:
            self.subscribed.add(req.vt_symbol)
        else:
            self.write_log(f"subscribe: {req.vt_symbol} is not in this replay")

    def start_replay(self) -> None:
        """Start streaming (warm-up days, then replay days) on a thread of its own."""
        if self._thread is not None:
            raise RuntimeError("the replay was already started")
        self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    # --------------------------------------------------------------- orders
    def send_order(self, req: OrderRequest) -> str:
        with self._lock:
            order, reason = self._exchange.accept(req, self.market_time)
        if reason:
            self.write_log(f"order rejected: {reason}")
        self.on_order(copy(order))
        return order.vt_orderid

    def cancel_order(self, req: CancelRequest) -> None:
        with self._lock:
            order = self._exchange.cancel(req)
        if order is not None:
            self.on_order(copy(order))

    @property
    def margin_rejections(self) -> int:
        return self._exchange.margin_rejections

    def fill_summary(self) -> dict:
        """The replay's fills as the backtest's ``summary.json`` reports them (``FillStatistics``)."""
        with self._lock:
            return self._exchange.fill_stats.summary()

    def query_account(self) -> None:
        with self._lock:
            account = self._exchange.account()
        self.on_account(account)

    def query_position(self) -> None:
        with self._lock:
            positions = self._exchange.positions()
        for position in positions:
            self.on_position(position)

    # ------------------------------------------------------------ matching
    def _process_tick_event(self, event: Event) -> None:
        tick: TickData = event.data
        if tick.gateway_name != self.gateway_name:
            return
        try:
            self.market_time = tick.datetime
            if tick.last_price > 0:
                self._last_prices[tick.vt_symbol] = tick.last_price
                self._settlement.record(tick.vt_symbol, tick.datetime, tick.last_price)
            with self._lock:
                fills = self._exchange.match(tick)
                booked = [(order, *self._exchange.book_trade(order, price, tick.datetime, volume))
                          for order, price, volume in fills]
                account = self._exchange.account() if fills else None
            for order, trades, positions in booked:
                self.on_order(copy(order))
                for trade in trades:
                    self.on_trade(trade)
                for position in positions:
                    self.on_position(position)
            if account is not None:
                self.on_account(account)
        except Exception:  # an exception here would end vnpy's event thread: report it instead
            logger.exception("replay matcher failed on %s", tick.vt_symbol)

    # ----------------------------------------------------------- streaming
    def _run(self) -> None:
        plan = self._plan
        try:
            for label, days, paced, phase in (("warm-up day", plan.warmup_days, False, ReplayPhase.WARMUP_DONE),
                                              ("day", plan.replay_days, plan.speed > 0, ReplayPhase.FINISHED)):
                for number, day in enumerate(days, start=1):
                    if self._stop.is_set():
                        return
                    started = time.monotonic()
                    ticks = self._day_ticks(day)
                    progress = DayProgress(f"replay {label} {day} ({number} of {len(days)})", len(ticks),
                                           self.progress_interval_seconds, started)
                    moment = None
                    for published_today, tick in enumerate(ticks):
                        if tick.datetime != moment:
                            # A new timestamp: the previous one's ticks and their consequences are handled first.
                            if not self.event_engine.wait_until_idle(self._stop):
                                return
                            moment = tick.datetime
                            progress.report(moment, published_today, time.monotonic())
                            if paced:
                                self._pace(moment, plan.speed)
                        self.ticks_published += 1
                        # Only EVENT_TICK: nothing here listens to vnpy's per-symbol tick event.
                        self.event_engine.put(Event(EVENT_TICK, tick))
                    if not self.event_engine.wait_until_idle(self._stop):
                        return
                    self._settle_expired(day)
                    logger.info("replay %s %s: %d ticks of %d contracts in %.1f s", label, day, len(ticks),
                                len(self.subscribed), time.monotonic() - started)
                self.on_event(EVENT_REPLAY, ReplayProgress(phase, self.ticks_published))
        except Exception:
            self.failure = traceback.format_exc()
            logger.error("replay failed:\n%s", self.failure)
            self.on_event(EVENT_REPLAY, ReplayProgress(ReplayPhase.FAILED, self.ticks_published, self.failure))

    def _settle_expired(self, day: date) -> None:
        """After a day's data: what expired that day (or before) leaves the simulated account at its
        settlement value, by the strategy's own rule (``ExpirySettlement``)."""
        close = settlement_time(day)
        settled = []
        with self._lock:
            for vt_symbol in sorted(self._exchange.held_symbols()):
                expiry = self._settlement.expiry_of(vt_symbol)
                if expiry is None or not is_expired(expiry, close):
                    continue
                terms = self._settlement.settlement_of(vt_symbol, self._last_prices)
                if terms is None:
                    logger.warning("replay: %s expired but no price of its underlying to settle it at", vt_symbol)
                    continue
                settled.append((vt_symbol, terms, *self._exchange.settle(vt_symbol, terms[0])))
            account = self._exchange.account() if settled else None
        for vt_symbol, (value, underlying, detail), cancelled, positions in settled:
            logger.info("replay: %s settled at %g (%s)", vt_symbol, value, detail)
            for order in cancelled:
                self.on_order(copy(order))
            for position in positions:
                self.on_position(position)
        if account is not None:
            self.on_account(account)
        if settled:
            self.event_engine.wait_until_idle(self._stop)

    def _pace(self, moment: datetime, speed: float) -> None:
        if self._pace_last is None:
            self._pace_last = moment
            self._pace_origin = time.monotonic()
            return
        gap = min((moment - self._pace_last).total_seconds(), MAX_PACED_GAP_SECONDS)
        self._pace_last = moment
        if gap <= 0:
            return
        self._pace_elapsed += gap / speed
        delay = self._pace_origin + self._pace_elapsed - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _day_ticks(self, day: date) -> list[TickData]:
        """The day's ticks of the subscribed contracts in time order, then the after-close records."""
        previous = self._calendar.previous_trading_day(day)
        start = datetime.combine(previous, datetime.min.time(), EXCHANGE_TIMEZONE).replace(hour=DAY_BOUNDARY_HOUR)
        end = datetime.combine(day, datetime.min.time(), EXCHANGE_TIMEZONE).replace(
            hour=DAY_BOUNDARY_HOUR - 1, minute=59, second=59)
        synthesizer = self._synthesizer
        synthesizer.new_trading_day()
        ticks: list[TickData] = []
        synthesized = set()
        quotes_between = getattr(self._source, "quotes_between", None)
        for vt_symbol in sorted(self.subscribed):
            stored = self._stored_ticks(vt_symbol, start, end)
            if stored:
                for tick in stored:
                    tick.gateway_name = self.gateway_name
                    ticks.append(tick)
                synthesizer.remember(stored[-1])
                continue
            bars = self._source.load_bars(vt_symbol, start, end)
            quotes = quotes_between(vt_symbol, start, end) if quotes_between is not None else []
            if quotes:
                ticks.extend(synthesizer.with_quotes(bars, quotes))
                continue
            if bars:
                synthesized.add(vt_symbol)
            for bar in bars:
                ticks.extend(synthesizer.ticks(bar))
        with self._lock:
            self._exchange.synthesized = synthesized
        ticks.sort(key=lambda tick: tick.datetime)
        if ticks:
            last = ticks[-1].datetime
            settle_at = last.replace(second=0, microsecond=0) + timedelta(minutes=1) + SETTLEMENT_DELAY
            ticks.extend(synthesizer.settlement(settle_at))
        return ticks

    def _stored_ticks(self, vt_symbol: str, start: datetime, end: datetime) -> list[TickData]:
        span = self._tick_stores.get(vt_symbol)
        if span is None or span[1] < start or span[0] > end:
            return []
        return self._source.load_ticks(vt_symbol, start, end)


def _days_text(days: Sequence[date]) -> str:
    if not days:
        return "none"
    return f"{days[0]}..{days[-1]} ({len(days)} trading days)" if len(days) > 1 else f"{days[0]} (1 trading day)"
