"""Works icebergs and TWAP orders as a sequence of child orders through ``SmartOrderExecutor``.

Rules common to both kinds
    - One child at a time: the next child is sent only once the previous one is
      finished, so the lots at the exchange never exceed what is still missing.
    - No child is sent outside the contract's trading sessions (``TradingClock``);
      a child due in a break goes out at the next session minute.
    - The total filled is the sum of the children's fills as the executor counts
      them, late fills included. If the working child asks for more than is still
      missing (a late fill on an earlier child), it is cancelled and replaced by
      the right remainder; fills beyond the order's volume are reported with an
      ``OrderOverfilledEvent``, also when they arrive after the order finished
      (finished orders are watched until ``prune`` drops them).

ICEBERG
    Shows ``batch_size`` lots (less for the last batch); the next batch goes out
    once the visible one has filled. A batch the executor gives up on (retries
    exhausted) or that is cancelled elsewhere ends the iceberg as INCOMPLETE:
    chasing further would show the market more than the iceberg means to.

TWAP
    ``slices`` slices spread evenly over ``window_seconds`` of trading time from
    the first trading moment at or after ``created_at``; slice i is due after
    ``i * window / slices`` trading seconds, and the cumulative target after
    slice i is ``floor((i + 1) * volume / slices)``. When a slice falls due, the
    child still working (if any) is cancelled and one child for everything due
    and not yet filled is sent, so the unfilled part of a slice is carried into
    the next one. After the last slice, the child is left to the executor
    (timeouts, retries); if it ends short the TWAP is INCOMPLETE.

``on_time(now)`` drives it all; call it on every bar, tick or timer, before
``SmartOrderExecutor.on_time`` (so a slice replacing a child is not first
re-priced by the executor). Events: ``AdvancedOrderFinishedEvent`` when an
order ends, ``OrderOverfilledEvent`` for an overfill across children.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from src.strategy.domain.domain_service.smart_order_executor import (
    ExecutionStatus,
    ExecutionView,
    SmartOrderExecutor,
)
from src.strategy.domain.domain_service.trading_clock import TradingClock, TradingClocks
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.order_events import AdvancedOrderFinishedEvent, OrderOverfilledEvent
from src.strategy.domain.value_object.advanced_order import (  # AdvancedOrderStatus is kept importable from here
    AdvancedOrder,
    AdvancedOrderKind,
    AdvancedOrderSettings,
    AdvancedOrderStatus,
)
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_instruction_codec import time_from_text, time_to_text
from src.strategy.domain.value_object.validation import require_aware, require_text


@dataclass(frozen=True)
class TwapSlice:
    """Slice ``index`` (0-based) is due at ``due_at``; ``cumulative`` lots should be done by then."""

    index: int
    due_at: datetime
    volume: int
    cumulative: int


def twap_schedule(order: AdvancedOrder, clock: TradingClock) -> tuple[TwapSlice, ...]:
    """The slices of a TWAP order: trading-time spaced, volumes summing to the order's volume."""
    if order.kind is not AdvancedOrderKind.TWAP:
        raise ValueError(f"twap_schedule: order {order.order_id} is an {order.kind.value}, not a TWAP")
    start = clock.next_trading_moment(order.created_at)
    count, volume = order.slices, order.volume
    interval = order.window_seconds / count
    slices = []
    for index in range(count):
        before, through = index * volume // count, (index + 1) * volume // count
        slices.append(TwapSlice(index, clock.add_trading_seconds(start, index * interval), through - before, through))
    return tuple(slices)


@dataclass(frozen=True)
class AdvancedOrderView:
    order: AdvancedOrder
    status: AdvancedOrderStatus
    filled: int
    child_execution_ids: tuple[str, ...]
    working_child: str | None
    finish_reason: str

    @property
    def remaining(self) -> int:
        return max(self.order.volume - self.filled, 0)


