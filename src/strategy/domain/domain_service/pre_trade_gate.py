"""PreTradeGate: the one check every order passes before it reaches the exchange.

The gate keeps a small state, fed by what happened (orders sent, cancels sent,
fills, orders that ended), per product and trading day, and answers ``check``
for an order with the rule that refuses it, if any. Time is passed in.

Rules, in the order they are checked (the first that refuses names the refusal):

``kill_switch``
    the book is being flattened: only closing orders pass.
``daily_loss``
    the day's loss reached ``max_daily_loss``: no opening order except hedges.
``reduce_only``
    reduce-only mode (stale quotes, a gateway down, the daily loss, ``stop``):
    only closing orders and hedges pass.
``order_budget`` / ``cancel_budget`` (and their ``_warning``)
    orders or cancels sent today on the product: from the warning level
    (``warning_share`` of the budget) openings are refused, hedges and closes
    pass; at the budget itself only closing orders pass. Cancels are never
    refused: a cancel takes risk off, and the exchange's answer to the
    threshold is to suspend openings, not closes.
``self_trade``
    a buy at or above a sell of ours working on the same contract, or a sell at
    or below a working buy of ours, could trade with itself.
``price_limit``
    a price outside the day's limits (when known: ticks carry them, bars do not).
``locked_limit``
    a hedge on a contract locked at its limit against it (a buy at limit-up, a
    sell at limit-down) that is to wait (the caller redirects it to another
    month when configured so).
``opening_volume``
    lots opened today on the product (fills) plus opening lots still working plus
    this order above the daily opening limit.
``position_limit``
    lots held on the product (both sides) plus opening lots working plus this
    order above the position limit.
``margin``
    available funds below zero (a margin call): no opening except hedges.

``level="attempt"`` checks one send of an order already admitted (a retry, a
slice): only the rules whose inputs change while an order is worked (kill
switch, reduce-only, budgets, self-trade, price limit); the quantity rules were
checked when the order was created, and its remainder never exceeds it.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.safeguard_events import OrderBudgetWarningEvent, PreTradeRefusedEvent
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderPurpose
from src.strategy.domain.value_object.pre_trade_limits import PreTradeLimits
from src.strategy.domain.value_object.validation import require_aware, require_int, require_text

RULES = ("kill_switch", "daily_loss", "reduce_only", "order_budget", "order_budget_warning", "cancel_budget",
         "cancel_budget_warning", "self_trade", "price_limit", "locked_limit", "opening_volume", "position_limit",
         "margin")
ATTEMPT_RULES = frozenset({"kill_switch", "reduce_only", "order_budget", "order_budget_warning", "cancel_budget",
                           "cancel_budget_warning", "self_trade", "price_limit"})


@dataclass(frozen=True)
class OrderRequest:
    """One order as the gate sees it."""

    vt_symbol: str
    product: str
    is_option: bool
    direction: Direction
    offset: Offset
    volume: int
    price: float
    purpose: OrderPurpose = OrderPurpose.SIGNAL

    def __post_init__(self) -> None:
        owner = f"OrderRequest({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        object.__setattr__(self, "volume", require_int(owner, "volume", self.volume, 1))

    @property
    def is_opening(self) -> bool:
        return self.offset is Offset.OPEN

    @property
    def is_hedge(self) -> bool:
        return self.purpose is OrderPurpose.HEDGE


@dataclass(frozen=True)
class GateContext:
    """What the gate needs to know about the book and the market at the moment of the check.

    ``held_lots``/``working_open_lots``: the product's lots held (both sides) and opening lots still
    being worked (not counting this order); ``limit_up``/``limit_down``: the contract's limits, None when
    unknown; ``locked``: the contract is locked at a limit against this order's direction;
    ``day_pnl``: the book's P&L since the day's first mark; ``available``: funds after margin;
    ``reduce_only``: the reasons reduce-only mode holds; ``flattening``: the kill switch's flatten."""

    held_lots: int = 0
    working_open_lots: int = 0
    limit_up: float | None = None
    limit_down: float | None = None
    locked: bool = False
    day_pnl: float | None = None
    available: float | None = None
    reduce_only: tuple[str, ...] = ()
    flattening: bool = False


@dataclass(frozen=True)
class GateDecision:
    approved: bool
    rule: str | None = None
    reason: str = ""
    figures: Mapping[str, float | int | str | None] | None = None


