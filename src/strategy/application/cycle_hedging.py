"""The trading cycle's hedging: each product's delta in lots of its future, the hedge the engine asks for,
and the roll of hedge lots out of a month that is no longer the hedge contract.

A part of ``TradingCycle`` (``trading_cycle.py``), kept apart because it is a concern of its own; its
methods use the cycle's book, prices and services.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime

from src.strategy.application.hedge_plan import delta_hedge_plan
from src.strategy.domain.domain_service.expiry_settlement import is_expired
from src.strategy.domain.domain_service.hedge_book import hedge_book
from src.strategy.domain.domain_service.portfolio_delta import portfolio_delta_lots
from src.strategy.domain.value_object.market import Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction, OrderPurpose, align_price


class CycleHedging:
    def _hedge(self, now: datetime) -> None:
        """Measure each product's delta in lots of its future; hedge it when an engine is enabled."""
        if self.safeguards is not None and self.safeguards.flattening:
            return  # the kill switch closes the hedges with everything else
        services = self.services
        config = services.hedging_config
        engine = services.gamma_engine if config.gamma_scalping_enabled else (
            services.delta_engine if config.delta_hedging_enabled else None)
        measured = []
        for product in self.instruments.products():
            hedge_symbol = self.instruments.active_contract(product)
            price = self.last_prices.get(hedge_symbol) if hedge_symbol else None
            if hedge_symbol is not None and price is not None:
                measured.append((product, hedge_symbol, price))
        option_products = {self.instruments.get(product).option_product for product, _, _ in measured}
        self._greeks_of([p for p in self.positions.positions() if p.vt_symbol in self.options
                         and self.options[p.vt_symbol].product in option_products], now)  # one pricing call
        for product, hedge_symbol, price in measured:
            band = None
            if engine is services.delta_engine:  # the options' month where it trades; the band's floor
                hedge_symbol, price, band = delta_hedge_plan(self, product, hedge_symbol, price, now)
            delta = self.product_delta(product, hedge_symbol, now)
            services.band_trackers[product].observe(delta)
            self._roll_hedges(product, hedge_symbol, now)
            if engine is None:
                continue
            working = self.executor.working_executions()
            book = hedge_book(self.positions, working, hedge_symbol)
            # Roll orders on the product's other months change its lots too when they fill.
            rolling = sum(view.remaining * view.instruction.direction.sign for view in working
                          if view.instruction.is_hedge and view.instruction.vt_symbol != hedge_symbol
                          and view.instruction.vt_symbol in self.futures
                          and self.futures[view.instruction.vt_symbol].product == product)
            instruction = engine.evaluate(portfolio_delta=delta, hedge_symbol=hedge_symbol, reference_price=price,
                                          at=now, long_lots=book.long_lots, short_lots=book.short_lots,
                                          pending_lots=book.pending_lots + rolling, band=band)
            if instruction is not None:
                self._send(dataclasses.replace(instruction, purpose=OrderPurpose.HEDGE), now)

    def _roll_hedges(self, product: str, hedge_symbol: str, now: datetime) -> None:
        """Futures lots of the product in a month that is no longer its hedge contract are rolled:
        closed there and opened in the hedge contract, the two orders sent together (both count as
        working hedges, so the hedging engine neither waits for nor doubles them). So no hedge lot
        is held into its month's expiry once the active contract has moved on."""
        stale = [p for p in self.positions.positions() if p.vt_symbol != hedge_symbol
                 and p.vt_symbol in self.futures and self.futures[p.vt_symbol].product == product
                 and not is_expired(self.futures[p.vt_symbol].expiry, now)]
        if not stale or (self.safeguards is not None and self.safeguards.is_locked(hedge_symbol)):
            return  # a locked hedge contract: the lots stay where the gate moved them
        working = self._symbols_being_worked()
        for position in stale:
            if position.vt_symbol in working:
                continue
            if not self._close_at_mark(position, f"roll hedge {position.vt_symbol} -> {hedge_symbol}", now,
                                       OrderPurpose.HEDGE):
                continue
            target = self.last_prices.get(hedge_symbol)
            if target is not None:
                self._send(OrderInstruction(
                    vt_symbol=hedge_symbol, direction=position.direction, offset=Offset.OPEN,
                    volume=position.volume, price=align_price(target, self.contract_params[hedge_symbol].pricetick),
                    reason=f"roll hedge {position.vt_symbol} -> {hedge_symbol}", purpose=OrderPurpose.HEDGE), now)

    def product_delta(self, product: str, hedge_symbol: str, now: datetime) -> float:
        """The product's options and futures held, in lots of its hedge future."""
        option_product = self.instruments.get(product).option_product
        held = [p for p in self.positions.positions()
                if p.vt_symbol in self.options and self.options[p.vt_symbol].product == option_product]
        greeks = self._greeks_of(held, now)
        future_lots = sum(p.volume * p.direction.sign for p in self.positions.positions()
                          if p.vt_symbol in self.futures and self.futures[p.vt_symbol].product == product)
        return float(portfolio_delta_lots(
            [p.volume * p.direction.sign for p in held],
            [g.delta if g is not None else float("nan") for g in greeks],
            [self.contract_params[p.vt_symbol].multiplier for p in held],
            self.contract_params[hedge_symbol].multiplier, future_lots))

    def hedging_summary(self) -> dict:
        trackers = self.services.band_trackers.values()
        observations = sum(t.observations for t in trackers)
        return {
            "hedge_trade_count": self.counters.hedge_trade_count,
            "max_abs_portfolio_delta": max((t.max_abs_delta for t in trackers), default=0.0),
            "share_of_bars_outside_band": sum(t.outside for t in trackers) / observations if observations else 0.0,
            # The futures' P&L marked to market (open hedge lots included), from the P&L attribution;
            # it replaces the former FIFO "scalping_pnl", which left open lots and the options out.
            "hedge_pnl": (self.services.book_risk.attribution.totals()["hedge"]
                          if self.services.book_risk is not None else 0.0),
        }