@dataclass(eq=False)
class _Record:
    order: AdvancedOrder
    slices: tuple[TwapSlice, ...] = ()
    status: AdvancedOrderStatus = AdvancedOrderStatus.WORKING
    child_fills: dict[str, int] = field(default_factory=dict)
    sent_through: int = 0
    replace_pending: bool = False
    finish_reason: str = ""
    overfill_reported: int = 0
    finished_at: datetime | None = None

    @property
    def filled(self) -> int:
        return sum(self.child_fills.values())

    @property
    def last_child(self) -> str | None:
        return next(reversed(self.child_fills), None)

    def to_dict(self) -> dict:
        return {
            "order": self.order.to_dict(),
            "slices": [[s.index, s.due_at.isoformat(), s.volume, s.cumulative] for s in self.slices],
            "status": self.status.value,
            "child_fills": [[child, filled] for child, filled in self.child_fills.items()],
            "sent_through": self.sent_through,
            "replace_pending": self.replace_pending,
            "finish_reason": self.finish_reason,
            "overfill_reported": self.overfill_reported,
            "finished_at": time_to_text(self.finished_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> _Record:
        return cls(
            order=AdvancedOrder.from_dict(data["order"]),
            slices=tuple(TwapSlice(index, time_from_text(due, "TwapSlice", "due_at"), volume, cumulative)
                         for index, due, volume, cumulative in data["slices"]),
            status=AdvancedOrderStatus(data["status"]),
            child_fills={child: filled for child, filled in data["child_fills"]},
            sent_through=data["sent_through"],
            replace_pending=data["replace_pending"],
            finish_reason=data["finish_reason"],
            overfill_reported=data["overfill_reported"],
            finished_at=time_from_text(data["finished_at"], "AdvancedOrder", "finished_at"),
        )


class AdvancedOrderScheduler:
    STATE_VERSION = 1

    def __init__(self, executor: SmartOrderExecutor, settings: AdvancedOrderSettings,
                 clocks: TradingClocks | None = None) -> None:
        if not isinstance(settings, AdvancedOrderSettings):
            raise TypeError(f"AdvancedOrderScheduler.settings must be AdvancedOrderSettings, "
                            f"got {type(settings).__name__}")
        self._executor = executor
        self._settings = settings
        self._clocks = clocks if clocks is not None else TradingClocks()
        self._records: dict[str, _Record] = {}
        self._next_number = 1
        self._events: list[DomainEvent] = []
        self._pumping = False

    # --- commands ----------------------------------------------------------

    def submit_iceberg(self, instruction: OrderInstruction, now: datetime, batch_size: int | None = None,
                       order_id: str | None = None) -> str:
        size = batch_size if batch_size is not None else self._settings.default_iceberg_batch_size
        return self.submit(AdvancedOrder.iceberg(self._new_id(order_id), instruction, size, now))

    def submit_twap(self, instruction: OrderInstruction, now: datetime, slices: int | None = None,
                    window_seconds: float | None = None, order_id: str | None = None) -> str:
        count = slices if slices is not None else self._settings.default_twap_slices
        window = window_seconds if window_seconds is not None else self._settings.default_time_window_seconds
        return self.submit(AdvancedOrder.twap(self._new_id(order_id), instruction, count, window, now))

    def submit(self, order: AdvancedOrder) -> str:
        """Starts working ``order`` at its ``created_at`` (the first child goes out at once when due)."""
        if not isinstance(order, AdvancedOrder):
            raise TypeError(f"AdvancedOrderScheduler.submit needs an AdvancedOrder, got {type(order).__name__}")
        if order.order_id in self._records:
            raise ValueError(f"AdvancedOrderScheduler: order {order.order_id} already exists")
        clock = self._clocks.for_symbol(order.vt_symbol)
        slices = twap_schedule(order, clock) if order.kind is AdvancedOrderKind.TWAP else ()
        record = _Record(order, slices)
        self._records[order.order_id] = record
        self._work(record, order.created_at)
        return order.order_id

    def cancel(self, order_id: str, now: datetime, reason: str = "cancelled by the caller") -> bool:
        """Stops an order: its working child is cancelled; CANCELLED once the child is final."""
        require_aware("AdvancedOrderScheduler.cancel", "now", now)
        record = self._records.get(order_id)
        if record is None or record.status.is_finished:
            return False
        record.status = AdvancedOrderStatus.CANCELLING
        record.finish_reason = reason
        self._work(record, now)
        return True

    def cancel_all(self, now: datetime, reason: str = "strategy stopping") -> int:
        """Cancels every unfinished order (call before ``SmartOrderExecutor.cancel_all``); returns how many."""
        return sum(self.cancel(order_id, now, reason) for order_id, record in list(self._records.items())
                   if not record.status.is_finished)

    def on_time(self, now: datetime) -> None:
        require_aware("AdvancedOrderScheduler.on_time", "now", now)
        if self._pumping:
            return
        self._pumping = True
        try:
            for record in list(self._records.values()):
                if record.status.is_finished:
                    self._refresh(record, now)  # a late fill may still overfill it
                else:
                    self._work(record, now)
        finally:
            self._pumping = False

    # --- the work ----------------------------------------------------------

    def _new_id(self, order_id: str | None) -> str:
        if order_id is not None:
            return require_text("AdvancedOrderScheduler", "order_id", order_id)
        while f"adv-{self._next_number}" in self._records:
            self._next_number += 1
        order_id = f"adv-{self._next_number}"
        self._next_number += 1
        return order_id

    def _refresh(self, record: _Record, now: datetime) -> ExecutionView | None:
        """Updates the children's fills from the executor; returns the working child, if any."""
        working = None
        for child_id in record.child_fills:
            view = self._executor.execution(child_id)
            if view is None:
                continue  # pruned by the caller: its last known fill stands
            record.child_fills[child_id] = view.filled
            if not view.is_finished:
                working = view
        excess = record.filled - record.order.volume
        if excess > record.overfill_reported:
            record.overfill_reported = excess
            instruction = record.order.instruction
            self._events.append(OrderOverfilledEvent(
                now, order_id=record.order.order_id, vt_symbol=instruction.vt_symbol,
                direction=instruction.direction, offset=instruction.offset,
                volume=instruction.volume, filled=record.filled, excess=excess))
        return working

    def _work(self, record: _Record, now: datetime) -> None:
        working = self._refresh(record, now)
        order = record.order
        if record.status is AdvancedOrderStatus.CANCELLING:
            if working is not None:
                self._executor.cancel(working.execution_id, now, record.finish_reason)
                if self._refresh(record, now) is not None:
                    return
            self._finish(record, AdvancedOrderStatus.CANCELLED, record.finish_reason, now)
            return
        if working is not None:
            if record.filled + working.remaining > order.volume:
                self._replace(record, working, now, "a late fill left it larger than what is missing")
            elif (order.kind is AdvancedOrderKind.TWAP and self._due_count(record, now) > record.sent_through
                  and self._clock(record).is_trading(now)):
                self._replace(record, working, now, "the next slice is due")
            if self._refresh(record, now) is not None:
                return
        if record.filled >= order.volume:
            self._finish(record, AdvancedOrderStatus.COMPLETED, "filled", now)
            return
        if order.kind is AdvancedOrderKind.ICEBERG:
            self._work_iceberg(record, now)
        else:
            self._work_twap(record, now)

    def _replace(self, record: _Record, working: ExecutionView, now: datetime, why: str) -> None:
        record.replace_pending = True
        self._executor.cancel(working.execution_id, now, f"replaced by {record.order.order_id}: {why}")

    def _work_iceberg(self, record: _Record, now: datetime) -> None:
        last = record.last_child
        if last is not None and not record.replace_pending:
            view = self._executor.execution(last)
            if view is not None and view.status in (ExecutionStatus.EXHAUSTED, ExecutionStatus.CANCELLED):
                self._finish(record, AdvancedOrderStatus.INCOMPLETE,
                             f"batch {last} ended {view.status.value}: {view.instruction.volume - view.filled} "
                             f"of its {view.instruction.volume} lots unfilled", now)
                return
        if not self._clock(record).is_trading(now):
            return
        order = record.order
        volume = min(order.batch_size, order.volume - record.filled)
        record.replace_pending = False
        self._send_child(record, volume, now, f"iceberg batch {len(record.child_fills) + 1}")

    def _work_twap(self, record: _Record, now: datetime) -> None:
        due = self._due_count(record, now)
        count = len(record.slices)
        if due == 0:
            return
        if due == record.sent_through and not record.replace_pending:
            if due == count:
                self._finish(record, AdvancedOrderStatus.INCOMPLETE,
                             f"the last slice's order ended with {record.order.volume - record.filled} lots "
                             f"unfilled", now)
            return
        if not self._clock(record).is_trading(now):
            return
        needed = record.slices[due - 1].cumulative - record.filled
        record.sent_through = due
        record.replace_pending = False
        if needed > 0:
            self._send_child(record, needed, now, f"TWAP slice {due}/{count}")

    def _send_child(self, record: _Record, volume: int, now: datetime, label: str) -> None:
        parent = record.order.instruction
        child_id = f"{record.order.order_id}#{len(record.child_fills) + 1}"
        instruction = replace(parent, volume=volume, reason=f"{parent.reason} ({label})")
        record.child_fills[child_id] = 0
        self._executor.submit(instruction, now, execution_id=child_id, parent=record.order.order_id)
        self._refresh(record, now)

    def _due_count(self, record: _Record, now: datetime) -> int:
        return sum(1 for item in record.slices if item.due_at <= now)

    def _clock(self, record: _Record) -> TradingClock:
        return self._clocks.for_symbol(record.order.vt_symbol)

    def _finish(self, record: _Record, status: AdvancedOrderStatus, reason: str, now: datetime) -> None:
        record.status = status
        record.finish_reason = reason
        record.finished_at = now
        order = record.order
        self._events.append(AdvancedOrderFinishedEvent(
            now, order_id=order.order_id, kind=order.kind, vt_symbol=order.vt_symbol, volume=order.volume,
            filled=record.filled, status=status, reason=reason))

    # --- queries -----------------------------------------------------------

    def order(self, order_id: str) -> AdvancedOrderView | None:
        record = self._records.get(order_id)
        return self._view(record) if record is not None else None

    def orders(self) -> list[AdvancedOrderView]:
        return [self._view(record) for record in self._records.values()]

    def working_orders(self) -> list[AdvancedOrderView]:
        return [self._view(record) for record in self._records.values() if not record.status.is_finished]

    def twap_slices(self, order_id: str) -> tuple[TwapSlice, ...]:
        return self._records[order_id].slices

    def execution_ids_in_use(self) -> set[str]:
        """Child executions of the orders held: pass them as ``keep`` to ``SmartOrderExecutor.prune``."""
        return {child for record in self._records.values() for child in record.child_fills}

    def prune(self, before: datetime) -> int:
        """Forgets orders that finished before ``before``; returns how many (prune the executor after)."""
        require_aware("AdvancedOrderScheduler.prune", "before", before)
        old = [order_id for order_id, record in self._records.items()
               if record.finished_at is not None and record.finished_at < before]
        for order_id in old:
            del self._records[order_id]
        return len(old)

    def _view(self, record: _Record) -> AdvancedOrderView:
        working = None
        for child_id in record.child_fills:
            view = self._executor.execution(child_id)
            if view is not None and not view.is_finished:
                working = child_id
        return AdvancedOrderView(record.order, record.status, record.filled, tuple(record.child_fills), working,
                                 record.finish_reason)

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events

    # --- state -------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "version": self.STATE_VERSION,
            "next_number": self._next_number,
            "orders": [record.to_dict() for record in self._records.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping, executor: SmartOrderExecutor, settings: AdvancedOrderSettings,
                  clocks: TradingClocks | None = None) -> AdvancedOrderScheduler:
        """Restores the orders; ``executor`` must be the one restored from the same save."""
        version = data.get("version")
        if version != cls.STATE_VERSION:
            raise ValueError(f"AdvancedOrderScheduler state version {version!r} is not {cls.STATE_VERSION}; "
                             f"migrate it first")
        scheduler = cls(executor, settings, clocks)
        scheduler._next_number = data["next_number"]
        for item in data["orders"]:
            record = _Record.from_dict(item)
            scheduler._records[record.order.order_id] = record
        return scheduler
