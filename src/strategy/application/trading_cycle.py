"""The trading cycle: one object that runs the strategy over domain values and ports.

Inputs, each one step (``on_bars``, ``on_quote``, ``on_order``, ``on_trade``,
``on_time``), all with the time passed in:

    1-minute prints -> active contracts, option chain, executor prices
    window bars -> InstrumentManager -> IndicatorService
        -> SignalService (close checks, then the opening signal) -> OptionSelectorService
        -> PositionSizingService -> PortfolioRiskAggregator -> order instruction
        -> AdvancedOrderScheduler / SmartOrderExecutor -> ITradeExecutionGateway
    every minute while trading -> each product's delta in futures lots -> the hedging engine

With ``trade_instrument: futures`` (``futures_side``, set by ``bootstrap``) the window bars' signals
and the minutes go to ``application.futures_side`` instead: the dominant future is traded, no hedging.

A refused decision becomes a ``DecisionRefusedEvent`` with its reason. At the
end of each step the events every aggregate and service recorded are published
on the message bus (log, counters, monitor, notifications). Commands the
events call for (closing an overfill) are carried out before the publication,
so their own refusals are published with them.

Two parts of the cycle live in modules of their own: the hedging (``cycle_hedging.CycleHedging``) and
the book in numbers, i.e. Greeks, account and monitor view (``cycle_book.CycleBook``).

Nothing here knows vnpy: ``src.strategy.strategy_entry`` translates the
platform's callbacks into these calls, and ``bootstrap`` builds the cycle
from the configuration tree.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from src.strategy.application.cycle_book import CycleBook
from src.strategy.application.cycle_hedging import CycleHedging
from src.strategy.application.delta_selection import chain_deltas
from src.strategy.application.handlers import StrategyCounters
from src.strategy.application.message_bus import MessageBus
from src.strategy.domain.aggregate.instrument_manager import InstrumentManager
from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.active_contract_tracker import ActiveContractTracker
from src.strategy.domain.domain_service.advanced_order_scheduler import AdvancedOrderScheduler
from src.strategy.domain.domain_service.bar_greeks import BarGreeks
from src.strategy.domain.domain_service.delta_hedging_engine import DeltaHedgingEngine
from src.strategy.domain.domain_service.expiry_risk import ExpiryRiskWatch
from src.strategy.domain.domain_service.expiry_settlement import ExpirySettlement, is_expired
from src.strategy.domain.domain_service.fee_ledger import FeeLedger
from src.strategy.domain.domain_service.gamma_scalping_engine import GammaScalpingEngine
from src.strategy.domain.domain_service.indicator_service import IndicatorService
from src.strategy.domain.domain_service.option_greeks_service import OptionGreeksService
from src.strategy.domain.domain_service.option_selector_service import OptionSelectorService
from src.strategy.domain.domain_service.portfolio_delta import DeltaBandTracker
from src.strategy.domain.domain_service.portfolio_risk_aggregator import PortfolioRiskAggregator
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService
from src.strategy.domain.domain_service.signal_service import SignalService
from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.entity.position import Position
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import (
    STAGE_EXECUTION,
    STAGE_OPTION_SELECTION,
    STAGE_RISK,
    STAGE_SIGNAL,
    STAGE_SIZING,
    DecisionRefusedEvent,
    SignalEvent,
)
from src.strategy.domain.event.order_events import OrderOverfilledEvent
from src.strategy.domain.interface.account_gateway import IAccountGateway
from src.strategy.domain.interface.event_gateway import IEventGateway
from src.strategy.domain.interface.order_gateway import IOrderGateway
from src.strategy.domain.interface.trade_execution_gateway import ITradeExecutionGateway
from src.strategy.domain.value_object.advanced_order import AdvancedOrderSettings
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.fee_schedule import FeeSchedule
from src.strategy.domain.value_object.greeks import GreeksResult
from src.strategy.domain.value_object.hedging_config import HedgingConfig
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset
from src.strategy.domain.value_object.market_input import BarPrint, TopOfBook, TradeFill
from src.strategy.domain.domain_service.option_quote_builder import OptionQuoteBuilder
from src.strategy.domain.value_object.option_contract import OptionContract
from src.strategy.domain.value_object.order_instruction import OrderInstruction, OrderPurpose, align_price
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType

logger = logging.getLogger(__name__)

HISTORY_KEPT_DAYS = 5


class SnapshotRecorder(Protocol):
    def record_snapshot(self, strategy_name: str, snapshot: dict, at: datetime) -> None: ...


def _always(_at: datetime) -> bool:
    return True


class StateSaver(Protocol):
    def tick(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class CorrectOverfill:
    """Command: close the excess a cancel lost to a fill left on an opening order."""

    event: OrderOverfilledEvent


@dataclass
class CycleServices:
    """The domain services and aggregates one cycle runs; built by ``bootstrap``."""

    instruments: InstrumentManager
    positions: PositionAggregate
    indicator_service: IndicatorService
    signal_service: SignalService
    option_selector: OptionSelectorService
    sizing_service: PositionSizingService
    risk_aggregator: PortfolioRiskAggregator
    greeks: OptionGreeksService
    executor: SmartOrderExecutor
    scheduler: AdvancedOrderScheduler
    hedging_config: HedgingConfig
    delta_engine: DeltaHedgingEngine
    gamma_engine: GammaScalpingEngine
    band_trackers: dict[str, DeltaBandTracker]
    contracts: ActiveContractTracker
    iceberg_batch_size: int
    # What restoring the executor, the scheduler and the hedging engine from a saved state needs.
    execution_gateway: ITradeExecutionGateway
    execution_settings: ExecutionSettings
    advanced_settings: AdvancedOrderSettings
    clocks: TradingClocks
    # The book's risk in money, stress grid and P&L attribution (application.book_risk.BookRisk).
    book_risk: object | None = None


@dataclass(frozen=True)
class CyclePorts:
    account: IAccountGateway
    orders: IOrderGateway
    events: IEventGateway


class TradingCycle(CycleHedging, CycleBook):
    def __init__(self, strategy_name: str, options: Mapping[str, OptionContract],
                 contract_params: Mapping[str, ContractParams], services: CycleServices, ports: CyclePorts,
                 bus: MessageBus | None = None, counters: StrategyCounters | None = None,
                 prices_from_bars: bool = True, fees: FeeSchedule | None = None,
                 capital_share: float = 1.0) -> None:
        """``prices_from_bars``: a backtest has no ticks, so each bar's close is also the
        executor's last price; live, the ticks already gave it bid and ask. ``fees``: what each
        fill costs (the strategy's balance is net of them); ``capital_share``: the share of the
        account this strategy sizes against."""
        self.strategy_name = strategy_name
        self.options = dict(options)
        self.contract_params = dict(contract_params)
        self.services = services
        self.ports = ports
        self.bus = bus or MessageBus()
        self.counters = counters or StrategyCounters()
        self.bus.subscribe_all(self.counters.on_event)
        self.prices_from_bars = prices_from_bars
        self.futures = services.contracts.futures
        self.latest_signals: dict[str, dict] = {}
        self.last_prices: dict[str, float] = {}
        self.snapshot_recorder: SnapshotRecorder | None = None
        self.state_saver: StateSaver | None = None
        self._pending: list[DomainEvent] = []
        self._advancing_time = False
        self.settlement = ExpirySettlement({vt: future.expiry for vt, future in self.futures.items()},
                                           self.options)
        self._unsettled_reported: set[str] = set()
        self.expiry_watch = ExpiryRiskWatch()  # bootstrap gives it the configuration and the calendar
        self.fees = FeeLedger(fees or FeeSchedule())
        self.capital_share = capital_share
        self.largest_margin = 0.0
        self._margin_call = False
        self.previous_closes: dict[str, float] = {}  # the previous day's last prices: the margin basis
        # trade_instrument: futures (bootstrap sets it): the signals trade the dominant future, no hedging.
        self.futures_side = None
        self.idle_reason: str | None = None  # set, the cycle decides and hedges nothing (session_gap.py)
        self.safeguards = None  # the pre-trade gate, reduce-only and the kill switch (application/safeguards.py)
        self.hedge_notes: dict[str, str | None] = {}  # why a product is not hedged in its options' month
        self.quote_builder = OptionQuoteBuilder()  # options' day volume and latest touch (live and replay)
        self._bar_greeks: BarGreeks | None = None  # the Greeks priced at the current valuation time

    # ------------------------------------------------------------ accessors
    @property
    def positions(self) -> PositionAggregate:
        return self.services.positions

    @property
    def instruments(self) -> InstrumentManager:
        return self.services.instruments

    @property
    def executor(self) -> SmartOrderExecutor:
        return self.services.executor

    @property
    def scheduler(self) -> AdvancedOrderScheduler:
        return self.services.scheduler

    def open_position_count(self) -> int:
        """Option positions held or being opened: what ``max_positions`` limits (hedge futures do not count)."""
        return self.positions.open_position_count(self._is_option)

    def _is_option(self, vt_symbol: str) -> bool:
        return vt_symbol in self.options

    # ------------------------------------------------------------ inputs
    def on_bars(self, prints: Mapping[str, BarPrint], window_bars: Iterable[BarSnapshot], bar_time: datetime,
                now: datetime, trading: bool, recording: bool,
                touches: Mapping[str, TopOfBook] | None = None) -> None:
        """One minute of 1-minute bars (``bar_time``: the latest bar's start) and the window bars
        they completed. ``trading``: orders may be sent; ``recording``: warm-up is over, so
        monitor snapshots and autosave run. ``touches``: a bar backtest's modelled quote after each
        bar (the fill model's), in place of the ticks' touch; the executor prices off it and the
        option quotes carry it, as they would on the replay's ticks."""
        trading = trading and self.idle_reason is None
        contracts = self.services.contracts
        new_day = contracts.start_day_if_new(bar_time)
        if new_day:
            self.previous_closes = dict(self.last_prices)
            self.quote_builder.new_day()
            self._prune_history(bar_time)
        for vt_symbol, bar in prints.items():
            if vt_symbol in self.futures:
                contracts.record(vt_symbol, bar.volume, bar.open_interest)
                self.settlement.record(vt_symbol, bar_time, bar.close)
        for change in contracts.choose(bar_time):
            self.ports.events.write_log(f"{change.product}: active contract {change.previous or '-'} -> "
                                        f"{change.current}")
        for vt_symbol, bar in prints.items():
            self.last_prices[vt_symbol] = bar.close
            touch = touches.get(vt_symbol) if touches is not None else None
            if touch is not None:
                self.executor.update_price(vt_symbol, bid=touch.bid, ask=touch.ask, last=bar.close)
            elif self.prices_from_bars and touches is None:
                self.executor.update_price(vt_symbol, last=bar.close)
            option = self.options.get(vt_symbol)
            if option is not None:
                if touch is not None:
                    self.quote_builder.note_touch(touch)
                self.instruments.update_option_quote(self.quote_builder.from_bar(option, bar))
        self._settle_expired(now)
        self._pending.extend(self.expiry_watch.check(self.positions.positions(), self.options, self.last_prices, now))
        if new_day:
            self._forget_expired(bar_time)
        self._advance_time(now)
        if self.safeguards is not None:
            for vt_symbol in prints:
                self.safeguards.on_print(vt_symbol, now)
            self.safeguards.on_step(now, trading)
        for window_bar in window_bars:
            self._on_window_bar(window_bar, now, trading, recording)
        if trading:
            self._check_margin(now)
            if self.futures_side is not None:
                self.futures_side.on_minute(self, now)
            else:
                self._hedge(now)
        if self.services.book_risk is not None:  # once a minute: limits in money, attribution mark
            self._pending.extend(self.services.book_risk.on_minute(self, now, trading))
        self._publish()
        if self.state_saver is not None and recording:
            self.state_saver.tick()

    def on_quote(self, quote: TopOfBook, at: datetime) -> None:
        """Live and paper: the touch and the price limits of a tick."""
        if self.safeguards is not None:
            self.safeguards.on_quote(quote, at)
        self.executor.update_price(quote.vt_symbol, bid=quote.bid, ask=quote.ask, last=quote.last,
                                   limit_up=quote.limit_up, limit_down=quote.limit_down)
        option = self.options.get(quote.vt_symbol)
        if option is not None:
            option_quote = self.quote_builder.from_touch(option, quote)
            if option_quote is not None:
                self.instruments.update_option_quote(option_quote)
        if quote.vt_symbol in self.futures and quote.last:
            self.settlement.record(quote.vt_symbol, at, quote.last)
        if self._settle_expired(at):  # the after-close record (15:30) settles the day's expiries
            self._publish()
        self._advance_time(at)

    def on_order(self, vt_orderid: str, status: OrderStatus, traded: int, at: datetime, now: datetime) -> None:
        if self.positions.order(vt_orderid) is not None:
            self.positions.update_order(vt_orderid, status, traded, at)
        self.executor.on_order_update(vt_orderid, status, traded, at)
        if self.safeguards is not None:
            self.safeguards.on_order(vt_orderid, status)
        self._advance_time(now)
        self._publish()

    def on_trade(self, fill: TradeFill, now: datetime) -> None:
        is_new = self.positions.update_trade(fill.vt_orderid, fill.vt_tradeid, fill.vt_symbol, fill.direction,
                                             fill.offset, fill.price, fill.volume, fill.at)
        if is_new and fill.vt_symbol in self.contract_params:
            fee = self.fees.charge(fill.vt_symbol, self._product_of(fill.vt_symbol), fill.direction, fill.offset,
                                   fill.price, fill.volume, self.contract_params[fill.vt_symbol].multiplier, fill.at)
            if self.services.book_risk is not None:
                self.services.book_risk.record_fill(self, fill.vt_symbol, fill.direction, fill.volume, fill.price,
                                                    fee, fill.at)
        self.executor.on_trade(fill.vt_orderid, fill.vt_tradeid, fill.volume, fill.price, fill.at)
        if is_new and self.safeguards is not None:
            self.safeguards.on_fill(fill.vt_orderid, fill.vt_symbol, fill.offset, fill.volume, fill.at)
        if self._is_hedge_order(fill.vt_orderid):
            self.counters.hedge_trade_count += 1
            self.services.gamma_engine.record_fill(fill.vt_tradeid, fill.vt_symbol, fill.direction, fill.volume,
                                                   fill.price, self.contract_params[fill.vt_symbol].multiplier,
                                                   fill.at)
        self._advance_time(now)
        self._publish()

    def on_time(self, now: datetime) -> None:
        self._settle_expired(now)
        self._advance_time(now)
        if self.safeguards is not None:
            self.safeguards.on_step(now)
            self._register_sent()
        self._publish()

    def resume_orders(self, now: datetime) -> None:
        """Orders restored from the saved state belong to this strategy again.

        A new process starts with no routes for them; an order the broker no longer
        knows (a new trading day) is over, with what it had filled.
        """
        orders = self.ports.orders
        for vt_orderid in self.executor.active_vt_orderids():
            orders.claim(vt_orderid)
            known = orders.order_state(vt_orderid)
            order = self.positions.order(vt_orderid)
            if known is not None:
                status, traded = known
                self.executor.on_order_update(vt_orderid, status, traded, now)
            else:
                traded = order.traded if order is not None else 0
                self.executor.on_order_update(vt_orderid, OrderStatus.CANCELLED, traded, now)
                if order is not None and order.is_active:
                    self.positions.update_order(vt_orderid, OrderStatus.CANCELLED, traded, now)
        self._advance_time(now)
        self._publish()

    def stop(self, now: datetime) -> int:
        """Cancels what is working and saves the state; returns the snapshots saved this run."""
        self.scheduler.cancel_all(now)
        self.executor.cancel_all(now)
        self._register_sent()
        saves = 0
        if self.state_saver is not None:
            self.state_saver.stop()
            saves = getattr(self.state_saver, "saves", 0)
        self._publish()
        return saves

    def cancel_working(self, now: datetime, reason: str) -> int:
        """Cancels every working order (advanced orders first) without stopping; returns the executions."""
        self.scheduler.cancel_all(now, reason)
        cancelled = self.executor.cancel_all(now, reason)
        self._register_sent()
        self._publish()
        return cancelled

    def reconcile(self, snapshots: Sequence[PositionSnapshot], at: datetime) -> list[str]:
        """Compares what the broker reports with the book; differences raise manual events.
        Returns the symbols skipped because orders are still working on them."""
        managed = [s for s in snapshots if s.vt_symbol in self.contract_params]
        # An expired contract disappears from the account at settlement: book it as such first,
        # so that its disappearance is not taken for a manual close with an unknown PnL.
        self._settle_expired(at)
        skipped = self.positions.reconcile(managed, at)
        self._publish()
        return skipped

    # ------------------------------------------------------------ bar flow
    def _on_window_bar(self, bar: BarSnapshot, now: datetime, trading: bool, recording: bool) -> None:
        instrument = self.instruments.update_bar(bar)
        if instrument is None:
            return
        # A window bar is stamped with its start; decisions and orders happen now, at its end.
        self.services.indicator_service.calculate_bar(instrument, bar)
        if trading:
            self._decide(instrument, bar, now)
        recorder = self.snapshot_recorder
        # A recorder that samples (the backtest's report) says when it wants a view: building one costs
        # the book's Greeks and the smile, too much for every window bar of a long backtest.
        if recorder is not None and recording and getattr(recorder, "due", _always)(now):
            recorder.record_snapshot(self.strategy_name, self.monitor_view(now), now)

    def _decide(self, instrument, bar: BarSnapshot, now: datetime) -> None:
        if self.futures_side is not None:
            self.futures_side.on_window_bar(self, instrument, bar, now)
            return
        # The book's limits are evaluated once a minute (BookRisk.on_minute), not once per product's window
        # bar: with two products every breach used to be reported twice.
        self._check_closes(instrument, bar, now)
        signal = self.services.signal_service.check_open_signal(instrument, bar)
        if signal is None:
            withheld = getattr(self.services.signal_service, "last_refusal", None)
            if withheld:
                self._refuse(now, STAGE_SIGNAL, bar.vt_symbol, withheld, instrument.product)
            return
        self._pending.append(SignalEvent(now, product=instrument.product, signal=signal, bar_time=bar.datetime,
                                         indicators=dict(instrument.indicators), vt_symbol=bar.vt_symbol))
        self.latest_signals[instrument.product] = {"signal": signal.value, "bar_time": bar.datetime.isoformat()}
        self._open(instrument, bar, signal, now)

    def _check_closes(self, instrument, bar: BarSnapshot, now: datetime) -> None:
        for position in self.positions.positions():
            option = self.options.get(position.vt_symbol)
            if option is None or option.product != instrument.option_product:
                continue
            if is_expired(option.expiry, now):
                continue  # no longer trades: settlement takes it off the book
            if position.vt_symbol in self._symbols_being_worked():
                continue
            reason = self.services.signal_service.check_close_signal(position, instrument, bar)
            if reason is not None:
                self._pending.append(SignalEvent(now, product=instrument.product, signal=reason,
                                                 bar_time=bar.datetime, vt_symbol=position.vt_symbol))
                self._close(position, reason, now)

    def _open(self, instrument, bar: BarSnapshot, signal: SignalType, now: datetime) -> None:
        chain = self.instruments.chain(instrument.product)
        selector = self.services.option_selector
        deltas = chain_deltas(self, chain, signal, now) if selector.by_delta else None  # strike_selection: delta
        selection = selector.select_option(chain, signal, bar.close, now.date(), deltas)
        if not selection.is_selected:
            self._refuse(now, STAGE_OPTION_SELECTION, None, selection.reason, instrument.product)
            return
        contract = selection.contract
        quote = selection.quote or instrument.option_quote(contract.vt_symbol)
        price = quote.mark_price if quote is not None else self.last_prices.get(contract.vt_symbol)
        if not price or price <= 0:
            self._refuse(now, STAGE_OPTION_SELECTION, contract.vt_symbol, "no price for the selected option",
                         instrument.product)
            return
        account = self.account(now)
        if account.available < 0:
            self._refuse(now, STAGE_SIZING, contract.vt_symbol,
                         f"margin call: available {account.available:.2f} < 0 (balance {account.balance:.2f}, "
                         f"margin {account.frozen:.2f}): no opening until it is back above zero", instrument.product)
            return
        previous = self.previous_closes
        sizing = self.services.sizing_service.size(contract, previous.get(contract.vt_symbol, price),
                                                   previous.get(contract.underlying_vt_symbol, bar.close),
                                                   self.contract_params[contract.vt_symbol], account,
                                                   self.open_position_count())
        if not sizing.is_sized:
            self._refuse(now, STAGE_SIZING, contract.vt_symbol, sizing.reason, instrument.product)
            return
        candidate = self._candidate_greeks(contract, price, -sizing.volume, now)
        if candidate is None:
            self._refuse(now, STAGE_RISK, contract.vt_symbol,
                         "no implied volatility reproduces the option's price: its Greeks are unknown",
                         instrument.product)
            return
        decision = self.services.risk_aggregator.check_open(self.position_greeks(now), candidate, now)
        if not decision.approved:
            self._pending.extend(decision.events)
            self._refuse(now, STAGE_RISK, contract.vt_symbol, decision.reason, instrument.product)
            return
        if self.services.book_risk is not None:  # the soft limits in money
            reason, events = self.services.book_risk.check_open(
                self, contract, -sizing.volume, GreeksResult(price, candidate.delta, candidate.gamma, candidate.vega,
                                                             candidate.theta), now)
            if reason is not None:
                self._pending.extend(events)
                self._refuse(now, STAGE_RISK, contract.vt_symbol, reason, instrument.product)
                return
        # The executor prices the order from the touch plus slippage; this is the reference price.
        self._send(OrderInstruction(
            vt_symbol=contract.vt_symbol, direction=Direction.SHORT, offset=Offset.OPEN, volume=sizing.volume,
            price=align_price(price, contract.pricetick), reason=f"open {signal.value}", signal=signal), now)

    def _close(self, position: Position, reason: CloseReason, at: datetime) -> None:
        if not self._close_at_mark(position, f"close {reason.value}", at):
            self._refuse(at, STAGE_EXECUTION, position.vt_symbol, "no price to close at", None)

    def _close_at_mark(self, position: Position, reason: str, at: datetime,
                       purpose: OrderPurpose = OrderPurpose.SIGNAL) -> bool:
        """Sends a close of the whole position at its last price; False when it has none to be priced at."""
        mark = self.last_prices.get(position.vt_symbol)
        if mark is None:
            return False
        self._send(OrderInstruction(
            vt_symbol=position.vt_symbol, direction=position.direction.opposite, offset=Offset.CLOSE,
            volume=position.volume, price=align_price(mark, self.contract_params[position.vt_symbol].pricetick),
            reason=reason, purpose=purpose), at)
        return True

    # ------------------------------------------------------------ orders
    def _send(self, instruction: OrderInstruction, at: datetime) -> None:
        """Every order is worked by the executor; a large one (not a hedge) as an iceberg of visible batches.
        The pre-trade gate sees it first (and every send of it, through the executor's gateway)."""
        if self.safeguards is not None:
            instruction = self.safeguards.admit(instruction, at)
            if instruction is None:
                return
        if not instruction.is_hedge and instruction.volume > self.services.iceberg_batch_size:
            self.scheduler.submit_iceberg(instruction, at)
        else:
            self.executor.submit(instruction, at)
        self._register_sent()
        self.ports.events.write_log(f"{instruction.reason}: {instruction.direction.value} "
                                    f"{instruction.offset.value} {instruction.volume} {instruction.vt_symbol} "
                                    f"@ {instruction.price}")

    def _register_sent(self) -> None:
        """Orders the executor placed join the position book before any of their fills can arrive."""
        for sent in self.executor.pop_sent_orders():
            self.positions.register_order(sent.vt_orderid, sent.instruction, sent.sent_at)
            self.counters.order_count += 1

    def _advance_time(self, now: datetime) -> None:
        """Time passes for the scheduler and the executor (timeouts, retries, slices).

        The one re-entrancy rule of the cycle: vnpy's backtester and the replay gateway
        answer a cancel by calling back ``update_order`` before ``cancel_order`` returns,
        i.e. from inside this method. Such a nested step updates the book at once but
        does not advance time again: the outer call is still doing that, and will
        register what was sent. (The executor and the scheduler guard their own
        ``on_time`` the same way, for the same callbacks.)
        """
        if self.safeguards is not None:
            self.safeguards.observe_time(now)
        if self._advancing_time:
            return
        self._advancing_time = True
        try:
            self.scheduler.on_time(now)
            self.executor.on_time(now)
            self._register_sent()
        finally:
            self._advancing_time = False

    def _correct_overfill(self, command: CorrectOverfill) -> None:
        event = command.event
        if event.offset != Offset.OPEN.value or event.excess <= 0:
            return
        price = self.last_prices.get(event.vt_symbol)
        if price is None:
            self._refuse(event.occurred_at, STAGE_EXECUTION, event.vt_symbol, "no price to close an overfill at",
                         None)
            return
        self._send(OrderInstruction(
            vt_symbol=event.vt_symbol, direction=Direction(event.direction).opposite, offset=Offset.CLOSE,
            volume=event.excess, price=align_price(price, self.contract_params[event.vt_symbol].pricetick),
            reason="close overfill", purpose=OrderPurpose.CORRECTION), event.occurred_at)

    def _symbols_being_worked(self) -> set[str]:
        working = {view.instruction.vt_symbol for view in self.executor.working_executions()}
        working.update(order.vt_symbol for order in self.positions.active_orders())
        return working

    def _is_hedge_order(self, vt_orderid: str) -> bool:
        execution_id = self.executor.execution_id_of(vt_orderid)
        view = self.executor.execution(execution_id) if execution_id is not None else None
        return view is not None and view.instruction.is_hedge

    # ------------------------------------------------------------ expiry
    def _settle_expired(self, now: datetime) -> bool:
        """Held contracts whose expiry close has passed leave the book at their settlement value;
        what is still working on them is cancelled. True when something was settled."""
        outcome = self.settlement.settle(self.positions, self.last_prices, now)
        if outcome.settled:
            symbols = outcome.settled_symbols
            for view in self.executor.working_executions():
                if view.instruction.vt_symbol in symbols:
                    self.executor.cancel(view.execution_id, now, reason="contract expired and settled")
            for event in outcome.settled:
                fee = self.fees.settle(event.vt_symbol, self._product_of(event.vt_symbol), event.direction,
                                       event.volume,
                                       exercised=event.vt_symbol in self.options and event.settlement_price > 0)
                if self.services.book_risk is not None:
                    self.services.book_risk.record_fill(self, event.vt_symbol, event.direction.opposite, event.volume,
                                                        event.settlement_price, fee, now)
                self.ports.events.write_log(
                    f"settled {event.direction.value} {event.volume} {event.vt_symbol} at "
                    f"{event.settlement_price:g}: PnL {event.realized_pnl:,.2f} ({event.detail})")
        for vt_symbol in outcome.unsettled:
            if vt_symbol not in self._unsettled_reported:
                self._unsettled_reported.add(vt_symbol)
                self._refuse(now, STAGE_EXECUTION, vt_symbol, "expired but no price of its underlying to "
                             "settle it at: it stays on the book until one arrives", None)
        return bool(outcome.settled)

    def _product_of(self, vt_symbol: str) -> str:
        option = self.options.get(vt_symbol)
        if option is not None:
            return option.product
        future = self.futures.get(vt_symbol)
        return future.product if future is not None else ""

    def _forget_expired(self, now: datetime) -> None:
        """A new day: expired options leave the chains, and their prices stop marking anything."""
        today = now.date()
        for vt_symbol in self.instruments.prune_expired_options(today):
            self.last_prices.pop(vt_symbol, None)
            self.previous_closes.pop(vt_symbol, None)
        self.settlement.forget_before(today)

    def _prune_history(self, now: datetime) -> None:
        """Old fills and finished orders are not needed to resume: keep the saved state small."""
        horizon = now - timedelta(days=HISTORY_KEPT_DAYS)
        self.positions.prune_history(horizon)
        self.scheduler.prune(horizon)
        self.executor.prune(horizon, keep=self.scheduler.execution_ids_in_use())

    # ------------------------------------------------------------ events
    def _refuse(self, at: datetime, stage: str, vt_symbol: str | None, reason: str, product: str | None) -> None:
        self._pending.append(DecisionRefusedEvent(at, stage=stage, vt_symbol=vt_symbol, reason=reason,
                                                  product=product))

    def record(self, event: DomainEvent) -> None:
        """An event from outside the aggregates (a state load's findings) joins the next publication."""
        self._pending.append(event)

    def _publish(self) -> None:
        services = self.services
        events = self._pending
        self._pending = []
        for source in (services.instruments, services.positions, services.executor, services.scheduler,
                       services.delta_engine, services.gamma_engine):
            events.extend(source.pop_events())
        if self.safeguards is not None:
            events.extend(self.safeguards.pop_events())
        if not events:
            return
        for event in events:
            if isinstance(event, OrderOverfilledEvent):
                self._correct_overfill(CorrectOverfill(event))
        events.extend(self._pending)  # what the commands refused
        self._pending = []
        self.bus.publish(events)
