"""The trading cycle's futures mode (``strategies[].setting.trade_instrument: futures``).

The cycle hands each window bar of a product's active future, and each trading minute, to
``FuturesSide`` instead of its option path and its hedging: the signal service's answer goes to
``FuturesSideService`` (the domain's rules: open, reverse, stop/target, roll, expiry backstop,
sizing by margin), whose order instructions are sent through the cycle's executor like any
other and whose events are published on the cycle's bus with the rest of the step's.

What the service is given comes from the cycle: the product's futures positions, its active
contract with the last price and the previous day's (the margin basis), the account as
``value_account`` values it (the strategy's capital share, fees, P&L, margins of positions and
of working opening orders), and whether orders on the product's futures are still working.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from src.strategy.domain.domain_service.futures_side import ActiveFuture, FuturesDecision, FuturesHolding, \
    FuturesSideService
from src.strategy.domain.event.decision_events import STAGE_SIGNAL, DecisionRefusedEvent, SignalEvent

if TYPE_CHECKING:
    from src.strategy.application.trading_cycle import TradingCycle


class FuturesSide:
    def __init__(self, service: FuturesSideService) -> None:
        self.service = service
        self._reported: set[tuple[str | None, str]] = set()  # (vt_symbol, reason) refused already today
        self._reported_day = None

    # ------------------------------------------------------------ hooks of the cycle
    def on_window_bar(self, cycle: TradingCycle, instrument, bar, now: datetime) -> None:
        """The product's window bar: the signal, then the service's decision, carried out."""
        product = instrument.product
        signal_service = cycle.services.signal_service
        signal = signal_service.check_open_signal(instrument, bar)
        if signal is None:
            withheld = getattr(signal_service, "last_refusal", None)
            if withheld:
                cycle.record(DecisionRefusedEvent(now, stage=STAGE_SIGNAL, vt_symbol=bar.vt_symbol, reason=withheld,
                                                  product=product))
        else:
            cycle.record(SignalEvent(now, product=product, signal=signal, bar_time=bar.datetime,
                                     indicators=dict(instrument.indicators), vt_symbol=bar.vt_symbol))
            cycle.latest_signals[product] = {"signal": signal.value, "bar_time": bar.datetime.isoformat()}
        working = self._working(cycle)
        decision = self.service.on_window_bar(
            product, signal, self.holdings(cycle, product), self.active(cycle, product), cycle.last_prices,
            cycle.contract_params, cycle.account(now), working=any(
                vt in working for vt in self._product_futures(cycle, product)), now=now)
        self._carry_out(cycle, decision, now)

    def on_minute(self, cycle: TradingCycle, now: datetime) -> None:
        """Every trading minute: rolls into the active month and the expiry backstop."""
        if now.date() != self._reported_day:
            self._reported_day = now.date()
            self._reported.clear()
        for product in cycle.instruments.products():
            decision = self.service.on_minute(product, self.holdings(cycle, product), self.active(cycle, product),
                                              cycle.last_prices, cycle.contract_params, self._working(cycle), now)
            self._carry_out(cycle, decision, now, once_a_day=True)

    # ------------------------------------------------------------ what the service is told
    @staticmethod
    def _product_futures(cycle: TradingCycle, product: str) -> set[str]:
        return {vt for vt, future in cycle.futures.items() if future.product == product}

    @staticmethod
    def holdings(cycle: TradingCycle, product: str) -> list[FuturesHolding]:
        futures = cycle.futures
        return [FuturesHolding(p.vt_symbol, p.direction, p.volume, p.avg_price, futures[p.vt_symbol].expiry)
                for p in cycle.positions.positions()
                if p.vt_symbol in futures and futures[p.vt_symbol].product == product and p.volume > 0]

    @staticmethod
    def active(cycle: TradingCycle, product: str) -> ActiveFuture | None:
        vt_symbol = cycle.instruments.active_contract(product)
        price = cycle.last_prices.get(vt_symbol) if vt_symbol else None
        if vt_symbol is None or not price or price <= 0 or vt_symbol not in cycle.futures:
            return None
        margin_price = cycle.previous_closes.get(vt_symbol) or price
        return ActiveFuture(vt_symbol, cycle.futures[vt_symbol].expiry, price, margin_price,
                            cycle.contract_params[vt_symbol])

    @staticmethod
    def _working(cycle: TradingCycle) -> set[str]:
        """Symbols with orders working: the executor's, the book's and the scheduler's (an iceberg between
        two batches has no child order working but is not done)."""
        working = cycle._symbols_being_worked()
        working.update(view.order.instruction.vt_symbol for view in cycle.scheduler.working_orders())
        return working

    # ------------------------------------------------------------ carrying out
    def _carry_out(self, cycle: TradingCycle, decision: FuturesDecision, now: datetime,
                   once_a_day: bool = False) -> None:
        for instruction in decision.orders:
            cycle._send(instruction, now)
        for event in decision.events:
            if once_a_day and isinstance(event, DecisionRefusedEvent):
                # A roll waiting for a price is asked again every minute: say so once a day.
                key = (event.vt_symbol, event.reason)
                if key in self._reported:
                    continue
                self._reported.add(key)
            cycle.record(event)
