"""vnpy_portfoliostrategy's BacktestingEngine, with its chatter sent to the run log.

vnpy prints progress lines and, when the strategy raises, prints the traceback
and silently stops replaying. Here both go to the ``backtesting`` logger, a
progress bar follows the replay, and a strategy exception is remembered so the
runner can fail loudly instead of reporting a truncated backtest as a result.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime

import pandas as pd

from vnpy.trader.constant import Direction, Offset, Status
from vnpy.trader.object import BarData, TradeData
from vnpy.trader.utility import extract_vt_symbol
from vnpy_portfoliostrategy import BacktestingEngine
from vnpy_portfoliostrategy.template import StrategyTemplate

from src.strategy.domain.domain_service.fee_ledger import FeeLedger
from src.strategy.domain.domain_service.fill_model import FillDecision, FillModel, FillSource, Quote
from src.strategy.domain.domain_service.fill_statistics import FillStatistics
from src.strategy.domain.value_object.fee_schedule import FeeSchedule
from src.strategy.domain.value_object.market_input import TopOfBook
from src.strategy.infrastructure.gateway.vnpy_converters import from_vnpy_direction, from_vnpy_offset
from src.core.config.errors import UserInputError

logger = logging.getLogger("backtesting")

_VNPY_ABORT_MARK = "Traceback (most recent call last)"

SETTLEMENT_ID_PREFIX = "SETTLE-"

SWEEP_COMMAND = "python -m src.backtesting.sweep --grid GRID.yaml (scripts/run_sweep.sh)"


class OptimiserRefusedError(UserInputError):
    """vnpy's optimiser cannot run our strategy; the sweep command does."""


def _refuse_optimiser(name: str) -> OptimiserRefusedError:
    return OptimiserRefusedError(
        f"OptionBacktestingEngine.{name} is not supported: vnpy's optimiser workers would not set up our "
        f"database and configuration and would report zeros; use {SWEEP_COMMAND}")


