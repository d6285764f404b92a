"""The futures side: the strategy's signals traded in the product's dominant future itself.

With ``trade_instrument: futures`` the signal service's answers are not sold as options but
taken as a direction in the product's active (dominant) future:

- ``SELL_PUT`` (bullish) opens a long position, ``SELL_CALL`` (bearish) a short one;
- a signal against the position held closes it (``REVERSAL``) and opens the new direction in
  the same step (stop and reverse); a signal in the direction already held adds nothing
  (refused with the reason: one position per product, no pyramiding);
- the position closes at ``stop_loss_ratio`` / ``profit_target_ratio`` of its entry price
  when they are set (fractions of the futures price: 0.02 is 2%, off by default), and
  ``close_days_before_expiry`` calendar days before its contract expires (``EXPIRY``: a
  backstop, the roll comes first);
- a position in a month that is no longer the product's active contract is rolled: closed
  there and the same lots opened in the active month, same direction, both orders together;
- lots = the fewest of ``position_ratio`` of the balance over the margin of one lot, and
  the funds available (plus the margin the closes of the same step release) over it,
  rounded down to the contract's ``min_volume``. One lot's margin is
  ``PositionSizingService.future_margin`` on the margin price (the previous day's last
  price, as the exchange margins on the previous settlement). The balance and available
  funds are the caller's ``AccountSnapshot`` (``value_account``: the strategy's share).

The service is pure: it answers with order instructions and events, the caller sends them.
Every decision not carried out is a ``DecisionRefusedEvent`` with its reason.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from src.strategy.domain.domain_service.expiry_settlement import is_expired
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import (
    STAGE_EXECUTION,
    STAGE_SIGNAL,
    STAGE_SIZING,
    DecisionRefusedEvent,
)
from src.strategy.domain.event.futures_events import FuturesClosedEvent, FuturesOpenedEvent, FuturesRolledEvent
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction, align_price
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType
from src.strategy.domain.value_object.validation import (
    require_int,
    require_non_negative,
    require_positive,
    require_text,
)


@dataclass(frozen=True)
class FuturesSideSettings:
    position_ratio: float = 0.1
    stop_loss_ratio: float | None = None
    profit_target_ratio: float | None = None
    close_days_before_expiry: int = 2
    max_volume_per_order: int | None = None

    def __post_init__(self) -> None:
        owner = "FuturesSideSettings"
        ratio = require_positive(owner, "position_ratio", self.position_ratio)
        if ratio > 1:
            raise ValueError(f"{owner}.position_ratio must be in (0, 1], got {ratio}")
        for name in ("stop_loss_ratio", "profit_target_ratio"):
            value = getattr(self, name)
            if value is not None and not 0 < require_positive(owner, name, value) < 1:
                raise ValueError(f"{owner}.{name} must be in (0, 1) (a fraction of the entry price), got {value}")
        require_int(owner, "close_days_before_expiry", self.close_days_before_expiry, 0)
        if self.max_volume_per_order is not None:
            require_int(owner, "max_volume_per_order", self.max_volume_per_order, 1)


@dataclass(frozen=True)
class FuturesHolding:
    """One futures position of the product: ``volume`` lots on ``direction`` at ``avg_price``."""

    vt_symbol: str
    direction: Direction
    volume: int
    avg_price: float
    expiry: date

    def __post_init__(self) -> None:
        owner = f"FuturesHolding({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_int(owner, "volume", self.volume, 1)
        require_non_negative(owner, "avg_price", self.avg_price)  # 0: adopted from the broker without a price


@dataclass(frozen=True)
class ActiveFuture:
    """The product's active (dominant) contract: its last price and the price its margin is computed on."""

    vt_symbol: str
    expiry: date
    price: float
    margin_price: float
    params: ContractParams

    def __post_init__(self) -> None:
        owner = f"ActiveFuture({self.vt_symbol!r})"
        require_positive(owner, "price", self.price)
        require_positive(owner, "margin_price", self.margin_price)
        if self.params.vt_symbol != self.vt_symbol:
            raise ValueError(f"{owner}: ContractParams of {self.params.vt_symbol} given")


@dataclass(frozen=True)
class FuturesDecision:
    orders: tuple[OrderInstruction, ...] = ()
    events: tuple[DomainEvent, ...] = ()


def signal_direction(signal: SignalType) -> Direction:
    """A bullish signal (SELL_PUT) is a long future, a bearish one (SELL_CALL) a short one."""
    return Direction.LONG if signal is SignalType.SELL_PUT else Direction.SHORT


