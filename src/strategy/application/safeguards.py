"""The cycle's safeguards: the pre-trade gate, reduce-only mode and the kill switch, wired to a cycle.

Every order the strategy makes (openings, closes, hedges, hedge rolls, overfill
corrections, the kill switch's closes; in the backtest, the replay, paper and
live alike) is an ``OrderInstruction`` handed to ``TradingCycle._send``: the
cycle asks ``admit`` there first. The executor then works each admitted
instruction as one or more sends (retries one tick more aggressive, iceberg
slices): those go through ``GatedExecutionGateway``, the executor's only way to
the exchange, which asks ``admit_attempt`` for each send and records every send
and every cancel, so the gate's counts are the exchange's.

Reduce-only mode holds while any reason holds: stale quotes on a contract of the
book (``stale:<vt_symbol>``), a gateway down (``gateway:<name>``), the day's loss
(``daily_loss``), the kill switch (``kill_switch:stop`` / ``kill_switch:flatten``).

The kill switch's commands come from the database (``ControlRequest``, polled by
the strategy's timer); ``apply_control`` carries one out. ``flatten`` cancels what
is working and closes every position through the executor, minute after minute,
until the book is flat; it stays in force (no opening, no hedge) until ``resume``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime

from src.strategy.domain.domain_service.expiry_settlement import is_expired
from src.strategy.domain.domain_service.pre_trade_gate import GateContext, OrderRequest, PreTradeGate
from src.strategy.domain.domain_service.reduce_only import QuoteWatch, ReduceOnlyMode, STALE_PREFIX
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.safeguard_events import HedgeRedirectedEvent, KillSwitchEvent
from src.strategy.domain.interface.trade_execution_gateway import ITradeExecutionGateway
from src.strategy.domain.value_object.control_command import ControlCommand, ControlRequest
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.market_input import TopOfBook
from src.strategy.domain.value_object.order_instruction import OrderInstruction, align_price
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.pre_trade_limits import LockedHedgePolicy, PreTradeLimits

FLATTEN = "kill_switch:flatten"
STOP = "kill_switch:stop"
DAILY_LOSS = "daily_loss"
DEFAULT_STALE_QUOTE_SECONDS = 180.0


class GatedExecutionGateway:
    """The executor's gateway: every send is checked by the gate and counted, every cancel counted."""

    def __init__(self, inner: ITradeExecutionGateway) -> None:
        self.inner = inner
        self.safeguards: Safeguards | None = None

    def send_order(self, instruction: OrderInstruction) -> list[str]:
        safeguards = self.safeguards
        if safeguards is not None and not safeguards.admit_attempt(instruction):
            return []
        vt_orderids = list(self.inner.send_order(instruction))
        if safeguards is not None:
            safeguards.record_sent(vt_orderids, instruction)
        return vt_orderids

    def cancel_order(self, vt_orderid: str) -> None:
        if self.safeguards is not None:
            self.safeguards.record_cancel(vt_orderid)
        self.inner.cancel_order(vt_orderid)