class OptionBacktestingEngine(BacktestingEngine):
    """``stream_days``: bars are read from the database that many days at a time during the replay and
    only that window is held (None: vnpy's way, every bar of the range loaded before the replay)."""

    def __init__(self, progress=None, stream_days: int | None = 1, database=None) -> None:
        super().__init__()
        self.progress = progress
        self.strategy_failure: str | None = None
        self.expiries: dict[str, date] = {}  # vt_symbol -> last trading day, set by the runner
        self.settlement_trades: list[TradeData] = []
        # The fee schedule (set by the runner) and what it charged; see apply_fee_schedule.
        self.fee_schedule: FeeSchedule | None = None
        self.products: dict[str, str] = {}
        self.options: set[str] = set()
        self.fee_totals: dict[str, float] = {}
        self.stream_days = stream_days
        self.database = database
        self.replayed_bars = 0  # bars read during a streamed replay
        self.trading_from: datetime | None = None  # the first minute traded, once the warm-up is over
        self._reader = None
        # Fills: the quote-aware model (None: vnpy's own crossing at the next bar's open, kept for comparison),
        # the quotes it fills against where known, the quotes fills are checked against, and what they cost.
        self.fill_model: FillModel | None = None
        self.fill_quotes = None      # a QuoteBook (src.backtesting.quote_book) or None
        self.reference_quotes = None
        self.fill_stats = FillStatistics()
        self._touch_cache: dict[tuple[float, float, bool], tuple[float, float]] = {}

    # ------------------------------------------------------------------ streaming
    def load_data(self) -> None:
        """Streamed: only the replay's minutes are read now (``dts``); the bars come window by window."""
        if self.stream_days is None:
            super().load_data()
            return
        if self.start >= self.end:
            self.output("the start must be before the end")
            return
        from vnpy.trader.database import get_database

        from src.backtesting.bar_stream import BulkBarReader

        self.history_data.clear()
        self._reader = BulkBarReader(self.database or get_database(), self.vt_symbols, self.interval)
        self.dts = set(self._reader.minutes(self.start, self.end))
        self.output(f"{len(self.dts)} minutes of {len(self.vt_symbols)} contracts to replay, "
                    f"read {self.stream_days} day(s) at a time")

    def _streamed_minutes(self):
        """The replay's minutes in order, with ``history_data`` holding the bars of the current window."""
        from src.backtesting.bar_stream import day_windows

        minutes = sorted(self.dts)
        by_day: dict = {}
        for dt in minutes:
            by_day.setdefault(dt.date(), []).append(dt)
        for start, end in day_windows(by_day, self.stream_days):
            self.history_data = {}
            for bar in self._reader.bars(start, end):
                self.history_data[(bar.datetime, bar.vt_symbol)] = bar
                self.replayed_bars += 1
            for day in sorted(d for d in by_day if start.date() <= d <= end.date()):
                yield from by_day[day]
        self.history_data = {}

    def run_backtesting(self) -> None:
        """vnpy's replay (warm-up days, then trading) over the whole range or over streamed bars. Unlike vnpy, a
        warm-up that uses every minute leaves nothing to trade (vnpy replayed its last minute a second time)."""
        self.strategy.on_init()
        streamed = self.stream_days is not None and self._reader is not None
        minutes = self._streamed_minutes() if streamed else iter(sorted(self.dts))
        # The warm-up is ``self.days`` whole trading days. vnpy counts a day change against ``self.datetime``,
        # which starts at 1970-01-01, so its first minute already counts as a change and its warm-up ends
        # a day early: a backtest from --start traded on the last warm-up day. Days are counted from the
        # first minute replayed here.
        day_count = 0
        resume_at = None
        last = None
        for dt in minutes:
            if last is not None and dt.date() != last.date():
                day_count += 1
                if day_count >= self.days:
                    resume_at = dt
                    break
            last = dt
            if not self._replay(dt):
                return
        self.trading_from = resume_at  # None: the warm-up used every minute, nothing was traded
        self.strategy.inited = True
        self.output("strategy initialised")
        self.strategy.on_start()
        self.strategy.trading = True
        self.output("replaying history")
        if resume_at is not None and not self._replay(resume_at):
            return
        for dt in minutes:
            if not self._replay(dt):
                return
        self.output(f"replay finished: {self.replayed_bars} bars read")

    def _replay(self, dt: datetime) -> bool:
        try:
            self.new_bars(dt)
        except Exception:  # noqa: BLE001 - vnpy's behaviour: stop the replay, report the traceback
            import traceback
            self.output("exception raised, backtest stopped")
            self.output(traceback.format_exc())
            return False
        return True

    def output(self, msg: str) -> None:
        text = str(msg)
        if _VNPY_ABORT_MARK in text:
            self.strategy_failure = text
            logger.error("strategy raised, backtest stopped:\n%s", text)
        else:
            logger.info("%s", text)

    def write_log(self, msg: str, strategy: StrategyTemplate | None = None) -> None:
        logger.info("%s %s", self.datetime, msg)

    # vnpy's optimiser runs each setting in a spawned worker that rebuilds a plain engine from a copy of
    # this one: our database set-up, configuration tree and failure handling never reach it, so every
    # setting "succeeds" with zero bars (and vnpy's default database is created in the home folder).
    def run_bf_optimization(self, *args, **kwargs):
        raise _refuse_optimiser("run_bf_optimization")

    run_optimization = run_bf_optimization

    def run_ga_optimization(self, *args, **kwargs):
        raise _refuse_optimiser("run_ga_optimization")

    def new_bars(self, dt: datetime) -> None:
        self.retire_expired(dt)
        super().new_bars(dt)
        if self.progress is not None:
            self.progress.update(1)

    # ------------------------------------------------------------ fills
    def cross_limit_order(self) -> None:
        """Match the working orders against this minute's market (see ``FillModel``): on the contract's
        quotes where known, else on the quotes estimated around its bar's prints (``bar_path``; nothing on
        a minute without a print); partial fills stay working. Without a fill model, vnpy's crossing (the
        whole order at the bar's open), measured.

        The market comes first, the orders second, as on the replay's ticks: each quote (or print) in turn
        meets every working order of its contract in the order they were sent, all sharing the minute's
        participation cap.

        With the model every order meets the minute's market before the strategy hears of any of it (as at
        an exchange, where the minute's quotes come before the strategy's reaction): vnpy tells the strategy
        of each fill as it goes, and the strategy's clock then reaches the new minute, so its executor times
        out (and cancels) orders of the previous minute before they were matched, or, in vnpy's own loop,
        fills them after they were cancelled."""
        if self.fill_model is None:
            self._cross_all_like_vnpy()
            return
        dt = self.datetime
        orders = list(self.active_limit_orders.values())
        by_symbol: dict[str, list] = defaultdict(list)
        for order in orders:
            by_symbol[order.vt_symbol].append(order)
        fills: dict[str, list[tuple[FillDecision, object]]] = defaultdict(list)
        printed: dict[str, bool] = {}
        for vt_symbol, symbol_orders in by_symbol.items():
            bar = self.history_data.get((dt, vt_symbol))
            printed[vt_symbol] = bar is not None and bar.volume > 0
            market = self._market(vt_symbol, dt, bar if printed[vt_symbol] else None)
            if not market:
                for order in symbol_orders:
                    self.fill_stats.record_no_print(order.vt_orderid)
                continue
            used = 0
            for quote, reference in market:
                for order in symbol_orders:
                    remaining = int(round(order.volume - order.traded))
                    if remaining <= 0:
                        continue
                    decision = self.fill_model.match(from_vnpy_direction(order.direction), order.price, remaining,
                                                     quote, used)
                    if decision.filled:
                        fills[order.vt_orderid].append((decision, reference))
                        used += decision.volume
                        order.traded += decision.volume
        for order in orders:
            decisions = fills.get(order.vt_orderid)
            if not decisions:
                continue
            vt_symbol = order.vt_symbol
            complete = order.traded >= order.volume
            order.status = Status.ALLTRADED if complete else Status.PARTTRADED
            if complete:
                self.active_limit_orders.pop(order.vt_orderid, None)
            side = from_vnpy_direction(order.direction)
            for index, (decision, reference) in enumerate(decisions):
                self.fill_stats.record_fill(order.vt_orderid, side, decision.price, decision.volume,
                                            decision.source, decision.quote, self.priceticks[vt_symbol],
                                            self.sizes[vt_symbol], printed=printed[vt_symbol],
                                            complete=complete and index == len(decisions) - 1, reference=reference)
        # Then the strategy hears of it: each order's new state, then its trades.
        for order in orders:
            decisions = fills.get(order.vt_orderid)
            if decisions:
                self.strategy.update_order(order)
                for decision, _reference in decisions:
                    self._send_trade(order, decision.price, decision.volume)
            elif order.status == Status.SUBMITTING:
                order.status = Status.NOTTRADED
                self.strategy.update_order(order)

    def _market(self, vt_symbol: str, dt: datetime, bar) -> list[tuple[Quote, Quote | None]]:
        """The minute's market of one contract, in time order, each with the quote a fill against it is
        checked against: its recorded quotes (each its own reference), else the quotes estimated around
        its bar's prints (``bar`` None: no print this minute, no market). A reference quote (the sample's
        table under ``--sample-quotes check``) is the minute's quote at its first print, so only a fill on
        that print is checked against it; the later prints' quotes are not recorded (a fill on an estimated
        quote is never at the far touch of its own print's quote: a property test of the model)."""
        quotes = self.fill_quotes.quotes(vt_symbol, dt) if self.fill_quotes else ()
        if quotes:
            return [(quote, quote) for quote in quotes]
        if bar is None:
            return []
        estimated = self.fill_model.bar_quotes(bar.open_price, bar.high_price, bar.low_price, bar.close_price,
                                               bar.volume, self.priceticks[vt_symbol],
                                               is_option=vt_symbol in self.options)
        first = self._reference_quote(vt_symbol, dt)
        return [(quote, first if index == 0 else None) for index, quote in enumerate(estimated)]

    def bar_touches(self, bars: dict[str, BarData]) -> dict[str, TopOfBook] | None:
        """The touch each bar leaves the strategy, the one the fills of the next minute are modelled on
        (``StrategyEntry.on_bars`` asks for it): the minute's last recorded quote, else the quote estimated
        around the bar's close (the replay's last rebuilt tick of the minute carries that same quote); none
        for a bar without a print (the last touch stands, as when no tick comes). None with vnpy's crossing,
        which reproduces the former reports, priced off the last close."""
        if self.fill_model is None:
            return None
        touches = {}
        for vt_symbol, bar in bars.items():
            quotes = self.fill_quotes.quotes(vt_symbol, bar.datetime) if self.fill_quotes else ()
            if quotes:
                quote = quotes[-1]
                bid, ask, bid_size, ask_size = quote.bid, quote.ask, quote.bid_size, quote.ask_size
            else:
                tick = self.priceticks.get(vt_symbol)
                if not (bar.volume > 0 and bar.close_price > 0 and tick):
                    continue
                # once per bar and contract: the bare bid and ask (no validated Quote), both showing the volume;
                # a contract's prices repeat, so each (price, tick, kind) is worked out once
                key = (bar.close_price, tick, vt_symbol in self.options)
                touch = self._touch_cache.get(key)
                if touch is None:
                    touch = self._touch_cache[key] = self.fill_model.estimated_touch(*key)
                bid, ask = touch
                bid_size = ask_size = bar.volume
            touches[vt_symbol] = TopOfBook(vt_symbol, bid or None, ask or None, bar.close_price, None, None,
                                           bid_size if bid else None, ask_size if ask else None, None,
                                           bar.open_interest)
        return touches

    def _reference_quote(self, vt_symbol: str, dt: datetime):
        if not self.reference_quotes:
            return None
        quotes = self.reference_quotes.quotes(vt_symbol, dt)
        return quotes[0] if quotes else None

    def _send_trade(self, order, price: float, volume: float) -> None:
        self.trade_count += 1
        trade = TradeData(symbol=order.symbol, exchange=order.exchange, orderid=order.orderid,
                          tradeid=str(self.trade_count), direction=order.direction, offset=order.offset,
                          price=price, volume=volume, datetime=self.datetime, gateway_name=self.gateway_name)
        self.strategy.update_trade(trade)
        self.trades[trade.vt_tradeid] = trade

    def _cross_all_like_vnpy(self) -> None:
        """vnpy's loop, unchanged in effect: each order acknowledged and crossed in turn, the strategy told at
        once (an order it cancels meanwhile is still crossed, as in vnpy)."""
        dt = self.datetime
        for order in list(self.active_limit_orders.values()):
            if order.status == Status.SUBMITTING:
                order.status = Status.NOTTRADED
                self.strategy.update_order(order)
            bar = self.history_data.get((dt, order.vt_symbol))
            self._cross_like_vnpy(order, bar is not None and bar.volume > 0, self._reference_quote(order.vt_symbol, dt))

    def _cross_like_vnpy(self, order, printed: bool, reference) -> None:
        """vnpy's rule: a buy limit at or above the bar's low fills whole at min(limit, open); a sell at or
        below its high at max(limit, open); the bar may be a forward-filled copy of an older one."""
        bar = self.bars[order.vt_symbol]
        if order.direction == Direction.LONG:
            crossed = bar.low_price > 0 and order.price >= bar.low_price
            price = min(order.price, bar.open_price)
        else:
            crossed = bar.high_price > 0 and order.price <= bar.high_price
            price = max(order.price, bar.open_price)
        if not crossed:
            return
        volume = order.volume - order.traded
        order.traded = order.volume
        order.status = Status.ALLTRADED
        self.active_limit_orders.pop(order.vt_orderid, None)
        self.fill_stats.record_fill(order.vt_orderid, from_vnpy_direction(order.direction), price, int(volume),
                                    FillSource.BAR, None, self.priceticks[order.vt_symbol],
                                    self.sizes[order.vt_symbol], printed=printed, complete=True,
                                    reference=reference)
        self.strategy.update_order(order)
        self._send_trade(order, price, volume)

    # ------------------------------------------------------------ expiry
    # vnpy forward-fills a symbol's last bar for ever once its data ends: an expired
    # contract would keep being marked (and could even fill orders) at its last print.
    def retire_expired(self, dt: datetime) -> None:
        """From the day after a contract's expiry: its bar is no longer carried forward, so it
        leaves the daily marks, and orders still working on it are cancelled."""
        today = dt.date()
        for vt_symbol in [vt for vt in self.bars if vt in self.expiries and self.expiries[vt] < today]:
            del self.bars[vt_symbol]
        for order in [o for o in self.active_limit_orders.values() if o.vt_symbol not in self.bars]:
            self.active_limit_orders.pop(order.vt_orderid, None)
            order.status = Status.CANCELLED
            self.strategy.update_order(order)

    def book_settlement(self, vt_symbol: str, position_direction: str, volume: int, price: float,
                        at: datetime) -> TradeData:
        """Books an expiry settlement as a closing trade at the settlement price, dated at the
        expiry day's close, so vnpy's daily P&L closes the position there. Its order and trade
        ids start with ``SETTLE-``; it is not sent back to the strategy (which settled already)."""
        symbol, exchange = extract_vt_symbol(vt_symbol)
        self.trade_count += 1
        settlement_id = f"{SETTLEMENT_ID_PREFIX}{self.trade_count}"
        trade = TradeData(symbol=symbol, exchange=exchange, orderid=settlement_id, tradeid=settlement_id,
                          direction=Direction.LONG if position_direction == "SHORT" else Direction.SHORT,
                          offset=Offset.CLOSE, price=price, volume=volume,
                          datetime=at.replace(tzinfo=None) if self.datetime and self.datetime.tzinfo is None else at,
                          gateway_name=self.gateway_name)
        self.trades[trade.vt_tradeid] = trade
        self.settlement_trades.append(trade)
        logger.info("settlement booked: %s %s %d @ %s on %s", trade.direction.value, vt_symbol, volume, price,
                    at.date())
        return trade


    # ------------------------------------------------------------ fees
    def calculate_result(self) -> pd.DataFrame:
        daily = super().calculate_result()
        if daily is not None and self.fee_schedule is not None:
            self.apply_fee_schedule(daily)
        return daily

    def apply_fee_schedule(self, daily: pd.DataFrame) -> None:
        """vnpy charges one turnover rate per contract; the schedule has fixed fees per lot and a
        close-today rate. The runner gives vnpy a rate of 0 for the products the schedule covers;
        here every trade's fee is computed by the strategy's own ``FeeLedger`` (in time order,
        settlements included: an option settled in the money pays the exercise fee) and added to
        the day's ``commission``; ``net_pnl`` is lowered by the same amount, so vnpy's statistics
        (balance, drawdown, return) include them."""
        ledger = FeeLedger(self.fee_schedule)
        by_day: dict[date, float] = defaultdict(float)
        option_fees, option_lots, futures_close_today = 0.0, 0, 0.0
        for trade in self.trades.values():
            product = self.products.get(trade.vt_symbol)
            if product is None or not ledger.covers(product):
                continue
            is_option = trade.vt_symbol in self.options
            if is_settlement(trade):
                side = from_vnpy_direction(trade.direction).opposite
                fee = ledger.settle(trade.vt_symbol, product, side, int(trade.volume),
                                    exercised=is_option and trade.price > 0)
            else:
                before = ledger.close_today_total
                fee = ledger.charge(trade.vt_symbol, product, from_vnpy_direction(trade.direction),
                                    from_vnpy_offset(trade.offset), trade.price, int(trade.volume),
                                    self.sizes[trade.vt_symbol], trade.datetime)
                if is_option:
                    option_lots += int(trade.volume)
                else:
                    futures_close_today += ledger.close_today_total - before
            if is_option:
                option_fees += fee
            by_day[trade.datetime.date()] += fee
        added = pd.Series(by_day, dtype=float).reindex(daily.index, fill_value=0.0)
        daily["commission"] = daily["commission"] + added
        daily["net_pnl"] = daily["net_pnl"] - added
        # close_today_fees: the futures' (options pay the same per lot whether closed today or not).
        self.fee_totals = {"schedule_fees": ledger.total, "close_today_fees": futures_close_today,
                           "option_fees": option_fees, "option_lots_traded": option_lots}


def is_settlement(trade: TradeData) -> bool:
    return trade.orderid.startswith(SETTLEMENT_ID_PREFIX)
