"""Aggregate root of what the strategy holds: positions, orders and trades.

The entry layer translates vnpy's order, trade and position updates into the
calls below. Any change of a position that the strategy's own orders do not
explain (a trade of an order it never placed, a reported position that differs
from its own) is adopted as the account's truth *and* recorded as a
``ManualOpenDetectedEvent`` / ``ManualCloseDetectedEvent``; ``pop_events``
drains them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from src.strategy.domain.entity.order import Order
from src.strategy.domain.entity.position import Position
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.position_events import (
    ManualCloseDetectedEvent,
    ManualOpenDetectedEvent,
    PositionSettledEvent,
)
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot
from src.strategy.domain.value_object.trade_record import TradeRecord
from src.strategy.domain.value_object.validation import require_aware, require_positive, require_text

PositionKey = tuple[str, Direction]


class PositionAggregate:
    STATE_VERSION = 1

    def __init__(self, multipliers: Mapping[str, float] | None = None) -> None:
        self._multipliers: dict[str, float] = {}
        self._positions: dict[PositionKey, Position] = {}
        self._orders: dict[str, Order] = {}
        self._trades: dict[str, TradeRecord] = {}
        self._events: list[DomainEvent] = []
        for vt_symbol, multiplier in (multipliers or {}).items():
            self.register_multiplier(vt_symbol, multiplier)

    # --- contracts -------------------------------------------------------

    def register_contract(self, params: ContractParams) -> None:
        self.register_multiplier(params.vt_symbol, params.multiplier)

    def register_multiplier(self, vt_symbol: str, multiplier: float) -> None:
        """A contract's multiplier must be known before any of its trades or positions arrive."""
        require_text("PositionAggregate", "vt_symbol", vt_symbol)
        self._multipliers[vt_symbol] = require_positive("PositionAggregate", "multiplier", multiplier)

    def _multiplier(self, vt_symbol: str) -> float:
        try:
            return self._multipliers[vt_symbol]
        except KeyError:
            raise ValueError(f"PositionAggregate: multiplier of {vt_symbol} unknown; "
                             f"register its ContractParams first") from None

    # --- queries ---------------------------------------------------------

    def positions(self) -> list[Position]:
        """Positions currently held (not flat)."""
        return [position for position in self._positions.values() if not position.is_flat]

    def all_positions(self) -> list[Position]:
        """Every position ever held, flat ones included (they carry realized PnL)."""
        return list(self._positions.values())

    def position(self, vt_symbol: str, direction: Direction) -> Position | None:
        return self._positions.get((vt_symbol, direction))

    def order(self, vt_orderid: str) -> Order | None:
        return self._orders.get(vt_orderid)

    def orders(self) -> list[Order]:
        return list(self._orders.values())

    def active_orders(self, vt_symbol: str | None = None) -> list[Order]:
        return [order for order in self._orders.values()
                if order.is_active and (vt_symbol is None or order.vt_symbol == vt_symbol)]

    def trades(self) -> list[TradeRecord]:
        return list(self._trades.values())

    def open_position_count(self, counted: Callable[[str], bool] | None = None) -> int:
        """Distinct (contract, side) held or being opened by an active order; with ``counted``,
        only the contracts it accepts (the strategy counts its options, not its hedge futures).

        Pending openings count so that several bars in a row cannot exceed
        ``max_positions`` while their orders wait for fills.
        """
        keys = {key for key, position in self._positions.items() if not position.is_flat}
        keys.update((order.vt_symbol, order.direction) for order in self._orders.values()
                    if order.is_active and order.offset is Offset.OPEN)
        return len([key for key in keys if counted is None or counted(key[0])])

    def realized_pnl(self) -> float:
        return sum(position.realized_pnl for position in self._positions.values())

    # --- orders and trades -----------------------------------------------

    def register_order(self, vt_orderid: str, instruction: OrderInstruction, at: datetime) -> Order:
        """Records an order the strategy just sent (one call per vt_orderid the gateway returned)."""
        if vt_orderid in self._orders:
            raise ValueError(f"PositionAggregate: order {vt_orderid} is already registered")
        order = Order(vt_orderid=vt_orderid, vt_symbol=instruction.vt_symbol, direction=instruction.direction,
                      offset=instruction.offset, price=instruction.price, volume=instruction.volume,
                      created_at=at, updated_at=at, reason=instruction.reason, signal=instruction.signal)
        self._orders[vt_orderid] = order
        return order

    def update_order(self, vt_orderid: str, status: OrderStatus, traded: int, at: datetime) -> bool:
        """Applies a status report; returns False for an order the strategy did not place, or a stale report.

        Orders placed by hand change nothing until they trade, so their reports
        are not tracked; their trades are (see ``update_trade``).
        """
        order = self._orders.get(vt_orderid)
        if order is None:
            return False
        return order.apply_update(status, traded, at)

    def update_trade(self, vt_orderid: str, vt_tradeid: str, vt_symbol: str, direction: Direction,
                     offset: Offset, price: float, volume: int, at: datetime) -> bool:
        """Applies a fill to the positions; returns False for a vt_tradeid already applied.

        A trade of an order that was not registered is a manual trade: it is
        applied and recorded as a manual open or close.
        """
        if vt_tradeid in self._trades:
            return False
        order = self._orders.get(vt_orderid)
        manual = order is None
        trade = TradeRecord(vt_tradeid=vt_tradeid, vt_orderid=vt_orderid, vt_symbol=vt_symbol, direction=direction,
                            offset=offset, price=price, volume=volume, traded_at=at, manual=manual)
        if order is not None and (order.vt_symbol, order.direction, order.offset) != (vt_symbol, direction, offset):
            raise ValueError(
                f"PositionAggregate: trade {vt_tradeid} ({vt_symbol} {direction.value} {offset.value}) does not match "
                f"its order {vt_orderid} ({order.vt_symbol} {order.direction.value} {order.offset.value})")
        side = direction if offset is Offset.OPEN else direction.opposite
        position = self._position_for(vt_symbol, side)
        if offset is Offset.CLOSE and volume > position.volume:
            # The exchange filled a close of more than the strategy knew of, so
            # the account held the difference: someone opened it by hand.
            missing = volume - position.volume
            self._record_manual_open(position, missing, price, at,
                                     f"close of {volume} by trade {vt_tradeid} while the strategy held "
                                     f"{position.volume}; adopted the missing {missing} at the trade price")
        position.apply_fill(direction, offset, volume, price, at)
        self._trades[vt_tradeid] = trade
        if manual:
            detail = (f"trade {vt_tradeid} of order {vt_orderid} not placed by the strategy: "
                      f"{direction.value} {offset.value} {volume} @ {price}")
            event_type = ManualOpenDetectedEvent if offset is Offset.OPEN else ManualCloseDetectedEvent
            self._events.append(event_type(occurred_at=at, vt_symbol=vt_symbol, direction=side,
                                           volume=volume, detail=detail))
        return True

    def _position_for(self, vt_symbol: str, direction: Direction) -> Position:
        key = (vt_symbol, direction)
        if key not in self._positions:
            self._positions[key] = Position(vt_symbol, direction, self._multiplier(vt_symbol))
        return self._positions[key]

    def _record_manual_open(self, position: Position, volume: int, price: float, at: datetime, detail: str) -> None:
        position.apply_fill(position.direction, Offset.OPEN, volume, price, at)
        self._events.append(ManualOpenDetectedEvent(occurred_at=at, vt_symbol=position.vt_symbol,
                                                    direction=position.direction, volume=volume, detail=detail))

    # --- expiry ------------------------------------------------------------

    def settle(self, vt_symbol: str, settlement_price: float, underlying_price: float, at: datetime,
               detail: str) -> list[PositionSettledEvent]:
        """Every position of the expired ``vt_symbol`` leaves the book at ``settlement_price``;
        returns (and records) one ``PositionSettledEvent`` per side settled."""
        require_aware("PositionAggregate.settle", "at", at)
        settled = []
        for direction in (Direction.LONG, Direction.SHORT):
            position = self._positions.get((vt_symbol, direction))
            if position is None or position.is_flat:
                continue
            volume = position.volume
            pnl = position.settle(settlement_price, at)
            settled.append(PositionSettledEvent(
                occurred_at=at, vt_symbol=vt_symbol, direction=direction, volume=volume,
                settlement_price=settlement_price, underlying_price=underlying_price, realized_pnl=pnl,
                detail=detail))
        self._events.extend(settled)
        return settled

    # --- reconciliation --------------------------------------------------

    def reconcile(self, snapshots: Iterable[PositionSnapshot], at: datetime) -> list[str]:
        """Compares the account's positions with the strategy's and adopts the account's.

        ``snapshots`` must be every position of the contracts the strategy
        manages (a held contract missing from them counts as closed) and no
        other contract (an extra one counts as opened by hand). A contract with
        an active order is skipped, because a fill in flight would look like a
        manual change; the skipped vt_symbols are returned.

        A position that grew takes the reported average price (the strategy has
        no better one); one that shrank keeps its own, since a gateway's cost
        may be based on the last settlement price rather than the entry.
        """
        require_aware("PositionAggregate.reconcile", "at", at)
        reported: dict[PositionKey, PositionSnapshot] = {}
        for snapshot in snapshots:
            key = (snapshot.vt_symbol, snapshot.direction)
            if key in reported:
                raise ValueError(f"PositionAggregate.reconcile: two snapshots for {snapshot.vt_symbol} "
                                 f"{snapshot.direction.value}")
            reported[key] = snapshot
        busy = {order.vt_symbol for order in self._orders.values() if order.is_active}
        held = {key for key, position in self._positions.items() if not position.is_flat}
        candidates = held | set(reported)
        keys = sorted((key for key in candidates if key[0] not in busy), key=lambda key: (key[0], key[1].value))
        for key in keys:
            if key not in self._positions and reported[key].volume > 0:
                self._multiplier(key[0])  # fail before changing anything
        for key in keys:
            snapshot = reported.get(key)
            self._reconcile_one(key, snapshot.volume if snapshot else 0,
                                snapshot.avg_price if snapshot else 0.0, at)
        return sorted({key[0] for key in candidates if key[0] in busy})

    def _reconcile_one(self, key: PositionKey, volume: int, avg_price: float, at: datetime) -> None:
        vt_symbol, direction = key
        position = self._positions.get(key)
        ours = position.volume if position else 0
        if volume == ours:
            return
        position = self._position_for(vt_symbol, direction)
        detail = f"account reports {volume} {direction.value} at {avg_price}, the strategy held {ours}"
        if volume > ours:
            position.adopt(volume, avg_price, at)
            self._events.append(ManualOpenDetectedEvent(occurred_at=at, vt_symbol=vt_symbol, direction=direction,
                                                        volume=volume - ours, detail=detail + "; adopted"))
        else:
            position.adopt(volume, position.avg_price, at)
            self._events.append(ManualCloseDetectedEvent(
                occurred_at=at, vt_symbol=vt_symbol, direction=direction, volume=ours - volume,
                detail=detail + "; adopted, the closed lots' PnL is unknown"))

    # --- housekeeping ----------------------------------------------------

    def prune_history(self, before: datetime) -> int:
        """Forgets finished orders last updated, and trades made, before ``before``; returns how many.

        Keep today's trades: gateways resend the day's trades after a
        reconnection, and their vt_tradeids are what makes that harmless.
        """
        require_aware("PositionAggregate.prune_history", "before", before)
        old_orders = [oid for oid, order in self._orders.items() if not order.is_active and order.updated_at < before]
        old_trades = [tid for tid, trade in self._trades.items() if trade.traded_at < before]
        for oid in old_orders:
            del self._orders[oid]
        for tid in old_trades:
            del self._trades[tid]
        return len(old_orders) + len(old_trades)

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events

    # --- state -----------------------------------------------------------

    def to_dict(self) -> dict:
        """The whole state in plain JSON types (events are not state: drain them first)."""
        return {
            "version": self.STATE_VERSION,
            "multipliers": dict(self._multipliers),
            "positions": [position.to_dict() for position in self._positions.values()],
            "orders": [order.to_dict() for order in self._orders.values()],
            "trades": [_trade_to_dict(trade) for trade in self._trades.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> PositionAggregate:
        version = data.get("version")
        if version != cls.STATE_VERSION:
            raise ValueError(f"PositionAggregate state version {version!r} is not {cls.STATE_VERSION}; migrate it first")
        aggregate = cls(data["multipliers"])
        for item in data["positions"]:
            position = Position.from_dict(item)
            aggregate._positions[(position.vt_symbol, position.direction)] = position
        for item in data["orders"]:
            order = Order.from_dict(item)
            aggregate._orders[order.vt_orderid] = order
        for item in data["trades"]:
            trade = _trade_from_dict(item)
            aggregate._trades[trade.vt_tradeid] = trade
        return aggregate


def _trade_to_dict(trade: TradeRecord) -> dict:
    return {
        "vt_tradeid": trade.vt_tradeid,
        "vt_orderid": trade.vt_orderid,
        "vt_symbol": trade.vt_symbol,
        "direction": trade.direction.value,
        "offset": trade.offset.value,
        "price": trade.price,
        "volume": trade.volume,
        "traded_at": trade.traded_at.isoformat(),
        "manual": trade.manual,
    }


def _trade_from_dict(data: Mapping) -> TradeRecord:
    return TradeRecord(
        vt_tradeid=data["vt_tradeid"], vt_orderid=data["vt_orderid"], vt_symbol=data["vt_symbol"],
        direction=Direction(data["direction"]), offset=Offset(data["offset"]), price=data["price"],
        volume=data["volume"], traded_at=datetime.fromisoformat(data["traded_at"]), manual=data["manual"])