class Safeguards:
    def __init__(self, limits: PreTradeLimits, stale_quote_seconds: float = DEFAULT_STALE_QUOTE_SECONDS,
                 stale_scope: str = "underlying") -> None:
        self.gate = PreTradeGate(limits)
        self.limits = limits
        self.mode = ReduceOnlyMode()
        self.quotes = QuoteWatch(stale_quote_seconds)
        self.stale_scope = stale_scope  # "underlying": an option is stale only when its future is silent too
        self.cycle = None
        self.now: datetime | None = None
        self.flattening = False
        self.control_request_id: int | None = None
        self._touch: dict[str, TopOfBook] = {}
        self._ended_early: set[str] = set()
        self._day: date | None = None
        self._day_start_pnl: float | None = None
        self.day_pnl: float | None = None
        self._events: list[DomainEvent] = []

    def attach(self, cycle, gateway: GatedExecutionGateway | None) -> None:
        self.cycle = cycle
        cycle.safeguards = self
        if gateway is not None:
            gateway.safeguards = self

    # ------------------------------------------------------------------ market and time
    def observe_time(self, now: datetime) -> None:
        if self.now is None or now > self.now:
            self.now = now
        self.gate.observe(now)

    def on_print(self, vt_symbol: str, at: datetime) -> None:
        self.quotes.seen(vt_symbol, at)

    def on_quote(self, quote: TopOfBook, at: datetime) -> None:
        self._touch[quote.vt_symbol] = quote
        self.quotes.seen(quote.vt_symbol, at)

    def limits_of(self, vt_symbol: str) -> tuple[float | None, float | None]:
        quote = self._touch.get(vt_symbol)
        if quote is None:
            return None, None
        return (quote.limit_up or None), (quote.limit_down or None)

    def is_locked(self, vt_symbol: str, direction: Direction | None = None) -> bool:
        """Locked at limit-up (nobody sells: a buy cannot fill) or limit-down (a sell cannot fill)."""
        quote = self._touch.get(vt_symbol)
        if quote is None:
            return False
        up, down = quote.limit_up or None, quote.limit_down or None
        last, bid, ask = quote.last or 0.0, quote.bid or 0.0, quote.ask or 0.0
        locked_up = up is not None and not ask and (bid >= up or last >= up)
        locked_down = down is not None and not bid and ((0 < ask <= down) or (0 < last <= down))
        if direction is None:
            return bool(locked_up or locked_down)
        return bool(locked_up) if direction is Direction.LONG else bool(locked_down)

    # ------------------------------------------------------------------ orders
    def admit(self, instruction: OrderInstruction, at: datetime) -> OrderInstruction | None:
        """The gate's answer for a new order: the instruction (maybe moved to another month, for a hedge on
        a locked contract), or None when refused (the gate recorded the refusal)."""
        cycle = self.cycle
        self.observe_time(at)
        if instruction.is_hedge and self.is_locked(instruction.vt_symbol, instruction.direction) \
                and self.limits.locked_hedge is LockedHedgePolicy.NEXT_MONTH:
            alternative = self._unlocked_month(instruction)
            if alternative is not None:
                price = cycle.last_prices[alternative]
                self._events.append(HedgeRedirectedEvent(
                    at, from_vt_symbol=instruction.vt_symbol, to_vt_symbol=alternative,
                    direction=instruction.direction.value, volume=instruction.volume,
                    reason=f"{instruction.vt_symbol} is locked at its price limit"))
                instruction = dataclasses.replace(
                    instruction, vt_symbol=alternative,
                    price=align_price(price, cycle.contract_params[alternative].pricetick),
                    reason=f"{instruction.reason} (moved from locked {instruction.vt_symbol})")
        request = self._request(instruction)
        decision = self.gate.check(request, self._context(request, at, full=True), at)
        return instruction if decision.approved else None

    def admit_attempt(self, instruction: OrderInstruction) -> bool:
        if self.now is None:
            return True
        request = self._request(instruction)
        return self.gate.check(request, self._context(request, self.now, full=False), self.now,
                               level="attempt").approved

    def record_sent(self, vt_orderids: Iterable[str], instruction: OrderInstruction) -> None:
        if self.now is None:
            return
        request = self._request(instruction)
        for vt_orderid in vt_orderids:
            self.gate.record_order_sent(vt_orderid, request, self.now)
            if vt_orderid in self._ended_early:  # the gateway answered before send_order returned
                self._ended_early.discard(vt_orderid)
                self.gate.record_order_final(vt_orderid)

    def record_cancel(self, vt_orderid: str) -> None:
        if self.now is not None:
            self.gate.record_cancel_sent(vt_orderid, self.now)

    def on_order(self, vt_orderid: str, status: OrderStatus) -> None:
        if not status.is_active:
            if vt_orderid in self.gate.working_orders():
                self.gate.record_order_final(vt_orderid)
            else:
                self._ended_early.add(vt_orderid)
                if len(self._ended_early) > 1000:
                    self._ended_early.clear()

    def on_fill(self, vt_orderid: str, vt_symbol: str, offset: Offset, volume: int, at: datetime) -> None:
        self.gate.record_fill(vt_orderid, self.cycle._product_of(vt_symbol) or vt_symbol, offset, volume, at)

    # ------------------------------------------------------------------ each step
    def on_step(self, now: datetime, trading: bool = True) -> None:
        """At each minute (and timer tick live): the day's loss, stale quotes, the kill switch's closes."""
        cycle = self.cycle
        self.observe_time(now)
        self._mark_day(now)
        self.gate.retain_working(cycle.executor.active_vt_orderids())
        self._check_stale(now)
        if self.flattening and trading:
            self._flatten_step(now)

    def _mark_day(self, now: datetime) -> None:
        pnl = self._book_pnl()
        day = now.date()
        if day != self._day:
            self._day = day
            self._day_start_pnl = pnl
            self.mode.leave(DAILY_LOSS, now, "a new trading day")
        self.day_pnl = pnl - self._day_start_pnl
        limit = self.limits.max_daily_loss
        if limit is not None and self.day_pnl <= -limit and not self.mode.holds(DAILY_LOSS):
            self.mode.enter(DAILY_LOSS, now, f"the day's P&L {self.day_pnl:,.2f} <= -{limit:,.2f}")

    def _book_pnl(self) -> float:
        cycle = self.cycle
        positions = cycle.positions
        unrealized = sum(p.unrealized_pnl(cycle.last_prices.get(p.vt_symbol, p.avg_price))
                         for p in positions.positions())
        return positions.realized_pnl() + unrealized - cycle.fees.total

    def _check_stale(self, now: datetime) -> None:
        cycle = self.cycle
        clocks = cycle.services.clocks
        held = {p.vt_symbol for p in cycle.positions.positions() if not self._expired(p.vt_symbol, now)}
        companions = None
        if self.stale_scope == "underlying":
            def companions(vt_symbol: str) -> tuple[str, ...]:
                option = cycle.options.get(vt_symbol)
                return (option.underlying_vt_symbol,) if option is not None else ()
        stale = self.quotes.stale(held, now,
                                  lambda s, a, b: clocks.for_symbol(s).trading_seconds_between(a, b),
                                  lambda s, t: clocks.for_symbol(s).is_trading(t), companions)
        for vt_symbol, silence in stale.items():
            self.mode.enter(STALE_PREFIX + vt_symbol, now, f"no quote for {silence:.0f} s of trading time")
        for reason in self.mode.reasons:
            if reason.startswith(STALE_PREFIX):
                vt_symbol = reason[len(STALE_PREFIX):]
                if vt_symbol not in stale:
                    self.mode.leave(reason, now, "quotes again" if vt_symbol in held else "no longer in the book")

    def _expired(self, vt_symbol: str, now: datetime) -> bool:
        cycle = self.cycle
        contract = cycle.options.get(vt_symbol) or cycle.futures.get(vt_symbol)
        return contract is not None and is_expired(contract.expiry, now)

    # ------------------------------------------------------------------ gateway and kill switch
    def gateway_status(self, name: str, connected: bool, at: datetime, detail: str = "") -> None:
        """The live adapter's report of a gateway's connection (reduce-only while one is down)."""
        self.mode.set(f"gateway:{name}", not connected, at, detail or ("connected" if connected else "disconnected"))

    def apply_control(self, request: ControlRequest, now: datetime) -> bool:
        """Carries out a control command once (by its id); True when it was new."""
        if request.request_id == self.control_request_id:
            return False
        self.control_request_id = request.request_id
        command = request.command
        when = request.requested_at.isoformat()
        if command is ControlCommand.FLATTEN:
            self.mode.leave(STOP, now, "replaced by flatten")
            self.mode.enter(FLATTEN, now, f"flatten requested at {when}")
            self.flattening = True
            cancelled = self._cancel_openings(now)
            detail = f"cancelled {cancelled} working openings; closing {len(self.cycle.positions.positions())} " \
                     f"positions"
        elif command is ControlCommand.STOP:
            self.flattening = False
            self.mode.leave(FLATTEN, now, "replaced by stop")
            self.mode.enter(STOP, now, f"stop requested at {when}")
            detail = "reduce-only: only closing and hedging orders"
        else:
            if not (self.mode.holds(FLATTEN) or self.mode.holds(STOP)):
                return True  # nothing to resume (an old resume read by a new process)
            self.flattening = False
            self.mode.leave(FLATTEN, now, f"resume requested at {when}")
            self.mode.leave(STOP, now, f"resume requested at {when}")
            detail = "trading resumed" + (f"; reduce-only still holds: {', '.join(self.mode.reasons)}"
                                          if self.mode.active else "")
        self._events.append(KillSwitchEvent(now, command=command.value, requested_at=when, detail=detail))
        return True

    def _cancel_openings(self, now: datetime) -> int:
        cycle = self.cycle
        cycle.scheduler.cancel_all(now)
        count = 0
        for view in cycle.executor.working_executions():
            if view.instruction.offset is Offset.OPEN:
                count += cycle.executor.cancel(view.execution_id, now, reason="kill switch: flatten")
        return count

    def _flatten_step(self, now: datetime) -> None:
        cycle = self.cycle
        working = cycle._symbols_being_worked()
        for position in cycle.positions.positions():
            if position.vt_symbol in working or self._expired(position.vt_symbol, now):
                continue
            cycle._close_at_mark(position, "close KILL_SWITCH", now)

    # ------------------------------------------------------------------ helpers
    def _request(self, instruction: OrderInstruction) -> OrderRequest:
        cycle = self.cycle
        vt_symbol = instruction.vt_symbol
        return OrderRequest(vt_symbol=vt_symbol, product=cycle._product_of(vt_symbol) or vt_symbol,
                            is_option=vt_symbol in cycle.options, direction=instruction.direction,
                            offset=instruction.offset, volume=instruction.volume, price=instruction.price,
                            purpose=instruction.purpose)

    def _context(self, request: OrderRequest, at: datetime, full: bool) -> GateContext:
        up, down = self.limits_of(request.vt_symbol)
        base = dict(limit_up=up, limit_down=down, reduce_only=self.mode.reasons, flattening=self.flattening)
        if not full:
            return GateContext(**base)
        cycle = self.cycle
        product = request.product
        held = sum(p.volume for p in cycle.positions.positions()
                   if (cycle._product_of(p.vt_symbol) or p.vt_symbol) == product)
        working_open = sum(view.remaining for view in cycle.executor.working_executions()
                           if view.instruction.offset is Offset.OPEN
                           and (cycle._product_of(view.instruction.vt_symbol) or view.instruction.vt_symbol) == product)
        available = None
        if request.is_opening and not request.is_hedge:
            available = cycle.account(at).available
        return GateContext(held_lots=held, working_open_lots=working_open,
                           locked=self.is_locked(request.vt_symbol, request.direction),
                           day_pnl=self.day_pnl, available=available, **base)

    def _unlocked_month(self, instruction: OrderInstruction) -> str | None:
        cycle = self.cycle
        future = cycle.futures.get(instruction.vt_symbol)
        if future is None:
            return None
        months = sorted((f for f in cycle.futures.values() if f.product == future.product
                         and f.expiry > future.expiry), key=lambda f: f.expiry)
        for candidate in months:
            if candidate.vt_symbol in cycle.last_prices and not self.is_locked(candidate.vt_symbol,
                                                                               instruction.direction):
                return candidate.vt_symbol
        return None

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events + self.gate.pop_events() + self.mode.pop_events()

    # ------------------------------------------------------------------ views and state
    def summary(self) -> dict:
        summary = self.gate.summary()
        return {"pre_trade_refusals": summary["refusals"], "pre_trade_refusal_total": summary["refusal_total"],
                "orders_cancels_peak_per_day": summary["peak_per_day"]}

    def view(self) -> dict:
        summary = self.gate.summary()
        return {"reduce_only": list(self.mode.reasons), "flattening": self.flattening,
                "refusals": summary["refusals"], "today": summary["today"], "day_pnl": self.day_pnl}

    def to_dict(self) -> dict:
        return {"gate": self.gate.to_dict(), "mode": self.mode.to_dict(), "flattening": self.flattening,
                "control_request_id": self.control_request_id}

    def restore(self, data: dict) -> None:
        if "gate" in data:
            self.gate.restore(data["gate"])
        self.mode.restore(data.get("mode", {}))
        self.flattening = bool(data.get("flattening", False)) and self.mode.holds(FLATTEN)
        self.control_request_id = data.get("control_request_id")
