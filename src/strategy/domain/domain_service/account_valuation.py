"""The account as sizing sees it: capital plus the book's P&L, less the margin its short options hold."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.option_contract import OptionContract


def value_account(capital: float, positions: PositionAggregate, marks: Mapping[str, float],
                  options: Mapping[str, OptionContract], contract_params: Mapping[str, ContractParams],
                  sizing: PositionSizingService, now: datetime) -> AccountSnapshot:
    """Positions are marked at their last price (their average price before any); a short
    option's margin uses its underlying's last price (its strike before any)."""
    unrealized = 0.0
    margin = 0.0
    for position in positions.positions():
        mark = marks.get(position.vt_symbol, position.avg_price)
        unrealized += position.unrealized_pnl(mark)
        option = options.get(position.vt_symbol)
        if option is not None and position.direction is Direction.SHORT:
            underlying = marks.get(option.underlying_vt_symbol, option.strike)
            margin += position.volume * sizing.short_option_margin(
                option, mark, underlying, contract_params[position.vt_symbol])
    balance = capital + positions.realized_pnl() + unrealized
    return AccountSnapshot(balance=balance, available=max(balance - margin, 0.0), frozen=margin, taken_at=now)
