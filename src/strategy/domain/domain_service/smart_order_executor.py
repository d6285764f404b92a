"""Works an ``OrderInstruction`` until it is filled, given up, or cancelled.

An *execution* is one instruction being worked; each order it sends to the
gateway is an *attempt* (one ``send_order`` call, which may come back as several
vt_orderids when the engine splits it).

Pricing
    The limit is the touch on the side that trades at once (the ask for a buy,
    the bid for a sell; the last price when the side is unknown, e.g. in bar
    backtests) moved ``slippage_ticks`` further in the aggressive direction,
    plus one more tick per retry, on the pricetick grid, rounded to the
    aggressive side and kept inside the day's price limits when they are known.
    A close escalates (``close_escalation_ticks`` > 0): its first resend is
    re-priced on the far touch as above, each later one that many more ticks
    through it, a ``CloseEscalatedEvent`` per resend.
    The latest market comes from ``update_price``; until one is known the
    instruction's own price is the reference.

Life cycle (``on_time(now)`` drives it; time is always passed in)
    - an attempt still active ``timeout_seconds`` after it was sent is cancelled
      (``OrderTimeoutEvent``); the cancel is asked again every timeout while the
      order stays active, so a lost cancel cannot leave an order working;
    - once no attempt is active the unfilled remainder is sent again, re-priced,
      after a timeout, a rejection, a cancel by someone else, or a send the
      gateway refused, up to ``max_retries`` times; then the execution is
      EXHAUSTED (``OrderRetryExhaustedEvent``).

Safety
    - At most one attempt is active at a time, and a remainder is only sent
      once the previous attempt is final, so the volume at the exchange never
      exceeds what is still missing.
    - Filled lots are counted per order as the larger of the order reports'
      ``traded`` and the sum of its distinct trades, so a report and its trades
      are never counted twice, whichever arrives first.
    - A fill on an attempt already reported final (a cancel that raced a fill)
      is still counted. If the working attempt now asks for more than is
      missing it is cancelled and the right remainder is sent; if the fills
      exceed the instruction an ``OrderOverfilledEvent`` says by how much, so
      the caller can correct it (unless the execution has a ``parent``, a
      child of an advanced order: its extra lots count towards the parent,
      which reports an overfill of the whole). No order is forgotten while it may be active:
      an execution leaves only through ``prune``, and only once finished.

Sessions
    Given ``TradingClocks``, the executor sends nothing outside the contract's
    trading sessions (the order waits for the next session minute) and counts
    the timeout in trading time, so an order resting over the lunch break is not
    cancelled at 13:00:00 for the 90 minutes of the break.

Reentrancy
    The gateway may call back synchronously (vnpy's backtester reports a cancel
    inside ``cancel_order``). Status and trade callbacks only record; gateway
    calls happen in ``submit``, ``cancel`` and ``on_time``, and a nested
    ``on_time`` returns at once.

The entry layer registers every order sent (``pop_sent_orders``) with its
``PositionAggregate`` before trades can arrive, and routes order and trade
callbacks here (``on_order_update``, ``on_trade``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum
from typing import NamedTuple

from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import STAGE_EXECUTION, DecisionRefusedEvent
from src.strategy.domain.event.order_events import (
    CloseEscalatedEvent,
    OrderOverfilledEvent,
    OrderRetryExhaustedEvent,
    OrderTimeoutEvent,
)
from src.strategy.domain.interface.trade_execution_gateway import ITradeExecutionGateway
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction, align_price
from src.strategy.domain.value_object.order_instruction_codec import (
    instruction_from_dict,
    instruction_to_dict,
    time_from_text,
    time_to_text,
)
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.validation import (
    require_aware,
    require_enum,
    require_int,
    require_positive,
    require_text,
)


class ExecutionStatus(Enum):
    WORKING = "WORKING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    EXHAUSTED = "EXHAUSTED"

    @property
    def is_finished(self) -> bool:
        return self in (ExecutionStatus.COMPLETED, ExecutionStatus.CANCELLED, ExecutionStatus.EXHAUSTED)


class AttemptOutcome(Enum):
    FILLED = "FILLED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    REFUSED = "REFUSED"                      # the gateway returned no vt_orderid
    CANCELLED_ELSEWHERE = "CANCELLED_ELSEWHERE"  # cancelled by the exchange or by hand
    RESIZED = "RESIZED"                      # cancelled because a late fill made it too large
    CANCELLED_BY_CALLER = "CANCELLED_BY_CALLER"

    @property
    def is_failure(self) -> bool:
        """Outcomes after which sending the remainder again counts as a retry."""
        return self in (AttemptOutcome.TIMED_OUT, AttemptOutcome.REJECTED, AttemptOutcome.REFUSED,
                        AttemptOutcome.CANCELLED_ELSEWHERE)



@dataclass(frozen=True)
class SentOrder:
    """One order placed at the gateway: what the caller registers with its position book."""

    execution_id: str
    vt_orderid: str
    instruction: OrderInstruction
    sent_at: datetime


@dataclass(frozen=True)
class ExecutionView:
    """A read-only picture of one execution."""

    execution_id: str
    instruction: OrderInstruction
    status: ExecutionStatus
    filled: int
    attempts: int
    retries_used: int
    active_vt_orderids: tuple[str, ...]
    open_volume: int
    average_fill_price: float | None
    created_at: datetime
    updated_at: datetime
    last_outcome: AttemptOutcome | None
    parent: str | None = None

    @property
    def remaining(self) -> int:
        return max(self.instruction.volume - self.filled, 0)

    @property
    def is_finished(self) -> bool:
        return self.status.is_finished


class _Quote(NamedTuple):  # a tuple: one is made per contract per bar
    bid: float | None
    ask: float | None
    last: float | None
    limit_up: float | None
    limit_down: float | None


def _plain_side(value: float | None) -> bool:
    """A side ``_side`` would keep as it is: unknown, or a positive finite float."""
    return value is None or (type(value) is float and 0.0 < value < math.inf)


def _side(owner: str, name: str, value: float | None) -> float | None:
    """A price of the book, None when unknown or absent (zero or below)."""
    return None if value is None or value <= 0 else require_positive(owner, name, value)


@dataclass(eq=False)
class _ChildOrder:
    vt_orderid: str
    status: OrderStatus = OrderStatus.SUBMITTING
    reported_traded: int = 0
    trades: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.status.is_active

    @property
    def filled(self) -> int:
        return max(self.reported_traded, sum(volume for volume, _ in self.trades.values()))

    def to_dict(self) -> dict:
        return {"vt_orderid": self.vt_orderid, "status": self.status.value, "reported_traded": self.reported_traded,
                "trades": {tradeid: [volume, price] for tradeid, (volume, price) in self.trades.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> _ChildOrder:
        return cls(vt_orderid=data["vt_orderid"], status=OrderStatus(data["status"]),
                   reported_traded=data["reported_traded"],
                   trades={tradeid: (int(volume), float(price)) for tradeid, (volume, price) in data["trades"].items()})


@dataclass(eq=False)
class _Attempt:
    number: int
    volume: int
    price: float
    sent_at: datetime
    children: list[_ChildOrder]
    cancel_reason: AttemptOutcome | None = None
    cancel_requested_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return any(child.is_active for child in self.children)

    @property
    def filled(self) -> int:
        return sum(child.filled for child in self.children)

    @property
    def open_volume(self) -> int:
        return max(self.volume - self.filled, 0) if self.is_active else 0

    def active_vt_orderids(self) -> list[str]:
        return [child.vt_orderid for child in self.children if child.is_active]

    def outcome(self) -> AttemptOutcome | None:
        """How a final attempt ended (None while it is active)."""
        if self.is_active:
            return None
        if not self.children:
            return AttemptOutcome.REFUSED
        if self.filled >= self.volume:
            return AttemptOutcome.FILLED
        if self.cancel_reason is not None:
            return self.cancel_reason
        if any(child.status is OrderStatus.REJECTED for child in self.children):
            return AttemptOutcome.REJECTED
        return AttemptOutcome.CANCELLED_ELSEWHERE

    def to_dict(self) -> dict:
        return {"number": self.number, "volume": self.volume, "price": self.price,
                "sent_at": self.sent_at.isoformat(), "children": [child.to_dict() for child in self.children],
                "cancel_reason": self.cancel_reason.value if self.cancel_reason else None,
                "cancel_requested_at": time_to_text(self.cancel_requested_at)}

    @classmethod
    def from_dict(cls, data: Mapping) -> _Attempt:
        return cls(number=data["number"], volume=data["volume"], price=data["price"],
                   sent_at=time_from_text(data["sent_at"], "_Attempt", "sent_at"),
                   children=[_ChildOrder.from_dict(item) for item in data["children"]],
                   cancel_reason=AttemptOutcome(data["cancel_reason"]) if data["cancel_reason"] else None,
                   cancel_requested_at=time_from_text(data["cancel_requested_at"], "_Attempt", "cancel_requested_at"))


@dataclass(eq=False)
class _Execution:
    execution_id: str
    instruction: OrderInstruction
    created_at: datetime
    updated_at: datetime
    status: ExecutionStatus = ExecutionStatus.WORKING
    attempts: list[_Attempt] = field(default_factory=list)
    retries_used: int = 0
    overfill_reported: int = 0
    finish_reason: str = ""
    parent: str | None = None

    @property
    def filled(self) -> int:
        return sum(attempt.filled for attempt in self.attempts)

    @property
    def current(self) -> _Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def active_attempt(self) -> _Attempt | None:
        current = self.current
        return current if current is not None and current.is_active else None

    @property
    def missing(self) -> int:
        return max(self.instruction.volume - self.filled, 0)

    def view(self) -> ExecutionView:
        active = self.active_attempt
        trades = [trade for attempt in self.attempts for child in attempt.children for trade in child.trades.values()]
        traded_volume = sum(volume for volume, _ in trades)
        average = sum(volume * price for volume, price in trades) / traded_volume if traded_volume else None
        current = self.current
        return ExecutionView(
            execution_id=self.execution_id, instruction=self.instruction, status=self.status, filled=self.filled,
            attempts=len(self.attempts), retries_used=self.retries_used,
            active_vt_orderids=tuple(active.active_vt_orderids()) if active else (),
            open_volume=active.open_volume if active else 0, average_fill_price=average,
            created_at=self.created_at, updated_at=self.updated_at,
            last_outcome=current.outcome() if current is not None else None, parent=self.parent)

    def to_dict(self) -> dict:
        return {"execution_id": self.execution_id, "instruction": instruction_to_dict(self.instruction),
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
                "status": self.status.value, "attempts": [attempt.to_dict() for attempt in self.attempts],
                "retries_used": self.retries_used, "overfill_reported": self.overfill_reported,
                "finish_reason": self.finish_reason, "parent": self.parent}

    @classmethod
    def from_dict(cls, data: Mapping) -> _Execution:
        return cls(execution_id=data["execution_id"], instruction=instruction_from_dict(data["instruction"]),
                   created_at=time_from_text(data["created_at"], "_Execution", "created_at"),
                   updated_at=time_from_text(data["updated_at"], "_Execution", "updated_at"),
                   status=ExecutionStatus(data["status"]),
                   attempts=[_Attempt.from_dict(item) for item in data["attempts"]],
                   retries_used=data["retries_used"], overfill_reported=data["overfill_reported"],
                   finish_reason=data["finish_reason"], parent=data["parent"])


def aggressive_limit_price(direction: Direction, reference: float, ticks: int, pricetick: float,
                           limit_up: float | None = None, limit_down: float | None = None) -> float:
    """``reference`` moved ``ticks`` ticks towards the other side of the book, on the tick grid.

    Rounding goes to the aggressive side (up for a buy, down for a sell), so the
    order is never less marketable than ``ticks`` asked for; the price limits,
    when given, win over that (an order beyond them is rejected by the exchange).
    """
    owner = "aggressive_limit_price"
    reference = require_positive(owner, "reference", reference)
    pricetick = require_positive(owner, "pricetick", pricetick)
    ticks = require_int(owner, "ticks", ticks, 0)
    tick = Decimal(repr(pricetick))
    raw = Decimal(repr(reference)) + direction.sign * ticks * tick
    rounding = ROUND_CEILING if direction is Direction.LONG else ROUND_FLOOR
    steps = (raw / tick).to_integral_value(rounding=rounding)
    price = float(max(steps, Decimal(1)) * tick)
    if limit_up is not None and price > limit_up:
        price = align_price(limit_up, pricetick, Direction.LONG)
    if limit_down is not None and price < limit_down:
        price = align_price(limit_down, pricetick, Direction.SHORT)
    return price


class SmartOrderExecutor:
    STATE_VERSION = 1

    def __init__(self, gateway: ITradeExecutionGateway, settings: ExecutionSettings,
                 clocks: TradingClocks | None = None) -> None:
        if not isinstance(settings, ExecutionSettings):
            raise TypeError(f"SmartOrderExecutor.settings must be ExecutionSettings, got {type(settings).__name__}")
        if clocks is not None and not isinstance(clocks, TradingClocks):
            raise TypeError(f"SmartOrderExecutor.clocks must be TradingClocks, got {type(clocks).__name__}")
        self._gateway = gateway
        self._settings = settings
        self._clocks = clocks
        self._priceticks: dict[str, float] = {}
        self._quotes: dict[str, _Quote] = {}
        self._executions: dict[str, _Execution] = {}
        self._by_vt_orderid: dict[str, str] = {}
        self._next_number = 1
        self._events: list[DomainEvent] = []
        self._sent: list[SentOrder] = []
        self._pumping = False

    @property
    def settings(self) -> ExecutionSettings:
        return self._settings

    # --- contracts and prices ----------------------------------------------

    def register_contract(self, params: ContractParams) -> None:
        self.register_pricetick(params.vt_symbol, params.pricetick)

    def register_pricetick(self, vt_symbol: str, pricetick: float) -> None:
        require_text("SmartOrderExecutor", "vt_symbol", vt_symbol)
        self._priceticks[vt_symbol] = require_positive("SmartOrderExecutor", "pricetick", pricetick)

    def update_price(self, vt_symbol: str, bid: float | None = None, ask: float | None = None,
                     last: float | None = None, *, limit_up: float | None = None,
                     limit_down: float | None = None) -> None:
        """The latest market of a contract; a side that is unknown (or absent from the book) is None."""
        if (limit_up is None and limit_down is None and type(last) is float and 0.0 < last < math.inf
                and _plain_side(bid) and _plain_side(ask) and type(vt_symbol) is str and vt_symbol.strip()):
            # a bar backtest's close (and the touch its bar leaves), once per bar and contract: what the checks
            # below would keep
            self._quotes[vt_symbol] = _Quote(bid, ask, last, None, None)
            return
        owner = f"SmartOrderExecutor.update_price({vt_symbol!r})"
        require_text(owner, "vt_symbol", vt_symbol)
        self._quotes[vt_symbol] = _Quote(_side(owner, "bid", bid), _side(owner, "ask", ask),
                                         _side(owner, "last", last), _side(owner, "limit_up", limit_up),
                                         _side(owner, "limit_down", limit_down))

    # --- commands ----------------------------------------------------------

    def submit(self, instruction: OrderInstruction, now: datetime, execution_id: str | None = None,
               parent: str | None = None) -> str:
        """Starts working ``instruction`` and sends its first order; returns the execution id.

        With trading clocks, an instruction submitted outside the sessions waits for
        ``on_time`` in the next session. ``parent`` names the advanced order this
        execution is a child of (it then reports overfills instead).
        """
        if not isinstance(instruction, OrderInstruction):
            raise TypeError(f"SmartOrderExecutor.submit needs an OrderInstruction, got {type(instruction).__name__}")
        require_aware("SmartOrderExecutor.submit", "now", now)
        if instruction.vt_symbol not in self._priceticks:
            raise ValueError(f"SmartOrderExecutor: pricetick of {instruction.vt_symbol} unknown; "
                             f"register its ContractParams first")
        if execution_id is None:
            while f"exec-{self._next_number}" in self._executions:
                self._next_number += 1
            execution_id = f"exec-{self._next_number}"
            self._next_number += 1
        require_text("SmartOrderExecutor.submit", "execution_id", execution_id)
        if execution_id in self._executions:
            raise ValueError(f"SmartOrderExecutor: execution {execution_id} already exists")
        if parent is not None:
            require_text("SmartOrderExecutor.submit", "parent", parent)
        execution = _Execution(execution_id, instruction, created_at=now, updated_at=now, parent=parent)
        self._executions[execution_id] = execution
        self._send(execution, now)
        return execution_id

    def cancel(self, execution_id: str, now: datetime, reason: str = "cancelled by the caller") -> bool:
        """Stops working an execution: its active order is cancelled and nothing more is sent.

        Returns False for an unknown or already finished execution. It becomes
        CANCELLED once its order is final (at once when none is active).
        """
        require_aware("SmartOrderExecutor.cancel", "now", now)
        execution = self._executions.get(execution_id)
        if execution is None or execution.status.is_finished:
            return False
        if execution.status is not ExecutionStatus.CANCELLING:
            execution.status = ExecutionStatus.CANCELLING
            execution.finish_reason = reason
            execution.updated_at = now
        active = execution.active_attempt
        if active is not None and active.cancel_requested_at is None:
            self._request_cancel(active, AttemptOutcome.CANCELLED_BY_CALLER, now)
        self._settle(execution, now)
        return True

    def cancel_all(self, now: datetime, reason: str = "strategy stopping") -> int:
        """Cancels every unfinished execution (e.g. on stop); returns how many."""
        count = 0
        for execution_id in [e.execution_id for e in self._executions.values() if not e.status.is_finished]:
            count += self.cancel(execution_id, now, reason)
        return count

    # --- gateway callbacks -------------------------------------------------

    def on_order_update(self, vt_orderid: str, status: OrderStatus, traded: int, at: datetime) -> bool:
        """Applies an order status report; returns False for an order this executor did not send.

        Reports may arrive out of order: a status moves only as ``ORDER_STATUS_TRANSITIONS``
        allows (a final status stays), and ``traded`` only ever grows.
        """
        owner = "SmartOrderExecutor.on_order_update"
        require_enum(owner, "status", status, OrderStatus)
        traded = require_int(owner, "traded", traded, 0)
        require_aware(owner, "at", at)
        found = self._find(vt_orderid)
        if found is None:
            return False
        execution, _, child = found
        child.reported_traded = max(child.reported_traded, traded)
        if child.status.can_move_to(status):
            child.status = status
        execution.updated_at = max(execution.updated_at, at)
        self._after_fill_or_status(execution, at)
        return True

    def on_trade(self, vt_orderid: str, vt_tradeid: str, volume: int, price: float, at: datetime) -> bool:
        """Applies a fill; returns False for an order this executor did not send or a trade already seen."""
        owner = "SmartOrderExecutor.on_trade"
        require_text(owner, "vt_tradeid", vt_tradeid)
        volume = require_int(owner, "volume", volume, 1)
        price = require_positive(owner, "price", price)
        require_aware(owner, "at", at)
        found = self._find(vt_orderid)
        if found is None:
            return False
        execution, _, child = found
        if vt_tradeid in child.trades:
            return False
        child.trades[vt_tradeid] = (volume, price)
        execution.updated_at = max(execution.updated_at, at)
        self._after_fill_or_status(execution, at)
        return True

    # --- the clock ---------------------------------------------------------

    def on_time(self, now: datetime) -> None:
        """Cancels timed-out orders and sends remainders; call on every bar, tick or timer."""
        require_aware("SmartOrderExecutor.on_time", "now", now)
        if self._pumping:
            return
        self._pumping = True
        try:
            for execution in list(self._executions.values()):
                if not execution.status.is_finished:
                    self._work(execution, now)
        finally:
            self._pumping = False

    def _work(self, execution: _Execution, now: datetime) -> None:
        active = execution.active_attempt
        if active is not None:
            timeout = self._settings.timeout_seconds
            symbol = execution.instruction.vt_symbol
            if active.cancel_requested_at is None:
                if execution.filled + active.open_volume > execution.instruction.volume:
                    self._request_cancel(active, AttemptOutcome.RESIZED, now)
                elif execution.status is ExecutionStatus.CANCELLING:
                    self._request_cancel(active, AttemptOutcome.CANCELLED_BY_CALLER, now)
                elif self._elapsed(symbol, active.sent_at, now) >= timeout:
                    for vt_orderid in active.active_vt_orderids():
                        self._events.append(OrderTimeoutEvent(now, vt_orderid=vt_orderid,
                                                              vt_symbol=execution.instruction.vt_symbol,
                                                              timeout_seconds=self._settings.timeout_seconds))
                    self._request_cancel(active, AttemptOutcome.TIMED_OUT, now)
            elif self._elapsed(symbol, active.cancel_requested_at, now) >= timeout:
                # The cancel was lost or refused: ask again rather than forget a live order.
                self._request_cancel(active, active.cancel_reason, now)
            if execution.active_attempt is not None:
                return
        self._settle(execution, now)
        if not execution.status.is_finished:
            self._send(execution, now)

    # --- internals ---------------------------------------------------------

    def _elapsed(self, vt_symbol: str, since: datetime, now: datetime) -> float:
        if self._clocks is None:
            return (now - since).total_seconds()
        return self._clocks.for_symbol(vt_symbol).trading_seconds_between(since, now)

    def _can_send(self, vt_symbol: str, now: datetime) -> bool:
        return self._clocks is None or self._clocks.for_symbol(vt_symbol).is_trading(now)

    def _find(self, vt_orderid: str) -> tuple[_Execution, _Attempt, _ChildOrder] | None:
        execution_id = self._by_vt_orderid.get(vt_orderid)
        if execution_id is None:
            return None
        execution = self._executions[execution_id]
        for attempt in execution.attempts:
            for child in attempt.children:
                if child.vt_orderid == vt_orderid:
                    return execution, attempt, child
        raise AssertionError(f"order {vt_orderid} is indexed but not held by {execution_id}")

    def _after_fill_or_status(self, execution: _Execution, at: datetime) -> None:
        volume = execution.instruction.volume
        excess = execution.filled - volume
        if execution.parent is None and excess > execution.overfill_reported:
            execution.overfill_reported = excess
            instruction = execution.instruction
            self._events.append(OrderOverfilledEvent(
                at, order_id=execution.execution_id, vt_symbol=instruction.vt_symbol,
                direction=instruction.direction, offset=instruction.offset, volume=volume,
                filled=execution.filled, excess=excess))
        self._settle(execution, at)

    def _settle(self, execution: _Execution, at: datetime) -> None:
        """Finishes an execution that has no active order and nothing left to do."""
        if execution.status.is_finished or execution.active_attempt is not None:
            return
        if execution.missing == 0:
            self._finish(execution, ExecutionStatus.COMPLETED, "filled", at)
        elif execution.status is ExecutionStatus.CANCELLING:
            self._finish(execution, ExecutionStatus.CANCELLED, execution.finish_reason, at)
        elif self._needs_retry(execution) and execution.retries_used >= self._settings.max_retries:
            current = execution.current
            outcome = current.outcome()
            reason = (f"{outcome.value.lower().replace('_', ' ')} after {len(execution.attempts)} attempt(s); "
                      f"{execution.filled} of {execution.instruction.volume} filled")
            self._finish(execution, ExecutionStatus.EXHAUSTED, reason, at)
            last_vt_orderid = current.children[-1].vt_orderid if current.children else None
            self._events.append(OrderRetryExhaustedEvent(
                at, vt_symbol=execution.instruction.vt_symbol, attempts=len(execution.attempts),
                last_vt_orderid=last_vt_orderid, reason=reason))

    @staticmethod
    def _needs_retry(execution: _Execution) -> bool:
        current = execution.current
        return current is not None and current.outcome().is_failure

    @staticmethod
    def _finish(execution: _Execution, status: ExecutionStatus, reason: str, at: datetime) -> None:
        execution.status = status
        execution.finish_reason = reason
        execution.updated_at = max(execution.updated_at, at)

    def _request_cancel(self, attempt: _Attempt, reason: AttemptOutcome, now: datetime) -> None:
        # State first: the gateway may report the cancel before cancel_order returns.
        attempt.cancel_reason = reason
        attempt.cancel_requested_at = now
        for vt_orderid in attempt.active_vt_orderids():
            self._gateway.cancel_order(vt_orderid)

    def _send(self, execution: _Execution, now: datetime) -> None:
        volume = execution.missing
        if volume <= 0 or execution.active_attempt is not None:
            return
        if not self._can_send(execution.instruction.vt_symbol, now):
            return
        retried = self._needs_retry(execution)
        if retried:
            execution.retries_used += 1
        instruction = execution.instruction
        ticks = self._settings.slippage_ticks + execution.retries_used
        escalates = self._escalates(instruction)
        if escalates:  # a close keeps its escalation on every later send, a resized remainder's too
            ticks += self._settings.close_escalation_ticks * max(execution.retries_used - 1, 0)
        price = self._limit_price(instruction, ticks)
        if retried and escalates:
            self._record_escalation(execution, volume, price, ticks, now)
        child = replace(instruction, volume=volume, price=price)
        attempt = _Attempt(number=len(execution.attempts) + 1, volume=volume, price=price, sent_at=now, children=[])
        execution.attempts.append(attempt)
        execution.updated_at = max(execution.updated_at, now)
        vt_orderids = list(self._gateway.send_order(child))
        for vt_orderid in vt_orderids:
            if vt_orderid in self._by_vt_orderid:
                raise ValueError(f"SmartOrderExecutor: the gateway returned order id {vt_orderid} twice")
            self._by_vt_orderid[vt_orderid] = execution.execution_id
            attempt.children.append(_ChildOrder(vt_orderid))
            self._sent.append(SentOrder(execution.execution_id, vt_orderid, child, now))
        if not vt_orderids:
            self._events.append(DecisionRefusedEvent(
                now, stage=STAGE_EXECUTION, vt_symbol=instruction.vt_symbol,
                reason=f"the gateway refused attempt {attempt.number} of execution {execution.execution_id} "
                       f"({instruction.direction.value} {instruction.offset.value} {volume} @ {price})"))
            self._settle(execution, now)

    def _reference(self, instruction: OrderInstruction) -> tuple[float, str]:
        """The price the limit is counted from, and what it is: the far touch (the side that trades at
        once), else the last price, else the instruction's own price."""
        quote = self._quotes.get(instruction.vt_symbol)
        if quote is not None:
            touch = quote.ask if instruction.direction is Direction.LONG else quote.bid
            if touch is not None:
                return touch, "far touch"
            if quote.last is not None:
                return quote.last, "last price"
        return instruction.price, "instruction price"

    def _limit_price(self, instruction: OrderInstruction, ticks: int) -> float:
        quote = self._quotes.get(instruction.vt_symbol)
        reference, _ = self._reference(instruction)
        return aggressive_limit_price(instruction.direction, reference, ticks, self._priceticks[instruction.vt_symbol],
                                      quote.limit_up if quote else None, quote.limit_down if quote else None)

    def _escalates(self, instruction: OrderInstruction) -> bool:
        """Closes escalate when they are sent again (an opening may simply not happen; a close must)."""
        return instruction.offset is Offset.CLOSE and self._settings.close_escalation_ticks > 0

    def _record_escalation(self, execution: _Execution, volume: int, price: float, ticks: int,
                           now: datetime) -> None:
        instruction = execution.instruction
        step = execution.retries_used
        reference, source = self._reference(instruction)
        quote = self._quotes.get(instruction.vt_symbol)
        limit = (quote.limit_up if instruction.direction is Direction.LONG else quote.limit_down) if quote else None
        stage = CloseEscalatedEvent.FAR_TOUCH if step == 1 else CloseEscalatedEvent.MARKETABLE
        bounded = limit is not None and price == align_price(limit, self._priceticks[instruction.vt_symbol],
                                                             instruction.direction)
        self._events.append(CloseEscalatedEvent(
            now, execution_id=execution.execution_id, vt_symbol=instruction.vt_symbol,
            direction=instruction.direction, volume=volume, step=step, stage=stage, price=price,
            reference=reference, reference_source=source, ticks=ticks,
            detail=f"{instruction.reason}: resend {step} at {price:g}, {ticks} tick(s) through the {source} "
                   f"{reference:g}" + (f" (held at the price limit {limit:g})" if bounded else "")))

    # --- queries -----------------------------------------------------------

    def execution(self, execution_id: str) -> ExecutionView | None:
        execution = self._executions.get(execution_id)
        return execution.view() if execution is not None else None

    def executions(self) -> list[ExecutionView]:
        return [execution.view() for execution in self._executions.values()]

    def working_executions(self) -> list[ExecutionView]:
        return [execution.view() for execution in self._executions.values() if not execution.status.is_finished]

    def owns(self, vt_orderid: str) -> bool:
        return vt_orderid in self._by_vt_orderid

    def execution_id_of(self, vt_orderid: str) -> str | None:
        return self._by_vt_orderid.get(vt_orderid)

    def active_vt_orderids(self) -> list[str]:
        """Every order this executor believes may still be working at the gateway."""
        return [vt_orderid for execution in self._executions.values() for attempt in execution.attempts
                for vt_orderid in attempt.active_vt_orderids()]

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events

    def pop_sent_orders(self) -> list[SentOrder]:
        sent, self._sent = self._sent, []
        return sent

    # --- housekeeping ------------------------------------------------------

    def prune(self, before: datetime, keep: Iterable[str] = ()) -> int:
        """Forgets finished executions last updated before ``before`` (except ``keep``); returns how many.

        Keep the day's executions: a late fill of a forgotten one can no longer be
        matched (the caller's position book still applies it).
        """
        require_aware("SmartOrderExecutor.prune", "before", before)
        kept = set(keep)
        old = [e for e in self._executions.values()
               if e.status.is_finished and e.active_attempt is None and e.updated_at < before
               and e.execution_id not in kept]
        for execution in old:
            for attempt in execution.attempts:
                for child in attempt.children:
                    self._by_vt_orderid.pop(child.vt_orderid, None)
            del self._executions[execution.execution_id]
        return len(old)

    # --- state -------------------------------------------------------------

    def to_dict(self) -> dict:
        """Executions, priceticks and the id counter, in plain JSON types (drain events first).

        Quotes are market data, not state: feed ``update_price`` again after a restart.
        """
        return {
            "version": self.STATE_VERSION,
            "next_number": self._next_number,
            "priceticks": dict(self._priceticks),
            "executions": [execution.to_dict() for execution in self._executions.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping, gateway: ITradeExecutionGateway, settings: ExecutionSettings,
                  clocks: TradingClocks | None = None) -> SmartOrderExecutor:
        version = data.get("version")
        if version != cls.STATE_VERSION:
            raise ValueError(f"SmartOrderExecutor state version {version!r} is not {cls.STATE_VERSION}; "
                             f"migrate it first")
        executor = cls(gateway, settings, clocks)
        executor._next_number = data["next_number"]
        for vt_symbol, pricetick in data["priceticks"].items():
            executor.register_pricetick(vt_symbol, pricetick)
        for item in data["executions"]:
            execution = _Execution.from_dict(item)
            executor._executions[execution.execution_id] = execution
            for attempt in execution.attempts:
                for child in attempt.children:
                    executor._by_vt_orderid[child.vt_orderid] = execution.execution_id
        return executor

