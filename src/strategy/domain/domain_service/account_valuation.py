"""The account as sizing sees it: one capital source per mode.

Backtest and paper: the capital given (the strategy's share of it) less the fees
paid, plus the book's P&L (realized and marked), less the margin held: short
options by the CFFEX rule (``PositionSizingService.short_option_margin``), futures
at their margin ratio of notional, and the opening orders still working (their
remaining lots at their limit price), as an exchange freezes margin for them.

Live: the broker's own balance and available funds (``AccountFunds``), which
already contain the P&L, the fees and every margin: the strategy's P&L is never
added to them again; only its share of the account is taken.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService
from src.strategy.domain.entity.order import Order
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.option_contract import OptionContract


@dataclass(frozen=True)
class AccountFunds:
    """What a live broker reports: balance (dynamic equity) and available funds."""

    balance: float
    available: float


def value_account(capital: float, positions: PositionAggregate, marks: Mapping[str, float],
                  options: Mapping[str, OptionContract], contract_params: Mapping[str, ContractParams],
                  sizing: PositionSizingService, now: datetime, *, fees: float = 0.0,
                  working_orders: Iterable[Order] = (), share: float = 1.0,
                  funds: AccountFunds | None = None,
                  previous: Mapping[str, float] | None = None) -> AccountSnapshot:
    """Positions are marked at their last price (their average price before any). Margin is
    computed on ``previous`` (the previous day's last prices: the exchange's previous settlement
    and close), else on the last prices; a short option's underlying defaults to its strike."""
    basis = {**marks, **(previous or {})}
    margin = 0.0
    unrealized = 0.0
    for position in positions.positions():
        mark = marks.get(position.vt_symbol, position.avg_price)
        unrealized += position.unrealized_pnl(mark)
        margin += _margin(position.vt_symbol, position.direction, position.volume,
                          basis.get(position.vt_symbol, mark), basis, options, contract_params, sizing)
    for order in working_orders:
        remaining = order.volume - order.traded
        if order.offset is Offset.OPEN and remaining > 0 and order.vt_symbol in contract_params:
            margin += _margin(order.vt_symbol, order.direction, remaining,
                              (previous or {}).get(order.vt_symbol, order.price), basis, options, contract_params,
                              sizing)
    if funds is not None:
        balance = funds.balance * share
        return AccountSnapshot(balance=balance, available=funds.available * share,
                               frozen=max(balance - funds.available * share, 0.0), taken_at=now)
    balance = capital * share - fees + positions.realized_pnl() + unrealized
    return AccountSnapshot(balance=balance, available=balance - margin, frozen=margin, taken_at=now)


def _margin(vt_symbol: str, direction: Direction, volume: int, price: float, marks: Mapping[str, float],
            options: Mapping[str, OptionContract], contract_params: Mapping[str, ContractParams],
            sizing: PositionSizingService) -> float:
    params = contract_params.get(vt_symbol)
    if params is None:
        return 0.0
    option = options.get(vt_symbol)
    if option is not None:
        if direction is not Direction.SHORT:
            return 0.0  # a long option is paid in full: no margin
        underlying = marks.get(option.underlying_vt_symbol, option.strike)
        return volume * sizing.short_option_margin(option, price, underlying, params)
    return volume * sizing.future_margin(price, params)  # a future, either side