APPROVED = GateDecision(True)


@dataclass
class _Working:
    vt_symbol: str
    product: str
    direction: Direction
    offset: Offset
    price: float
    remaining: int


@dataclass
class _DayCounts:
    orders: int = 0
    cancels: int = 0
    opened_lots: int = 0


class PreTradeGate:
    STATE_VERSION = 1

    def __init__(self, limits: PreTradeLimits) -> None:
        if not isinstance(limits, PreTradeLimits):
            raise TypeError(f"PreTradeGate.limits must be PreTradeLimits, got {type(limits).__name__}")
        self.limits = limits
        self._day: date | None = None
        self._counts: dict[str, _DayCounts] = {}
        self._is_option: dict[str, bool] = {}
        self._warned: set[tuple[str, str, str]] = set()
        self._working: dict[str, _Working] = {}
        self.refusals: Counter[str] = Counter()
        self.peak: dict[str, dict[str, int]] = {}   # the highest daily counts seen per product
        self._events: list[DomainEvent] = []

    # ------------------------------------------------------------------ time
    def observe(self, now: datetime) -> None:
        """A new trading day resets the day's counts (CFFEX trades in the day only: the date is the day)."""
        require_aware("PreTradeGate.observe", "now", now)
        day = now.date()
        if day != self._day:
            self._day = day
            self._counts = {}
            self._warned = set()

    @property
    def trading_day(self) -> date | None:
        return self._day

    # ------------------------------------------------------------------ facts
    def record_order_sent(self, vt_orderid: str, request: OrderRequest, at: datetime) -> None:
        self.observe(at)
        self._is_option[request.product] = request.is_option
        counts = self._counts_of(request.product)
        counts.orders += 1
        self._working[vt_orderid] = _Working(request.vt_symbol, request.product, request.direction,
                                             request.offset, request.price, request.volume)
        self._note_peak(request.product, counts)
        self._warn_if_due(request.product, "orders", counts.orders, at)

    def record_cancel_sent(self, vt_orderid: str, at: datetime, product: str | None = None) -> None:
        self.observe(at)
        working = self._working.get(vt_orderid)
        product = working.product if working is not None else product
        if product is None:
            return
        counts = self._counts_of(product)
        counts.cancels += 1
        self._note_peak(product, counts)
        self._warn_if_due(product, "cancels", counts.cancels, at)

    def record_fill(self, vt_orderid: str, product: str, offset: Offset, volume: int, at: datetime) -> None:
        self.observe(at)
        if offset is Offset.OPEN:
            counts = self._counts_of(product)
            counts.opened_lots += volume
            self._note_peak(product, counts)
        working = self._working.get(vt_orderid)
        if working is not None:
            working.remaining = max(working.remaining - volume, 0)

    def record_order_final(self, vt_orderid: str) -> None:
        self._working.pop(vt_orderid, None)

    def retain_working(self, vt_orderids) -> int:
        """Forgets working orders not among ``vt_orderids`` (what the executor still works); returns how many."""
        keep = set(vt_orderids)
        gone = [vt_orderid for vt_orderid in self._working if vt_orderid not in keep]
        for vt_orderid in gone:
            del self._working[vt_orderid]
        return len(gone)

    # ------------------------------------------------------------------ the check
    def check(self, request: OrderRequest, context: GateContext, at: datetime, level: str = "order") -> GateDecision:
        """Approves the order or refuses it by the first rule it breaks (an event records the refusal)."""
        self.observe(at)
        if not self.limits.enabled:
            return APPROVED
        decision = self._evaluate(request, context, level)
        if not decision.approved:
            self.refusals[decision.rule] += 1
            self._events.append(PreTradeRefusedEvent(
                at, rule=decision.rule, vt_symbol=request.vt_symbol, product=request.product,
                direction=request.direction.value, offset=request.offset.value, volume=request.volume,
                price=request.price, purpose=request.purpose.value, reason=decision.reason,
                figures=dict(decision.figures or {}), level=level))
        return decision

    def _evaluate(self, request: OrderRequest, context: GateContext, level: str) -> GateDecision:
        attempt = level == "attempt"
        closing = not request.is_opening
        if context.flattening and not closing:
            return GateDecision(False, "kill_switch", "the kill switch is flattening the book: only closing orders")
        max_loss = self.limits.max_daily_loss
        if (not attempt and max_loss is not None and context.day_pnl is not None and context.day_pnl <= -max_loss
                and request.is_opening and not request.is_hedge):
            return GateDecision(False, "daily_loss", f"the day's P&L {context.day_pnl:,.2f} reached the maximum "
                                f"daily loss {max_loss:,.2f}", {"day_pnl": context.day_pnl, "max_daily_loss": max_loss})
        if context.reduce_only and request.is_opening and not request.is_hedge:
            return GateDecision(False, "reduce_only", f"reduce-only ({', '.join(context.reduce_only)}): only "
                                f"closing and hedging orders", {"reasons": ", ".join(context.reduce_only)})
        budget = self._budget_decision(request)
        if budget is not None:
            return budget
        crossing = self._self_trade(request)
        if crossing is not None:
            return crossing
        outside = _outside_limits(request, context)
        if outside is not None:
            return outside
        if attempt:
            return APPROVED
        if context.locked and request.is_hedge:
            return GateDecision(False, "locked_limit", f"{request.vt_symbol} is locked at its price limit against "
                                f"a {request.direction.value} hedge: waiting", {
                                    "limit_up": context.limit_up, "limit_down": context.limit_down})
        if request.is_opening:
            limits = self.limits.for_product(request.product, request.is_option)
            opened = self._counts_of(request.product).opened_lots
            if opened + context.working_open_lots + request.volume > limits.max_open_lots_per_day:
                return GateDecision(False, "opening_volume", f"{request.product}: {opened} lots opened today + "
                                    f"{context.working_open_lots} working + {request.volume} > the daily opening "
                                    f"limit {limits.max_open_lots_per_day}", {
                                        "opened_today": opened, "working_open_lots": context.working_open_lots,
                                        "volume": request.volume, "limit": limits.max_open_lots_per_day})
            if context.held_lots + context.working_open_lots + request.volume > limits.max_position_lots:
                return GateDecision(False, "position_limit", f"{request.product}: {context.held_lots} lots held + "
                                    f"{context.working_open_lots} working + {request.volume} > the position limit "
                                    f"{limits.max_position_lots}", {
                                        "held_lots": context.held_lots, "working_open_lots": context.working_open_lots,
                                        "volume": request.volume, "limit": limits.max_position_lots})
            if context.available is not None and context.available < 0 and not request.is_hedge:
                return GateDecision(False, "margin", f"margin call: available {context.available:,.2f} < 0: no "
                                    f"opening until it is back above zero", {"available": context.available})
        return APPROVED

    def _budget_decision(self, request: OrderRequest) -> GateDecision | None:
        limits = self.limits.for_product(request.product, request.is_option)
        counts = self._counts_of(request.product)
        for kind, count, budget in (("order", counts.orders, limits.max_orders_per_day),
                                    ("cancel", counts.cancels, limits.max_cancels_per_day)):
            warning = self.limits.warning_level(budget)
            figures = {"count": count, "warning_at": warning, "budget": budget}
            if count >= budget and request.is_opening:
                return GateDecision(False, f"{kind}_budget", f"{request.product}: {count} {kind}s today reached "
                                    f"the budget {budget}: only closing orders", figures)
            if count >= warning and request.is_opening and not request.is_hedge:
                return GateDecision(False, f"{kind}_budget_warning", f"{request.product}: {count} {kind}s today "
                                    f"reached the warning level {warning} of {budget}: no new openings", figures)
        return None

    def _self_trade(self, request: OrderRequest) -> GateDecision | None:
        for vt_orderid, working in self._working.items():
            if working.vt_symbol != request.vt_symbol or working.direction is request.direction \
                    or working.remaining <= 0:
                continue
            crosses = (request.price >= working.price if request.direction is Direction.LONG
                       else request.price <= working.price)
            if crosses:
                side = "buy" if request.direction is Direction.LONG else "sell"
                other = "sell" if request.direction is Direction.LONG else "buy"
                return GateDecision(False, "self_trade", f"a {side} at {request.price:g} could trade with our own "
                                    f"working {other} {vt_orderid} at {working.price:g}", {
                                        "price": request.price, "working_price": working.price,
                                        "working_order": vt_orderid})
        return None

    # ------------------------------------------------------------------ queries
    def counts(self, product: str) -> dict[str, int]:
        counts = self._counts.get(product, _DayCounts())
        return {"orders": counts.orders, "cancels": counts.cancels, "opened_lots": counts.opened_lots}

    def budget_level(self, product: str, is_option: bool) -> str:
        limits = self.limits.for_product(product, is_option)
        counts = self._counts.get(product, _DayCounts())
        level = "normal"
        for count, budget in ((counts.orders, limits.max_orders_per_day),
                              (counts.cancels, limits.max_cancels_per_day)):
            if count >= budget:
                return "stop"
            if count >= self.limits.warning_level(budget):
                level = "warning"
        return level

    def working_orders(self) -> list[str]:
        return list(self._working)

    def summary(self) -> dict:
        return {"refusals": {rule: self.refusals[rule] for rule in RULES if self.refusals[rule]},
                "refusal_total": sum(self.refusals.values()),
                "today": {product: self.counts(product) for product in sorted(self._counts)},
                "peak_per_day": {product: dict(peak) for product, peak in sorted(self.peak.items())}}

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ internals
    def _counts_of(self, product: str) -> _DayCounts:
        counts = self._counts.get(product)
        if counts is None:
            counts = self._counts[product] = _DayCounts()
        return counts

    def _note_peak(self, product: str, counts: _DayCounts) -> None:
        peak = self.peak.setdefault(product, {"orders": 0, "cancels": 0, "opened_lots": 0})
        peak["orders"] = max(peak["orders"], counts.orders)
        peak["cancels"] = max(peak["cancels"], counts.cancels)
        peak["opened_lots"] = max(peak["opened_lots"], counts.opened_lots)

    def _warn_if_due(self, product: str, kind: str, count: int, at: datetime) -> None:
        limits = self.limits.for_product(product, self._is_option.get(product, True))
        budget = limits.max_orders_per_day if kind == "orders" else limits.max_cancels_per_day
        warning = self.limits.warning_level(budget)
        for level, threshold in (("warning", warning), ("stop", budget)):
            key = (product, kind, level)
            if count >= threshold and key not in self._warned:
                self._warned.add(key)
                self._events.append(OrderBudgetWarningEvent(
                    at, product=product, kind=kind, count=count, warning_at=warning, budget=budget, level=level,
                    trading_day=self._day.isoformat() if self._day else ""))

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict:
        """The day's counts, the orders still working and the refusal counts, in plain JSON types."""
        return {
            "version": self.STATE_VERSION,
            "day": self._day.isoformat() if self._day else None,
            "counts": {p: [c.orders, c.cancels, c.opened_lots] for p, c in self._counts.items()},
            "is_option": dict(self._is_option),
            "warned": sorted(list(key) for key in self._warned),
            "working": {vt_orderid: [w.vt_symbol, w.product, w.direction.value, w.offset.value, w.price, w.remaining]
                        for vt_orderid, w in self._working.items()},
            "refusals": dict(self.refusals),
            "peak": {p: dict(v) for p, v in self.peak.items()},
        }

    def restore(self, data: Mapping) -> None:
        if data.get("version") != self.STATE_VERSION:
            raise ValueError(f"PreTradeGate state version {data.get('version')!r} is not {self.STATE_VERSION}")
        self._day = date.fromisoformat(data["day"]) if data.get("day") else None
        self._counts = {p: _DayCounts(*values) for p, values in data["counts"].items()}
        self._is_option = {p: bool(v) for p, v in data.get("is_option", {}).items()}
        self._warned = {tuple(key) for key in data.get("warned", [])}
        self._working = {vt_orderid: _Working(s, p, Direction(d), Offset(o), float(price), int(remaining))
                         for vt_orderid, (s, p, d, o, price, remaining) in data["working"].items()}
        self.refusals = Counter({rule: int(count) for rule, count in data.get("refusals", {}).items()})
        self.peak = {p: {k: int(v) for k, v in values.items()} for p, values in data.get("peak", {}).items()}


def _outside_limits(request: OrderRequest, context: GateContext) -> GateDecision | None:
    up, down = context.limit_up, context.limit_down
    if up is not None and request.price > up + 1e-9:
        return GateDecision(False, "price_limit", f"{request.price:g} is above the day's limit-up {up:g}",
                            {"price": request.price, "limit_up": up, "limit_down": down})
    if down is not None and request.price < down - 1e-9:
        return GateDecision(False, "price_limit", f"{request.price:g} is below the day's limit-down {down:g}",
                            {"price": request.price, "limit_up": up, "limit_down": down})
    return None
