"""A fake trade-execution gateway implementing the domain's Protocol.

It records what was sent and cancelled, keeps each order's state as an exchange
would, and lets a test deliver fills, rejections, cancel confirmations and
races to whoever listens (the ``SmartOrderExecutor``). ``cancel_mode``:

- "sync": a cancel is confirmed inside ``cancel_order`` (vnpy's backtester does this);
- "async": the cancel waits until the test calls ``confirm_cancels``;
- "ignore": cancels are lost (a gateway that drops the request).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_status import OrderStatus

CST = ZoneInfo("Asia/Shanghai")
FUTURE = "IF2501.CFFEX"


def at(hour: int = 10, minute: int = 0, second: int = 0, day: int = 23, month: int = 12,
       year: int = 2024) -> datetime:
    """Exchange time; 2024-12-23 is a Monday."""
    return datetime(year, month, day, hour, minute, second, tzinfo=CST)


@dataclass
class FakeOrder:
    vt_orderid: str
    instruction: OrderInstruction
    status: OrderStatus = OrderStatus.SUBMITTING
    traded: int = 0
    cancel_requested: bool = False

    @property
    def open_volume(self) -> int:
        return self.instruction.volume - self.traded if self.status.is_active else 0


@dataclass
class FakeTradeGateway:
    cancel_mode: str = "sync"
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    sent: list[OrderInstruction] = field(default_factory=list)
    sent_times: list[datetime] = field(default_factory=list)
    cancel_requests: list[str] = field(default_factory=list)
    refuse_sends: int = 0
    now: datetime = field(default_factory=at)
    listener: object = None
    on_callback: object = None  # called after each callback, like the entry's pump
    _numbers: int = 0
    _trades: int = 0

    # --- the domain Protocol -------------------------------------------------

    def send_order(self, instruction: OrderInstruction) -> list[str]:
        self.sent.append(instruction)
        self.sent_times.append(self.now)
        if self.refuse_sends:
            self.refuse_sends -= 1
            return []
        self._numbers += 1
        vt_orderid = f"FAKE.{self._numbers}"
        self.orders[vt_orderid] = FakeOrder(vt_orderid, instruction)
        return [vt_orderid]

    def cancel_order(self, vt_orderid: str) -> None:
        self.cancel_requests.append(vt_orderid)
        order = self.orders.get(vt_orderid)
        if order is None or not order.status.is_active or self.cancel_mode == "ignore":
            return
        order.cancel_requested = True
        if self.cancel_mode == "sync":
            self.confirm_cancel(vt_orderid)

    # --- driving the exchange ------------------------------------------------

    def acknowledge(self, vt_orderid: str) -> None:
        order = self.orders[vt_orderid]
        if order.status is OrderStatus.SUBMITTING:
            order.status = OrderStatus.NOT_TRADED
            self._report(order)

    def fill(self, vt_orderid: str, volume: int | None = None, price: float | None = None,
             trade_first: bool = False) -> None:
        """Fills ``volume`` lots (all that is open by default) of an active order."""
        order = self.orders[vt_orderid]
        assert order.status.is_active, f"{vt_orderid} is not active"
        volume = order.open_volume if volume is None else volume
        assert 0 < volume <= order.open_volume
        order.traded += volume
        order.status = OrderStatus.ALL_TRADED if order.traded == order.instruction.volume else OrderStatus.PART_TRADED
        if trade_first:
            self._trade(order, volume, price)
            self._report(order)
        else:
            self._report(order)
            self._trade(order, volume, price)

    def late_fill(self, vt_orderid: str, volume: int, price: float | None = None) -> None:
        """A trade on an order already reported final: the cancel raced the fill."""
        order = self.orders[vt_orderid]
        assert not order.status.is_active
        order.traded += volume
        self._trade(order, volume, price)

    def reject(self, vt_orderid: str) -> None:
        order = self.orders[vt_orderid]
        order.status = OrderStatus.REJECTED
        self._report(order)

    def confirm_cancel(self, vt_orderid: str) -> None:
        order = self.orders[vt_orderid]
        if order.status.is_active:
            order.status = OrderStatus.CANCELLED
            self._report(order)

    def confirm_cancels(self) -> None:
        for order in list(self.orders.values()):
            if order.cancel_requested and order.status.is_active:
                self.confirm_cancel(order.vt_orderid)

    def cancel_elsewhere(self, vt_orderid: str) -> None:
        """The exchange (or a person at another terminal) cancels the order."""
        self.confirm_cancel(vt_orderid)

    # --- queries -------------------------------------------------------------

    def active_ids(self) -> set[str]:
        return {oid for oid, order in self.orders.items() if order.status.is_active}

    def active_open_volume(self) -> int:
        return sum(order.open_volume for order in self.orders.values())

    def total_traded(self) -> int:
        return sum(order.traded for order in self.orders.values())

    def last_id(self) -> str:
        return f"FAKE.{self._numbers}"

    # --- callbacks -----------------------------------------------------------

    def _report(self, order: FakeOrder) -> None:
        if self.listener is not None:
            self.listener.on_order_update(order.vt_orderid, order.status, order.traded, self.now)
        if self.on_callback is not None:
            self.on_callback()

    def _trade(self, order: FakeOrder, volume: int, price: float | None) -> None:
        self._trades += 1
        if self.listener is not None:
            self.listener.on_trade(order.vt_orderid, f"T.{self._trades}", volume,
                                   price if price is not None else order.instruction.price, self.now)
        if self.on_callback is not None:
            self.on_callback()