class FuturesSideService:
    def __init__(self, settings: FuturesSideSettings, sizing: PositionSizingService) -> None:
        self.settings = settings
        self.sizing = sizing

    # ------------------------------------------------------------ sizing
    def margin_per_lot(self, active: ActiveFuture) -> float:
        return self.sizing.future_margin(active.margin_price, active.params)

    def sizing_cap(self, balance: float, active: ActiveFuture) -> int:
        """The most lots ``position_ratio`` of ``balance`` margins (before available funds are looked at)."""
        lots = math.floor(max(balance, 0.0) * self.settings.position_ratio / self.margin_per_lot(active))
        if self.settings.max_volume_per_order is not None:
            lots = min(lots, self.settings.max_volume_per_order)
        return max(lots - lots % active.params.min_volume, 0)

    # ------------------------------------------------------------ window bars
    def on_window_bar(self, product: str, signal: SignalType | None, holdings: Sequence[FuturesHolding],
                      active: ActiveFuture | None, marks: Mapping[str, float],
                      params: Mapping[str, ContractParams], account: AccountSnapshot, working: bool,
                      now: datetime) -> FuturesDecision:
        """The close rules on the product's positions, then the signal (``None``: no signal this bar).
        ``working``: orders of the product's futures are still being worked, so nothing is decided."""
        orders: list[OrderInstruction] = []
        events: list[DomainEvent] = []
        if working:
            if signal is not None:
                events.append(self._refused(now, STAGE_EXECUTION, None, product,
                                            f"{signal.value} not acted on: orders on {product} futures are "
                                            "still being worked"))
            return FuturesDecision((), tuple(events))
        closing: list[FuturesHolding] = []
        for holding in holdings:
            if is_expired(holding.expiry, now):
                continue  # no longer trades: settlement takes it off the book
            reason = self._close_reason(holding, marks.get(holding.vt_symbol), signal, now.date())
            if reason is None:
                continue
            mark = marks.get(holding.vt_symbol)
            if mark is None or mark <= 0:
                events.append(self._refused(now, STAGE_EXECUTION, holding.vt_symbol, product,
                                            f"close {reason.value}: no price to close at"))
                continue
            orders.append(self._close(holding, mark, f"futures close {reason.value}", params))
            events.append(FuturesClosedEvent(now, product=product, vt_symbol=holding.vt_symbol,
                                             direction=holding.direction, lots=holding.volume, price=mark,
                                             reason=reason))
            closing.append(holding)
        if signal is None:
            return FuturesDecision(tuple(orders), tuple(events))
        opened = self._open(product, signal, [h for h in holdings if h not in closing], closing, active, account,
                            now)
        if isinstance(opened, DecisionRefusedEvent):
            events.append(opened)
        else:
            orders.append(opened[0])
            events.append(opened[1])
        return FuturesDecision(tuple(orders), tuple(events))

    def _close_reason(self, holding: FuturesHolding, mark: float | None, signal: SignalType | None,
                      today: date) -> CloseReason | None:
        s = self.settings
        if mark is not None and mark > 0 and holding.avg_price > 0:
            change = (mark - holding.avg_price) / holding.avg_price * holding.direction.sign
            if s.stop_loss_ratio is not None and change <= -s.stop_loss_ratio:
                return CloseReason.STOP_LOSS
            if s.profit_target_ratio is not None and change >= s.profit_target_ratio:
                return CloseReason.PROFIT_TARGET
        if (holding.expiry - today).days <= s.close_days_before_expiry:
            return CloseReason.EXPIRY
        if signal is not None and signal_direction(signal) is not holding.direction:
            return CloseReason.REVERSAL
        return None

    def _open(self, product: str, signal: SignalType, kept: Sequence[FuturesHolding],
              closing: Sequence[FuturesHolding], active: ActiveFuture | None, account: AccountSnapshot,
              now: datetime) -> tuple[OrderInstruction, FuturesOpenedEvent] | DecisionRefusedEvent:
        direction = signal_direction(signal)
        same = [h for h in kept if h.direction is direction]
        if same:
            held = ", ".join(f"{h.volume} {h.vt_symbol}" for h in same)
            return self._refused(now, STAGE_SIGNAL, same[0].vt_symbol, product,
                                 f"{signal.value}: already {direction.value.lower()} {held}; one position per "
                                 "product, no adding")
        if kept:
            return self._refused(now, STAGE_EXECUTION, kept[0].vt_symbol, product,
                                 f"{signal.value}: the {kept[0].direction.value.lower()} position in "
                                 f"{kept[0].vt_symbol} could not be closed first")
        if active is None:
            return self._refused(now, STAGE_EXECUTION, None, product,
                                 f"{signal.value}: no active {product} future with a price to trade")
        if (active.expiry - now.date()).days <= self.settings.close_days_before_expiry:
            return self._refused(now, STAGE_EXECUTION, active.vt_symbol, product,
                                 f"{signal.value}: {active.vt_symbol} expires {active.expiry} (within "
                                 f"close_days_before_expiry {self.settings.close_days_before_expiry})")
        if account.available < 0:
            return self._refused(now, STAGE_SIZING, active.vt_symbol, product,
                                 f"margin call: available {account.available:.2f} < 0 (balance "
                                 f"{account.balance:.2f}, margin {account.frozen:.2f}): no opening")
        margin = self.margin_per_lot(active)
        budget = account.balance * self.settings.position_ratio
        # The closes sent in the same step free their margin (same product: same multiplier and rate).
        released = sum(h.volume * self.sizing.future_margin(
            active.margin_price if h.vt_symbol == active.vt_symbol else h.avg_price, active.params)
            for h in closing)
        available = account.available + released
        lots = min(self.sizing_cap(account.balance, active), math.floor(max(available, 0.0) / margin))
        lots -= lots % active.params.min_volume
        if lots < active.params.min_volume:
            return self._refused(now, STAGE_SIZING, active.vt_symbol, product,
                                 f"{active.vt_symbol}: margin {margin:.2f} per lot, budget {budget:.2f} "
                                 f"({self.settings.position_ratio:g} of balance {account.balance:.2f}), available "
                                 f"{available:.2f}: fewer than {active.params.min_volume} lot(s) fit")
        price = align_price(active.price, active.params.pricetick)
        instruction = OrderInstruction(vt_symbol=active.vt_symbol, direction=direction, offset=Offset.OPEN,
                                       volume=lots, price=price,
                                       reason=f"futures open {direction.value} on {signal.value}", signal=signal)
        return instruction, FuturesOpenedEvent(now, product=product, vt_symbol=active.vt_symbol,
                                               direction=direction, lots=lots, price=price, signal=signal,
                                               margin_per_lot=margin, budget=budget)

    # ------------------------------------------------------------ every minute
    def on_minute(self, product: str, holdings: Sequence[FuturesHolding], active: ActiveFuture | None,
                  marks: Mapping[str, float], params: Mapping[str, ContractParams], working: set[str],
                  now: datetime) -> FuturesDecision:
        """Rolls and the expiry backstop. A position in a month other than the active one is rolled
        into it; one in the active month (or with no active month to go to) is closed when
        ``close_days_before_expiry`` or fewer calendar days are left. Positions with orders still
        being worked (``working``: their symbols) wait."""
        orders: list[OrderInstruction] = []
        events: list[DomainEvent] = []
        for holding in holdings:
            if holding.vt_symbol in working or is_expired(holding.expiry, now):
                continue
            mark = marks.get(holding.vt_symbol)
            if active is not None and holding.vt_symbol != active.vt_symbol and active.vt_symbol not in working:
                if mark is None or mark <= 0:
                    events.append(self._refused(now, STAGE_EXECUTION, holding.vt_symbol, product,
                                                f"roll to {active.vt_symbol}: no price of {holding.vt_symbol} "
                                                "to close at"))
                    continue
                close = self._close(holding, mark, f"futures roll {holding.vt_symbol} -> {active.vt_symbol}", params)
                open_price = align_price(active.price, active.params.pricetick)
                orders += [close, OrderInstruction(
                    vt_symbol=active.vt_symbol, direction=holding.direction, offset=Offset.OPEN,
                    volume=holding.volume, price=open_price,
                    reason=f"futures roll {holding.vt_symbol} -> {active.vt_symbol}")]
                events.append(FuturesRolledEvent(now, product=product, from_vt_symbol=holding.vt_symbol,
                                                 to_vt_symbol=active.vt_symbol, direction=holding.direction,
                                                 lots=holding.volume, close_price=close.price,
                                                 open_price=open_price))
            elif (holding.expiry - now.date()).days <= self.settings.close_days_before_expiry:
                if mark is None or mark <= 0:
                    events.append(self._refused(now, STAGE_EXECUTION, holding.vt_symbol, product,
                                                f"close {CloseReason.EXPIRY.value}: no price to close at"))
                    continue
                close = self._close(holding, mark, f"futures close {CloseReason.EXPIRY.value}", params)
                orders.append(close)
                events.append(FuturesClosedEvent(now, product=product, vt_symbol=holding.vt_symbol,
                                                 direction=holding.direction, lots=holding.volume,
                                                 price=close.price, reason=CloseReason.EXPIRY))
        return FuturesDecision(tuple(orders), tuple(events))

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _close(holding: FuturesHolding, mark: float, reason: str,
               params: Mapping[str, ContractParams]) -> OrderInstruction:
        own = params.get(holding.vt_symbol)
        price = align_price(mark, own.pricetick) if own is not None else mark
        return OrderInstruction(vt_symbol=holding.vt_symbol, direction=holding.direction.opposite,
                                offset=Offset.CLOSE, volume=holding.volume, price=price, reason=reason)

    @staticmethod
    def _refused(now: datetime, stage, vt_symbol: str | None, product: str, reason: str) -> DecisionRefusedEvent:
        return DecisionRefusedEvent(now, stage=stage, vt_symbol=vt_symbol, reason=reason, product=product)
